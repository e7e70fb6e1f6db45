"""The problems an Idempotency-Key can raise."""

from app.kit.errors import Conflict, ValidationFailed


class IdempotencyKeyInProgress(Conflict):
    code = "idempotency_key_in_progress"
    title = "Idempotency key in progress"
    description = (
        "A request with this Idempotency-Key is still running: retry after it ends, with the "
        "same key, to get its answer."
    )


class IdempotencyKeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    title = "Idempotency key reused"
    description = (
        "This Idempotency-Key was used in the last 24 hours for a different request (method, "
        "path or body): use a new key for a new request."
    )
