"""/ui/ serves the group view from packaged files, under a CSP that allows no inline script."""

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from app.ui.pages import ASSETS
from tests.fixtures.factories import TEST_SECRET

CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".svg": ("image/svg+xml",),
}
# Ways to turn a string into markup or code; titles must go in as text.
HTML_SINKS = re.compile(
    r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
    r"setAttribute\(\s*[\"']style"
)
MODULE_IMPORT = re.compile(r"^import [^;]*? from \"(\./[\w.-]+)\";", re.M)


class Page(HTMLParser):
    """The scripts, links and inline styles of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.references: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True
        if tag == "style" or "style" in found or any(n.startswith("on") for n in found):
            self.inline.append(f"<{tag} {found}>")
        self.references += [v for n, v in attrs if n in ("src", "href") and v]

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


@pytest.fixture
async def page_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The app without a database: the page and its files need none."""
    app = create_app(Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://convene.test") as client:
        yield client


async def test_the_page_is_served_with_a_strict_content_security_policy(
    page_client: httpx.AsyncClient,
) -> None:
    response = await page_client.get("/ui/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_the_page_has_no_inline_script_or_style_and_loads_only_its_own_files(
    page_client: httpx.AsyncClient,
) -> None:
    html = (await page_client.get("/ui/")).text
    page = Page()
    page.feed(html)
    assert page.inline == []
    assert page.scripts == [{"type": "module", "src": "static/app.js"}]
    assert {urlsplit(ref).path for ref in page.references} == {
        "static/ui.css",
        "static/app.js",
        "static/favicon.svg",
    }
    for ref in page.references:
        assert not urlsplit(ref).netloc, ref
        assert not urlsplit(ref).scheme, ref
        asset = await page_client.get(urljoin("/ui/", ref))
        assert asset.status_code == 200, ref
        assert asset.headers["content-type"].split(";")[0] in CONTENT_TYPES[Path(ref).suffix]
        assert asset.headers["x-content-type-options"] == "nosniff"


async def test_every_module_the_page_imports_is_served(page_client: httpx.AsyncClient) -> None:
    pending, seen = ["app.js"], set()
    while pending:
        name = pending.pop()
        seen.add(name)
        response = await page_client.get(f"/ui/static/{name}")
        assert response.status_code == 200, name
        for target in MODULE_IMPORT.findall(response.text):
            if target[2:] not in seen:
                pending.append(target[2:])
    assert seen == {path.name for path in ASSETS.glob("*.js")}


def test_no_asset_turns_text_into_markup() -> None:
    for path in ASSETS.glob("*.js"):
        found = HTML_SINKS.search(path.read_text())
        assert found is None, f"{path.name}: {found.group(0)}"
    assert "//" not in re.sub(r"<!doctype[^>]*>", "", (ASSETS / "index.html").read_text())


async def test_without_the_slash_it_redirects_relative_to_the_page(
    page_client: httpx.AsyncClient,
) -> None:
    response = await page_client.get("/ui")
    assert response.status_code == 308
    assert response.headers["location"] == "ui/"


async def test_the_page_is_not_an_operation_of_the_api(page_client: httpx.AsyncClient) -> None:
    paths = (await page_client.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/ui")]
