"""Statements sent straight to the session's asyncpg connection, for the hottest reads.

SQLAlchemy spends about 130 µs of CPU around each statement (compiling from its cache, the
greenlet hop, the cursor adapter, the result wrapper) where asyncpg itself needs about 30 µs.
A `DriverStatement` is written like our `text()` constants, with `:named` parameters (or
made from a Core statement we already have, so its SQL is written once), and runs on the
connection the session holds. It is announced to the engine's cursor-execute
listeners like any other statement, so statement counts (tests/fixtures/statements.py) still
see it, and its errors reach the handlers as SQLAlchemy's `DBAPIError`, as others do.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import Executable, TextClause, text
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

# Session.info key: the session's connections go through a transaction pooler (PgBouncer).
POOLED = "convene.pooled"

_DIALECT = asyncpg_dialect()  # type: ignore[no-untyped-call]


class DriverStatement:
    """An SQL statement with `:named` parameters, compiled once to asyncpg's `$n` form.

    SQLAlchemy's own compiler does it, so the parameters are the ones `text()` would see.
    Given a Core statement instead of SQL, the values it carries itself (`bindparam`s with a
    value, literals in comparisons) are sent as their column types would send them.
    """

    def __init__(self, sql: str | Executable) -> None:
        self.text: TextClause | Executable = text(sql) if isinstance(sql, str) else sql
        compiled = self.text.compile(dialect=_DIALECT)  # type: ignore[attr-defined]
        self.sql: str = sql if isinstance(sql, str) else compiled.string
        self.driver_sql: str = compiled.string
        self.names: list[str] = list(compiled.positiontup or ())
        self.constants: dict[str, Any] = {}
        for name in self.names:
            bind = compiled.binds[name]
            if not bind.required:
                process = bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
                value = bind.effective_value
                self.constants[name] = value if process is None else process(value)

    def args(self, params: dict[str, Any]) -> list[Any]:
        """The parameters in the statement's `$n` order."""
        constants = self.constants
        return [constants[name] if name in constants else params[name] for name in self.names]


async def _driver(session: AsyncSession) -> tuple[AsyncConnection, Any]:
    """The session's connection and its asyncpg connection; None when it must not be used.

    Outside a transaction, a statement behind a transaction pooler could be prepared on one
    server connection and run on another: there, until the session's transaction is open
    (SQLAlchemy begins it with its first statement), statements go through SQLAlchemy.
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is not None and session.info.get(POOLED) and not driver.is_in_transaction():
        driver = None
    return connection, driver


async def _sent(
    connection: AsyncConnection, statement: DriverStatement, params: dict[str, Any], run: Any
) -> Any:
    """`run()`'s result, announced to the cursor-execute listeners, errors as DBAPIError."""
    sync = connection.sync_connection
    assert sync is not None
    sync.dispatch.before_cursor_execute(sync, None, statement.sql, params, None, False)
    try:
        result = await run
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise DBAPIError(statement.sql, params, error, hide_parameters=True) from error
    sync.dispatch.after_cursor_execute(sync, None, statement.sql, params, None, False)
    return result


async def fetchval(session: AsyncSession, statement: DriverStatement, **params: Any) -> Any:
    """The first column of the first row (None without rows), as `session.scalar` gives it."""
    connection, driver = await _driver(session)
    if driver is None:
        return await session.scalar(statement.text, params)
    return await _sent(
        connection,
        statement,
        params,
        driver.fetchval(statement.driver_sql, *statement.args(params)),
    )


async def fetch(session: AsyncSession, statement: DriverStatement, **params: Any) -> list[Any]:
    """Every row; read its columns by name (`row["name"]`)."""
    connection, driver = await _driver(session)
    if driver is None:
        return list((await session.execute(statement.text, params)).mappings().all())
    rows: list[Any] = await _sent(
        connection, statement, params, driver.fetch(statement.driver_sql, *statement.args(params))
    )
    return rows


async def fetchrow(session: AsyncSession, statement: DriverStatement, **params: Any) -> Any:
    """The first row (None without rows); read its columns by name (`row["name"]`)."""
    connection, driver = await _driver(session)
    if driver is None:
        return (await session.execute(statement.text, params)).mappings().first()
    return await _sent(
        connection,
        statement,
        params,
        driver.fetchrow(statement.driver_sql, *statement.args(params)),
    )


@asynccontextmanager
async def transaction(session: AsyncSession) -> AsyncIterator[None]:
    """A transaction around the block's statements when the session runs without one.

    A session without BEGIN/COMMIT (`app.db.session`'s one-statement endpoints) runs each
    statement on its own; a block that needs several under one lock opens a transaction here,
    on the driver's connection, committed when the block ends and rolled back if it raises.
    A session with its own transaction (every other) runs the block in that one.
    """
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if driver is None or not getattr(raw.dbapi_connection, "autocommit", False):
        yield
        return
    async with driver.transaction():
        yield
