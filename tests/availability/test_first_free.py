"""First free slots at chosen edges: growing search windows, counts, bounds, off-grid times."""

from datetime import datetime, timedelta

from tests.availability.support import Span, book, first_free, room, utc
from tests.fixtures.factories import Caller

AFTER = utc("2026-05-04T00:00")  # a Monday
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def slots_from(start: datetime, count: int, step: timedelta = HOUR) -> list[Span]:
    return [(start + n * step, start + (n + 1) * step) for n in range(count)]


async def test_a_slot_across_the_first_search_window_is_found(admin: Caller) -> None:
    """Busy until 23:30: the first day holds only half an hour, the hour runs past midnight."""
    ada = await admin.new_member()
    await book(ada, AFTER, AFTER + timedelta(hours=23, minutes=30))

    slots = await first_free(ada, associates=[ada], after=AFTER, before=AFTER + 30 * DAY)

    assert slots == slots_from(AFTER + timedelta(hours=23, minutes=30), 1)


async def test_the_first_slot_may_be_months_away(admin: Caller) -> None:
    """Busy for 93 days on end: past every search window but the last (92 days, 366 days)."""
    ada = await admin.new_member()
    for month in range(3):
        await book(ada, AFTER + month * 31 * DAY, AFTER + (month + 1) * 31 * DAY)

    slots = await first_free(ada, associates=[ada], after=AFTER, before=AFTER + 366 * DAY, count=2)

    assert slots == slots_from(AFTER + 93 * DAY, 2)


async def test_a_count_beyond_the_first_search_window_gathers_from_later_ones(
    admin: Caller,
) -> None:
    ada = await admin.new_member()
    await book(ada, AFTER + 2 * HOUR, AFTER + 23 * HOUR)

    slots = await first_free(ada, associates=[ada], after=AFTER, before=AFTER + 7 * DAY, count=5)

    assert slots == [*slots_from(AFTER, 2), *slots_from(AFTER + 23 * HOUR, 3)]


async def test_nothing_free_before_before_gives_no_slots(admin: Caller) -> None:
    ada = await admin.new_member()
    await book(ada, AFTER + HOUR, AFTER + 3 * HOUR)
    before = AFTER + 3 * HOUR + timedelta(minutes=59)

    # The hour before the booking fits exactly; the 59 minutes after it do not.
    slots = await first_free(ada, associates=[ada], after=AFTER, before=before, count=3)
    assert slots == slots_from(AFTER, 1)
    # From 00:30 not even that hour fits.
    later = AFTER + timedelta(minutes=30)
    assert await first_free(ada, associates=[ada], after=later, before=before, count=3) == []


async def test_slots_start_where_free_time_starts_even_off_the_quarter_hour(
    admin: Caller,
) -> None:
    ada = await admin.new_member()
    await book(ada, AFTER + timedelta(minutes=67), AFTER + timedelta(minutes=140))
    step = timedelta(minutes=45)

    slots = await first_free(
        ada,
        associates=[ada],
        duration=step,
        after=AFTER + timedelta(minutes=7),
        before=AFTER + 5 * HOUR,
        count=5,
    )

    # 00:07-00:52 fits before 01:07, 00:52-01:37 does not; then from 02:20 on.
    assert slots == [
        *slots_from(AFTER + timedelta(minutes=7), 1, step),
        *slots_from(AFTER + timedelta(minutes=140), 3, step),
    ]


async def test_bookings_that_only_touch_the_window_block_nothing(admin: Caller) -> None:
    ada = await admin.new_member()
    await book(ada, AFTER - HOUR, AFTER)
    await book(ada, AFTER + 2 * HOUR, AFTER + 3 * HOUR)

    slots = await first_free(ada, associates=[ada], after=AFTER, before=AFTER + 2 * HOUR, count=5)

    assert slots == slots_from(AFTER, 2)


async def test_only_the_calendars_asked_about_count(admin: Caller) -> None:
    ada, bo, cy = [await admin.new_member() for _ in range(3)]
    shared, other = await room(admin), await room(admin)
    await book(cy, AFTER, AFTER + 5 * HOUR, resources=[other])
    await book(bo, AFTER, AFTER + HOUR)
    await book(ada, AFTER + HOUR, AFTER + 2 * HOUR, resources=[shared])

    slots = await first_free(
        ada,
        associates=[bo, ada, bo],
        resources=[shared, shared],
        after=AFTER,
        before=AFTER + DAY,
        count=2,
    )

    assert slots == slots_from(AFTER + 2 * HOUR, 2)


async def test_a_31_day_slot_in_a_366_day_window(admin: Caller) -> None:
    ada = await admin.new_member()
    await book(ada, AFTER + 10 * DAY, AFTER + 10 * DAY + HOUR)

    slots = await first_free(
        ada,
        associates=[ada],
        duration=31 * DAY,
        after=AFTER,
        before=AFTER + 366 * DAY,
        count=3,
    )

    start = AFTER + 10 * DAY + HOUR
    assert slots == slots_from(start, 3, 31 * DAY)
