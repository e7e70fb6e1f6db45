"""Directory tables: associates, resources, contacts and the persons who work at contacts."""

import uuid
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, StrEnumText, TenantScoped, one_of
from app.models.states import ResourceKind


def _directory_table_args() -> tuple[Any, ...]:
    """Constraints every directory table has: external ids unique per tenant.

    The (tenant_id, id) primary key lets child tables use composite foreign keys, so the
    database itself refuses a row that points into another tenant.
    """
    return (UniqueConstraint("tenant_id", "external_id"),)


class Associate(TenantScoped, Base):
    """A colleague with a diary, a time zone and working hours."""

    __tablename__ = "associates"
    __table_args__ = _directory_table_args()

    external_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    time_zone: Mapped[str] = mapped_column(String(64))
    working_hours: Mapped[dict[str, Any]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class Resource(TenantScoped, Base):
    """A room or piece of equipment: it never answers and may allow double booking."""

    __tablename__ = "resources"
    __table_args__ = (
        *_directory_table_args(),
        one_of("kind", ResourceKind),
        CheckConstraint("capacity IS NULL OR capacity > 0", name="capacity_positive"),
    )

    external_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ResourceKind] = mapped_column(StrEnumText(ResourceKind))
    capacity: Mapped[int | None] = mapped_column(Integer)
    allow_double_booking: Mapped[bool] = mapped_column(Boolean, server_default=true())
    active: Mapped[bool] = mapped_column(Boolean, server_default=true())


class Contact(TenantScoped, Base):
    """An external company: no diary, an activity archive."""

    __tablename__ = "contacts"
    __table_args__ = _directory_table_args()

    external_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))


class Person(TenantScoped, Base):
    """A person at a contact; invited to follow-ups without a diary of their own."""

    __tablename__ = "persons"
    __table_args__ = (
        *_directory_table_args(),
        ForeignKeyConstraint(
            ["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"], ondelete="RESTRICT"
        ),
        Index(None, "tenant_id", "contact_id", "id"),
    )

    contact_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    external_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
