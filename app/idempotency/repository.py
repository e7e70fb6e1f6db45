"""Queries over idempotency keys: claim one for a write, store its answer, drop expired ones."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from app.idempotency.pending import Pending

# Take the key's transaction lock if it is free, and read the live answer kept under it, if any.
CLAIM = text("""
SELECT pg_try_advisory_xact_lock(:lock) AS free,
       k.fingerprint, k.status, k.headers, k.body
FROM (SELECT 1) AS one
LEFT JOIN idempotency_keys AS k
    ON k.tenant_id = :tenant_id AND k.caller = :caller AND k.key = :key
    AND k.expires_at > now()
""")

# CLAIM in the round trip of a member's token check: also the associate's name, if active.
CLAIM_AS_MEMBER = text("""
SELECT (SELECT a.name FROM associates AS a
        WHERE a.tenant_id = :tenant_id AND a.id = :associate_id AND a.active) AS name,
       pg_try_advisory_xact_lock(:lock) AS free,
       k.fingerprint, k.status, k.headers, k.body
FROM (SELECT 1) AS one
LEFT JOIN idempotency_keys AS k
    ON k.tenant_id = :tenant_id AND k.caller = :caller AND k.key = :key
    AND k.expires_at > now()
""")

# Keep a write's answer under its key (replacing an expired one); no row back if a live one won.
STORE = text("""
INSERT INTO idempotency_keys AS k
    (tenant_id, caller, key, fingerprint, status, headers, body, created_at, expires_at)
VALUES (:tenant_id, :caller, :key, :fingerprint, :status, :headers, :body,
        now(), now() + make_interval(secs => :ttl_seconds))
ON CONFLICT (tenant_id, caller, key) DO UPDATE
SET fingerprint = excluded.fingerprint, status = excluded.status, headers = excluded.headers,
    body = excluded.body, created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE k.expires_at <= now()
RETURNING 1
""").bindparams(bindparam("headers", type_=JSONB))

# Delete up to :batch expired keys of any tenant, oldest first; the retention job repeats it.
DELETE_EXPIRED_IDEMPOTENCY_KEYS = text("""
DELETE FROM idempotency_keys AS k
USING (
    SELECT tenant_id, caller, key FROM idempotency_keys
    WHERE expires_at <= now()
    ORDER BY expires_at
    LIMIT :batch
    FOR UPDATE SKIP LOCKED
) AS old
WHERE k.tenant_id = old.tenant_id AND k.caller = old.caller AND k.key = old.key
""")


@dataclass(frozen=True)
class Kept:
    """An answer kept under a key: what the first request sent back."""

    fingerprint: bytes
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Claimed:
    """What claiming a key found: whether its lock was free, and any answer kept under it."""

    free: bool
    kept: Kept | None


class IdempotencyRepository:
    """One caller's keys in one tenant."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, caller: str) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.caller = caller

    def context(self, key: str) -> str:
        """What a sealed answer is bound to: its tenant, caller and key."""
        return f"idempotency:{self.tenant_id}:{self.caller}:{key}"

    def _key(self, key: str) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "caller": self.caller, "key": key}

    def _claim_values(self, pending: Pending) -> dict[str, Any]:
        return {**self._key(pending.key), "lock": pending.lock(self.tenant_id, self.caller)}

    async def claim(self, pending: Pending) -> Claimed:
        """Lock the key for this transaction (if no one holds it) and read its kept answer."""
        return _claimed((await self.session.execute(CLAIM, self._claim_values(pending))).one())

    async def claim_as_member(
        self, pending: Pending, associate_id: uuid.UUID
    ) -> tuple[str | None, Claimed]:
        """`claim`, and the member's name if active: the token check and the claim at once."""
        values = {**self._claim_values(pending), "associate_id": associate_id}
        row = (await self.session.execute(CLAIM_AS_MEMBER, values)).one()
        return row.name, _claimed(row)

    async def store(self, key: str, answer: Kept, ttl_seconds: float) -> bool:
        """Keep the answer under the key; False if a live answer holds the key already."""
        values = {
            **self._key(key),
            "fingerprint": answer.fingerprint,
            "status": answer.status,
            "headers": answer.headers,
            "body": answer.body,
            "ttl_seconds": ttl_seconds,
        }
        return (await self.session.execute(STORE, values)).first() is not None


def _claimed(row: Any) -> Claimed:
    kept = None
    if row.status is not None:
        kept = Kept(bytes(row.fingerprint), row.status, row.headers, bytes(row.body))
    return Claimed(row.free, kept)
