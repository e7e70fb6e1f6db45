"""Migrations on a real database: upgrade, downgrade, upgrade again; no drift from the models."""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.engine import async_url
from app.db.migrations import downgrade, head_revisions, upgrade
from app.models import Base

T = TypeVar("T")

TABLES = {"associates", "resources", "contacts", "persons"}


async def _inspect(url: str, probe: Callable[[Connection], T]) -> T:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(probe)
    finally:
        await engine.dispose()


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def test_upgrade_downgrade_upgrade(make_database: Callable[..., str]) -> None:
    url = make_database(migrate=False)
    upgrade(url)
    assert asyncio.run(_inspect(url, _tables)) >= TABLES
    downgrade(url, "base")
    assert asyncio.run(_inspect(url, _tables)) & TABLES == set()
    upgrade(url)
    assert asyncio.run(_inspect(url, _tables)) >= TABLES


def test_models_match_migrations(database_url: str) -> None:
    assert asyncio.run(_inspect(database_url, _diff)) == []


def test_single_head() -> None:
    assert len(head_revisions()) == 1
