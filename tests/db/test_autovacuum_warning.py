"""Migrating (every start does) warns when the server runs without autovacuum, and only then."""

import asyncio
import logging
from collections.abc import Callable

import pytest
from sqlalchemy import text

from app.db.migrations import WITHOUT_AUTOVACUUM, upgrade
from tests.fixtures.pgbouncer import direct, plain_engine


async def _autovacuum(url: str) -> str:
    engine = plain_engine(url)
    try:
        async with engine.connect() as connection:
            return str(await connection.scalar(text("SHOW autovacuum")))
    finally:
        await engine.dispose()


def test_migrating_warns_exactly_when_autovacuum_is_off(
    make_database: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    url = direct(make_database())
    setting = asyncio.run(_autovacuum(url))
    caplog.clear()  # making the database migrated it too

    with caplog.at_level(logging.WARNING, logger="app.db.migrations"):
        upgrade(url)  # at head already: only the check runs

    warned = [r for r in caplog.records if r.getMessage() == WITHOUT_AUTOVACUUM]
    assert setting in {"on", "off"}
    assert len(warned) == (1 if setting == "off" else 0)
