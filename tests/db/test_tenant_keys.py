"""Every key includes tenant_id, read from the catalog: the tables can be distributed by tenant.

On Citus a distributed table's primary and unique keys must contain the distribution column,
a foreign key between two of them must pair it with itself, and an exclusion constraint must
compare it with `=`. These tests hold the migrated schema to that for every table of tenant
data; `alembic check` cannot, as it does not compare primary keys.
"""

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.engine import async_url
from app.db.migrations import downgrade, upgrade
from app.models import Base

# Tables that hold no tenant's data, and why. Nothing else may be listed here.
NOT_TENANT_DATA = {
    # Alembic's bookkeeping: one row naming the schema's revision (a coordinator-local table
    # on Citus).
    "alembic_version",
}

# The revision before tenant keys (2026-11-30-0215_state_checks.py).
BEFORE_TENANT_KEYS = "7d3c0e2a9b41"

# Every table of the public schema with its tenant_id column's nullability, if it has one.
TABLES = text("""
SELECT c.relname AS table_name,
       (SELECT a.attnotnull FROM pg_attribute a
        WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS not_null
FROM pg_class c
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
ORDER BY 1
""")

# Every primary key, unique, foreign key and exclusion constraint of the public schema: its
# columns in order, the referred table and columns of a foreign key, the operators of an EXCLUDE.
CONSTRAINTS = text("""
SELECT k.conname AS name, k.contype::text AS type, t.relname AS table_name,
       ARRAY(SELECT a.attname::text
             FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, n)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             ORDER BY u.n) AS columns,
       ARRAY(SELECT a.attname::text
             FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, n)
             JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum
             ORDER BY u.n) AS referred_columns,
       ARRAY(SELECT o.oprname::text
             FROM unnest(k.conexclop) WITH ORDINALITY AS u(oid, n)
             JOIN pg_operator o ON o.oid = u.oid
             ORDER BY u.n) AS operators
FROM pg_constraint k
JOIN pg_class t ON t.oid = k.conrelid
WHERE k.connamespace = 'public'::regnamespace AND k.contype IN ('p', 'u', 'f', 'x')
ORDER BY t.relname, k.conname
""")


async def _rows(url: str, statement: Any) -> list[Any]:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(statement)).all())
    finally:
        await engine.dispose()


def _exception(key: Any) -> str | None:
    """Why this constraint keeps its table from being distributed by tenant_id, or None."""
    columns: list[str] = key.columns
    if "tenant_id" not in columns:
        return "does not include tenant_id"
    position = columns.index("tenant_id")
    if key.type in ("p", "u") and position != 0:
        return "does not start with tenant_id"
    if key.type == "f" and key.referred_columns[position] != "tenant_id":
        return f"pairs tenant_id with {key.referred_columns[position]}"
    if key.type == "x" and key.operators[position] != "=":
        return f"compares tenant_id with {key.operators[position]}"
    return None


def test_every_key_includes_tenant_id(database_url: str) -> None:
    keys = asyncio.run(_rows(database_url, CONSTRAINTS))
    tables = {row.table_name: row.not_null for row in asyncio.run(_rows(database_url, TABLES))}

    exceptions = [
        f"{key.table_name}.{key.name} ({key.type}: {', '.join(key.columns)}) {why}"
        for key in keys
        if key.table_name not in NOT_TENANT_DATA and (why := _exception(key)) is not None
    ]
    keyed = {key.table_name for key in keys if key.type == "p"}
    exceptions += [
        f"{table} has no primary key"
        for table in tables
        if table not in NOT_TENANT_DATA and table not in keyed
    ]
    exceptions += [
        f"{table} has no NOT NULL tenant_id"
        for table, not_null in tables.items()
        if table not in NOT_TENANT_DATA and not not_null
    ]
    assert not exceptions, "\n".join(exceptions)
    # The allow-list names only tables that exist and have no tenant_id column.
    assert [t for t in NOT_TENANT_DATA if t not in tables or tables[t] is not None] == []


def test_primary_keys_match_the_models(database_url: str) -> None:
    keys = asyncio.run(_rows(database_url, CONSTRAINTS))
    in_database = {key.table_name: key.columns for key in keys if key.type == "p"}
    in_models = {
        table.name: [column.name for column in table.primary_key.columns]
        for table in Base.metadata.sorted_tables
    }
    assert {name: in_database.get(name) for name in in_models} == in_models


# Two tenants' webhook attempts, written as they were before the migration.
_OLD_ATTEMPTS = text("""
WITH endpoint AS (
    INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, enabled, secret)
    VALUES (:endpoint_id, :tenant_id, 'https://hooks.example.com/', '{}', true, 'secret')
    RETURNING id, tenant_id
), event AS (
    INSERT INTO events (id, tenant_id, type, data)
    VALUES (:event_id, :tenant_id, 'webhook.ping', '{}')
    RETURNING id
), delivery AS (
    INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id)
    SELECT endpoint.tenant_id, endpoint.id, event.id FROM endpoint, event
    RETURNING id
)
INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, outcome)
SELECT delivery.id, n, now(), 10, 'success' FROM delivery, generate_series(1, 2) AS n
""")


async def _write_old_attempts(url: str, tenants: list[uuid.UUID]) -> None:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as connection:
            for tenant_id in tenants:
                await connection.execute(
                    _OLD_ATTEMPTS,
                    {"tenant_id": tenant_id, "endpoint_id": uuid.uuid4(), "event_id": uuid.uuid4()},
                )
    finally:
        await engine.dispose()


def test_attempts_take_the_tenant_of_their_delivery(make_database: Callable[..., str]) -> None:
    url = make_database(migrate=False)
    upgrade(url, BEFORE_TENANT_KEYS)
    tenants = [uuid.uuid4(), uuid.uuid4()]
    asyncio.run(_write_old_attempts(url, tenants))

    upgrade(url)

    attempts = text("""
        SELECT a.tenant_id, d.tenant_id AS delivery_tenant_id
        FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id
    """)
    rows = asyncio.run(_rows(url, attempts))
    assert sorted(row.tenant_id for row in rows) == sorted(tenants * 2)
    assert all(row.tenant_id == row.delivery_tenant_id for row in rows)

    downgrade(url, BEFORE_TENANT_KEYS)
    assert len(asyncio.run(_rows(url, text("SELECT * FROM webhook_attempts")))) == 4
