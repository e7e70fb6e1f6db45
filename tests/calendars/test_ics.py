"""GET /v1/follow-ups/{id}.ics: the follow-up as iCalendar, parsed back with `icalendar`."""

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from icalendar import Calendar, Event

from app.calendars.ical import PARTSTAT
from app.models.states import ParticipantStatus
from tests.fixtures.factories import Caller, create_person, create_resource
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized
from tests.followups.support import World, book, make_world, participant, respond

COPENHAGEN = ZoneInfo("Europe/Copenhagen")


@pytest.fixture
async def world(admin: Caller) -> World:
    return await make_world(admin)


def ics_url(follow_up_id: str) -> str:
    return f"/v1/follow-ups/{follow_up_id}.ics"


def parsed(response: httpx.Response) -> Calendar:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\n")
    return Calendar.from_ical(response.content)


def only_event(calendar: Calendar) -> Event:
    (event,) = calendar.walk("VEVENT")
    assert isinstance(event, Event)
    return event


def attendees_by_address(event: Event) -> dict[str, dict[str, str]]:
    found = event.get("ATTENDEE")
    listed = found if isinstance(found, list) else [found]
    return {str(a): dict(a.params) for a in listed}


async def test_a_follow_up_as_a_calendar(world: World) -> None:
    follow_up = world.follow_up

    calendar = parsed(await world.organizer.get(ics_url(follow_up["id"])))

    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    (zone,) = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == "Europe/Copenhagen"
    event = only_event(calendar)
    assert event["UID"] == f"{follow_up['id']}@convene"
    assert event["SUMMARY"] == follow_up["title"]
    assert event["STATUS"] == "CONFIRMED"
    assert event["SEQUENCE"] == int(world.etag.strip('"'))  # the seq the ETag names
    assert event["DTSTART"].params["TZID"] == "Europe/Copenhagen"
    assert event.start == datetime(2026, 3, 30, 9, tzinfo=COPENHAGEN)
    assert event.end == datetime(2026, 3, 30, 10, tzinfo=COPENHAGEN)
    assert event["DTSTAMP"].dt is not None


async def test_organizer_and_attendees_with_their_answers(world: World) -> None:
    calendar = parsed(await world.organizer.get(ics_url(world.follow_up["id"])))
    event = only_event(calendar)
    emails = {}
    for caller in (world.organizer, world.colleague, world.guest):
        emails[caller.subject] = ok_email(await caller.get(f"/v1/associates/{caller.subject}"))

    organizer = event["ORGANIZER"]
    assert str(organizer) == f"mailto:{emails[world.organizer.subject]}"
    assert organizer.params["CN"] == "Olga Organizer"
    attendees = attendees_by_address(event)
    assert attendees[f"mailto:{emails[world.organizer.subject]}"] == {
        "CN": "Olga Organizer",
        "CUTYPE": "INDIVIDUAL",
        "ROLE": "CHAIR",
        "PARTSTAT": "ACCEPTED",
    }
    assert attendees[f"mailto:{emails[world.colleague.subject]}"]["PARTSTAT"] == "DECLINED"
    assert attendees[f"mailto:{emails[world.guest.subject]}"]["PARTSTAT"] == "NEEDS-ACTION"
    room = attendees[f"urn:uuid:{world.room['id']}"]
    assert (room["CUTYPE"], room["PARTSTAT"], room["CN"]) == ("ROOM", "ACCEPTED", "Boardroom")
    # The person has no e-mail address: a urn:uuid, and not answered (no diary).
    person = attendees[f"urn:uuid:{world.person['id']}"]
    assert (person["CUTYPE"], person["PARTSTAT"]) == ("INDIVIDUAL", "NEEDS-ACTION")
    assert len(attendees) == len(world.follow_up["participants"])


