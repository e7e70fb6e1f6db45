"""What Convene writes, a real CalDAV server takes: feeds and .ics files uploaded to Radicale.

Radicale (PyPI) runs on loopback with its filesystem storage in a temp dir; a calendar is
PUT into a new collection, read back with GET and a time-range REPORT (RFC 4791 7.8), and
parsed with `icalendar`. A server that could not place the events in time (a TZID without
its VTIMEZONE, say) would answer the time-range query wrongly.
"""

import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from icalendar import Calendar, Event

from tests.calendars.support import book_at, events_of, new_feed
from tests.fixtures.factories import Caller, create_person, create_resource
from tests.fixtures.servers import free_port
from tests.followups.support import participant, respond

USER = "convene"
TIME_RANGE_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="{start}" end="{end}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>"""
MKCALENDAR = """<?xml version="1.0" encoding="utf-8"?>
<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:set><D:prop><D:displayname>Convene</D:displayname></D:prop></D:set>
</C:mkcalendar>"""


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Radicale server on a free loopback port; yields its base URL."""
    root = tmp_path_factory.mktemp("radicale")
    port = free_port()
    config = root / "config"
    config.write_text(
        f"[server]\nhosts = 127.0.0.1:{port}\n"
        "[auth]\ntype = none\n"
        "[rights]\ntype = owner_only\n"
        f"[storage]\nfilesystem_folder = {root / 'collections'}\n"
        "[web]\ntype = none\n"
        "[logging]\nlevel = warning\n"
    )
    log = (root / "radicale.log").open("w")
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "radicale", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process, root / "radicale.log")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_until_up(base: str, process: "subprocess.Popen[bytes]", log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            httpx.request("OPTIONS", f"{base}/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"Radicale did not start: {log.read_text()}")


@pytest.fixture
async def caldav(radicale: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=radicale, auth=(USER, "x"), timeout=30) as client:
        yield client


async def uploaded(caldav: httpx.AsyncClient, body: bytes) -> str:
    """The path of a new calendar collection holding `body`."""
    path = f"/{USER}/{uuid.uuid4()}/"
    made = await caldav.request("MKCALENDAR", path, content=MKCALENDAR)
    assert made.status_code == 201, made.text
    put = await caldav.put(path, content=body, headers={"Content-Type": "text/calendar"})
    assert put.status_code in (201, 204), put.text
    return path


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


async def in_range(
    caldav: httpx.AsyncClient, path: str, start: datetime, end: datetime
) -> set[str]:
    """The UIDs the server finds overlapping [start, end)."""
    query = TIME_RANGE_QUERY.format(start=_utc(start), end=_utc(end))
    answer = await caldav.request(
        "REPORT",
        path,
        content=query,
        headers={"Depth": "1", "Content-Type": "application/xml"},
    )
    assert answer.status_code == 207, answer.text
    uids = set()
    for chunk in answer.text.split("BEGIN:VCALENDAR")[1:]:
        data = "BEGIN:VCALENDAR" + chunk.split("END:VCALENDAR")[0] + "END:VCALENDAR\r\n"
        data = data.replace("&#13;", "\r").replace("&lt;", "<").replace("&gt;", ">")
        data = data.replace("&amp;", "&")
        for event in Calendar.from_ical(data).walk("VEVENT"):
            uids.add(str(event["UID"]))
    return uids


def answers(event: Event) -> list[tuple[str, str]]:
    """Each ATTENDEE's address and PARTSTAT, sorted."""
    found = event.get("ATTENDEE", [])
    listed = found if isinstance(found, list) else [found]
    return sorted((str(a), str(a.params.get("PARTSTAT"))) for a in listed)


async def test_a_feed_round_trips_through_radicale(
    caldav: httpx.AsyncClient, admin: Caller, member: Caller, client: httpx.AsyncClient
) -> None:
    colleague = await admin.new_member(name="Carl Colleague")
    room = await create_resource(admin, name="Fjord")
    person = await create_person(admin, name="Dina Dahl", email="dina@nordlys.example")
    soon = await book_at(
        member,
        2,
        colleague,
        title="Budget; Q1, 2027",
        description="Agenda:\n1. Numbers",
        location="Fjord, 2nd floor",
        time_zone="Europe/Copenhagen",
        participants=[{"resource_id": room["id"]}, {"person_id": person["id"]}],
    )
    await respond(colleague, participant(soon, associate_id=colleague.subject)["id"], "accepted")
    later = await book_at(colleague, 9, member, title="Later", time_zone="America/New_York")
    cancelled = await book_at(member, 3, title="Off")
    await member.post(f"/v1/follow-ups/{cancelled['id']}/cancel")
    _, feed_path = await new_feed(member, past_days=1, future_days=30)
    served = await client.get(feed_path)
    ours = events_of(served)

    path = await uploaded(caldav, served.content)
    back = await caldav.get(path)
    assert back.status_code == 200, back.text
    theirs = {
        str(e["UID"]).removesuffix("@convene"): e
        for e in Calendar.from_ical(back.content).walk("VEVENT")
    }
    assert set(theirs) == set(ours) == {soon["id"], later["id"], cancelled["id"]}
    for uid, event in ours.items():
        kept = theirs[uid]
        assert (kept.start, kept.end) == (event.start, event.end)
        for name in ("SUMMARY", "DESCRIPTION", "LOCATION", "STATUS", "SEQUENCE"):
            assert kept.get(name) == event.get(name), name
        assert answers(kept) == answers(event)
    assert (
        theirs[soon["id"]]["ORGANIZER"].params["CN"] == ours[soon["id"]]["ORGANIZER"].params["CN"]
    )

    start = datetime.fromisoformat(soon["start_at"])
    assert await in_range(caldav, path, start, start + timedelta(minutes=1)) == {
        f"{soon['id']}@convene"
    }
    assert await in_range(caldav, path, start - timedelta(hours=1), start) == set()
    new_york = datetime.fromisoformat(later["start_at"])
    assert await in_range(caldav, path, new_york, new_york + timedelta(hours=1)) == {
        f"{later['id']}@convene"
    }


async def test_an_all_day_ics_round_trips_through_radicale(
    caldav: httpx.AsyncClient, admin: Caller
) -> None:
    organizer = await admin.new_member()
    created = await organizer.create(
        "/v1/follow-ups",
        {
            "title": "Offsite",
            "all_day": True,
            "time_zone": "Europe/Copenhagen",
            "start_at": "2026-10-24T00:00:00+02:00",
            "end_at": "2026-10-26T00:00:00+01:00",
        },
    )
    served = await organizer.get(f"/v1/follow-ups/{created['id']}.ics")

    path = await uploaded(caldav, served.content)
    (event,) = Calendar.from_ical((await caldav.get(path)).content).walk("VEVENT")
    assert (event.start, event.end) == tuple(
        events_of(served)[created["id"]].decoded(k) for k in ("DTSTART", "DTEND")
    )
    # Dates are floating: the server places them in UTC (RFC 4791 9.9), whole days.
    sunday = datetime(2026, 10, 25, 23, 30, tzinfo=UTC)
    assert await in_range(caldav, path, sunday, sunday + timedelta(minutes=10)) == {
        f"{created['id']}@convene"
    }
    monday = datetime(2026, 10, 26, 0, 30, tzinfo=UTC)
    assert await in_range(caldav, path, monday, monday + timedelta(minutes=10)) == set()
