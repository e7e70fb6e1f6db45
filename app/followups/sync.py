"""The delta sync of a member's diary: the diary once, then what changed since, from the events.

A sync position is a place in the event log, whose order is (txid, id); a page never reads
past the log's settled end (see `sync_repository.py`), so a transaction that commits late can
never land behind a position already handed out. Entries are the current representation: a
change seen twice, or one already in the first sync, is sent again rather than lost.
"""

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor
from app.db.base import utc_now
from app.followups import views
from app.followups.repository import FollowUpRepository
from app.followups.sync_cursors import (
    DELTA,
    DELTA_PAGE,
    SNAPSHOT,
    SyncCursor,
    decode,
    encode,
    owner_tag,
)
from app.followups.sync_repository import SyncRepository
from app.kit.errors import ValidationFailed
from app.kit.pagination import Cursor, PageParams
from app.kit.windows import check_window
from app.models import FollowUp
from app.models.states import ParticipantRole, ParticipantStatus, RemovalReason

# The window of a first sync that names none: the recent past and the months ahead.
DEFAULT_PAST = timedelta(days=30)
DEFAULT_AHEAD = timedelta(days=180)


async def delta(
    session: AsyncSession,
    actor: Actor,
    cursor: str | None,
    window: tuple[datetime | None, datetime | None],
    limit: int,
    retention: timedelta,
) -> dict[str, Any]:
    """One page of the caller's sync: the first sync without a cursor, else where it points."""
    owner, now = owner_tag(actor.tenant_id, actor.associate_id), utc_now()
    start, end = window
    if cursor is None:
        start = start or (now - DEFAULT_PAST if end is None else end - DEFAULT_PAST - DEFAULT_AHEAD)
        end = end or start + DEFAULT_PAST + DEFAULT_AHEAD
        check_window(start, end)
        since = await SyncRepository(session, actor.tenant_id).newest_settled()
        first = SyncCursor(SNAPSHOT, now, start, end, since)
        return await _diary_page(session, actor, owner, first, limit)
    if start is not None or end is not None:
        raise ValidationFailed.at(
            ("query", "start" if start is not None else "end"),
            "a cursor carries its window: send start and end only without one",
            msg="window with a cursor",
            type="window",
        )
    at = decode(cursor, owner, now, retention)
    if at.kind == SNAPSHOT:
        return await _diary_page(session, actor, owner, at, limit)
    return await _changes_page(session, actor, owner, at, limit, now)


async def _diary_page(
    session: AsyncSession, actor: Actor, owner: bytes, at: SyncCursor, limit: int
) -> dict[str, Any]:
    """A page of the first sync: the diary in the window; the last page gives the delta cursor."""
    after = Cursor(at.after_id, at.after_at) if at.after_id is not None else None
    rows = await FollowUpRepository(session, actor.tenant_id).diary(
        actor.associate_id, at.start, at.end, None, PageParams(limit, after)
    )
    repository = FollowUpRepository(session, actor.tenant_id)
    items: list[dict[str, Any]] = []
    shown: set[Any] = set()
    # A series comes once per occurrence in the diary, and once here (as GET shows it).
    for row in rows.items:
        if row.id in shown:
            continue
        shown.add(row.id)
        follow_up = await repository.get(row.id)
        assert follow_up is not None  # the diary statement just read it
        items.append(await _entry(session, actor, follow_up, row.my_role, row.my_status))
    if rows.next_cursor is None:
        since = SyncCursor(DELTA, at.issued_at, at.start, at.end, at.since)
        return _page(items, None, encode(since, owner))
    last = rows.items[-1]
    more = replace(at, after_id=last.id, after_at=last.start_at)
    return _page(items, encode(more, owner), None)


async def _changes_page(
    session: AsyncSession,
    actor: Actor,
    owner: bytes,
    at: SyncCursor,
    limit: int,
    now: datetime,
) -> dict[str, Any]:
    """A page of the changes since `at`; a round's first page fixes its end for the rest."""
    repository = SyncRepository(session, actor.tenant_id)
    if at.until is None or at.until_at is None:
        # Purged events can leave the log's end behind a position already handed out.
        until, until_at = max(await repository.newest_settled(), at.since), now
    else:
        until, until_at = at.until, at.until_at
    rows = await repository.changes(
        actor.associate_id, at.since, until, (at.start, at.end), at.after_id, limit + 1
    )
    items = [await _change(session, actor, row) for row in rows[:limit]]
    if len(rows) <= limit:
        done = SyncCursor(DELTA, until_at, at.start, at.end, until)
        return _page(items, None, encode(done, owner))
    more = replace(
        at, kind=DELTA_PAGE, until=until, until_at=until_at, after_id=rows[limit - 1].FollowUp.id
    )
    return _page(items, encode(more, owner), None)


async def _change(session: AsyncSession, actor: Actor, row: Any) -> dict[str, Any]:
    """A changed follow-up: its current form while in the caller's window, else its removal."""
    follow_up: FollowUp = row.FollowUp
    if row.role is not None and row.in_window:
        return await _entry(session, actor, follow_up, row.role, row.status)
    gone = RemovalReason.PARTICIPANT_REMOVED if row.role is None else RemovalReason.OUTSIDE_WINDOW
    return {"id": follow_up.id, "removed": True, "reason": gone}


async def _entry(
    session: AsyncSession,
    actor: Actor,
    follow_up: FollowUp,
    role: ParticipantRole,
    status: ParticipantStatus,
) -> dict[str, Any]:
    """The follow-up as the caller's GET shows it, with their role and answer."""
    view = await views.follow_up_view(session, follow_up, actor.associate_id)
    # A series is synced whole (its rule and exceptions), not one entry per occurrence.
    return {
        **view,
        "removed": False,
        "my_role": role,
        "my_status": status,
        "occurrence_start": None,
    }


def _page(items: list[dict[str, Any]], more: str | None, since: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": more, "delta_cursor": since}
