"""RFC 9457 problem+json: one error class per kind of failure, each with a stable code."""

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, ClassVar, Self

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.kit.request_context import REQUEST_ID_HEADER, note_problem, request_record

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:convene:problem:"


class InvalidParam(BaseModel):
    """One invalid field of a request."""

    loc: list[str | int] = Field(description="Where: body, query, path or header, then the field")
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem detail."""

    type: str = Field(examples=["urn:convene:problem:not_found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["associate 0193... not found"])
    code: str = Field(
        description="Stable machine-readable code: one of `ProblemCode`", examples=["not_found"]
    )
    instance: str | None = Field(default=None, description="The request path")
    request_id: str | None = Field(
        default=None,
        description="The request's id, as in the X-Request-ID response header: quote it when "
        "you report a problem",
    )
    errors: list[InvalidParam] | None = Field(
        default=None, description="The invalid fields (validation errors only)"
    )


class ProblemError(Exception):
    """Base of every error the API returns; subclasses fix status, code and title."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal server error"
    description: ClassVar[str] = "The server failed; nothing about its internals is shown."
    headers: ClassVar[dict[str, str]] = {}
    # The body's schema: Problem, or a subclass naming the members this problem adds.
    model: ClassVar[type[Problem]] = Problem
    # The members `model` adds, as the document's example shows them.
    example: ClassVar[dict[str, Any]] = {}

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

    def response_headers(self) -> dict[str, str]:
        """Headers of the response: the class's, unless a problem's vary per instance."""
        return self.headers

    def body(self, instance: str | None = None, request_id: str | None = None) -> dict[str, Any]:
        return {
            "type": TYPE_PREFIX + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "instance": instance,
            "request_id": request_id,
            **self.extra,
        }


class Unauthorized(ProblemError):
    status = 401
    code = "unauthorized"
    title = "Authentication required"
    description = "No bearer token, or one that is expired, badly signed or malformed."
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(ProblemError):
    status = 403
    code = "forbidden"
    title = "Forbidden"
    description = "The token lacks the scope this operation needs."


class NotFound(ProblemError):
    status = 404
    code = "not_found"
    title = "Not found"
    description = "No such object in the caller's tenant, or the caller may not see it."


class MethodNotAllowed(ProblemError):
    status = 405
    code = "method_not_allowed"
    title = "Method not allowed"
    description = "This path does not serve this method; `Allow` lists the ones it does."


class Conflict(ProblemError):
    status = 409
    code = "conflict"
    title = "Conflict"
    description = "The request clashes with the current state."


class DuplicateExternalId(Conflict):
    code = "duplicate_external_id"
    title = "Duplicate external id"
    description = "Another object of this kind in the tenant already has this external_id."


class PreconditionFailed(ProblemError):
    status = 412
    code = "precondition_failed"
    title = "Precondition failed"
    description = "If-Match names a version that is no longer current: read it again."


class PreconditionRequired(ProblemError):
    status = 428
    code = "precondition_required"
    title = "Precondition required"
    description = "Send If-Match with the ETag you read, so no one else's change is overwritten."


class PayloadTooLarge(ProblemError):
    status = 413
    code = "payload_too_large"
    title = "Request body too large"
    description = "The body is larger than the server accepts (`CONVENE_MAX_BODY_BYTES`, 1 MiB)."


class ServiceUnavailable(ProblemError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"
    description = (
        "Something the request needs is busy or out of reach for a moment (`database_busy`: "
        "a lock or statement timeout; `auth_keys_unavailable`: the identity provider's keys); "
        "nothing was changed. Retry after `Retry-After` seconds."
    )
    headers = {"Retry-After": "1"}


class ValidationFailed(ProblemError):
    status = 422
    code = "validation_failed"
    title = "Invalid request"
    description = "A field is missing, malformed or past a documented limit."

    @classmethod
    def at(cls, loc: Sequence[str | int], detail: str, *, msg: str, type: str) -> Self:
        """The error for one invalid field at `loc`, e.g. `("query", "end")`."""
        invalid = InvalidParam(loc=list(loc), msg=msg, type=type)
        return cls(detail, errors=[invalid.model_dump()])


class DatabaseUnavailable(ProblemError):
    status = 503
    code = "database_unavailable"
    title = "Database unavailable"
    description = (
        "The database cannot be reached, or is restarting: nothing was changed. Retry after "
        "`Retry-After` seconds (with the same Idempotency-Key for a write)."
    )
    headers = {"Retry-After": "1"}


# SQLSTATEs of a server that is gone or going: connection exceptions (class 08), and
# admin_shutdown, crash_shutdown, cannot_connect_now (class 57P).
_UNAVAILABLE_CLASSES = ("08",)
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03")


def database_unavailable(exc: BaseException) -> bool:
    """Whether an error says the database is unreachable or restarting, not that a query failed.

    Then the transaction was rolled back, or never began: the request may be retried.
    """
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = (exc.orig.__cause__ or exc.orig) if exc.orig is not None else exc
    if isinstance(exc, OSError):  # refused, reset, timed out while connecting
        return True
    state = getattr(exc, "sqlstate", None)
    return isinstance(state, str) and (
        state.startswith(_UNAVAILABLE_CLASSES) or state in _UNAVAILABLE_STATES
    )


class UnknownReference(NotFound):
    code = "unknown_reference"
    title = "Unknown reference"
    description = "The body names an object that does not exist in the caller's tenant."


def problem_response(error: ProblemError, request: Request) -> JSONResponse:
    """Render a ProblemError as application/problem+json."""
    record = request_record(request.scope)
    note_problem(request.scope, error.code, error.status, error.detail)
    return JSONResponse(
        error.body(request.url.path, record.request_id if record is not None else None),
        status_code=error.status,
        headers=error.response_headers() or None,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors()
    ]


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc, request)


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    first = errors[0] if errors else None
    detail = (
        f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}" if first else "invalid request"
    )
    return problem_response(ValidationFailed(detail, errors=errors), request)


async def _on_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    known: dict[int, type[ProblemError]] = {
        404: NotFound,
        405: MethodNotAllowed,
        413: PayloadTooLarge,
    }
    error_class = known.get(exc.status_code)
    if exc.status_code == 400:
        # Starlette's "error parsing the body" (bad encoding, bad multipart): malformed input.
        error_class = ValidationFailed
    if error_class is None:
        phrase = HTTPStatus(exc.status_code).phrase
        error_class = type(
            "HTTPProblem",
            (ProblemError,),
            {"status": exc.status_code, "code": phrase.lower().replace(" ", "_"), "title": phrase},
        )
    response = problem_response(error_class(str(exc.detail)), request)
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed_methods(request))
    return response


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    ]


async def on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    """Answer an error no handler took: 503 when the database is away, else a logged 500."""
    record = request_record(request.scope)
    request_id = record.request_id if record is not None else None
    if database_unavailable(exc):
        logger.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            exc,
            extra={"request_id": request_id},
        )
        response = problem_response(DatabaseUnavailable(), request)
    else:
        logger.exception(
            "unhandled error on %s %s",
            request.method,
            request.url.path,
            exc_info=exc,
            extra={"request_id": request_id},
        )
        response = problem_response(ProblemError(), request)
    if request_id is not None:
        # This answer may be sent from outside the middleware that adds the header to the others.
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, ours or the framework's, a problem+json response."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    # Network errors are answered here rather than by the catch-all, which re-raises after
    # answering (the server then closes the client's kept-alive connection); database errors
    # by app.db.errors.
    app.add_exception_handler(OSError, on_unhandled)
    app.add_exception_handler(Exception, on_unhandled)
