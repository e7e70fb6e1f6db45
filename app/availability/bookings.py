"""Keep `bookings` equal to what the participants block, in the transaction of each change.

Strict resources (allow_double_booking false) are booked under their row locks, taken in id
order: the overlap check and the insert happen while no other transaction can book the same
resource, so of concurrent requests for one room and time exactly one wins. An exclusion
constraint on the strict rows backs this up in the database itself.
"""

import uuid
from collections.abc import Collection
from datetime import UTC, datetime

from pydantic import TypeAdapter
from sqlalchemy import case, delete, exists, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.availability.service import first_free_for
from app.kit.errors import Conflict
from app.models import Booking, FollowUp, Participant, Resource

MAX_LISTED_CONFLICTS = 50
CalendarKind = str
BOTH: tuple[CalendarKind, ...] = ("associate", "resource")

# Associates are busy when organizer or accepted, tentative while unanswered or tentative;
# resources are always accepted; declined invitations and persons block nothing.
_INSERT = text("""
INSERT INTO bookings (participant_id, tenant_id, follow_up_id, calendar_kind, calendar_id,
                      during, tentative, strict)
SELECT p.id, p.tenant_id, p.follow_up_id, p.kind, coalesce(p.associate_id, p.resource_id),
       f.during, p.status IN ('not_read', 'seen', 'tentative'),
       coalesce(NOT r.allow_double_booking, false)
FROM participants p
JOIN follow_ups f ON f.id = p.follow_up_id
LEFT JOIN resources r ON r.id = p.resource_id
WHERE p.follow_up_id = :follow_up_id
  AND f.status = 'scheduled'
  AND p.kind = ANY(:kinds)
  AND p.status <> 'declined'
  AND (CAST(:participant_id AS uuid) IS NULL OR p.id = :participant_id)
""")


_TIME = TypeAdapter(datetime)


def _json_time(value: datetime) -> str:
    """A time as every response shows it (UTC, `Z`)."""
    return str(_TIME.dump_python(value.astimezone(UTC), mode="json"))


class ResourceTaken(Conflict):
    code = "resource_taken"
    title = "Resource taken"
    description = (
        "A resource that refuses double booking is booked then; `conflicts` lists the "
        "bookings in the way and `first_free_at` the first time everyone is free."
    )


async def sync(
    session: AsyncSession,
    follow_up: FollowUp,
    kinds: Collection[CalendarKind] = BOTH,
    *,
    check_strict: bool = False,
    participant_id: uuid.UUID | None = None,
) -> None:
    """Rewrite the follow-up's bookings of these calendar kinds from its participants.

    With `participant_id`, only that participant's booking (an answer changes no other).
    With `check_strict` (a new time, a new booking), a strict resource already booked by
    another follow-up then is refused with 409 `resource_taken`.
    """
    scope = [Booking.follow_up_id == follow_up.id, Booking.calendar_kind.in_(list(kinds))]
    if participant_id is not None:
        scope.append(Booking.participant_id == participant_id)
    await session.execute(delete(Booking).where(*scope))
    params = {"follow_up_id": follow_up.id, "kinds": list(kinds), "participant_id": participant_id}
    if "resource" not in kinds:
        # Only strict resources can break the exclusion constraint: no savepoint needed.
        await session.execute(_INSERT, params)
        return
    if check_strict and follow_up.status == "scheduled":
        await _refuse_taken_strict_resources(session, follow_up)
    try:
        async with session.begin_nested():
            await session.execute(_INSERT, params)
    except IntegrityError as exc:
        if "ex_bookings_strict_no_overlap" not in str(exc.orig):
            raise
        await _refuse_taken_strict_resources(session, follow_up)
        raise ResourceTaken("a resource that refuses double booking is taken") from exc


async def _refuse_taken_strict_resources(session: AsyncSession, follow_up: FollowUp) -> None:
    strict = (
        await session.scalars(
            select(Resource.id)
            .join(Participant, Participant.resource_id == Resource.id)
            .where(
                Participant.follow_up_id == follow_up.id,
                Resource.allow_double_booking.is_(False),
            )
            .order_by(Resource.id)
            # NO KEY UPDATE: bookers queue on it, yet it leaves alone the KEY SHARE lock
            # this transaction's own participant insert took through its foreign key.
            .with_for_update(of=Resource, key_share=True)
        )
    ).all()
    if not strict:
        return
    visible = exists().where(
        Participant.follow_up_id == Booking.follow_up_id,
        Participant.associate_id == follow_up.owner_id,
    )
    taken = (
        await session.execute(
            select(
                Booking.calendar_id,
                case((visible, Booking.follow_up_id)),
                func.lower(Booking.during),
                func.upper(Booking.during),
            )
            .where(
                Booking.tenant_id == follow_up.tenant_id,
                Booking.calendar_id.in_(strict),
                Booking.during.op("&&")(func.tstzrange(follow_up.start_at, follow_up.end_at)),
                Booking.follow_up_id != follow_up.id,
            )
            .order_by(Booking.calendar_id, Booking.during)
            .limit(MAX_LISTED_CONFLICTS)
        )
    ).all()
    if taken:
        first_free_at = await first_free_for(session, follow_up)
        raise ResourceTaken(
            f"{len({row[0] for row in taken})} resource(s) refusing double booking are taken then",
            conflicts=[
                {
                    "resource_id": str(resource_id),
                    "follow_up_id": str(other) if other is not None else None,
                    "start_at": _json_time(start_at),
                    "end_at": _json_time(end_at),
                }
                for resource_id, other, start_at, end_at in taken
            ],
            first_free_at=_json_time(first_free_at) if first_free_at else None,
        )
