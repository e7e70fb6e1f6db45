"""Queries over follow-ups, participants and responses, always inside one tenant."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Row,
    Select,
    String,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    true,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from app.availability.booking_repository import takes_part
from app.db import driver
from app.db.driver import DriverStatement
from app.db.repository import TenantRepository
from app.followups.rows import FollowUpRow
from app.followups.schemas import MAX_SPAN
from app.kit.pagination import Paged, PageParams, paged, paged_rows
from app.models import (
    Associate,
    Booking,
    FollowUp,
    Occurrence,
    OccurrenceAnswer,
    OccurrenceExclusion,
    Participant,
    Person,
    Resource,
    Response,
)
from app.models.states import FollowUpStatus, ParticipantKind, ParticipantRole, ParticipantStatus

# A follow-up if the associate owns or takes part in it (the owner is a participant too).
_VISIBLE = (
    FollowUp.tenant_id == bindparam("tenant_id"),
    FollowUp.id == bindparam("follow_up_id"),
    exists().where(
        Participant.tenant_id == FollowUp.tenant_id,
        Participant.follow_up_id == FollowUp.id,
        Participant.associate_id == bindparam("associate_id"),
    ),
)
VISIBLE = select(FollowUp).where(*_VISIBLE)
# The same as a row of columns, for a read that only shows it (without the range `during`).
_VISIBLE_ROW = select(*(c for c in FollowUp.__table__.c if c.key != "during")).where(*_VISIBLE)
# The same, locked for a change: changes to one follow-up queue up.
VISIBLE_FOR_UPDATE = VISIBLE.with_for_update(of=FollowUp)


def _name_of(model: type[Associate | Resource | Person], id_: Any) -> Any:
    """The directory object's name with this id, in the participant's tenant, as a subselect."""
    return (
        select(model.name)
        .where(model.tenant_id == Participant.tenant_id, model.id == id_)
        .scalar_subquery()
    )


# A participant's name, the one way names are composed: its colleague's, resource's or
# person's `name` (one of the three ids is set), read in the statement that reads the row.
DISPLAY_NAME = func.coalesce(
    _name_of(Associate, Participant.associate_id),
    _name_of(Resource, Participant.resource_id),
    _name_of(Person, Participant.person_id),
).label("display_name")
# A follow-up's organizer's name, read in the statement that reads the follow-up.
OWNER_NAME = (
    select(Associate.name)
    .where(Associate.tenant_id == FollowUp.tenant_id, Associate.id == FollowUp.owner_id)
    .scalar_subquery()
    .label("owner_name")
)
# What a response shows: its columns and the answering colleague's (or person's) name.
RESPONSE_COLUMNS = (
    Response.id,
    Response.participant_id,
    Response.associate_id,
    Response.person_id,
    func.coalesce(
        select(Associate.name)
        .where(Associate.tenant_id == Response.tenant_id, Associate.id == Response.associate_id)
        .scalar_subquery(),
        select(Person.name)
        .where(Person.tenant_id == Response.tenant_id, Person.id == Response.person_id)
        .scalar_subquery(),
    ).label("display_name"),
    Response.status,
    Response.previous_status,
    Response.comment,
    Response.occurrence_start,
    Response.created_at,
)
_TAKES_PART = takes_part("s.original_start")
# The associate's diary in [start, end): each single follow-up, and each live occurrence of a
# series (with its own span and original start, and their answer to it if they gave one),
# they own or take part in (an occurrence they were taken off, or another than the one they
# were added to alone, left out); keyset-paged by (start, id). An occurrence lasts at most
# MAX_SPAN, which bounds the occurrences' scan.
DIARY = text(
    """
SELECT f.id, f.owner_id, f.title, f.kind, f.status, s.start_at, s.end_at, f.time_zone,
       f.all_day, f.location, f.created_at, f.updated_at, f.description, f.contact_id,
       f.cancel_reason, f.cancelled_at, f.recurrence_rule, f.split_from,
       s.original_start AS occurrence_start,
       (SELECT a.name FROM associates a WHERE a.tenant_id = f.tenant_id AND a.id = f.owner_id)
           AS owner_name,
       p.role AS my_role, coalesce(a.status, p.status) AS my_status
