"""A series' .ics shows answers to single occurrences: a RECURRENCE-ID VEVENT each, parsed back."""

from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar, Event

from tests.calendars.test_ics import attendees_by_address, ics_url, parsed
from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok
from tests.followups.support import book, participant

START = datetime(2026, 5, 4, 8, tzinfo=UTC)
WEEK = timedelta(days=7)
FIRST, SECOND, THIRD, FOURTH = (START + n * WEEK for n in range(4))


async def _series(admin: Caller) -> tuple[Caller, Caller, Caller, dict[str, Any]]:
    """A weekly series of four of an organizer with two colleagues invited."""
    organizer = await admin.new_member(name="Olga Organizer")
    colleague = await admin.new_member(name="Carl Colleague")
    guest = await admin.new_member(name="Gina Guest")
    created = await book(
        organizer,
        colleague,
        guest,
        start_at=START.isoformat(),
        end_at=(START + timedelta(hours=1)).isoformat(),
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"},
    )
    return organizer, colleague, guest, created


async def _answer(
    caller: Caller, created: dict[str, Any], status: str, occurrence: datetime | None = None
) -> None:
    invitation = participant(created, associate_id=caller.subject)["id"]
    body: dict[str, Any] = {"status": status}
    if occurrence is not None:
        body["occurrence"] = occurrence.isoformat()
    ok(await caller.post(f"/v1/invitations/{invitation}/response", json=body))


def _by_occurrence(calendar: Calendar) -> dict[datetime | None, Event]:
    """The VEVENTs by RECURRENCE-ID (in UTC; None for the series' own)."""
    found: dict[datetime | None, Event] = {}
    for event in calendar.walk("VEVENT"):
        rid = event.decoded("RECURRENCE-ID").astimezone(UTC) if "RECURRENCE-ID" in event else None
        assert rid not in found, "one VEVENT per occurrence"
        found[rid] = event
    return found


def _partstats(event: Event) -> list[str]:
    """The colleague's and the guest's PARTSTATs in the VEVENT."""
    by_name = {params["CN"]: params for params in attendees_by_address(event).values()}
    return [by_name[name]["PARTSTAT"] for name in ("Carl Colleague", "Gina Guest")]


async def test_an_occurrence_answered_alone_has_its_own_vevent_with_that_answer(
    admin: Caller,
) -> None:
    organizer, colleague, guest, created = await _series(admin)
    await _answer(colleague, created, "accepted")
    await _answer(colleague, created, "declined", SECOND)
    await _answer(guest, created, "tentative", FOURTH)

    events = _by_occurrence(parsed(await organizer.get(ics_url(created["id"]))))

    assert set(events) == {None, SECOND, FOURTH}  # the others follow the series' VEVENT
    assert _partstats(events[None]) == ["ACCEPTED", "NEEDS-ACTION"]
    assert _partstats(events[SECOND]) == ["DECLINED", "NEEDS-ACTION"]
    assert _partstats(events[FOURTH]) == ["ACCEPTED", "TENTATIVE"]
    for occurrence in (SECOND, FOURTH):
        override = events[occurrence]
        assert override["UID"] == events[None]["UID"]
        assert "RRULE" not in override
        assert "EXDATE" not in override
        assert override.start.astimezone(UTC) == occurrence  # not moved: its own span
        assert override.end.astimezone(UTC) == occurrence + timedelta(hours=1)
        assert override["ORGANIZER"].params["CN"] == "Olga Organizer"
    # Every participant gets the same file: the answers are no secret among them.
    assert (await guest.get(ics_url(created["id"]))).content == (
        await organizer.get(ics_url(created["id"]))
    ).content


async def test_a_moved_occurrence_answered_again_is_one_vevent_with_both(admin: Caller) -> None:
    organizer, colleague, guest, created = await _series(admin)
    await _answer(colleague, created, "accepted")
    await _answer(guest, created, "accepted")
    moved = {
        "start_at": (THIRD + timedelta(hours=3)).isoformat(),
        "end_at": (THIRD + timedelta(hours=4)).isoformat(),
    }
    ok(
        await organizer.patch(
            f"/v1/follow-ups/{created['id']}/occurrences/{THIRD.isoformat()}",
            json=moved,
            headers={"If-Match": "*"},
        )
    )
    await _answer(guest, created, "declined", THIRD)

    events = _by_occurrence(parsed(await organizer.get(ics_url(created["id"]))))

    assert set(events) == {None, THIRD}
    override = events[THIRD]
    assert override.start.astimezone(UTC) == THIRD + timedelta(hours=3)
    # The move asked everyone again; the guest answered it since, the colleague not yet.
    assert _partstats(override) == ["NEEDS-ACTION", "DECLINED"]
    assert _partstats(events[None]) == ["ACCEPTED", "ACCEPTED"]


async def test_a_series_answer_or_a_cancel_drops_the_occurrences_own_vevent(
    admin: Caller,
) -> None:
    organizer, colleague, guest, created = await _series(admin)
    await _answer(colleague, created, "declined", SECOND)
    await _answer(guest, created, "tentative", THIRD)
    ok(
        await organizer.post(
            f"/v1/follow-ups/{created['id']}/occurrences/{THIRD.isoformat()}/cancel", json={}
        )
    )
    before = _by_occurrence(parsed(await organizer.get(ics_url(created["id"]))))
    assert set(before) == {None, SECOND}  # the cancelled one is an EXDATE only
    (excluded,) = before[None]["EXDATE"].dts
    assert excluded.dt.astimezone(UTC) == THIRD

    await _answer(colleague, created, "accepted")  # replaces their answer to the second

    after = _by_occurrence(parsed(await organizer.get(ics_url(created["id"]))))
    assert set(after) == {None}
    assert _partstats(after[None]) == ["ACCEPTED", "NEEDS-ACTION"]
