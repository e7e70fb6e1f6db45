"""The async engine and session factory, built in the app's lifespan (never at import)."""

from dataclasses import dataclass

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.config import Settings


def async_url(url: str) -> str:
    """Normalise any postgres URL to the asyncpg dialect SQLAlchemy needs."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def plain_dsn(url: str) -> str:
    """A DSN asyncpg accepts: the SQLAlchemy driver suffix removed."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    """An engine with bounded pool and a statement timeout, so no request can run away."""
    return create_async_engine(
        async_url(url),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "convene",
                "timezone": "UTC",
            }
        },
    )


@dataclass(frozen=True)
class Database:
    """What a request needs from the database: a way to open sessions."""

    sessionmaker: async_sessionmaker[AsyncSession]
    engine: AsyncEngine | None = None

    @classmethod
    def from_engine(cls, engine: AsyncEngine) -> "Database":
        return cls(async_sessionmaker(engine, expire_on_commit=False), engine)

    @classmethod
    def from_connection(cls, connection: AsyncConnection) -> "Database":
        """Sessions that join an open connection's transaction (used by the test harness)."""
        return cls(
            async_sessionmaker(
                bind=connection,
                expire_on_commit=False,
                join_transaction_mode="create_savepoint",
            )
        )

    async def dispose(self) -> None:
        if self.engine is not None:
            await self.engine.dispose()
