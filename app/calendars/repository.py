"""The SQL of calendars: who attends a set of follow-ups, a diary window, and feeds."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.repository import TenantRepository
from app.followups.schemas import MAX_SPAN
from app.kit.pagination import Paged, PageParams
from app.models import CalendarFeed

# Everyone in these follow-ups with the name and address a calendar shows, organizer first,
# their answers to single occurrences of a series (original starts and statuses), the one
# occurrence they were added to alone and those they were taken off.
ATTENDEES = text("""
SELECT p.follow_up_id, coalesce(p.associate_id, p.resource_id, p.person_id) AS id,
       p.kind, p.role, p.status,
       coalesce(a.name, r.name, pe.name) AS name,
       coalesce(a.email, pe.email) AS email,
       r.kind AS resource_kind, oa.answered_from, oa.answered_status, p.only_occurrence,
       (SELECT array_agg(x.occurrence_start ORDER BY x.occurrence_start)
        FROM occurrence_exclusions x
        WHERE x.tenant_id = p.tenant_id AND x.participant_id = p.id) AS excluded
FROM participants p
LEFT JOIN associates a ON a.tenant_id = p.tenant_id AND a.id = p.associate_id
LEFT JOIN resources r ON r.tenant_id = p.tenant_id AND r.id = p.resource_id
LEFT JOIN persons pe ON pe.tenant_id = p.tenant_id AND pe.id = p.person_id
CROSS JOIN LATERAL (
    SELECT array_agg(oa.occurrence_start ORDER BY oa.occurrence_start) AS answered_from,
           array_agg(oa.status ORDER BY oa.occurrence_start) AS answered_status
    FROM occurrence_answers oa
    WHERE oa.tenant_id = p.tenant_id AND oa.participant_id = p.id
) oa
WHERE p.tenant_id = :tenant_id AND p.follow_up_id = ANY(:follow_up_ids)
ORDER BY p.follow_up_id, p.role <> 'organizer', p.id
""")

# The follow-ups an associate owns or takes part in with a span in [start, end) (for a
# series, any live occurrence), with their own answer; the `limit` nearest to `now` (by their
# nearest span in the window) when there are more. A series comes with its exceptions, for
# RRULE's EXDATE and RECURRENCE-ID: the original starts of its cancelled occurrences, and of
# the live ones moved, answered on their own (by anyone) or with other participants than the
# series, with their spans (`override_*`).
# An occurrence lasts at most :max_span, which bounds the scan.
DIARY_WINDOW = text("""
SELECT f.id, f.seq, f.title, f.description, f.location, f.start_at, f.end_at, f.time_zone,
       f.all_day, f.status, f.created_at, f.updated_at, p.status AS own_status,
       f.recurrence_rule, x.exdates, x.override_from, x.override_start, x.override_end
FROM follow_ups f
JOIN participants p ON p.tenant_id = f.tenant_id AND p.follow_up_id = f.id
CROSS JOIN LATERAL (
    SELECT min(abs(extract(epoch FROM s.start_at - :now))) AS distance
    FROM (
        SELECT f.start_at, f.during
        WHERE f.recurrence_rule IS NULL
        UNION ALL
        SELECT o.start_at, o.during
        FROM occurrences o
        WHERE o.tenant_id = f.tenant_id AND o.follow_up_id = f.id AND NOT o.cancelled
          AND o.start_at < :end
          AND o.start_at > CAST(:start AS timestamptz) - CAST(:max_span AS interval)
    ) s
    WHERE s.during && tstzrange(:start, :end, '[)')
) near
CROSS JOIN LATERAL (
    SELECT array_agg(o.original_start ORDER BY o.original_start)
               FILTER (WHERE o.cancelled) AS exdates,
           array_agg(o.original_start ORDER BY o.original_start)
               FILTER (WHERE NOT o.cancelled) AS override_from,
           array_agg(o.start_at ORDER BY o.original_start)
               FILTER (WHERE NOT o.cancelled) AS override_start,
           array_agg(o.end_at ORDER BY o.original_start)
               FILTER (WHERE NOT o.cancelled) AS override_end
    FROM occurrences o
    WHERE f.recurrence_rule IS NOT NULL
      AND o.tenant_id = f.tenant_id AND o.follow_up_id = f.id
      AND (o.cancelled OR o.overridden
           OR o.original_start IN (SELECT a.occurrence_start FROM occurrence_answers a
                                   WHERE a.tenant_id = f.tenant_id AND a.follow_up_id = f.id)
           OR o.original_start IN (SELECT e.occurrence_start FROM occurrence_exclusions e
                                   WHERE e.tenant_id = f.tenant_id AND e.follow_up_id = f.id)
           OR o.original_start IN (SELECT q.only_occurrence FROM participants q
                                   WHERE q.tenant_id = f.tenant_id AND q.follow_up_id = f.id))
) x
WHERE f.tenant_id = :tenant_id
  AND p.associate_id = :associate_id
  AND (f.during && tstzrange(:start, :end, '[)')
       OR (f.recurrence_rule IS NOT NULL AND f.start_at < :end))
  AND near.distance IS NOT NULL
