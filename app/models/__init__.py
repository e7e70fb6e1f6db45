"""Every table, on one metadata, so Alembic sees them all."""

from app.db.base import Base
from app.models.directory import Associate, Contact, Person, Resource

__all__ = ["Associate", "Base", "Contact", "Person", "Resource"]
