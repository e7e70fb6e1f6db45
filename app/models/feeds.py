"""Calendar feeds: a colleague's secret subscription URL to their own diary as iCalendar."""

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, TenantScoped


class CalendarFeed(TenantScoped, Base):
    """One subscription URL of one associate's diary; only a hash of its secret is kept."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "associate_id"],
            ["associates.tenant_id", "associates.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("past_days BETWEEN 0 AND 366", name="past_days"),
        CheckConstraint("future_days BETWEEN 1 AND 366", name="future_days"),
        Index(None, "tenant_id", "associate_id", "id"),
    )

    associate_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str | None] = mapped_column(String(200))
    past_days: Mapped[int] = mapped_column(Integer)
    future_days: Mapped[int] = mapped_column(Integer)
    # SHA-256 of the whole token: the token is 256 random bits, so a fast hash is enough.
    token_hash: Mapped[bytes] = mapped_column(LargeBinary)
    # The hash of the last body served and when it last changed: ETag and Last-Modified.
    content_hash: Mapped[bytes | None] = mapped_column(LargeBinary)
    changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
