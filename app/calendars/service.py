"""One follow-up as an iCalendar file, for whoever may read its JSON."""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor
from app.calendars import ical
from app.calendars.repository import CalendarRepository
from app.followups import reads
from app.followups.series import Series, series_of
from app.models.states import (
    FollowUpStatus,
    ParticipantKind,
    ParticipantRole,
    ParticipantStatus,
    ResourceKind,
)


def attendees_by_follow_up(rows: Iterable[Any]) -> dict[uuid.UUID, list[ical.Attendee]]:
    """The rows of `CalendarRepository.attendees` as Attendees, grouped by follow-up.

    Each with their answers to single occurrences (`answered_from`, `answered_status`), the
    occurrence they were added to alone and those they were taken off.
    """
    grouped: dict[uuid.UUID, list[ical.Attendee]] = {}
    for row in rows:
        answers = zip(row.answered_from or (), row.answered_status or (), strict=True)
        grouped.setdefault(row.follow_up_id, []).append(
            ical.Attendee(
                id=row.id,
                kind=ParticipantKind(row.kind),
                role=ParticipantRole(row.role),
                status=ParticipantStatus(row.status),
                name=row.name,
                email=row.email,
                resource_kind=ResourceKind(row.resource_kind) if row.resource_kind else None,
                answers={start: ParticipantStatus(status) for start, status in answers},
                only=row.only_occurrence,
                excluded=frozenset(row.excluded or ()),
            )
        )
    return grouped


def event_view(
    follow_up: Any, attendees: Sequence[ical.Attendee], *, transparent: bool = False
) -> ical.EventView:
    """The EventView of a follow-up (a model or a row with its columns)."""
    return ical.EventView(
        id=follow_up.id,
        seq=follow_up.seq,
        title=follow_up.title,
        description=follow_up.description,
        location=follow_up.location,
        start_at=follow_up.start_at,
        end_at=follow_up.end_at,
        time_zone=follow_up.time_zone,
        all_day=follow_up.all_day,
        status=FollowUpStatus(follow_up.status),
        created_at=follow_up.created_at,
        updated_at=follow_up.updated_at,
        attendees=attendees,
        transparent=transparent,
    )


def answered(view: ical.EventView) -> set[datetime]:
    """The original starts of the occurrences with a VEVENT of their own for some attendee.

    Those they answered on their own, were added to alone, or were taken off.
    """
    own: set[datetime] = set()
    for attendee in view.attendees:
        own |= {*attendee.answers, *attendee.excluded}
        if attendee.only is not None:
            own.add(attendee.only)
    return own


def with_series(view: ical.EventView, found: Series | None) -> ical.EventView:
    """A series' view: its rule, EXDATEs and an override per exceptional occurrence.

    That is, each moved, answered alone, or with other participants than the series. The
    view as it is for a single follow-up (None).
    """
    if found is None:
        return view
    own = answered(view)
    return replace(
        view,
        rule=found.rule,
        exdates=found.exdates,
        overrides=[
            ical.Override(o.original_start, o.start_at, o.end_at)
            for o in found.live
            if o.overridden or o.original_start in own
        ],
    )


def one_occurrence(view: ical.EventView, found: Series, original_start: datetime) -> ical.EventView:
    """The series' view cut to the VEVENT of one occurrence (RECURRENCE-ID), without its own."""
    (occurrence,) = [o for o in found.live if o.original_start == original_start]
    moved = ical.Override(occurrence.original_start, occurrence.start_at, occurrence.end_at)
    return replace(with_series(view, found), overrides=[moved], instances_only=True)


async def follow_up_ics(session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID) -> bytes:
    """The follow-up as a VCALENDAR with one VEVENT; 404 where its JSON would be 404.

    It holds no answer's comment, so every participant is shown the same calendar.
    """
    follow_up = await reads.visible(session, actor, follow_up_id)
    rows = await CalendarRepository(session, actor.tenant_id).attendees([follow_up.id])
    attendees = attendees_by_follow_up(rows).get(follow_up.id, [])
    view = with_series(event_view(follow_up, attendees), await series_of(session, follow_up))
    return ical.ics(ical.calendar([view]))
