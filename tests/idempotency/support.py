"""What the idempotency tests share: a key, every row of a tenant, and what a replay must be."""

import uuid
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import Base

# The headers a replay repeats from the first answer.
REPEATED = ("content-type", "etag", "location")


def key() -> dict[str, str]:
    """A fresh Idempotency-Key header."""
    return {"Idempotency-Key": f"test-{uuid.uuid4()}"}


async def every_row(connection: AsyncConnection, tenant_id: uuid.UUID) -> dict[str, list[Any]]:
    """Every row of every table of the tenant but the keys themselves, in full, in key order."""
    rows: dict[str, list[Any]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name == "idempotency_keys":
            continue
        query = select(table).where(table.c.tenant_id == tenant_id)
        query = query.order_by(*table.primary_key.columns)
        rows[table.name] = list((await connection.execute(query)).all())
    return rows


def assert_replayed(first: httpx.Response, again: httpx.Response) -> None:
    """`again` is `first` sent back: status, body and headers, marked as a replay."""
    assert again.status_code == first.status_code, again.text
    assert again.content == first.content
    for name in REPEATED:
        assert again.headers.get(name) == first.headers.get(name), name
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
