"""Reading follow-ups: who may see one, the diary, the answers, a contact's archive."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor, Principal
from app.directory.repository import ContactRepository
from app.followups import schemas
from app.followups.comments import shown_responses
from app.followups.errors import FollowUpCancelled, NotOrganizer
from app.followups.repository import FollowUpRepository, ResponseRepository
from app.followups.rows import FollowUpRow
from app.followups.views import follow_up_fields
from app.kit.errors import NotFound
from app.kit.pagination import Paged, PageParams
from app.kit.zones import local_date
from app.models import FollowUp
from app.models.states import FollowUpStatus


async def visible(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, *, for_update: bool = False
) -> FollowUp:
    """The follow-up if the caller owns or takes part in it; 404 otherwise."""
    follow_up = await FollowUpRepository(session, actor.tenant_id).get_visible(
        follow_up_id, actor.associate_id, for_update=for_update
    )
    if follow_up is None:
        raise NotFound(f"follow-up {follow_up_id} not found")
    return follow_up


async def visible_with_participants(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID
) -> tuple[FollowUpRow, list[dict[str, Any]]]:
    """`visible`'s follow-up as a row, with its participants and their conflicts; 404 as there.

    One statement, for a read that only shows them.
    """
    found = await FollowUpRepository(session, actor.tenant_id).visible_with_participants(
        follow_up_id, actor.associate_id
    )
    if found is None:
        raise NotFound(f"follow-up {follow_up_id} not found")
    return found


async def owned(session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID) -> FollowUp:
    """The follow-up, locked for change, if the caller organizes it and it is not cancelled."""
    follow_up = await visible(session, actor, follow_up_id, for_update=True)
    if follow_up.owner_id != actor.associate_id:
        raise NotOrganizer("only the organizer may do this")
    if follow_up.status == FollowUpStatus.CANCELLED:
        raise FollowUpCancelled(f"follow-up {follow_up_id} is cancelled")
    return follow_up


async def diary(
    session: AsyncSession,
    actor: Actor,
    start: datetime,
    end: datetime,
    status: FollowUpStatus | None,
    page: PageParams,
) -> Paged[dict[str, Any]]:
    """The caller's follow-ups and occurrences in the window, with the caller's role and answer."""
    rows = await FollowUpRepository(session, actor.tenant_id).diary(
        actor.associate_id, start, end, status, page
    )
    return Paged([_entry(row._asdict()) for row in rows.items], rows.next_cursor)


def _entry(row: dict[str, Any]) -> dict[str, Any]:
    """A diary row as the API shows it: the rule as `recurrence`, an all-day span as dates."""
    rule = row.pop("recurrence_rule")
    all_day, zone = row["all_day"], row["time_zone"]
    return {
        **row,
        "recurrence": None if rule is None else {"rrule": rule},
        "start_date": local_date(row["start_at"], zone) if all_day else None,
        "end_date": local_date(row["end_at"], zone) if all_day else None,
    }


async def responses(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, page: PageParams
) -> Paged[schemas.ResponseRecord]:
    """The follow-up's answers, oldest first; comments where the caller may read them."""
    follow_up = await visible(session, actor, follow_up_id)
    rows = await ResponseRepository(session, actor.tenant_id).history(follow_up_id, page)
    return Paged(shown_responses(follow_up, actor.associate_id, rows.items), rows.next_cursor)


async def activities(
    session: AsyncSession, principal: Principal, contact_id: uuid.UUID, page: PageParams
) -> Paged[dict[str, Any]]:
    """A contact's activity archive; members see the follow-ups they own or take part in."""
    if not await ContactRepository(session, principal.tenant_id).exists(contact_id):
        raise NotFound(f"contact {contact_id} not found")
    visible_to = None if principal.is_admin else principal.associate_id
    rows = await FollowUpRepository(session, principal.tenant_id).activities(
        contact_id, visible_to, page
    )
    return Paged(
        [follow_up_fields(follow_up, owner_name) for follow_up, owner_name in rows.items],
        rows.next_cursor,
    )
