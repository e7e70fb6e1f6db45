"""Booking operations: one named operation per way a change moves busy time.

Each runs in the transaction of its change, so `bookings` never drifts from the participants.
Strict resources (allow_double_booking false) are booked under their row locks, taken in id
order: the overlap check and the insert happen while no other transaction can book the same
resource, so of concurrent requests for one room and time exactly one wins. An exclusion
constraint on the strict rows backs this up in the database itself.
"""

import uuid
from datetime import UTC, datetime

from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from app.availability.booking_repository import (
    ALL_SPANS,
    BookingRepository,
    Skipped,
    Spans,
    StrictOverlap,
    Taken,
)
from app.availability.service import first_free_for
from app.kit.errors import Conflict, Problem
from app.models import FollowUp, Participant
from app.models.states import CalendarKind, FollowUpStatus, ParticipantKind

_ALL = (CalendarKind.ASSOCIATE, CalendarKind.RESOURCE)
_TIME = TypeAdapter(datetime)


class TakenBooking(BaseModel):
    """Another follow-up's booking in the way of a resource that refuses double booking."""

    resource_id: uuid.UUID
    follow_up_id: uuid.UUID | None = Field(
        description="The follow-up holding it, when the caller may see it; else null"
    )
    start_at: datetime
    end_at: datetime


class ResourceTakenProblem(Problem):
    """A problem+json body; with code `resource_taken` it also lists what is in the way."""

    conflicts: list[TakenBooking] | None = Field(
        default=None, description="`resource_taken` only: the bookings in the way"
    )
    first_free_at: datetime | None = Field(
        default=None,
        description="`resource_taken` only: the first start, at or after the one asked for, "
        "when everyone is free for the follow-up's duration; null when none within a year",
    )


class ResourceTaken(Conflict):
    code = "resource_taken"
    title = "Resource taken"
    description = (
        "A resource that refuses double booking is booked then; `conflicts` lists the "
        "bookings in the way (for a series, each with the `occurrence_start` it collides "
        "with) and `first_free_at` the first time everyone is free (null for a series)."
    )
    model = ResourceTakenProblem
    example = {
        "conflicts": [
            {
                "resource_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6c",
                "follow_up_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a70",
                "start_at": "2026-03-30T07:30:00Z",
                "end_at": "2026-03-30T08:30:00Z",
            }
        ],
        "first_free_at": "2026-03-30T08:30:00Z",
    }


async def book_new(session: AsyncSession, follow_up: FollowUp) -> None:
    """Write every booking of a new follow-up; 409 if a strict resource is taken."""
    await _insert_checked(session, BookingRepository(session, follow_up.tenant_id), follow_up)


async def rebook_moved(session: AsyncSession, follow_up: FollowUp) -> None:
    """Rewrite every booking of a moved follow-up; 409 if a strict resource is taken then."""
    repository = BookingRepository(session, follow_up.tenant_id)
    await repository.delete(follow_up.id, _ALL)
    await _insert_checked(session, repository, follow_up)


async def rebook_occurrences(session: AsyncSession, follow_up: FollowUp, spans: Spans) -> None:
    """Rewrite a series' bookings of some occurrences (one moved, or newly added); 409 if taken."""
    repository = BookingRepository(session, follow_up.tenant_id)
    await repository.delete(follow_up.id, _ALL, spans=spans)
    await _insert_checked(session, repository, follow_up, spans=spans)


async def release_occurrence(
    session: AsyncSession, follow_up: FollowUp, original_start: datetime
) -> None:
    """A cancelled occurrence of a series blocks no time: delete its bookings."""
    await BookingRepository(session, follow_up.tenant_id).delete(
        follow_up.id, _ALL, spans=Spans(occurrence=original_start)
    )


async def book_extension(session: AsyncSession, follow_up: FollowUp, spans: Spans) -> list[Skipped]:
    """Book occurrences the worker added to a series; a strict room taken then stays taken.

    There is no one to answer 409 to: each new occurrence books what is free, and a room
    that refuses double booking and is already booked then by another follow-up keeps that.
    Returns those rooms' bookings left out, by occurrence, for the organizer to be told.
    """
    repository = BookingRepository(session, follow_up.tenant_id)
    return await repository.insert_free(follow_up.id, _ALL, spans)


