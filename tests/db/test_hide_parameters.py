"""SQL parameters (names, comments, webhook secrets) never reach an exception or a log line."""

import ast
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.config import Settings
from app.db.engine import async_url, create_engine
from app.webhooks.dispatcher import Dispatcher
from app.webhooks.election import Election
from tests.fixtures.factories import TEST_SECRET

ROOT = Path(__file__).resolve().parents[2]
SECRET_VALUE = "whsec_do-not-log-me-4711"
# A statement that fails on the server after its parameter was bound.
FAILING = text("SELECT CAST(:secret AS text), 1 / (SELECT 0)")


def settings(url: str, tmp_path: Path) -> Settings:
    return Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=url)


async def api_engine(url: str, tmp_path: Path) -> AsyncEngine:
    return create_engine(url, settings(url, tmp_path))


async def dispatcher_engine(url: str, tmp_path: Path) -> AsyncEngine:
    engine = await Dispatcher(url, settings(url, tmp_path))._connect()
    assert engine is not None
    return engine


async def election_engine(url: str, tmp_path: Path) -> AsyncEngine:
    return Election(url, lambda: Dispatcher(url, settings(url, tmp_path)), 1.0)._engine()


@pytest.mark.parametrize("make", [api_engine, dispatcher_engine, election_engine])
async def test_a_failing_statement_names_no_parameter(
    database_url: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[str, Path], Awaitable[AsyncEngine]],
) -> None:
    engine = await make(database_url, tmp_path)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    try:
        with pytest.raises(DBAPIError) as raised:
            async with engine.connect() as connection:
                await connection.execute(FAILING, {"secret": SECRET_VALUE})
    finally:
        await engine.dispose()

    assert "division by zero" in str(raised.value)
    assert SECRET_VALUE not in str(raised.value)
    assert "parameters hidden" in str(raised.value)
    assert "SELECT CAST" in caplog.text  # the statement is logged, its parameter is not
    assert SECRET_VALUE not in caplog.text


async def test_without_hide_parameters_the_value_would_show(database_url: str) -> None:
    engine = create_async_engine(async_url(database_url))
    try:
        with pytest.raises(DBAPIError) as raised:
            async with engine.connect() as connection:
                await connection.execute(FAILING, {"secret": SECRET_VALUE})
    finally:
        await engine.dispose()

    assert SECRET_VALUE in str(raised.value)


def engine_calls(path: Path) -> list[ast.Call]:
    """The calls in a module that build a SQLAlchemy engine."""
    tree = ast.parse(path.read_text())
    from_sqlalchemy = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
        for alias in node.names
        if alias.name in ("create_engine", "create_async_engine")
    }
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in from_sqlalchemy
    ]


def test_every_engine_of_the_app_and_the_migrations_hides_parameters() -> None:
    modules = [*sorted((ROOT / "app").rglob("*.py")), ROOT / "migrations" / "env.py"]
    calls = {path: engine_calls(path) for path in modules}
    built = [(path, call) for path, found in calls.items() for call in found]

    assert len(built) >= 4  # the API's, the dispatcher's, the election's and the migrations'
    for path, call in built:
        hidden = [k for k in call.keywords if k.arg == "hide_parameters"]
        assert len(hidden) == 1, f"{path.relative_to(ROOT)}:{call.lineno}"
        value = hidden[0].value
        assert isinstance(value, ast.Constant), path
        assert value.value is True, path
