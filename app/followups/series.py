"""Series: their occurrences planned and booked, moved or cancelled one by one, extended.

The worker books unbounded series further ahead as time passes (`horizon.py`).
Every occurrence booked is a row in `occurrences`, and each blocks its time with real rows
in `bookings` (one per participant), so conflicts, strict resources, free/busy and first free
see them with no change to their queries.
"""

import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor
from app.availability import bookings
from app.availability.booking_repository import Skipped, Spans
from app.db.base import utc_now
from app.followups import recurrence, rules, schemas
from app.followups.errors import InvalidRecurrence, InvalidSpan, NotASeries, OccurrenceCancelled
from app.followups.reads import owned
from app.followups.repository import FollowUpRepository
from app.followups.series_repository import OccurrenceRepository, due_for_extension
from app.imip.outbox import tell_persons
from app.kit.errors import NotFound
from app.kit.etags import check_if_match
from app.models import FollowUp, Occurrence, Participant
from app.models.states import EventType, NotificationKind
from app.notifications.service import notify
from app.webhooks import payloads
from app.webhooks.events import record_event

_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Plan:
    """A rule checked against its follow-up: what to book, and how far (None: all of it)."""

    rule: str
    occurrences: list[recurrence.Occurrence]
    booked_until: datetime | None


def canonical(rule: str, span: dict[str, Any]) -> str:
    """The rule in its stored form, for the follow-up's `time_zone`; 422 if it is no rule."""
    try:
        return recurrence.normalized(rule, span["time_zone"])
    except ValueError as exc:
        raise InvalidRecurrence(str(exc)) from exc


def plan(rule: str, start_at: datetime, end_at: datetime, time_zone: str, now: datetime) -> Plan:
    """The occurrences to book for a rule; 422 when it does not fit the follow-up.

    start_at must be the rule's first occurrence; a bounded rule may make at most
    MAX_OCCURRENCES; an unbounded one is booked HORIZON ahead of now (or of its start).
    """
    try:
        rule = recurrence.normalized(rule, time_zone)
        bounded = recurrence.is_bounded(rule)
        before = None if bounded else max(now, start_at) + recurrence.HORIZON
        occurrences = recurrence.expand(rule, start_at, end_at, time_zone, before=before)
    except ValueError as exc:  # dateutil's own refusals, and ours
        raise InvalidRecurrence(str(exc)) from exc
    if not occurrences or occurrences[0].start_at != start_at:
        raise InvalidRecurrence("start_at must be the first occurrence of the rule")
    booked_until = before
    if len(occurrences) > recurrence.MAX_OCCURRENCES:
        if bounded:
            raise InvalidRecurrence(
                f"the rule makes more than {recurrence.MAX_OCCURRENCES} occurrences: "
                "end it sooner with COUNT or UNTIL"
            )
        occurrences = occurrences[: recurrence.MAX_OCCURRENCES]
        booked_until = occurrences[-1].start_at + _TICK
    for before_it, it in itertools.pairwise(occurrences):
        if it.start_at < before_it.end_at:
            raise InvalidRecurrence(
                f"occurrences would overlap: {before_it.start_at.isoformat()} lasts past "
                f"{it.start_at.isoformat()}"
            )
    return Plan(rule, occurrences, booked_until)


async def book(session: AsyncSession, follow_up: FollowUp, new: Plan | None) -> None:
    """Replace the series' occurrences by the plan's (none: it repeats no more)."""
    repository = OccurrenceRepository(session, follow_up.tenant_id)
    await repository.delete_all(follow_up.id)
    if new is not None:
        await repository.add(follow_up.id, new.occurrences)


