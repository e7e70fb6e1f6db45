"""Series split at one occurrence ("this and following"): the rest becomes a new follow-up.

The series ends before that occurrence (its rule divided: a COUNT split, else an UNTIL), and
a new follow-up with the same participants carries the occurrence and those after it, with
their bookings. Unchanged, the occurrences move over as they are (exceptions and answers
kept); with a new time or rule, the new series is booked from its rule and every invited
colleague answers again.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import MISSING
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor
from app.availability import bookings
from app.db.base import utc_now
from app.followups import recurrence, rules, schemas, series
from app.followups.errors import SplitAtFirstOccurrence
from app.followups.reads import owned
from app.followups.repository import FollowUpRepository
from app.followups.series_repository import OccurrenceRepository
from app.imip.outbox import tell_persons
from app.kit.etags import check_if_match
from app.models import FollowUp, Participant
from app.models.states import (
    EventType,
    NotificationKind,
    ParticipantKind,
    ParticipantRole,
    ParticipantStatus,
)
from app.notifications.service import notify
from app.webhooks import payloads
from app.webhooks.events import record_event


@dataclass(frozen=True)
class Division:
    """Where a series is split: the rule before the occurrence, and the new series' plan."""

    head_rule: str
    rule: str
    start_at: datetime
    end_at: datetime
    changed: bool


def _divided(follow_up: FollowUp, original_start: datetime, body: schemas.SeriesSplit) -> Division:
    """The original's rule up to the occurrence; the new series' span and rule (body or same)."""
    assert follow_up.recurrence_rule is not None
    rule, zone = follow_up.recurrence_rule, follow_up.time_zone
    start, end = follow_up.start_at, follow_up.end_at
    (generated,) = recurrence.expand(rule, start, end, zone, after=original_start, limit=1)
    kept = len(recurrence.expand(rule, start, end, zone, before=original_start))
    head, tail = recurrence.split_rule(rule, kept, original_start)
    start_at = generated.start_at if body.start_at is MISSING else body.start_at
    length = generated.end_at - generated.start_at
    end_at = start_at + length if body.end_at is MISSING else body.end_at
    new_rule = (
        tail
        if body.recurrence is MISSING
        else series.canonical(body.recurrence.rrule, {"time_zone": zone})
    )
    changed = (start_at, end_at, new_rule) != (generated.start_at, generated.end_at, tail)
    return Division(head, new_rule, start_at, end_at, changed)


# An invited colleague's answer when the new series has another time: answer again.
_ANSWER_AGAIN = {
    "status": ParticipantStatus.NOT_READ,
    "comment": None,
    "responded_at": None,
    "seen_at": None,
    "rescheduled": True,
    "acknowledged_at": None,
}
_ANSWER = tuple(_ANSWER_AGAIN)


def _copied(participant: Participant, reset: bool) -> Participant:
    """The participant again, for the new series: its answer kept, or reset for a new time."""
    if participant.role == ParticipantRole.ORGANIZER:
        assert participant.associate_id is not None
        return rules.organizer(participant.associate_id)
    if reset and participant.kind == ParticipantKind.ASSOCIATE:
        answer = dict(_ANSWER_AGAIN)
    else:
        answer = {name: getattr(participant, name) for name in _ANSWER}
    return Participant(
        tenant_id=participant.tenant_id,
        kind=participant.kind,
        associate_id=participant.associate_id,
        resource_id=participant.resource_id,
        person_id=participant.person_id,
        role=participant.role,
        **answer,
    )


async def split_series(
    session: AsyncSession,
    actor: Actor,
    follow_up_id: uuid.UUID,
    original_start: datetime,
    body: schemas.SeriesSplit,
    if_match: str | None,
) -> FollowUp:
    """Split the series at one of its occurrences (organizer, If-Match); the new follow-up.

    422 for a single follow-up or the first occurrence (PATCH the follow-up instead), 404
    for no such occurrence, 409 for a cancelled one or a strict resource taken then by
    another follow-up (naming the occurrences): all or nothing.
    """
    follow_up = await owned(session, actor, follow_up_id)
    check_if_match(if_match, follow_up.seq)
    await series.live_occurrence(session, follow_up, original_start)
    if original_start == follow_up.start_at:
        raise SplitAtFirstOccurrence(
            "the series starts with that occurrence: PATCH the follow-up to change all of it"
        )
    division = _divided(follow_up, original_start, body)
    rules.check_span(division.start_at, division.end_at, follow_up.all_day, follow_up.time_zone)
    planned = None
    if division.changed:
        planned = series.plan(
            division.rule, division.start_at, division.end_at, follow_up.time_zone, utc_now()
        )
    follow_ups = FollowUpRepository(session, actor.tenant_id)
    await follow_ups.load_participants(follow_up)
    previous_rule = follow_up.recurrence_rule
    assert previous_rule is not None
    booked_until = planned.booked_until if planned else follow_up.booked_until
    await follow_ups.update(
        follow_up, {"recurrence_rule": division.head_rule, "booked_until": None}
    )
    await bookings.release_from(session, follow_up, original_start)

    new = FollowUp(
        owner_id=follow_up.owner_id,
        title=follow_up.title,
        description=follow_up.description,
        location=follow_up.location,
        kind=follow_up.kind,
        start_at=division.start_at,
        end_at=division.end_at,
        time_zone=follow_up.time_zone,
        all_day=follow_up.all_day,
        contact_id=follow_up.contact_id,
        recurrence_rule=division.rule,
        booked_until=booked_until,
        split_from=follow_up.id,
        # Those added to one occurrence alone go with it (its foreign key), not copied.
        participants=[
            _copied(p, division.changed)
            for p in follow_up.participants
            if p.only_occurrence is None
        ],
    )
    await follow_ups.add(new)
    occurrences = OccurrenceRepository(session, actor.tenant_id)
    if planned is None:
        await occurrences.move_from(follow_up.id, original_start, new.id)
    else:
        await occurrences.delete_from(follow_up.id, original_start)
        await series.book(session, new, planned)
    await bookings.book_new(session, new)
    if division.changed:
        await notify(
            session,
            new,
            NotificationKind.RESCHEDULED,
            rules.invited_associates(new.participants),
            actor=actor.name,
        )
    await record_event(
        session,
        follow_up,
        EventType.FOLLOW_UP_SPLIT,
        payloads.FollowUpSplit(
            occurrence_start=original_start,
            new_follow_up_id=new.id,
            recurrence=payloads.SeriesRule(rrule=division.head_rule),
            previous_recurrence=payloads.SeriesRule(rrule=previous_rule),
        ),
    )
    await record_event(
        session,
        new,
        EventType.FOLLOW_UP_CREATED,
        payloads.FollowUpCreated(
            owner_id=new.owner_id,
            start_at=new.start_at,
            end_at=new.end_at,
            participant_ids=[p.id for p in new.participants],
            recurrence=payloads.SeriesRule(rrule=division.rule),
            split_from=follow_up.id,
        ),
    )
    # Persons get the shortened series again, and the new one as an invitation of its own.
    await tell_persons(session, follow_up)
    await tell_persons(session, new, moved=division.changed)
    return new
