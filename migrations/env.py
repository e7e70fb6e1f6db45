"""Alembic environment: async engine, the app's metadata, the URL from the app's settings."""

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import Settings
from app.db.embedded import start_embedded_database
from app.db.engine import async_url
from app.db.migrations import migration_lock, warn_without_autovacuum
from app.models import Base

config = context.config
if config.config_file_name is not None and not config.attributes.get("database_url"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    """The URL the caller gave, else the configured one (the owner's, direct), else embedded."""
    settings = Settings()
    url = (
        config.attributes.get("database_url")
        or settings.database_migration_url
        or settings.database_direct_url
        or settings.database_url
    )
    if url:
        return str(url)
    server, url = start_embedded_database(settings.data_dir)
    config.attributes["embedded_server"] = server
    return url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=True,
    )
    # One process migrates at a time (replicas starting together); DDL lock waits are bounded.
    lock_timeout_ms = Settings().migration_lock_timeout_ms
    with migration_lock(connection, lock_timeout_ms), context.begin_transaction():
        context.run_migrations()
    # Every start migrates first, so an operator sees this once per start.
    warn_without_autovacuum(connection)


async def _run_async(url: str) -> None:
    engine = create_async_engine(async_url(url), poolclass=pool.NullPool, hide_parameters=True)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _run_online() -> None:
    url = _database_url()
    try:
        asyncio.run(_run_async(url))
    finally:
        server = config.attributes.pop("embedded_server", None)
        if server is not None:
            server.stop()


if context.is_offline_mode():
    context.configure(url=async_url(_database_url()), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    _run_online()
