"""Statements sent straight to the session's asyncpg connection, for the hottest reads.

SQLAlchemy spends about 130 µs of CPU around each statement (compiling from its cache, the
greenlet hop, the cursor adapter, the result wrapper) where asyncpg itself needs about 30 µs.
A `DriverStatement` is written like our `text()` constants, with `:named` parameters, and
runs on the connection the session holds. It is announced to the engine's cursor-execute
listeners like any other statement, so statement counts (tests/fixtures/statements.py) still
see it, and its errors reach the handlers as SQLAlchemy's `DBAPIError`, as others do.
"""

import re
from typing import Any

import asyncpg
from sqlalchemy import TextClause, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")

# Session.info key: the session's connections go through a transaction pooler (PgBouncer).
POOLED = "convene.pooled"


class DriverStatement:
    """An SQL statement with `:named` parameters, turned once into asyncpg's `$n` form."""

    def __init__(self, sql: str) -> None:
        self.sql = sql
        self.text: TextClause = text(sql)
        self.names: list[str] = []

        def number(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.names:
                self.names.append(name)
            return f"${self.names.index(name) + 1}"

        self.driver_sql = _NAMED.sub(number, sql)

    def args(self, params: dict[str, Any]) -> list[Any]:
        """The parameters in the statement's `$n` order."""
        return [params[name] for name in self.names]


async def fetchval(session: AsyncSession, statement: DriverStatement, **params: Any) -> Any:
    """The first column of the first row (None without rows), as `session.scalar` gives it.

    Outside a transaction, a statement behind a transaction pooler could be prepared on one
    server connection and run on another: there, until the session's transaction is open
    (SQLAlchemy begins it with its first statement), this goes through SQLAlchemy.
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None or (session.info.get(POOLED) and not driver.is_in_transaction()):
        return await session.scalar(statement.text, params)
    sync = connection.sync_connection
    assert sync is not None
    sync.dispatch.before_cursor_execute(sync, None, statement.sql, params, None, False)
    try:
        value = await driver.fetchval(statement.driver_sql, *statement.args(params))
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise DBAPIError(statement.sql, params, error, hide_parameters=True) from error
    sync.dispatch.after_cursor_execute(sync, None, statement.sql, params, None, False)
    return value
