"""Follow-ups, their participants (for an associate: the invitation) and the response history."""

import uuid
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import TSTZRANGE
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db.base import Base, StrEnumText, TenantScoped, one_of
from app.kit.zones import local_date
from app.models.states import (
    Answer,
    FollowUpKind,
    FollowUpStatus,
    ParticipantKind,
    ParticipantRole,
    ParticipantStatus,
)


class FollowUp(TenantScoped, Base):
    """An appointment, meeting, call or task in the owner's diary."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "owner_id"], ["associates.tenant_id", "associates.id"]),
        ForeignKeyConstraint(["tenant_id", "contact_id"], ["contacts.tenant_id", "contacts.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "split_from"], ["follow_ups.tenant_id", "follow_ups.id"]
        ),
        CheckConstraint("end_at > start_at", name="ends_after_start"),
        one_of("status", FollowUpStatus),
        one_of("kind", FollowUpKind),
        Index(
            "ix_follow_ups_tenant_id_owner_id_during",
            "tenant_id",
            "owner_id",
            "during",
            postgresql_using="gist",
        ),
        Index(None, "tenant_id", "contact_id", postgresql_where=text("contact_id IS NOT NULL")),
        # The worker's search for unbounded series to book further ahead, across tenants.
        Index(None, "booked_until", postgresql_where=text("booked_until IS NOT NULL")),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[FollowUpKind] = mapped_column(StrEnumText(FollowUpKind))
    status: Mapped[FollowUpStatus] = mapped_column(
        StrEnumText(FollowUpStatus), server_default=FollowUpStatus.SCHEDULED.value
    )
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The span as a range, for GiST-indexed overlap queries (the availability engine).
    during: Mapped[object] = mapped_column(
        TSTZRANGE, Computed("tstzrange(start_at, end_at, '[)')", persisted=True)
    )
    time_zone: Mapped[str] = mapped_column(String(64))
    all_day: Mapped[bool] = mapped_column(Boolean, server_default=false())
    contact_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    cancel_reason: Mapped[str | None] = mapped_column(String(1000))
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The RRULE of a series (canonical form), null for a single follow-up; start_at/end_at
    # are then the first occurrence.
    recurrence_rule: Mapped[str | None] = mapped_column(String(500))
    # How far an unbounded series is booked (occurrences starting before this are rows); the
    # worker moves it on. Null for a single follow-up and a series that ends by itself.
    booked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The series this one continues: "this and following" of that series split it off.
    split_from: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Bumped by every recorded event of this follow-up, and every change records one: the
    # events' `seq`, and the version behind the ETag of the follow-up with its participants.
    seq: Mapped[int] = mapped_column(Integer, server_default="0")
    # How many of those bumps were invitees' answers (the ANSWER statement alone counts
    # them): an answer queued behind others runs again only if something else changed.
    answer_bumps: Mapped[int] = mapped_column(Integer, server_default="0")

    participants: Mapped[list["Participant"]] = relationship(
        lazy="raise", order_by="(Participant.role != 'organizer', Participant.id)"
    )

    @property
    def recurrence(self) -> dict[str, str] | None:
        """The series' rule as the API shows it, or None for a single follow-up."""
        return None if self.recurrence_rule is None else {"rrule": self.recurrence_rule}

    @property
    def start_date(self) -> date | None:
        """An all-day follow-up's first day, in its time zone; None when it is timed."""
        return local_date(self.start_at, self.time_zone) if self.all_day else None

    @property
    def end_date(self) -> date | None:
        """The day after an all-day follow-up's last (exclusive, as in iCalendar); else None."""
        return local_date(self.end_at, self.time_zone) if self.all_day else None


