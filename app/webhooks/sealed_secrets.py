"""Webhook signing secrets at rest: sealed per endpoint, opened to sign, resealed for new keys."""

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.kit.keyring import Keyring, SealError, kid_of

# One page of endpoints in key order after (:after_tenant, :after_id), row-locked until commit
# so that a rotate-secret running meanwhile waits rather than being overwritten. Spans tenants:
# it is the operator's `convene rotate-keys`, not a request.
SECRETS_PAGE = text("""
SELECT tenant_id, id, secret, previous_secret FROM webhook_endpoints
WHERE (tenant_id, id) > (:after_tenant, :after_id)
ORDER BY tenant_id, id
LIMIT :limit
FOR UPDATE
""")

# Writes one endpoint's secrets sealed again under the current key.
RESEAL = text("""
UPDATE webhook_endpoints SET secret = :secret, previous_secret = :previous_secret
WHERE tenant_id = :tenant_id AND id = :id
""")

_PAGE = 200
_FIRST = uuid.UUID(int=0)


def context(tenant_id: uuid.UUID, endpoint_id: uuid.UUID) -> str:
    """What a secret is bound to: its tenant and endpoint (a copy in another row fails)."""
    return f"webhook-secret:{tenant_id}:{endpoint_id}"


def seal(keyring: Keyring, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, secret: str) -> str:
    """The stored form of an endpoint's secret."""
    return keyring.seal(secret, context(tenant_id, endpoint_id))


def open_(keyring: Keyring, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, sealed: str) -> str:
    """An endpoint's secret from its stored form; SealError if it cannot be opened."""
    return keyring.open(sealed, context(tenant_id, endpoint_id))


def resealed(
    keyring: Keyring, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, sealed: str | None
) -> str | None:
    """`sealed` under the current key: the same value when it is already, None for None."""
    if sealed is None or kid_of(sealed) == keyring.current:
        return sealed
    return seal(keyring, tenant_id, endpoint_id, open_(keyring, tenant_id, endpoint_id, sealed))


@dataclass
class Resealing:
    """What `reseal_all` did: endpoints rewritten, and those it could not open (left alone)."""

    resealed: int = 0
    unreadable: int = 0


async def reseal_all(engine: AsyncEngine, keyring: Keyring) -> Resealing:
    """Seal every endpoint's secrets under the current key, a page per transaction."""
    done = Resealing()
    after = (_FIRST, _FIRST)
    while True:
        async with engine.begin() as connection:
            rows = (
                await connection.execute(
                    SECRETS_PAGE, {"after_tenant": after[0], "after_id": after[1], "limit": _PAGE}
                )
            ).all()
            changed = []
            for row in rows:
                try:
                    secret = resealed(keyring, row.tenant_id, row.id, row.secret)
                    previous = resealed(keyring, row.tenant_id, row.id, row.previous_secret)
                except SealError:
                    done.unreadable += 1
                    continue
                if (secret, previous) != (row.secret, row.previous_secret):
                    changed.append(
                        {
                            "tenant_id": row.tenant_id,
                            "id": row.id,
                            "secret": secret,
                            "previous_secret": previous,
                        }
                    )
            if changed:
                await connection.execute(RESEAL, changed)
            done.resealed += len(changed)
        if len(rows) < _PAGE:
            return done
        after = (rows[-1].tenant_id, rows[-1].id)
