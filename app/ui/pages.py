"""The group view page at /ui/: packaged HTML, ES modules and CSS, under a strict CSP."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

ASSETS = Path(__file__).parent / "static"
PAGE_PATH = "/ui/"
ASSETS_PATH = "/ui/static"

# Scripts, styles and calls only from this origin; no inline script or style, no plugins,
# no framing. The token lives in the page's memory, so an injected script is what to stop.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # The token may arrive in the fragment, which is never sent; nothing else should leak.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


RAW_PAGE_HEADERS = [(name.lower().encode(), value.encode()) for name, value in PAGE_HEADERS.items()]


class PageAssets(StaticFiles):
    """The page's static files, with the page's headers (nosniff above all) on each."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *RAW_PAGE_HEADERS]}
            await send(message)

        await super().__call__(scope, receive, send_with_headers)


def install_ui(app: FastAPI) -> None:
    """Serve the group view page and its assets (not in the OpenAPI document)."""
    page = (ASSETS / "index.html").read_text()
    app.mount(ASSETS_PATH, PageAssets(directory=ASSETS), name="ui-assets")

    @app.get(PAGE_PATH, include_in_schema=False)
    async def group_view() -> HTMLResponse:
        return HTMLResponse(page, headers=PAGE_HEADERS)

    @app.get("/ui", include_in_schema=False)
    async def group_view_slash() -> RedirectResponse:
        # Relative, so that it also holds behind a proxy's path prefix.
        return RedirectResponse("ui/", status_code=308)