def ok_email(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    email: str = response.json()["email"]
    return email


async def test_no_answers_comment_is_in_it(world: World) -> None:
    """The colleague's decline carries "Away that week", which other participants may not read."""
    for caller in (world.organizer, world.colleague, world.guest):
        response = await caller.get(ics_url(world.follow_up["id"]))

        assert response.status_code == 200
        assert b"Away that week" not in response.content


async def test_every_status_has_a_partstat() -> None:
    assert set(PARTSTAT) == set(ParticipantStatus)


async def test_answers_change_partstat_and_sequence(world: World) -> None:
    before = only_event(parsed(await world.organizer.get(ics_url(world.follow_up["id"]))))

    await respond(
        world.guest,
        participant(world.follow_up, associate_id=world.guest.subject)["id"],
        "tentative",
    )

    after = only_event(parsed(await world.organizer.get(ics_url(world.follow_up["id"]))))
    partstats = {a.params["CN"]: a.params["PARTSTAT"] for a in after["ATTENDEE"]}
    assert partstats["Gina Guest"] == "TENTATIVE"
    assert after["SEQUENCE"] > before["SEQUENCE"]


async def test_details_equipment_and_a_person_with_an_email(admin: Caller) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    projector = await create_resource(admin, name="Projector", kind="equipment")
    person = await create_person(admin, name="Dina Dahl", email="dina@nordlys.example")
    created = await book(
        organizer,
        title="Review; budget, 2027",
        location="Fjord room, 2nd floor",
        description="Agenda:\n1. Budget\n2. Hiring",
        participants=[{"resource_id": projector["id"]}, {"person_id": person["id"]}],
    )

    event = only_event(parsed(await organizer.get(ics_url(created["id"]))))

    assert event["SUMMARY"] == "Review; budget, 2027"
    assert event["LOCATION"] == "Fjord room, 2nd floor"
    assert event["DESCRIPTION"] == "Agenda:\n1. Budget\n2. Hiring"
    attendees = attendees_by_address(event)
    assert attendees[f"urn:uuid:{projector['id']}"]["CUTYPE"] == "RESOURCE"
    assert attendees["mailto:dina@nordlys.example"]["CN"] == "Dina Dahl"


async def test_all_day_is_dates(admin: Caller) -> None:
    organizer = await admin.new_member()
    created = await book(
        organizer,
        all_day=True,
        start_at="2026-10-24T00:00:00+02:00",
        end_at="2026-10-26T00:00:00+01:00",
        time_zone="Europe/Copenhagen",
    )

    calendar = parsed(await organizer.get(ics_url(created["id"])))

    event = only_event(calendar)
    assert event["DTSTART"].params["VALUE"] == "DATE"
    assert (event.start, event.end) == (date(2026, 10, 24), date(2026, 10, 26))


async def test_cancelled(world: World) -> None:
    url = f"/v1/follow-ups/{world.follow_up['id']}"
    assert (await world.organizer.post(f"{url}/cancel", json={"reason": "Ill"})).status_code == 200

    event = only_event(parsed(await world.colleague.get(ics_url(world.follow_up["id"]))))

    assert event["STATUS"] == "CANCELLED"
    assert event["TRANSP"] == "TRANSPARENT"


async def test_the_json_route_is_untouched(world: World) -> None:
    response = await world.organizer.get(f"/v1/follow-ups/{world.follow_up['id']}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"


# Access -------------------------------------------------------------------------------------


async def test_without_a_token_is_401(world: World, client: httpx.AsyncClient) -> None:
    assert_unauthorized(await client.get(ics_url(world.follow_up["id"])), "unauthorized")


async def test_a_colleague_not_in_it_gets_404(world: World) -> None:
    assert_problem(await world.stranger.get(ics_url(world.follow_up["id"])), 404, "not_found")


async def test_another_tenant_gets_404(world: World, other_admin: Caller) -> None:
    foreigner = await other_admin.new_member()

    assert_problem(await foreigner.get(ics_url(world.follow_up["id"])), 404, "not_found")


async def test_an_admin_token_is_not_an_associate(world: World) -> None:
    response = await world.admin.get(ics_url(world.follow_up["id"]))

    assert_problem(response, 403, "not_an_associate")


async def test_an_unknown_follow_up_is_404(world: World) -> None:
    assert_problem(await world.organizer.get(ics_url(str(uuid.uuid4()))), 404, "not_found")


async def test_a_malformed_id_is_422(world: World) -> None:
    assert_invalid(await world.organizer.get(ics_url("not-a-uuid")), "path", "follow_up_id")


async def test_a_series_has_its_rule_its_cancelled_and_its_moved_occurrences(world: World) -> None:
    weekly = {
        "title": "Stand-up",
        "start_at": "2026-03-23T09:00:00+01:00",
        "end_at": "2026-03-23T09:15:00+01:00",
        "time_zone": "Europe/Copenhagen",
        "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"},
    }
    series = await world.organizer.create("/v1/follow-ups", weekly)
    path = f"/v1/follow-ups/{series['id']}/occurrences"
    moved = {"start_at": "2026-03-31T14:00:00+02:00", "end_at": "2026-03-31T14:15:00+02:00"}
    # The second occurrence is on 30 March, after the change to summer time: still 09:00 local.
    response = await world.organizer.patch(
        f"{path}/2026-03-30T07:00:00Z", json=moved, headers={"If-Match": "*"}
    )
    assert response.status_code == 200, response.text
    cancelled = await world.organizer.post(f"{path}/2026-04-06T07:00:00Z/cancel", json={})
    assert cancelled.status_code == 200, cancelled.text

    calendar = parsed(await world.organizer.get(ics_url(series["id"])))

    master, override = calendar.walk("VEVENT")
    assert master["UID"] == override["UID"] == f"{series['id']}@convene"
    assert master["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=3"
    assert master.start == datetime(2026, 3, 23, 9, tzinfo=COPENHAGEN)
    (excluded,) = master["EXDATE"].dts
    assert excluded.dt == datetime(2026, 4, 6, 9, tzinfo=COPENHAGEN)
    assert "RRULE" not in override
    assert override["RECURRENCE-ID"].dt == datetime(2026, 3, 30, 9, tzinfo=COPENHAGEN)
    assert override.start == datetime(2026, 3, 31, 14, tzinfo=COPENHAGEN)
    assert override.end == datetime(2026, 3, 31, 14, 15, tzinfo=COPENHAGEN)


async def test_an_all_day_series_split_ends_on_a_date(admin: Caller) -> None:
    organizer = await admin.new_member()
    created = await book(
        organizer,
        all_day=True,
        start_at="2026-03-23T00:00:00+01:00",
        end_at="2026-03-24T00:00:00+01:00",
        time_zone="Europe/Copenhagen",
        recurrence={"rrule": "FREQ=WEEKLY"},
    )
    # Split at the third Monday (6 April, in summer time): its midnight in Copenhagen.
    split = await organizer.post(
        f"/v1/follow-ups/{created['id']}/occurrences/2026-04-05T22:00:00Z/split",
        headers={"If-Match": "*"},
    )
    assert split.status_code == 201, split.text

    event = only_event(parsed(await organizer.get(ics_url(created["id"]))))

    # RFC 5545: UNTIL takes DTSTART's type; the original ends the day before the split.
    assert event["RRULE"]["UNTIL"] == [date(2026, 4, 5)]
    assert split.json()["start_date"] == "2026-04-06"
