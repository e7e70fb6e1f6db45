"""CORS for browser apps on other origins: the origins' form, and the middleware's settings."""

import re
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

ANY_ORIGIN = "*"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST = re.compile(r"[a-z0-9.-]+|[0-9a-f:.]+")  # a name or IPv4, or an IPv6 literal

# Response fields a script may read besides the safelisted ones (Content-Type and so on).
EXPOSED_HEADERS = (
    "ETag",
    "Location",
    "X-Request-ID",
    "Retry-After",
    "RateLimit",
    "RateLimit-Policy",
    "Idempotent-Replayed",
)
# The methods the API's operations use (a test compares it with the document).
ALLOWED_METHODS = ("GET", "POST", "PATCH", "DELETE")
# Request fields a client sends; a preflight asking for any other is refused.
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-Modified-Since",
    "If-None-Match",
    "Idempotency-Key",
    "X-Request-ID",
)
# Chromium caps a cached preflight at two hours; Firefox allows a day.
PREFLIGHT_MAX_AGE_SECONDS = 7200


def normalise_origin(value: str) -> str:
    """`scheme://host[:port]` as a browser sends it in `Origin`, or ValueError saying why not.

    Scheme and host are lower-cased and a default port dropped, since `Origin` never has them
    otherwise and the middleware compares origins as strings.
    """
    text = value.strip()
    if text == ANY_ORIGIN:
        return text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{value!r} is not an origin: {exc}") from None
    scheme = parts.scheme.lower()
    if (
        scheme not in _DEFAULT_PORTS
        or not parts.hostname
        or not _HOST.fullmatch(parts.hostname.lower())
        or parts.username is not None
        or parts.password is not None
        or parts.path
        or parts.query
        or parts.fragment
        or text.endswith(("?", "#"))
    ):
        raise ValueError(
            f"{value!r} is not an origin: give scheme://host[:port], such as "
            "https://app.example.com or http://localhost:5173, with no path or trailing slash"
        )
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class ListedOriginsOnly(CORSMiddleware):
    """Starlette's CORS, which leaves a request from an origin not listed to the app.

    Starlette answers such a preflight itself with a plain-text 400 that still carries the
    allowed methods and headers; passed on, it gets the app's own answer (a problem+json 405)
    and no CORS field at all, exactly as with CORS off.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.allow_all_origins:
            origin = _header(scope, b"origin")
            if origin is not None and not self.is_allowed_origin(origin):
                await self.app(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def install_cors(app: FastAPI, origins: list[str], allow_credentials: bool) -> None:
    """Answer preflights and label responses for `origins`; nothing at all when there are none.

    Call it after every other middleware, so that it runs first: a preflight needs no token
    and is not charged to any quota.
    """
    if not origins:
        return
    app.add_middleware(
        ListedOriginsOnly,
        allow_origins=origins,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=allow_credentials,
        expose_headers=EXPOSED_HEADERS,
        max_age=PREFLIGHT_MAX_AGE_SECONDS,
    )
