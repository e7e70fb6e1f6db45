"""What the access log says about one request: its id, its caller and why it was refused."""

import os
import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from starlette.types import Scope

REQUEST_ID_HEADER = "x-request-id"
# The scope key under which the request's record travels from the middleware to the handlers.
SCOPE_KEY = "convene.request"
# A caller's id is kept only if it is short and plain, so it cannot forge or break log lines.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")

# The request id of the request being served, for every log line written while serving it.
current_request_id: ContextVar[str | None] = ContextVar("convene_request_id", default=None)


@dataclass(slots=True)
class RequestRecord:
    """One request as the access log reports it; handlers fill in who called and refusals.

    It also carries header fields a handler wants on the response, whatever answers it.
    """

    request_id: str
    tenant: str | None = None
    subject: str | None = None
    problem: str | None = None
    reason: str | None = None
    # Header fields for the response, whatever answers (the rate limit's, for one).
    headers: list[tuple[bytes, bytes]] | None = None


def request_id_from(supplied: bytes | None) -> str:
    """The caller's X-Request-ID if it is sane, else a new one."""
    if supplied is not None:
        try:
            value = supplied.decode("ascii")
        except UnicodeDecodeError:
            value = ""
        if _SANE_REQUEST_ID.fullmatch(value):
            return value
    return os.urandom(16).hex()  # a uuid4's randomness, without building a UUID


def request_record(scope: Scope) -> RequestRecord | None:
    """The record the telemetry middleware put in this request's scope, if any."""
    record = scope.get(SCOPE_KEY)
    return record if isinstance(record, RequestRecord) else None


def note_caller(scope: Scope, tenant_id: uuid.UUID, subject: str) -> None:
    """Record the verified caller's tenant and subject for the access log."""
    record = request_record(scope)
    if record is not None:
        record.tenant = str(tenant_id)
        record.subject = subject


def note_problem(scope: Scope, code: str, status: int, detail: str) -> None:
    """Record the problem a request ended with; for 401 and 403 also why (never the token)."""
    record = request_record(scope)
    if record is not None:
        record.problem = code
        if status in (401, 403):
            record.reason = detail
