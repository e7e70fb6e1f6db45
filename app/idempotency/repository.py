"""Queries over idempotency keys: claim one for a write, store its answer, drop expired ones."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

# Take the key's transaction lock if it is free, and read the live answer kept under it, if any.
CLAIM = text("""
SELECT pg_try_advisory_xact_lock(:lock) AS free,
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

# Delete up to :limit expired keys of any tenant, oldest first; the retention job repeats it.
DELETE_EXPIRED_IDEMPOTENCY_KEYS = text("""
DELETE FROM idempotency_keys AS k
USING (
    SELECT tenant_id, caller, key FROM idempotency_keys
    WHERE expires_at <= now()
    ORDER BY expires_at
    LIMIT :limit
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

    def _key(self, key: str) -> dict[str, Any]:
        return {"tenant_id": self.tenant_id, "caller": self.caller, "key": key}

    async def claim(self, key: str, lock: int) -> Claimed:
        """Lock the key for this transaction (if no one holds it) and read its kept answer."""
        row = (await self.session.execute(CLAIM, {**self._key(key), "lock": lock})).one()
        kept = None
        if row.status is not None:
            kept = Kept(bytes(row.fingerprint), row.status, row.headers, bytes(row.body))
        return Claimed(row.free, kept)

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


async def delete_expired(session: AsyncSession, limit: int) -> int:
    """Delete up to `limit` expired keys of every tenant; the number deleted."""
    result = await session.execute(DELETE_EXPIRED_IDEMPOTENCY_KEYS, {"limit": limit})
    return int(result.rowcount)  # type: ignore[attr-defined]