FROM participants p
JOIN follow_ups f ON f.tenant_id = p.tenant_id AND f.id = p.follow_up_id
CROSS JOIN LATERAL (
    SELECT CAST(NULL AS timestamptz) AS original_start, f.start_at, f.end_at
    WHERE f.recurrence_rule IS NULL
    UNION ALL
    SELECT o.original_start, o.start_at, o.end_at
    FROM occurrences o
    WHERE o.tenant_id = f.tenant_id AND o.follow_up_id = f.id AND NOT o.cancelled
      AND o.start_at < :end
      AND o.start_at > CAST(:start AS timestamptz) - CAST(:max_span AS interval)
) s
LEFT JOIN occurrence_answers a ON a.tenant_id = p.tenant_id AND a.participant_id = p.id
                              AND a.occurrence_start = s.original_start
WHERE p.tenant_id = :tenant_id
  AND p.associate_id = :associate_id
  AND (f.during && tstzrange(:start, :end, '[)')
       OR (f.recurrence_rule IS NOT NULL AND f.start_at < :end))
  AND s.end_at > :start AND s.start_at < :end
  AND (CAST(:status AS text) IS NULL OR f.status = :status)
  AND (CAST(:after_at AS timestamptz) IS NULL OR (s.start_at, f.id) > (:after_at, :after_id))
  AND """  # noqa: S608 - constant SQL pieces
    + _TAKES_PART
    + """
ORDER BY s.start_at, f.id
LIMIT :limit
"""
)


class FollowUpRepository(TenantRepository[FollowUp]):
    model = FollowUp
    noun = "follow-up"

    def _attended_by(self, associate_id: uuid.UUID) -> ColumnElement[bool]:
        return exists().where(
            Participant.tenant_id == FollowUp.tenant_id,
            Participant.follow_up_id == FollowUp.id,
            Participant.associate_id == associate_id,
        )

    async def get_visible(
        self, follow_up_id: uuid.UUID, associate_id: uuid.UUID, *, for_update: bool = False
    ) -> FollowUp | None:
        """The follow-up if the associate owns or takes part in it, else None."""
        query = VISIBLE_FOR_UPDATE if for_update else VISIBLE
        params = {
            "tenant_id": self.tenant_id,
            "follow_up_id": follow_up_id,
            "associate_id": associate_id,
        }
        return (await self.session.scalars(query, params)).one_or_none()

    async def visible_with_participants(
        self, follow_up_id: uuid.UUID, associate_id: uuid.UUID
    ) -> tuple[FollowUpRow, list[dict[str, Any]]] | None:
        """The follow-up as a row and its participants (as `with_conflicts` gives them), or None.

        One statement; None if the associate neither owns nor takes part in it.
        """
        rows = await driver.fetch(
            self.session,
            VISIBLE_WITH_PARTICIPANTS,
            tenant_id=self.tenant_id,
            follow_up_id=follow_up_id,
            associate_id=associate_id,
        )
        if not rows:
            return None
        start = len(PARTICIPANT_PREFIX)
        participants = [
            {
                name[start:]: value
                for name, value in row.items()
                if name.startswith(PARTICIPANT_PREFIX)
            }
            for row in rows
        ]
        return FollowUpRow(rows[0]), participants

    async def load_participants(self, follow_up: FollowUp) -> FollowUp:
        """Load the follow-up's participants (fresh from the database) onto it."""
        query = (
            select(Participant)
            .where(self._in_tenant_of(Participant), Participant.follow_up_id == follow_up.id)
            .order_by(Participant.role != ParticipantRole.ORGANIZER, Participant.id)
            .execution_options(populate_existing=True)
        )
        set_committed_value(
            follow_up, "participants", list((await self.session.scalars(query)).all())
        )
        return follow_up

    async def diary(
        self,
        associate_id: uuid.UUID,
        start: datetime,
        end: datetime,
        status: FollowUpStatus | None,
        page: PageParams,
    ) -> Paged[Row[Any]]:
        """The associate's follow-ups and occurrences in [start, end), with role and answer."""
        rows = await self._rows(
            DIARY,
            tenant_id=self.tenant_id,
            associate_id=associate_id,
            start=start,
            end=end,
            max_span=MAX_SPAN,
            status=status,
            after_at=page.after.at if page.after is not None else None,
            after_id=page.after.id if page.after is not None else None,
            limit=page.limit + 1,
        )
        return paged(rows, page, at="start_at")

    async def activities(
        self, contact_id: uuid.UUID, visible_to: uuid.UUID | None, page: PageParams
    ) -> Paged[Row[FollowUp, str]]:
        """Follow-ups linked to the contact or with any of its persons, latest start first.

        Each row holds the follow-up and its owner's name.
        """
        person = aliased(Person)
        with_its_persons = exists().where(
            Participant.tenant_id == FollowUp.tenant_id,
            Participant.follow_up_id == FollowUp.id,
            Participant.person_id == person.id,
            person.contact_id == contact_id,
            person.tenant_id == self.tenant_id,
        )
        query = select(FollowUp, OWNER_NAME).where(
            self._in_tenant(), or_(FollowUp.contact_id == contact_id, with_its_persons)
        )
        if visible_to is not None:
            query = query.where(self._attended_by(visible_to))
        if page.after is not None:
            query = query.where(
                tuple_(FollowUp.start_at, FollowUp.id) < tuple_(page.after.at, page.after.id)
            )
        order = (FollowUp.start_at.desc(), FollowUp.id.desc())
        rows = (await self.session.execute(query.order_by(*order).limit(page.limit + 1))).all()
        return paged_rows(rows, page, at="start_at")