async def live_occurrence(
    session: AsyncSession, follow_up: FollowUp, original_start: datetime
) -> Occurrence:
    """The series' occurrence at this original start: 422 for no series, 404, 409 cancelled."""
    if follow_up.recurrence_rule is None:
        raise NotASeries(f"follow-up {follow_up.id} does not repeat")
    occurrence = await OccurrenceRepository(session, follow_up.tenant_id).get(
        follow_up.id, original_start
    )
    if occurrence is None:
        raise NotFound(f"follow-up {follow_up.id} has no occurrence at {original_start}")
    if occurrence.cancelled:
        raise OccurrenceCancelled(f"the occurrence at {original_start} is cancelled")
    return occurrence


async def move_occurrence(
    session: AsyncSession,
    actor: Actor,
    follow_up_id: uuid.UUID,
    original_start: datetime,
    body: schemas.OccurrenceUpdate,
    if_match: str | None,
) -> tuple[FollowUp, Occurrence]:
    """Move one occurrence (organizer, If-Match); its bookings move, 409 if a room is taken.

    Each invited colleague answers it again (`not_read`, rescheduled, for that occurrence).
    """
    follow_up = await owned(session, actor, follow_up_id)
    check_if_match(if_match, follow_up.seq)
    occurrence = await live_occurrence(session, follow_up, original_start)
    rules.check_span(body.start_at, body.end_at, follow_up.all_day, follow_up.time_zone)
    repository = OccurrenceRepository(session, actor.tenant_id)
    if await repository.overlaps_other(occurrence, body.start_at, body.end_at):
        raise InvalidSpan("the occurrence would overlap another occurrence of the series")
    previous = {"start_at": occurrence.start_at, "end_at": occurrence.end_at}
    occurrence.start_at, occurrence.end_at = body.start_at, body.end_at
    occurrence.overridden = True
    await session.flush()
    await repository.reset_answers(occurrence)
    await bookings.rebook_occurrences(session, follow_up, Spans(occurrence=original_start))
    await FollowUpRepository(session, actor.tenant_id).load_participants(follow_up)
    await notify(
        session,
        follow_up,
        NotificationKind.RESCHEDULED,
        rules.invited_associates(_of_occurrence(follow_up.participants, original_start)),
        actor=actor.name,
    )
    await record_event(
        session,
        follow_up,
        EventType.OCCURRENCE_RESCHEDULED,
        payloads.OccurrenceRescheduled(
            occurrence_start=original_start,
            start_at=body.start_at,
            end_at=body.end_at,
            previous_start_at=previous["start_at"],
            previous_end_at=previous["end_at"],
        ),
    )
    await tell_persons(session, follow_up)
    await session.refresh(occurrence)
    return follow_up, occurrence


async def cancel_occurrence(
    session: AsyncSession,
    actor: Actor,
    follow_up_id: uuid.UUID,
    original_start: datetime,
    reason: str | None,
) -> tuple[FollowUp, Occurrence]:
    """Cancel one occurrence (organizer): it blocks no time; the rest of the series stays."""
    follow_up = await owned(session, actor, follow_up_id)
    occurrence = await live_occurrence(session, follow_up, original_start)
    occurrence.cancelled = True
    await session.flush()
    await bookings.release_occurrence(session, follow_up, original_start)
    await FollowUpRepository(session, actor.tenant_id).load_participants(follow_up)
    await notify(
        session,
        follow_up,
        NotificationKind.CANCELLED,
        rules.invited_associates(_of_occurrence(follow_up.participants, original_start)),
        actor=actor.name,
    )
    await record_event(
        session,
        follow_up,
        EventType.OCCURRENCE_CANCELLED,
        payloads.OccurrenceCancelled(
            occurrence_start=original_start,
            start_at=occurrence.start_at,
            end_at=occurrence.end_at,
            reason=reason,
        ),
    )
    await tell_persons(session, follow_up)
    return follow_up, occurrence


def _of_occurrence(participants: list[Participant], original_start: datetime) -> list[Participant]:
    """The participants of the series and those added to this occurrence alone (to tell)."""
    return [p for p in participants if p.only_occurrence in (None, original_start)]


