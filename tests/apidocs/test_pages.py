"""/docs and /redoc load everything from this service: no external host, every asset served."""

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

EXTERNAL = re.compile(r"(?:[a-z]+:)?//[\w\[]", re.I)
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
}


class References(HTMLParser):
    """Every src and href of a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}),
        ("/redoc", {"redoc.standalone.js", "favicon-32x32.png"}),
    ],
)
async def test_the_page_loads_every_asset_from_this_service(
    client: httpx.AsyncClient, page: str, expected: set[str]
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    found = references(response.text)
    assert {urlsplit(src).path.rsplit("/", 1)[-1] for src in found} == expected
    for src in found:
        parts = urlsplit(src)
        assert not parts.netloc, f"{page} refers to another host: {src}"
        assert not parts.scheme, src
        asset = await client.get(urljoin(page, src))
        assert asset.status_code == 200, src
        suffix = parts.path[parts.path.rfind(".") :]
        assert asset.headers["content-type"].startswith(CONTENT_TYPES[suffix]), src
        assert len(asset.content) > 100
    # Nor does any inline script or style name a host (a CDN, web fonts, a validator).
    assert EXTERNAL.search(response.text) is None, EXTERNAL.search(response.text)


async def test_the_pages_point_at_this_services_document(client: httpx.AsyncClient) -> None:
    swagger = (await client.get("/docs")).text
    redoc = (await client.get("/redoc")).text
    assert "url: '/openapi.json'" in swagger
    assert '"validatorUrl": null' in swagger
    assert 'spec-url="/openapi.json"' in redoc


async def test_the_licences_of_the_vendored_assets_are_served_beside_them(
    client: httpx.AsyncClient,
) -> None:
    for name in ("swagger-ui-dist.LICENSE", "redoc.LICENSE"):
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 200
