"""A feed holds a series while any live occurrence is in its window, as RRULE with exceptions."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from dateutil.rrule import rrulestr
from icalendar import Calendar

from tests.calendars.support import new_feed
from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok
from tests.followups.support import participant

ZONE = ZoneInfo("Europe/Copenhagen")


def _series(title: str, days: int, rule: str) -> dict[str, Any]:
    """A weekly series starting `days` from today at 09:00 in Copenhagen, an hour long."""
    start = (datetime.now(ZONE) + timedelta(days=days)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    return {
        "title": title,
        "start_at": start.isoformat(),
        "end_at": (start + timedelta(hours=1)).isoformat(),
        "time_zone": "Europe/Copenhagen",
        "recurrence": {"rrule": rule},
    }


def _expanded(response: httpx.Response) -> dict[str, list[tuple[datetime, datetime]]]:
    """Each follow-up's occurrences as a calendar app computes them: dateutil over the RRULE,
    less the EXDATEs, with each RECURRENCE-ID VEVENT in its occurrence's place."""
    assert response.status_code == 200, response.text
    vevents = Calendar.from_ical(response.content).walk("VEVENT")
    spans: dict[str, dict[datetime, tuple[datetime, datetime]]] = {}
    for vevent in vevents:
        if "RECURRENCE-ID" in vevent:
            continue
        uid = str(vevent["UID"]).removesuffix("@convene")
        start, end = vevent.decoded("DTSTART"), vevent.decoded("DTEND")
        starts = [start]
        if "RRULE" in vevent:
            starts = list(rrulestr(vevent["RRULE"].to_ical().decode(), dtstart=start))
        exdates = vevent.get("EXDATE", [])
        for listed in exdates if isinstance(exdates, list) else [exdates]:
            for excluded in listed.dts:
                starts.remove(excluded.dt)
        spans[uid] = {s.astimezone(UTC): (s, s + (end - start)) for s in starts}
    for vevent in vevents:
        if "RECURRENCE-ID" in vevent:
            uid = str(vevent["UID"]).removesuffix("@convene")
            original = vevent.decoded("RECURRENCE-ID").astimezone(UTC)
            spans[uid][original] = (vevent.decoded("DTSTART"), vevent.decoded("DTEND"))
    return {
        uid: sorted((s.astimezone(UTC), e.astimezone(UTC)) for s, e in by_start.values())
        for uid, by_start in spans.items()
    }


async def test_a_series_begun_before_the_window_is_in_the_feed_with_its_exceptions(
    member: Caller, client: httpx.AsyncClient
) -> None:
    weekly = await member.create("/v1/follow-ups", _series("Weekly", -20, "FREQ=WEEKLY;COUNT=8"))
    ended = await member.create("/v1/follow-ups", _series("Ended", -60, "FREQ=WEEKLY;COUNT=3"))
    # The fourth occurrence (a day from now) moved two hours on; the fifth cancelled.
    fourth = datetime.fromisoformat(weekly["start_at"]) + timedelta(weeks=3)
    fifth = fourth + timedelta(weeks=1)
    path = f"/v1/follow-ups/{weekly['id']}/occurrences"
    etag = (await member.get(f"/v1/follow-ups/{weekly['id']}")).headers["ETag"]
    later = {
        "start_at": (fourth + timedelta(hours=2)).isoformat(),
        "end_at": (fourth + timedelta(hours=3)).isoformat(),
    }
    ok(await member.patch(f"{path}/{fourth.isoformat()}", json=later, headers={"If-Match": etag}))
    ok(await member.post(f"{path}/{fifth.isoformat()}/cancel"))
    _, feed = await new_feed(member, past_days=10, future_days=20)

    expanded = _expanded(await client.get(feed))

    assert set(expanded) == {weekly["id"]}  # the ended series has nothing in the window
    assert ended["id"] not in expanded
    # What the calendar app computes is what the diary lists, every occurrence of the series.
    diary = ok(
        await member.get(
            "/v1/follow-ups",
            params={
                "start": weekly["start_at"],
                "end": (datetime.now(UTC) + timedelta(days=60)).isoformat(),
            },
        )
    )["items"]
    listed = [
        (datetime.fromisoformat(e["start_at"]), datetime.fromisoformat(e["end_at"])) for e in diary
    ]
    assert expanded[weekly["id"]] == listed
    assert len(listed) == 7
    assert (fourth + timedelta(hours=2), fourth + timedelta(hours=3)) in listed
    assert fifth not in [start for start, _ in listed]


def _by_occurrence(response: httpx.Response) -> dict[datetime | None, Any]:
    """The feed's VEVENTs by RECURRENCE-ID (in UTC; None for the series' own)."""
    assert response.status_code == 200, response.text
    return {
        (e.decoded("RECURRENCE-ID").astimezone(UTC) if "RECURRENCE-ID" in e else None): e
        for e in Calendar.from_ical(response.content).walk("VEVENT")
    }


def _shown(event: Any, name: str) -> tuple[str, str]:
    """The PARTSTAT of the attendee called `name`, and whether the VEVENT blocks time."""
    (found,) = [a for a in event["ATTENDEE"] if a.params["CN"] == name]
    return str(found.params["PARTSTAT"]), str(event["TRANSP"])


async def test_an_occurrence_answered_alone_shows_its_answer_and_frees_a_decline(
    admin: Caller, client: httpx.AsyncClient
) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    member = await admin.new_member(name="Mia Member")
    body = _series("Weekly", 2, "FREQ=WEEKLY;COUNT=4")
    body["participants"] = [{"associate_id": member.subject}]
    created = await organizer.create("/v1/follow-ups", body)
    answer = f"/v1/invitations/{participant(created, associate_id=member.subject)['id']}/response"
    first = datetime.fromisoformat(created["start_at"]).astimezone(UTC)
    second, third = first + timedelta(weeks=1), first + timedelta(weeks=2)
    ok(await member.post(answer, json={"status": "accepted"}))
    ok(await member.post(answer, json={"status": "declined", "occurrence": second.isoformat()}))
    _, own = await new_feed(member, past_days=0, future_days=60)
    _, organizers = await new_feed(organizer, past_days=0, future_days=60)

    shown = await client.get(own)
    events = _by_occurrence(shown)
    assert set(events) == {None, second}
    assert _shown(events[None], "Mia Member") == ("ACCEPTED", "OPAQUE")
    # Declined alone: free time in her calendar, busy in the organizer's, who did not decline.
    assert _shown(events[second], "Mia Member") == ("DECLINED", "TRANSPARENT")
    assert events[second].start.astimezone(UTC) == second
    assert _shown(_by_occurrence(await client.get(organizers))[second], "Mia Member") == (
        "DECLINED",
        "OPAQUE",
    )

    # The series declined, one occurrence accepted: only that one blocks her time.
    ok(await member.post(answer, json={"status": "declined"}))
    ok(await member.post(answer, json={"status": "accepted", "occurrence": third.isoformat()}))
    again = await client.get(own)
    events = _by_occurrence(again)
    assert set(events) == {None, third}  # the series answer replaced the one to the second
    assert _shown(events[None], "Mia Member") == ("DECLINED", "TRANSPARENT")
    assert _shown(events[third], "Mia Member") == ("ACCEPTED", "OPAQUE")
    assert again.headers["ETag"] != shown.headers["ETag"]