async def extend(session: AsyncSession, follow_up: FollowUp, now: datetime) -> int:
    """Book an unbounded series up to HORIZON ahead of now; the occurrences added.

    Its colleagues and ordinary resources are booked for each new occurrence; a room that
    refuses double booking and is taken then by another follow-up stays the other's, and
    the organizer is told (`_report_taken`).
    """
    assert follow_up.recurrence_rule is not None
    assert follow_up.booked_until is not None
    until = now + recurrence.HORIZON
    if until <= follow_up.booked_until:
        return 0
    added = recurrence.expand(
        follow_up.recurrence_rule,
        follow_up.start_at,
        follow_up.end_at,
        follow_up.time_zone,
        after=follow_up.booked_until,
        before=until,
        limit=recurrence.MAX_OCCURRENCES,
    )
    if len(added) >= recurrence.MAX_OCCURRENCES:
        until = added[-1].start_at + _TICK
    since = follow_up.booked_until
    await OccurrenceRepository(session, follow_up.tenant_id).add(follow_up.id, added)
    # Bookkeeping, not a change of the follow-up: no updated_at, no seq, no event (a room
    # left out is reported on its own).
    follow_up.booked_until = until
    await session.flush()
    skipped = await bookings.book_extension(session, follow_up, Spans(since=since))
    for each in skipped:
        await _report_taken(session, follow_up, each)
    return len(added)


async def _report_taken(session: AsyncSession, follow_up: FollowUp, skipped: Skipped) -> None:
    """Tell the organizer (a notification) and subscribers (an event) of a room not booked."""
    local = skipped.start_at.astimezone(ZoneInfo(follow_up.time_zone))
    await notify(
        session,
        follow_up,
        NotificationKind.RESOURCE_TAKEN,
        [(follow_up.owner_id, skipped.participant_id)],
        actor=None,
        resource=skipped.resource_name,
        when=f"{local:%Y-%m-%d %H:%M} ({follow_up.time_zone})",
    )
    await record_event(
        session,
        follow_up,
        EventType.OCCURRENCE_RESOURCE_TAKEN,
        payloads.OccurrenceResourceTaken(
            occurrence_start=skipped.occurrence_start,
            start_at=skipped.start_at,
            end_at=skipped.end_at,
            participant_id=skipped.participant_id,
            resource_id=skipped.resource_id,
        ),
    )


async def extend_due(session: AsyncSession, batch: int, now: datetime | None = None) -> int:
    """Extend up to `batch` unbounded series whose horizon is behind; the series extended."""
    now = now or utc_now()
    # A day's slack: each series is extended about once a day, not at every round.
    due = await due_for_extension(session, now + recurrence.HORIZON - timedelta(days=1), batch)
    for follow_up in due:
        await extend(session, follow_up, now)
    return len(due)


@dataclass(frozen=True)
class Series:
    """A series as iCalendar needs it: the rule from the first occurrence, EXDATEs, overrides.

    `overrides` are the occurrences moved on their own (RECURRENCE-ID: their original_start);
    `exdates` the original starts of cancelled ones; `live` every occurrence not cancelled
    (an occurrence answered on its own gets a RECURRENCE-ID too); all among the booked ones.
    """

    rule: str
    time_zone: str
    start_at: datetime
    end_at: datetime
    exdates: list[datetime]
    overrides: list[Occurrence]
    live: list[Occurrence]


async def series_of(session: AsyncSession, follow_up: FollowUp) -> Series | None:
    """The follow-up's series (None for a single follow-up), with its exceptions."""
    if follow_up.recurrence_rule is None:
        return None
    rows = await OccurrenceRepository(session, follow_up.tenant_id).of(follow_up.id)
    return Series(
        rule=follow_up.recurrence_rule,
        time_zone=follow_up.time_zone,
        start_at=follow_up.start_at,
        end_at=follow_up.end_at,
        exdates=[row.original_start for row in rows if row.cancelled],
        overrides=[row for row in rows if row.overridden and not row.cancelled],
        live=[row for row in rows if not row.cancelled],
    )
