"""Per-request telemetry (pure ASGI): the request id, one access log line, the HTTP metrics.

The one middleware that rewrites the response's header fields: besides `X-Request-ID` it
adds those a handler left in the request's record (the rate limit's), so no other layer
wraps `send` for that.
"""

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.metrics import HTTP_DURATION, HTTP_REQUESTS, UNMATCHED
from app.kit.request_context import (
    SCOPE_KEY,
    RequestRecord,
    current_request_id,
    request_id_from,
)

access_logger = logging.getLogger("convene.access")

_ID_HEADER = b"x-request-id"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestTelemetry:
    """Give each request an id (echoed in X-Request-ID), log it once, and count it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Labelled children by (route, method, status): labels() takes a lock and hashes on
        # every call, and the set of keys is small (route templates, not paths).
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        supplied = None
        for name, value in scope["headers"]:
            if name == _ID_HEADER:
                supplied = value
                break
        record = RequestRecord(request_id_from(supplied))
        scope[SCOPE_KEY] = record
        header = (_ID_HEADER, record.request_id.encode())
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                # An error handler may have set the id already (for answers sent from outside).
                kept = [h for h in message.get("headers", ()) if h[0] != _ID_HEADER]
                message["headers"] = [*kept, *(record.headers or ()), header]
            await send(message)

        token = current_request_id.set(record.request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            # An exception here becomes Starlette's 500 outside this middleware: counted as such.
            current_request_id.reset(token)
            self._finish(scope, record, status, time.perf_counter() - started)

    def _finish(self, scope: Scope, record: RequestRecord, status: int, seconds: float) -> None:
        route = scope.get("route")
        template: str = getattr(route, "path", None) or UNMATCHED
        method: str = scope["method"] if scope["method"] in _METHODS else "other"
        key = (template, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels(template, method, str(status)),
                HTTP_DURATION.labels(template, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

        level = logging.INFO
        if status >= 500:
            level = logging.ERROR
        elif status in (401, 403):
            level = logging.WARNING
        if not access_logger.isEnabledFor(level):
            return
        fields: dict[str, object] = {
            "request_id": record.request_id,
            "method": method,
            "route": template,
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
        }
        if record.tenant is not None:
            fields["tenant"] = record.tenant
            fields["subject"] = record.subject
        if record.problem is not None:
            fields["problem"] = record.problem
        if record.reason is not None:
            fields["reason"] = _without_token(record.reason, scope)
        # makeRecord and handle, not log(): log() would walk the stack for the caller's file
        # and line, which say nothing here and cost more than the rest of the record.
        access_logger.handle(
            access_logger.makeRecord(
                access_logger.name,
                level,
                __file__,
                0,
                "%s %s %d %.1f ms",
                (method, template, status, seconds * 1000),
                None,
                extra=fields,
            )
        )


def _without_token(reason: str, scope: Scope) -> str:
    """The reason with the caller's bearer token cut out, should a message ever quote it."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            token = value.decode("latin-1").partition(" ")[2].strip()
            if len(token) >= 8 and token in reason:
                return reason.replace(token, "[token]")
    return reason
