"""Busy time as data: one row per calendar (associate or resource) a live follow-up blocks."""

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKeyConstraint, Index, Uuid, text
from sqlalchemy.dialects.postgresql import TSTZRANGE, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, StrEnumText, one_of
from app.models.states import CalendarKind


class Booking(Base):
    """A block of busy (or tentative) time in one calendar, from a participant (and occurrence).

    Rows are rewritten from the participants by `app.availability.bookings.sync` in the
    transaction of every change, so they never drift from the follow-ups they come from.
    """

    __tablename__ = "bookings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "follow_up_id"],
            ["follow_ups.tenant_id", "follow_ups.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "participant_id"],
            ["participants.tenant_id", "participants.id"],
            ondelete="CASCADE",
        ),
        one_of("calendar_kind", CalendarKind),
        # One GiST index answers "who is busy when" for any set of calendars.
        Index(
            "ix_bookings_calendar_during",
            "tenant_id",
            "calendar_id",
            "during",
            postgresql_using="gist",
        ),
        Index(None, "follow_up_id"),
        # The backstop for resources that refuse double booking: two strict bookings of one
        # calendar can never overlap, whatever the code above does.
        ExcludeConstraint(
            ("tenant_id", "="),
            ("calendar_id", "="),
            ("during", "&&"),
            name="ex_bookings_strict_no_overlap",
            using="gist",
            where=text("strict"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    # Which occurrence it books: a series' original start, a single follow-up's start.
    occurrence_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    follow_up_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    calendar_kind: Mapped[CalendarKind] = mapped_column(StrEnumText(CalendarKind))
    calendar_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    during: Mapped[object] = mapped_column(TSTZRANGE)
    tentative: Mapped[bool] = mapped_column(Boolean)
    strict: Mapped[bool] = mapped_column(Boolean)
