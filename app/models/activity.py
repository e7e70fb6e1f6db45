"""What happened: the on-screen notifications of associates and the tenant's event log."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, String, Uuid, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, StrEnumText, TenantScoped, any_of, one_of
from app.models.states import PING, EventType, NotificationKind


class Notification(TenantScoped, Base):
    """An entry in one associate's on-screen inbox."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index(None, "tenant_id", "associate_id", "id"),
        Index(
            "ix_notifications_unread",
            "tenant_id",
            "associate_id",
            "id",
            postgresql_where=text("read_at IS NULL"),
        ),
        # The retention job's scan for notifications past their age.
        Index("ix_notifications_created_at", "created_at"),
        one_of("kind", NotificationKind),
    )

    associate_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[NotificationKind] = mapped_column(StrEnumText(NotificationKind))
    follow_up_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    participant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_id: Mapped[str | None] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(String(500))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Event(TenantScoped, Base):
    """Something a subscriber may care about, written in the transaction of the change."""

    __tablename__ = "events"
    __table_args__ = (
        Index(None, "tenant_id", "follow_up_id", "seq"),
        Index(None, "tenant_id", "txid", "id"),
        # The retention job's scan for events past their age.
        Index("ix_events_created_at", "created_at"),
        CheckConstraint(any_of("type", [*EventType, PING]), name="type"),
    )

    type: Mapped[str] = mapped_column(String(64))
    follow_up_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    seq: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # The writing transaction's id. The catch-up feed lists only events whose transaction is
    # older than every one still running, in (txid, id) order, so a late commit is never
    # skipped by a reader who already passed its id.
    txid: Mapped[int] = mapped_column(
        BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint")
    )