_OWN, _OTHER = aliased(Booking), aliased(Booking)


def _as_text(column: Any) -> Any:
    """A state column read as its text: rows bound for JSON skip making enum members."""
    return type_coerce(column, String).label(column.key)


# What a participant shows (in a follow-up and in the inbox); the inbox adds its follow-up's.
INVITATION_COLUMNS = (
    Participant.id,
    _as_text(Participant.kind),
    Participant.associate_id,
    Participant.resource_id,
    Participant.person_id,
    DISPLAY_NAME,
    _as_text(Participant.role),
    _as_text(Participant.status),
    Participant.comment,
    Participant.responded_at,
    Participant.seen_at,
    Participant.rescheduled,
    Participant.acknowledged_at,
    Participant.only_occurrence,
)
FOLLOW_UP_PREFIX = "follow_up_"
INVITATION_FOLLOW_UP_COLUMNS = tuple(
    column.label(FOLLOW_UP_PREFIX + column.key)
    for column in (
        FollowUp.id,
        FollowUp.owner_id,
        OWNER_NAME,
        FollowUp.title,
        _as_text(FollowUp.kind),
        _as_text(FollowUp.status),
        FollowUp.start_at,
        FollowUp.end_at,
        FollowUp.time_zone,
        FollowUp.all_day,
        FollowUp.location,
    )
)

NEXT_PREFIX = "next_"
# A series' first live occurrence that has not ended by :now and the invitee takes part in
# (lateral on the follow-up and participant): the inbox shows a series once, with it. The
# (tenant, follow-up, start) index finds it.
_NEXT_OCCURRENCE = (
    select(Occurrence.original_start, Occurrence.start_at, Occurrence.end_at)
    .where(
        Occurrence.tenant_id == FollowUp.tenant_id,
        Occurrence.follow_up_id == FollowUp.id,
        Occurrence.start_at > bindparam("now", type_=DateTime(timezone=True)) - MAX_SPAN,
        Occurrence.end_at > bindparam("now"),
        Occurrence.cancelled.is_(False),
        or_(
            Participant.only_occurrence.is_(None),
            Participant.only_occurrence == Occurrence.original_start,
        ),
        ~exists()
        .where(
            OccurrenceExclusion.tenant_id == Participant.tenant_id,
            OccurrenceExclusion.participant_id == Participant.id,
            OccurrenceExclusion.occurrence_start == Occurrence.original_start,
        )
        .correlate_except(OccurrenceExclusion),
    )
    .correlate_except(Occurrence)
    .order_by(Occurrence.start_at)
    .limit(1)
    .lateral("next_occurrence")
)
_NEXT_COLUMNS = (
    _NEXT_OCCURRENCE.c.original_start.label(NEXT_PREFIX + "occurrence_start"),
    _NEXT_OCCURRENCE.c.start_at.label(NEXT_PREFIX + "start_at"),
    _NEXT_OCCURRENCE.c.end_at.label(NEXT_PREFIX + "end_at"),
)


