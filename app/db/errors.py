"""Database refusals that are the moment's, not the request's: a lock or statement timeout."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from app.kit.errors import ServiceUnavailable, on_unhandled, problem_response

# lock_not_available (lock_timeout) and query_canceled (statement_timeout).
_TIMED_OUT = {"55P03": "a lock", "57014": "the statement"}


class DatabaseBusy(ServiceUnavailable):
    code = "database_busy"
    title = "Database busy"
    description = "A lock or statement timed out in the database; nothing was changed."


def sqlstate(exc: DBAPIError) -> str:
    """The SQLSTATE of a database error under SQLAlchemy's wrapper ("" when there is none)."""
    return str(getattr(exc.orig, "sqlstate", None) or "")


async def _on_database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    waited_for = _TIMED_OUT.get(sqlstate(exc))
    if waited_for is None:
        return await on_unhandled(request, exc)  # a 503 when the database is away, else a 500
    busy = DatabaseBusy(f"{waited_for} timed out in the database; try again")
    return problem_response(busy, request)


def install_database_error_handler(app: FastAPI) -> None:
    """Answer a lock or statement timeout, or a database that is away, with a 503 problem+json."""
    app.add_exception_handler(DBAPIError, _on_database_error)
