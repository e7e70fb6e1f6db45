"""Alembic, driven from code: upgrade for `convene migrate`, head check for /readyz."""

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from app.config import Settings

logger = logging.getLogger(__name__)

_PROJECT_ROOT = Path(__file__).resolve().parents[2]

# The advisory lock every `convene migrate` (and `convene serve`, which migrates first) takes
# on the database; derived from a name, like the dispatcher election's, so none collide.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"convene:migrate").digest()[:8], "big", signed=True
)

# Wait for any other process migrating this database, then hold its lock for the session.
TAKE_MIGRATION_LOCK = text("SELECT pg_advisory_lock(:key)")
# Let the next process waiting to migrate go on (it finds the database at head).
RELEASE_MIGRATION_LOCK = text("SELECT pg_advisory_unlock(:key)")
# Whether the server analyses tables by itself (PostgreSQL's default).
SHOW_AUTOVACUUM = text("SHOW autovacuum")
WITHOUT_AUTOVACUUM = (
    "autovacuum is off on this PostgreSQL server: nothing analyses new tables, so foreign-key "
    "checks keep the plans made while they were empty, which can read every row of the tenant "
    "(creates at 90/s instead of 650/s in bench/load.py). Turn it on, or run ANALYZE after "
    "loading data; see the README's Database settings."
)
# How long a migration's DDL may wait for a table lock before it fails, for this session.
SET_MIGRATION_LOCK_TIMEOUT = text("SELECT set_config('lock_timeout', :timeout, false)")


def warn_without_autovacuum(connection: Connection) -> None:
    """Log a warning when the server runs without autovacuum."""
    if connection.execute(SHOW_AUTOVACUUM).scalar() != "on":
        logger.warning(WITHOUT_AUTOVACUUM)


def alembic_config(database_url: str) -> Config:
    """An Alembic config for the project's migrations, pointed at `database_url`.

    The migrations live beside the package (a source checkout or the Docker image's /app);
    the working directory is the fallback for an installed wheel run from the project folder.
    """
    root = _PROJECT_ROOT if (_PROJECT_ROOT / "alembic.ini").exists() else Path.cwd()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head", settings: "Settings | None" = None) -> None:
    """Apply migrations up to `revision` (blocking; call from a thread inside a loop).

    `settings` gives the migrations that seal secrets their keys (else: the environment's).
    """
    config = alembic_config(database_url)
    config.attributes["settings"] = settings
    command.upgrade(config, revision)


def downgrade(database_url: str, revision: str, settings: "Settings | None" = None) -> None:
    """Revert migrations down to `revision` (blocking)."""
    config = alembic_config(database_url)
    config.attributes["settings"] = settings
    command.downgrade(config, revision)


@contextmanager
def migration_lock(connection: Connection, lock_timeout_ms: int) -> Iterator[None]:
    """Hold the database's migration lock, with DDL lock waits bounded, for the block.

    Two replicas starting together both run `convene migrate`: the second waits here, then
    finds the database at head and does nothing. Once migrating, a statement that waits
    longer than `lock_timeout_ms` for a table lock fails the migration (the process exits
    and can be restarted) instead of queueing every request of the running service behind
    its ACCESS EXCLUSIVE request.
    """
    connection.execute(TAKE_MIGRATION_LOCK, {"key": MIGRATION_LOCK_KEY})
    connection.execute(SET_MIGRATION_LOCK_TIMEOUT, {"timeout": str(lock_timeout_ms)})
    connection.commit()  # a session lock and setting: they outlast this transaction
    try:
        yield
    finally:
        if connection.in_transaction():
            connection.rollback()
        connection.execute(RELEASE_MIGRATION_LOCK, {"key": MIGRATION_LOCK_KEY})
        connection.commit()


@cache
def head_revisions() -> frozenset[str]:
    """The head revision(s) of the migration scripts."""
    script = ScriptDirectory.from_config(alembic_config(""))
    return frozenset(script.get_heads())


async def is_at_head(connection: AsyncConnection) -> bool:
    """Whether the database's alembic_version matches the scripts' head."""
    exists = await connection.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
    if not exists:
        return False
    rows = await connection.scalars(text("SELECT version_num FROM alembic_version"))
    return frozenset(rows.all()) == head_revisions()