def invitations_page(*, by_status: bool, after: bool) -> Select[Any]:
    """An associate's invitations (not their own follow-ups), newest first, `:fetch` of them.

    A row holds the participant's columns by name, its follow-up's as `follow_up_<name>`, and
    a series' next occurrence as `next_<name>` (nulls for a single follow-up). Parameters:
    `:tenant_id`, `:associate_id`, `:now`, `:fetch`, and `:status`/`:after_id` when asked for
    (a variant each, so the index on (tenant, associate, id) bounds the scan).
    """
    query = (
        select(*INVITATION_COLUMNS, *INVITATION_FOLLOW_UP_COLUMNS, *_NEXT_COLUMNS)
        .join(
            FollowUp,
            (FollowUp.tenant_id == Participant.tenant_id)
            & (FollowUp.id == Participant.follow_up_id),
        )
        .outerjoin(_NEXT_OCCURRENCE, true())
        .where(
            Participant.tenant_id == bindparam("tenant_id"),
            Participant.associate_id == bindparam("associate_id"),
            Participant.role != ParticipantRole.ORGANIZER,
        )
    )
    if by_status:
        query = query.where(Participant.status == bindparam("status"))
    if after:
        query = query.where(Participant.id < bindparam("after_id"))
    return query.order_by(Participant.id.desc()).limit(bindparam("fetch"))


# Everyone in a follow-up, the organizer first, each flagged when its booking overlaps another
# follow-up's booking of the same calendar, with their answers to single occurrences (as
# `answered_<field>` arrays). Built once: composing it per call costs more CPU
# than running it.
_CONFLICT = (
    exists()
    .where(
        _OWN.tenant_id == Participant.tenant_id,
        _OWN.participant_id == Participant.id,
        _OTHER.tenant_id == _OWN.tenant_id,
        _OTHER.calendar_id == _OWN.calendar_id,
        _OTHER.during.op("&&")(_OWN.during),
        _OTHER.follow_up_id != _OWN.follow_up_id,
    )
    .label("conflict")
)
# Each participant's answers to single occurrences (lateral on the participant), as arrays in
# occurrence order: one aggregate row per participant, empty arrays as nulls.
ANSWERS_PREFIX = "answered_"


def _answers_of(column: Any) -> Any:
    return type_coerce(
        func.array_agg(aggregate_order_by(column, OccurrenceAnswer.occurrence_start)),
        ARRAY(column.type if column.key != "status" else String()),
    ).label(ANSWERS_PREFIX + column.key)


_OCCURRENCE_ANSWERS = (
    select(
        *(
            _answers_of(column)
            for column in (
                OccurrenceAnswer.occurrence_start,
                OccurrenceAnswer.status,
                OccurrenceAnswer.comment,
                OccurrenceAnswer.responded_at,
                OccurrenceAnswer.rescheduled,
            )
        )
    )
    .where(
        OccurrenceAnswer.tenant_id == Participant.tenant_id,
        OccurrenceAnswer.participant_id == Participant.id,
        OccurrenceAnswer.follow_up_id == Participant.follow_up_id,
    )
    .lateral("occurrence_answers")
)
OCCURRENCE_ANSWER_FIELDS = ("occurrence_start", "status", "comment", "responded_at", "rescheduled")
# The occurrences a series participant was taken off (correlated with the participant), in
# order; null when none.
_EXCLUDED = (
    select(
        func.array_agg(
            aggregate_order_by(
                OccurrenceExclusion.occurrence_start, OccurrenceExclusion.occurrence_start
            )
        )
    )
    .where(
        OccurrenceExclusion.tenant_id == Participant.tenant_id,
        OccurrenceExclusion.participant_id == Participant.id,
    )
    .scalar_subquery()
    .label("excluded_occurrences")
)
_WITH_CONFLICTS = (
    select(*INVITATION_COLUMNS, _CONFLICT, *_OCCURRENCE_ANSWERS.c, _EXCLUDED)
    .join(_OCCURRENCE_ANSWERS, true())
    .where(
        Participant.tenant_id == bindparam("tenant_id"),
        Participant.follow_up_id == bindparam("follow_up_id"),
    )
)
PARTICIPANTS_WITH_CONFLICTS = DriverStatement(
    _WITH_CONFLICTS.order_by(Participant.role != ParticipantRole.ORGANIZER, Participant.id)
)
# A follow-up read in one round trip: a row per participant (PARTICIPANTS_WITH_CONFLICTS's
# columns, prefixed) with the follow-up's columns (_VISIBLE_ROW's) on each; no row when the
# associate may not see it (a follow-up always has its organizer as a participant).
PARTICIPANT_PREFIX = "participant_"
_SHOWN = _VISIBLE_ROW.subquery("shown")
_EVERYONE = _WITH_CONFLICTS.subquery("everyone")
VISIBLE_WITH_PARTICIPANTS = DriverStatement(
    select(_SHOWN, *(c.label(PARTICIPANT_PREFIX + c.name) for c in _EVERYONE.c))
    .select_from(_SHOWN.join(_EVERYONE, true()))
    .order_by(_EVERYONE.c.role != ParticipantRole.ORGANIZER, _EVERYONE.c.id)
)
# One participant's conflict flag and name: what a participant just written lacks to be shown.
CONFLICT_AND_NAME = select(_CONFLICT, DISPLAY_NAME).where(
    Participant.tenant_id == bindparam("tenant_id"), Participant.id == bindparam("participant_id")
)


