"""A write's Idempotency-Key between the route, which reads it, and whoever claims it.

The route reads a well-formed key (and the request it names) before the dependencies run;
a member's token check then claims it in its own round trip, and the key's dependency uses
that claim or makes one. The request's state carries both.
"""

import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.requests import Request

if TYPE_CHECKING:
    from app.idempotency.repository import Claimed

HEADER = "Idempotency-Key"
# 1 to 255 printable ASCII characters (the OpenAPI document says so with the same pattern).
PATTERN = r"^[ -~]{1,255}$"


@dataclass(frozen=True)
class Pending:
    """A well-formed key sent with a write, before it is claimed: the key and its request."""

    key: str
    fingerprint: bytes

    def lock(self, tenant_id: uuid.UUID, caller: str) -> int:
        """The key's advisory lock: a 64-bit hash of tenant, caller and key."""
        parts = (str(tenant_id).encode(), caller.encode(), self.key.encode())
        return int.from_bytes(hashlib.sha256(b"\n".join(parts)).digest()[:8], signed=True)


async def read_pending(request: Request) -> None:
    """Note the request's key, if it sent a well-formed one, with its method, path and body."""
    key = request.headers.get(HEADER)
    if key is None or re.fullmatch(PATTERN, key) is None:
        return  # None, or malformed: the key's dependency answers 422 after authentication
    parts = (request.method, request.url.path, request.url.query)
    fingerprint = hashlib.sha256(b"\n".join([*(p.encode() for p in parts), await request.body()]))
    request.state.idempotency_pending = Pending(key, fingerprint.digest())


def pending(request: Request) -> Pending | None:
    """The request's well-formed key, not claimed yet, or None."""
    found: Pending | None = getattr(request.state, "idempotency_pending", None)
    return found


def note_claimed(request: Request, claimed: "Claimed") -> None:
    """Remember a claim the token check made, for the key's dependency."""
    request.state.idempotency_claimed = claimed


def claimed_by_token_check(request: Request) -> "Claimed | None":
    """The claim the token check made, if it made one."""
    found: Claimed | None = getattr(request.state, "idempotency_claimed", None)
    return found
