"""Migrations take an advisory lock (replicas starting together migrate once) and bound their
lock waits (a migration behind a long transaction fails fast instead of stalling the service)."""

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.migrations import MIGRATION_LOCK_KEY, alembic_config, head_revisions, upgrade
from tests.fixtures.pgbouncer import direct, plain_engine
from tests.fixtures.servers import convene_env

pytestmark = pytest.mark.slow

WAIT_SECONDS = 60
# A revision that every later migration builds on; the next one alters existing tables.
BEFORE_TENANT_KEYS = "7d3c0e2a9b41"

ADVISORY_WAITERS = text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)
VERSIONS = text("SELECT version_num FROM alembic_version")


@pytest.fixture
def url(make_database: Callable[..., str]) -> str:
    """A fresh database, not migrated yet (its direct URL: migrations never go through a pooler)."""
    return direct(make_database(migrate=False))


@asynccontextmanager
async def _connection(url: str) -> AsyncIterator[AsyncConnection]:
    engine = plain_engine(url)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def _migrate(url: str, **env: str) -> asyncio.subprocess.Process:
    """`convene migrate` as its own process, as a replica's start runs it."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        "migrate",
        env=convene_env(CONVENE_DATABASE_URL=url, CONVENE_LOG_LEVEL="info", **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _finished(process: asyncio.subprocess.Process) -> tuple[int, str]:
    async with asyncio.timeout(WAIT_SECONDS):
        output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


async def test_two_replicas_migrating_together_both_succeed_and_migrate_once(url: str) -> None:
    revisions = list(ScriptDirectory.from_config(alembic_config(url)).walk_revisions())
    async with _connection(url) as holder:
        # Hold the lock so both replicas are surely waiting on it at the same time.
        await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await holder.commit()
        replicas = [await _migrate(url), await _migrate(url)]
        async with asyncio.timeout(WAIT_SECONDS):
            while (await holder.scalar(ADVISORY_WAITERS)) != 2:
                await holder.rollback()
                await asyncio.sleep(0.05)
        await holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        await holder.commit()

        results = [await _finished(replica) for replica in replicas]
        versions = set((await holder.scalars(VERSIONS)).all())

    assert [code for code, _ in results] == [0, 0], results
    ran = [line for _, out in results for line in out.splitlines() if "Running upgrade" in line]
    assert len(ran) == len(revisions), "each migration ran once, in one of the two"
    assert sum(1 for _, out in results if "Running upgrade" in out) == 1
    assert versions == head_revisions()


async def test_a_migration_waiting_for_a_table_lock_gives_up_after_the_lock_timeout(
    url: str,
) -> None:
    await asyncio.to_thread(upgrade, url, BEFORE_TENANT_KEYS)
    async with _connection(url) as report:
        # A long transaction (a report, a stuck session) holding SHARE locks on every table.
        tables = (
            await report.scalars(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ).all()
        await report.execute(text(f"LOCK TABLE {', '.join(tables)} IN SHARE MODE"))

        started = asyncio.get_running_loop().time()
        code, output = await _finished(await _migrate(url, CONVENE_MIGRATION_LOCK_TIMEOUT_MS="300"))
        took = asyncio.get_running_loop().time() - started
        await report.rollback()

    assert code != 0
    assert "lock timeout" in output
    assert took < 20
    code, output = await _finished(await _migrate(url))
    assert code == 0, output
    async with _connection(url) as connection:
        assert set((await connection.scalars(VERSIONS)).all()) == head_revisions()


async def test_migrations_connect_with_the_migration_url_when_one_is_set(url: str) -> None:
    """The service's own URL may belong to a role without DDL rights: the owner's is used."""
    code, output = await _finished(
        await _migrate(
            "postgresql://nobody:wrong@127.0.0.1:1/nowhere",
            CONVENE_DATABASE_MIGRATION_URL=url,
        )
    )

    assert code == 0, output
    async with _connection(url) as connection:
        assert set((await connection.scalars(VERSIONS)).all()) == head_revisions()
