"""Availability rules: who blocks time, first free slots over growing windows, conflicts."""

import asyncio
import uuid
from collections.abc import Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Principal
from app.availability import schemas
from app.availability.halves import SPLIT_AT, Half, answer_json, common_free, halves
from app.availability.repository import Asked, AvailabilityRepository, FreeBusy
from app.db.spare import spare_session
from app.followups.rows import ShownFollowUp
from app.kit.errors import UnknownReference
from app.kit.responses import JsonBytes

# Search windows grow (inside the one statement) so the work stays proportional to the busy
# blocks near the answer.
HORIZONS = (
    timedelta(days=1),
    timedelta(days=7),
    timedelta(days=31),
    timedelta(days=92),
    timedelta(days=366),
)
FIRST_FREE_HORIZON = timedelta(days=366)


async def search_first_free(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    calendar_ids: Sequence[uuid.UUID],
    duration: timedelta,
    after: datetime,
    before: datetime,
    count: int = 1,
    *,
    exclude: uuid.UUID | None = None,
    asked: Asked | None = None,
    working_hours: bool = False,
) -> list[datetime]:
    """The first `count` free starts in [after, before), in one statement.

    With `asked` (associate ids, resource ids), the statement also checks that they are the
    tenant's calendars: 404 (`UnknownReference`) for the others; with `working_hours` too,
    the starts keep to the asked associates' working hours.
    """
    ends: list[datetime] = []
    for horizon in HORIZONS:
        ends.append(min(after + horizon, before))
        if ends[-1] >= before:
            break
    found = await AvailabilityRepository(session, tenant_id).first_free(
        calendar_ids,
        duration,
        after,
        ends,
        count,
        exclude=exclude,
        asked=asked,
        working_hours=working_hours,
    )
    if asked is not None:
        _refuse_unknown(asked, found.known)
    return found.starts


async def first_free_for(session: AsyncSession, follow_up: ShownFollowUp) -> datetime | None:
    """The first start, at or after the follow-up's, when all it blocks is free (ignoring it)."""
    starts = await search_first_free(
        session,
        follow_up.tenant_id,
        await AvailabilityRepository(session, follow_up.tenant_id).blocking_calendars(follow_up.id),
        follow_up.end_at - follow_up.start_at,
        follow_up.start_at,
        follow_up.start_at + FIRST_FREE_HORIZON,
        exclude=follow_up.id,
    )
    return starts[0] if starts else None


def _refuse_unknown(asked: Asked, known: set[uuid.UUID]) -> None:
    """404 unless every asked id names an associate (or resource) of the tenant."""
    associate_ids, resource_ids = asked
    missing = [str(i) for i in [*associate_ids, *resource_ids] if i not in known]
    if missing:
        raise UnknownReference(f"calendar not found: {', '.join(missing)}")


async def free_busy(
    session: AsyncSession,
    principal: Principal,
    associate_ids: Sequence[uuid.UUID],
    resource_ids: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
) -> JsonBytes:
    """Busy blocks per calendar and the common free time as JSON, from one statement (or two).

    From `SPLIT_AT` calendars, two statements over half of them each, at once on two
    connections when the pool has a second one free (else one after the other). The
    statement also says which calendars are the tenant's: 404 for the others.
    """
    asked = len(set(associate_ids) | set(resource_ids))
    if asked < SPLIT_AT:
        parts = [
            await AvailabilityRepository(session, principal.tenant_id).free_busy(
                principal.associate_id, associate_ids, resource_ids, start, end
            )
        ]
    else:
        parts = await _in_halves(session, principal, associate_ids, resource_ids, start, end)
    _refuse_unknown((associate_ids, resource_ids), set().union(*(part.known for part in parts)))
    free = parts[0].free
    for part in parts[1:]:
        free = common_free(free, part.free)
    return JsonBytes(answer_json([part.calendars for part in parts], free))


async def _in_halves(
    session: AsyncSession,
    principal: Principal,
    associate_ids: Sequence[uuid.UUID],
    resource_ids: Sequence[uuid.UUID],
    start: datetime,
    end: datetime,
) -> list[FreeBusy]:
    """Free/busy of each half of the calendars, at once when a second connection is free."""
    first, second = halves(associate_ids, resource_ids)

    def ask(on: AsyncSession, half: Half) -> Coroutine[Any, Any, FreeBusy]:
        return AvailabilityRepository(on, principal.tenant_id).free_busy(
            principal.associate_id, *half, start, end
        )

    spare = await spare_session(session)
    if spare is None:
        return [await ask(session, first), await ask(session, second)]
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(ask(session, first)), group.create_task(ask(spare, second))]
        return [task.result() for task in tasks]
    finally:
        await spare.close()


async def first_free_slots(
    session: AsyncSession,
    principal: Principal,
    associate_ids: Sequence[uuid.UUID],
    resource_ids: Sequence[uuid.UUID],
    duration: timedelta,
    after: datetime,
    before: datetime,
    count: int,
    *,
    working_hours: bool,
) -> schemas.Slots:
    """The first `count` slots when all are free (inside everyone's working hours if asked).

    One statement checks the calendars, reads the associates' working hours and searches.
    """
    starts = await search_first_free(
        session,
        principal.tenant_id,
        list(dict.fromkeys([*associate_ids, *resource_ids])),
        duration,
        after,
        before,
        count,
        asked=(associate_ids, resource_ids),
        working_hours=working_hours and bool(associate_ids),
    )
    return schemas.Slots(slots=[schemas.Interval(start_at=s, end_at=s + duration) for s in starts])
