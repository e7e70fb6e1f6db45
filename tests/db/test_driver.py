"""Statements sent straight to asyncpg: named parameters, counted like others, errors wrapped."""

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.db.driver import DriverStatement, fetch, fetchval
from app.db.engine import Database, create_engine
from app.db.errors import sqlstate
from app.models import Participant
from app.models.states import ParticipantRole
from tests.fixtures.factories import TEST_SECRET
from tests.fixtures.pgbouncer import database_settings
from tests.fixtures.statements import statements

SUM = DriverStatement(
    "SELECT CAST(:a AS int) + CAST(:b AS int) + CAST(:a AS int) AS total WHERE CAST(:b AS int) > 0"
)
DIVIDE = DriverStatement("SELECT 1 / CAST(:zero AS int) AS secret_quotient")


def test_named_parameters_become_positional_once_each() -> None:
    assert SUM.driver_sql == (
        "SELECT CAST($1 AS int) + CAST($2 AS int) + CAST($1 AS int) AS total"
        " WHERE CAST($2 AS int) > 0"
    )
    assert SUM.args({"b": 2, "a": 1}) == [1, 2]


# A Core statement: a literal enum member it carries, beside a parameter given per call.
ORGANIZER = DriverStatement(
    select(Participant.id, (Participant.role == ParticipantRole.ORGANIZER).label("leads")).where(
        Participant.follow_up_id == bindparam("follow_up_id")
    )
)


def test_a_core_statement_carries_its_own_values_as_its_types_send_them() -> None:
    assert ORGANIZER.names == ["role_1", "follow_up_id"]
    assert ORGANIZER.args({"follow_up_id": "f"}) == ["organizer", "f"]
    assert type(ORGANIZER.args({"follow_up_id": "f"})[0]) is str  # not the enum member
    assert ORGANIZER.sql == ORGANIZER.driver_sql


async def test_a_core_statement_runs_in_the_session(connection: AsyncConnection) -> None:
    async with Database.from_connection(connection).sessionmaker() as session:
        rows = await fetch(session, ORGANIZER, follow_up_id="00000000-0000-0000-0000-000000000000")
    assert rows == []


async def test_a_statement_runs_in_the_session_and_is_counted(
    connection: AsyncConnection, engine: AsyncEngine
) -> None:
    async with Database.from_connection(connection).sessionmaker() as session:
        with statements(engine) as sent:
            assert await fetchval(session, SUM, a=1, b=2) == 4
            assert await fetchval(session, SUM, a=1, b=0) is None
            rows = await fetch(session, SUM, a=2, b=3)
    assert [row["total"] for row in rows] == [7]
    assert sent == [SUM.sql, SUM.sql, SUM.sql]


async def test_an_error_is_a_dbapi_error_with_its_sqlstate(database_url: str) -> None:
    settings = Settings(jwt_secret=TEST_SECRET, **database_settings(database_url))
    database = Database.from_engine(create_engine(database_url, settings))
    try:
        async with database.sessionmaker() as session:
            with pytest.raises(DBAPIError) as raised:
                await fetchval(session, DIVIDE, zero=0)
    finally:
        await database.dispose()
    assert sqlstate(raised.value) == "22012"  # division_by_zero
    assert "hidden due to hide_parameters" in str(raised.value), "parameters are not shown"