class Participant(TenantScoped, Base):
    """One associate, resource or person attached to a follow-up."""

    __tablename__ = "participants"
    __table_args__ = (
        UniqueConstraint("tenant_id", "follow_up_id", "associate_id"),
        UniqueConstraint("tenant_id", "follow_up_id", "resource_id"),
        UniqueConstraint("tenant_id", "follow_up_id", "person_id"),
        ForeignKeyConstraint(
            ["tenant_id", "follow_up_id"],
            ["follow_ups.tenant_id", "follow_ups.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "associate_id"], ["associates.tenant_id", "associates.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "resource_id"], ["resources.tenant_id", "resources.id"]),
        ForeignKeyConstraint(["tenant_id", "person_id"], ["persons.tenant_id", "persons.id"]),
        # An occurrence-only participant takes part in that occurrence of its series alone;
        # it goes with the occurrence (a split gives it to the new series, booking the series
        # again from its rule drops it).
        ForeignKeyConstraint(
            ["tenant_id", "follow_up_id", "only_occurrence"],
            ["occurrences.tenant_id", "occurrences.follow_up_id", "occurrences.original_start"],
            onupdate="CASCADE",
            ondelete="CASCADE",
        ),
        CheckConstraint(
            "num_nonnulls(associate_id, resource_id, person_id) = 1", name="exactly_one_target"
        ),
        CheckConstraint(
            "(kind = 'associate') = (associate_id IS NOT NULL) AND "
            "(kind = 'resource') = (resource_id IS NOT NULL) AND "
            "(kind = 'person') = (person_id IS NOT NULL)",
            name="kind_matches_target",
        ),
        one_of("role", ParticipantRole),
        one_of("status", ParticipantStatus),
        Index(None, "tenant_id", "associate_id", "id"),
        Index(None, "tenant_id", "person_id", postgresql_where=text("person_id IS NOT NULL")),
        Index(None, "tenant_id", "resource_id", postgresql_where=text("resource_id IS NOT NULL")),
        # The cascade from an occurrence to its occurrence-only participants.
        Index(
            None,
            "tenant_id",
            "follow_up_id",
            "only_occurrence",
            postgresql_where=text("only_occurrence IS NOT NULL"),
        ),
    )

    follow_up_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    kind: Mapped[ParticipantKind] = mapped_column(StrEnumText(ParticipantKind))
    associate_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    resource_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    role: Mapped[ParticipantRole] = mapped_column(StrEnumText(ParticipantRole))
    status: Mapped[ParticipantStatus] = mapped_column(StrEnumText(ParticipantStatus))
    comment: Mapped[str | None] = mapped_column(String(1000))
    responded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rescheduled: Mapped[bool] = mapped_column(Boolean, server_default=false())
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Added to one occurrence of a series alone (its original start); null: the whole.
    only_occurrence: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Response(TenantScoped, Base):
    """One answer to an invitation, kept after the participant is removed."""

    __tablename__ = "responses"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "follow_up_id"],
            ["follow_ups.tenant_id", "follow_ups.id"],
            ondelete="CASCADE",
        ),
        # A removed participant's answers stay: only participant_id is cleared, not tenant_id
        # (PostgreSQL 15's column list for SET NULL).
        ForeignKeyConstraint(
            ["tenant_id", "participant_id"],
            ["participants.tenant_id", "participants.id"],
            ondelete="SET NULL (participant_id)",
        ),
        ForeignKeyConstraint(["tenant_id", "person_id"], ["persons.tenant_id", "persons.id"]),
        # A colleague's answer, or an external person's e-mailed reply (iMIP).
        CheckConstraint("num_nonnulls(associate_id, person_id) = 1", name="one_respondent"),
        Index(None, "tenant_id", "follow_up_id", "id"),
        one_of("status", Answer),
        one_of("previous_status", ParticipantStatus),
    )

    follow_up_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    participant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    associate_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    person_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    status: Mapped[Answer] = mapped_column(StrEnumText(Answer))
    previous_status: Mapped[ParticipantStatus] = mapped_column(StrEnumText(ParticipantStatus))
    comment: Mapped[str | None] = mapped_column(String(1000))
    # The occurrence of a series answered on its own (its original start); null for the whole.
    occurrence_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