class ParticipantRepository(TenantRepository[Participant]):
    model = Participant
    noun = "participant"

    async def of(self, follow_up_id: uuid.UUID) -> Sequence[Participant]:
        """Everyone in the follow-up, the organizer first."""
        query = (
            select(Participant)
            .where(self._in_tenant(), Participant.follow_up_id == follow_up_id)
            .order_by(Participant.role != ParticipantRole.ORGANIZER, Participant.id)
        )
        return (await self.session.scalars(query)).all()

    async def with_conflicts(self, follow_up_id: uuid.UUID) -> list[Any]:
        """Everyone in the follow-up, the organizer first, as rows with a `conflict` flag.

        A participant is in conflict when its booking overlaps another follow-up's booking
        of the same calendar. Read its columns by name (`row["kind"]`), in the select's order.
        Their answers to single occurrences come as parallel arrays `answered_<field>` (null
        when none), see `OCCURRENCE_ANSWER_FIELDS`.
        """
        return await driver.fetch(
            self.session,
            PARTICIPANTS_WITH_CONFLICTS,
            tenant_id=self.tenant_id,
            follow_up_id=follow_up_id,
        )

    async def conflict_and_name(self, participant_id: uuid.UUID) -> Row[Any]:
        """The participant's `conflict` flag and `display_name`, as one row."""
        (row,) = await self._rows(
            CONFLICT_AND_NAME, tenant_id=self.tenant_id, participant_id=participant_id
        )
        return row

    async def count(self, follow_up_id: uuid.UUID) -> int:
        query = select(func.count()).where(
            self._in_tenant(), Participant.follow_up_id == follow_up_id
        )
        return int(await self.session.scalar(query) or 0)

    async def of_associate(
        self, follow_up_id: uuid.UUID, associate_id: uuid.UUID
    ) -> Participant | None:
        query = select(Participant).where(
            self._in_tenant(),
            Participant.follow_up_id == follow_up_id,
            Participant.associate_id == associate_id,
        )
        return (await self.session.scalars(query)).one_or_none()

    async def reset_answers(self, follow_up_id: uuid.UUID) -> Sequence[tuple[uuid.UUID, uuid.UUID]]:
        """After a move, every invited colleague answers again; returns (associate, participant)."""
        statement = (
            update(Participant)
            .where(
                self._in_tenant(),
                Participant.follow_up_id == follow_up_id,
                Participant.kind == ParticipantKind.ASSOCIATE,
                Participant.role != ParticipantRole.ORGANIZER,
            )
            .values(
                status=ParticipantStatus.NOT_READ,
                rescheduled=True,
                seen_at=None,
                responded_at=None,
                comment=None,
                acknowledged_at=None,
                updated_at=func.now(),
            )
            .returning(Participant.associate_id, Participant.id)
            .execution_options(synchronize_session="fetch")
        )
        rows = (await self.session.execute(statement)).all()
        return [(associate_id, id_) for associate_id, id_ in rows if associate_id is not None]


class ResponseRepository(TenantRepository[Response]):
    model = Response
    noun = "response"

    async def history(self, follow_up_id: uuid.UUID, page: PageParams) -> Paged[Row[Any]]:
        """The follow-up's answers, oldest first, as rows with the answering colleague's name."""
        query = select(*RESPONSE_COLUMNS).where(
            self._in_tenant(), Response.follow_up_id == follow_up_id
        )
        if page.after is not None:
            query = query.where(Response.id > page.after.id)
        return paged(await self._rows(query.order_by(Response.id).limit(page.limit + 1)), page)
