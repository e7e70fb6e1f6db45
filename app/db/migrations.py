"""Alembic, driven from code: upgrade for `convene migrate`, head check for /readyz."""

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from app.config import Settings

_PROJECT_ROOT = Path(__file__).resolve().parents[2]


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
