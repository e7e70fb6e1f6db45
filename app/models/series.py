"""The occurrences of a recurring follow-up: one row per occurrence booked, with exceptions."""

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Uuid,
    false,
)
from sqlalchemy.dialects.postgresql import TSTZRANGE
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base


class Occurrence(Base):
    """One occurrence of a series, keyed by the start its rule gave it (`original_start`).

    An occurrence moved on its own keeps its original start as its key (iCalendar's
    RECURRENCE-ID) with its own span; a cancelled one stays as a row (an EXDATE) and blocks
    no time. Rows exist up to the series' `booked_until` (all of them for a bounded series).
    """

    __tablename__ = "occurrences"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "follow_up_id"],
            ["follow_ups.tenant_id", "follow_ups.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        # The diary's scan of a series' occurrences in a window (they may be moved).
        Index(None, "tenant_id", "follow_up_id", "start_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    follow_up_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    original_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    during: Mapped[object] = mapped_column(
        TSTZRANGE, Computed("tstzrange(start_at, end_at, '[)')", persisted=True)
    )
    # Moved or changed on its own (an override): kept when the series is booked further.
    overridden: Mapped[bool] = mapped_column(Boolean, server_default=false())
    cancelled: Mapped[bool] = mapped_column(Boolean, server_default=false())
