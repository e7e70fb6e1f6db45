"""Calendar feeds: a colleague's diary behind a secret URL, for calendar apps to subscribe to.

The token names its tenant and feed, so it is looked up by primary key; only its SHA-256 is
stored, compared in constant time.
"""

import asyncio
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor
from app.calendars import ical, schemas
from app.calendars.repository import CalendarRepository, FeedRepository
from app.calendars.service import attendees_by_follow_up, event_view
from app.db.base import utc_now
from app.kit.errors import NotFound
from app.kit.pagination import Paged, PageParams
from app.models import CalendarFeed
from app.models.states import ParticipantStatus

TOKEN_PREFIX = "cvf_"  # noqa: S105 (a prefix, not a secret)
TOKEN_PATTERN = r"^cvf_[0-9a-f]{64}[A-Za-z0-9_-]{43}$"  # noqa: S105
_TOKEN = re.compile(TOKEN_PATTERN)
# The most follow-ups one feed holds, the nearest to now: about 1.5 s of CPU to build (in a
# thread) and a megabyte of body with five attendees each.
MAX_FEED_EVENTS = 1000
# Part of every feed's ETag: bump it when the same rows would give other bytes.
FORMAT_VERSION = 3
REFRESH = timedelta(minutes=15)


def new_token(tenant_id: uuid.UUID, feed_id: uuid.UUID) -> str:
    """A feed's token: its tenant and id in hex, then 256 random bits."""
    return f"{TOKEN_PREFIX}{tenant_id.hex}{feed_id.hex}{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> bytes:
    """What is stored of a token: its SHA-256."""
    return hashlib.sha256(token.encode()).digest()


def _named(token: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The tenant and feed a well-formed token names; None for any other string."""
    if _TOKEN.fullmatch(token) is None:
        return None
    hexes = token[len(TOKEN_PREFIX) :]
    return uuid.UUID(hexes[:32]), uuid.UUID(hexes[32:64])


async def create(
    session: AsyncSession, actor: Actor, body: schemas.FeedCreate
) -> tuple[CalendarFeed, str]:
    """A new feed of the caller's own diary, and its token (kept only as a hash)."""
    feed_id = uuid.uuid4()
    token = new_token(actor.tenant_id, feed_id)
    feed = CalendarFeed(
        id=feed_id,
        associate_id=actor.associate_id,
        name=body.name,
        past_days=body.past_days,
        future_days=body.future_days,
        token_hash=token_hash(token),
    )
    return await FeedRepository(session, actor.tenant_id).add(feed), token


async def listed(session: AsyncSession, actor: Actor, page: PageParams) -> Paged[CalendarFeed]:
    """The caller's feeds, oldest first (their URLs are not shown again)."""
    return await FeedRepository(session, actor.tenant_id).of_associate(actor.associate_id, page)


async def revoke(session: AsyncSession, actor: Actor, feed_id: uuid.UUID) -> None:
    """Delete one of the caller's feeds: its URL stops working at once. 404 for others'."""
    feeds = FeedRepository(session, actor.tenant_id)
    feed = await feeds.get(feed_id)
    if feed is None or feed.associate_id != actor.associate_id:
        raise NotFound(f"feed {feed_id} not found")
    await feeds.delete(feed)


@dataclass(frozen=True)
class OpenFeed:
    """A feed whose token was right: what rendering and the rate limit need."""

    tenant_id: uuid.UUID
    row: Any


async def opened(session: AsyncSession, token: str) -> OpenFeed:
    """The feed this token opens; 404 for a wrong, revoked or inactive colleague's token."""
    named = _named(token)
    if named is None:
        raise NotFound("no such feed")
    tenant_id, feed_id = named
    row = await FeedRepository(session, tenant_id).active(feed_id)
    if row is None or not hmac.compare_digest(row.token_hash, token_hash(token)):
        raise NotFound("no such feed")
    return OpenFeed(tenant_id, row)


@dataclass(frozen=True)
class FeedState:
    """What a feed holds now, its strong ETag and when it last changed; not yet rendered."""

    name: str
    views: list[ical.EventView]
    etag: str
    changed_at: datetime
    window_end: datetime


def _window(feed: Any, now: datetime) -> tuple[datetime, datetime]:
    # Whole UTC days: the window moves once a day, so the body (and ETag) stays put meanwhile.
    today = datetime.combine(now.date(), time(0), now.tzinfo)
    return today - timedelta(days=feed.past_days), today + timedelta(days=feed.future_days + 1)


def _with_series(view: ical.EventView, row: Any, diary_of: uuid.UUID) -> ical.EventView:
    """A series' view with its rule, EXDATEs and occurrences moved or answered on their own.

    From its feed row; each override's transparency follows `diary_of`'s answer to it (the
    feed's colleague) and whether they take part in it.
    """
    if row.recurrence_rule is None:
        return view
    overrides = [
        ical.Override(*each)
        for each in zip(
            row.override_from or (), row.override_start or (), row.override_end or (), strict=True
        )
    ]
    # Invited to one occurrence alone: their diary has that occurrence's VEVENT only.
    only = next((a.only for a in view.attendees if a.id == diary_of), None)
    if only is not None:
        overrides = [o for o in overrides if o.original_start == only]
    return replace(
        view,
        rule=row.recurrence_rule,
        exdates=row.exdates or (),
        overrides=overrides,
        diary_of=diary_of,
        instances_only=only is not None,
    )


def _fingerprint(name: str, follow_ups: Sequence[Any], attendees: Sequence[Any]) -> bytes:
    """A hash of everything the body is made of, so a poll can be answered 304 unrendered.

    Same rows, same bytes: the format version is in it, so a release that writes the same
    rows differently changes the tag too.
    """
    digest = hashlib.sha256(f"{FORMAT_VERSION}\n{name}\n".encode())
    for row in (*follow_ups, *attendees):
        digest.update(repr(tuple(row)).encode())
    return digest.digest()[:16]


async def current(session: AsyncSession, feed: OpenFeed) -> FeedState:
    """What the feed holds now; records a new fingerprint and its time for Last-Modified."""
    row, now = feed.row, utc_now()
    start, end = _window(row, now)
    calendars = CalendarRepository(session, feed.tenant_id)
    follow_ups = sorted(
        await calendars.diary_window(row.associate_id, start, end, now, MAX_FEED_EVENTS),
        key=lambda f: (f.start_at, f.id),
    )
    attendee_rows = await calendars.attendees([f.id for f in follow_ups]) if follow_ups else ()
    attendees = attendees_by_follow_up(attendee_rows)
    views = [
        _with_series(
            event_view(
                f, attendees.get(f.id, []), transparent=f.own_status == ParticipantStatus.DECLINED
            ),
            f,
            row.associate_id,
        )
        for f in follow_ups
    ]
    name = row.name or f"{row.associate_name} (Convene)"
    digest = _fingerprint(name, follow_ups, attendee_rows)
    changed_at = row.changed_at
    if row.content_hash != digest or changed_at is None:
        changed_at = now
        await FeedRepository(session, feed.tenant_id).changed(row.id, digest, now)
    return FeedState(name, views, f'"{digest.hex()}"', changed_at, end)


async def rendered(state: FeedState) -> bytes:
    """The feed's body; built in a thread, as a large diary takes a while of CPU."""
    return await asyncio.to_thread(
        lambda: ical.ics(
            ical.calendar(state.views, name=state.name, refresh=REFRESH, through=state.window_end)
        )
    )