ORDER BY near.distance, f.id
LIMIT :limit
""")

# A feed by its id, with its colleague's name, while that colleague is active.
ACTIVE_FEED = text("""
SELECT f.id, f.associate_id, f.name, f.past_days, f.future_days, f.token_hash,
       f.content_hash, f.changed_at, a.name AS associate_name
FROM calendar_feeds f
JOIN associates a ON a.tenant_id = f.tenant_id AND a.id = f.associate_id
WHERE f.tenant_id = :tenant_id AND f.id = :feed_id AND a.active
""")

# Note a new body of the feed: its hash and when it changed (the Last-Modified).
FEED_CHANGED = text("""
UPDATE calendar_feeds SET content_hash = :content_hash, changed_at = :changed_at
WHERE tenant_id = :tenant_id AND id = :feed_id
""")


class CalendarRepository:
    """Reads what calendars show of one tenant's follow-ups."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    async def attendees(self, follow_up_ids: Sequence[uuid.UUID]) -> Sequence[Row[Any]]:
        """Every participant of these follow-ups with name, e-mail and resource kind."""
        result = await self.session.execute(
            ATTENDEES, {"tenant_id": self.tenant_id, "follow_up_ids": list(follow_up_ids)}
        )
        return list(result.all())

    async def diary_window(
        self, associate_id: uuid.UUID, start: datetime, end: datetime, now: datetime, limit: int
    ) -> Sequence[Row[Any]]:
        """The associate's follow-ups (a series: any occurrence) in [start, end), nearest first.

        At most `limit`; a series' rows carry its exceptions.
        """
        params = {
            "tenant_id": self.tenant_id,
            "associate_id": associate_id,
            "start": start,
            "end": end,
            "now": now,
            "limit": limit,
            "max_span": MAX_SPAN,
        }
        return list((await self.session.execute(DIARY_WINDOW, params)).all())


class FeedRepository(TenantRepository[CalendarFeed]):
    model = CalendarFeed
    noun = "feed"

    async def of_associate(self, associate_id: uuid.UUID, page: PageParams) -> Paged[CalendarFeed]:
        """The associate's feeds in creation order."""
        return await self.page(page, CalendarFeed.associate_id == associate_id)

    async def active(self, feed_id: uuid.UUID) -> Row[Any] | None:
        """The feed and its colleague's name, unless it is gone or its colleague inactive."""
        result = await self.session.execute(
            ACTIVE_FEED, {"tenant_id": self.tenant_id, "feed_id": feed_id}
        )
        return result.one_or_none()

    async def changed(self, feed_id: uuid.UUID, content_hash: bytes, at: datetime) -> None:
        """Record that the feed's body is now the one with this hash, since `at`."""
        params = {
            "tenant_id": self.tenant_id,
            "feed_id": feed_id,
            "content_hash": content_hash,
            "changed_at": at,
        }
        await self.session.execute(FEED_CHANGED, params)
