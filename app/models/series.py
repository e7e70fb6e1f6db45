"""A series' occurrences (one row per occurrence booked), their answers, their exclusions."""

import uuid
from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKeyConstraint,
    Index,
    String,
    Uuid,
    false,
)
from sqlalchemy.dialects.postgresql import TSTZRANGE
from sqlalchemy.orm import Mapped, mapped_column

from app.db.base import Base, StrEnumText, one_of
from app.models.states import OccurrenceStatus


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


def _of_participant_and_occurrence() -> tuple[ForeignKeyConstraint, ForeignKeyConstraint]:
    """A row about one participant and one occurrence: it goes with either of them.

    An occurrence given to another follow-up (a split) takes the row along.
    """
    return (
        ForeignKeyConstraint(
            ["tenant_id", "participant_id"],
            ["participants.tenant_id", "participants.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "follow_up_id", "occurrence_start"],
            ["occurrences.tenant_id", "occurrences.follow_up_id", "occurrences.original_start"],
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
    )


class OccurrenceAnswer(Base):
    """An invitee's own answer to one occurrence of a series, apart from their series answer.

    Without a row, an occurrence follows the invitation's status. A series-wide answer drops
    the invitee's rows; moving the occurrence puts its rows back to `not_read` (rescheduled);
    booking the series again from its rule drops the occurrences, and these with them.
    """

    __tablename__ = "occurrence_answers"
    __table_args__ = (
        *_of_participant_and_occurrence(),
        one_of("status", OccurrenceStatus),
        # The cascade from an occurrence, and the organizer's reads of a series' answers.
        Index(None, "tenant_id", "follow_up_id", "occurrence_start"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    occurrence_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    follow_up_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[OccurrenceStatus] = mapped_column(StrEnumText(OccurrenceStatus))
    comment: Mapped[str | None] = mapped_column(String(1000))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The occurrence moved since this invitee last answered it.
    rescheduled: Mapped[bool] = mapped_column(Boolean, server_default=false())


class OccurrenceExclusion(Base):
    """A series participant taken off one occurrence: it blocks no time there, nor shows.

    It goes with the occurrence (a split gives it to the new series' same participant;
    booking the series again from its rule drops it) and with the participant.
    """

    __tablename__ = "occurrence_exclusions"
    __table_args__ = (
        *_of_participant_and_occurrence(),
        # The cascade from an occurrence.
        Index(None, "tenant_id", "follow_up_id", "occurrence_start"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    participant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    occurrence_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    follow_up_id: Mapped[uuid.UUID] = mapped_column(Uuid)
