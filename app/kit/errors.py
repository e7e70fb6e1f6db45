"""RFC 9457 problem+json: one error class per kind of failure, each with a stable code."""

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, ClassVar, Self

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
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
    code: str = Field(description="Stable machine-readable code", examples=["not_found"])
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

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.title
        self.extra = extra
        super().__init__(self.detail)

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
        headers=error.headers or None,
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


async def _on_unhandled(request: Request, exc: Exception) -> JSONResponse:
    record = request_record(request.scope)
    request_id = record.request_id if record is not None else None
    logger.exception(
        "unhandled error on %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"request_id": request_id},
    )
    response = problem_response(ProblemError(), request)
    if request_id is not None:
        # This answer is sent from outside the middleware that adds the header to the others.
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def install_error_handlers(app: FastAPI) -> None:
    """Make every error, ours or the framework's, a problem+json response."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    app.add_exception_handler(Exception, _on_unhandled)