async def release_from(session: AsyncSession, follow_up: FollowUp, since: datetime) -> None:
    """A series split at `since`: the occurrences from then on block nothing of this one."""
    await BookingRepository(session, follow_up.tenant_id).delete(
        follow_up.id, _ALL, spans=Spans(since=since)
    )


async def release_all(session: AsyncSession, follow_up: FollowUp) -> None:
    """A cancelled follow-up blocks no time: delete all its bookings."""
    await BookingRepository(session, follow_up.tenant_id).delete(follow_up.id, _ALL)


async def rebook_associates(session: AsyncSession, follow_up: FollowUp) -> None:
    """Rewrite the colleagues' bookings (after a new organizer): resources stay as they are."""
    repository = BookingRepository(session, follow_up.tenant_id)
    await repository.delete(follow_up.id, [CalendarKind.ASSOCIATE])
    await repository.insert(follow_up.id, [CalendarKind.ASSOCIATE])


async def book_added(
    session: AsyncSession, follow_up: FollowUp, participant: Participant, spans: Spans = ALL_SPANS
) -> None:
    """Book a newly added colleague or resource (a person blocks nothing); 409 if taken.

    `spans` narrows it to some occurrences (one the participant was added to or brought back to).
    """
    if participant.kind == ParticipantKind.PERSON:
        return
    repository = BookingRepository(session, follow_up.tenant_id)
    kind = CalendarKind(participant.kind.value)
    if kind == CalendarKind.ASSOCIATE:
        await repository.insert(follow_up.id, [kind], participant.id, spans=spans)
    else:
        await _insert_checked(session, repository, follow_up, participant, spans=spans)


async def release_participant(
    session: AsyncSession, follow_up: FollowUp, participant: Participant, original_start: datetime
) -> None:
    """A participant taken off one occurrence blocks nothing there: delete its bookings."""
    await BookingRepository(session, follow_up.tenant_id).delete(
        follow_up.id, _ALL, participant.id, spans=Spans(occurrence=original_start)
    )


async def _insert_checked(
    session: AsyncSession,
    repository: BookingRepository,
    follow_up: FollowUp,
    participant: Participant | None = None,
    *,
    spans: Spans = ALL_SPANS,
) -> None:
    """Insert under the strict resources' locks, refusing a taken one with 409."""
    kinds = _ALL if participant is None else [CalendarKind.RESOURCE]
    participant_id = participant.id if participant is not None else None
    strict = []
    if follow_up.status == FollowUpStatus.SCHEDULED:
        strict = await _refuse_taken(session, repository, follow_up, spans)
    try:
        await repository.insert(
            follow_up.id, kinds, participant_id, spans=spans, backstop=bool(strict)
        )
    except StrictOverlap as exc:
        await _refuse_taken(session, repository, follow_up, spans)
        raise ResourceTaken("a resource that refuses double booking is taken") from exc


async def _refuse_taken(
    session: AsyncSession, repository: BookingRepository, follow_up: FollowUp, spans: Spans
) -> list[uuid.UUID]:
    """Lock the follow-up's strict resources and refuse those taken then; returns their ids."""
    strict = await repository.lock_strict_resources(follow_up.id)
    if not strict:
        return strict
    taken = await repository.taken(follow_up.id, strict, follow_up.owner_id, spans)
    if taken:
        series = follow_up.recurrence_rule is not None
        first_free_at = None if series else await first_free_for(session, follow_up)
        raise ResourceTaken(
            f"{len({t.resource_id for t in taken})} resource(s) refusing double booking "
            "are taken then",
            conflicts=[_conflict(t, series) for t in taken],
            first_free_at=_json_time(first_free_at) if first_free_at else None,
        )
    return strict


def _conflict(taken: Taken, series: bool) -> dict[str, str | None]:
    conflict = {
        "resource_id": str(taken.resource_id),
        "follow_up_id": str(taken.follow_up_id) if taken.follow_up_id is not None else None,
        "start_at": _json_time(taken.start_at),
        "end_at": _json_time(taken.end_at),
    }
    if series:
        conflict["occurrence_start"] = _json_time(taken.occurrence_start)
    return conflict


def _json_time(value: datetime) -> str:
    """A time as every response shows it (UTC, `Z`)."""
    return str(_TIME.dump_python(value.astimezone(UTC), mode="json"))
