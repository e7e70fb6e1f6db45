"""An e-mailed reply with RECURRENCE-ID answers one occurrence of a series, as a colleague can."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar

from app.config import Settings
from tests.fixtures.factories import TEST_SECRET, Caller
from tests.fixtures.responses import ok
from tests.imip.support import invite_person, mail_settings, person_participant, reply

CALENDAR = {"content-type": "text/calendar; charset=utf-8"}
# Mondays at 09:00 in Copenhagen (summer time): 30 March, 6, 13 and 20 April 2026.
FIRST = datetime(2026, 3, 30, 7, tzinfo=UTC)
SECOND, THIRD, FOURTH = (FIRST + timedelta(weeks=n) for n in (1, 2, 3))
BO = "bo@customer.test"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None, **mail_settings())


async def _weekly(admin: Caller, organizer: Caller, **fields: Any) -> dict[str, Any]:
    """A weekly series of four with the person Bo invited by e-mail."""
    _, created = await invite_person(
        admin,
        organizer,
        time_zone="Europe/Copenhagen",
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"},
        **fields,
    )
    return created


def _answer(
    follow_up: dict[str, Any], partstat: str, when: str, sequence: int = 1, **extra: str
) -> bytes:
    """Bo's reply to one occurrence: `when` is the RECURRENCE-ID line's parameters and value."""
    body = reply(f"{follow_up['id']}@convene", BO, partstat, sequence=sequence, **extra)
    return body.replace(b"DTSTAMP:", f"RECURRENCE-ID{when}\r\nDTSTAMP:".encode())


def _joined(first: bytes, *others: bytes) -> bytes:
    """One reply holding the VEVENTs of all these replies, the first's first."""
    events = [
        b"BEGIN:VEVENT" + o.split(b"BEGIN:VEVENT", 1)[1].split(b"END:VCALENDAR")[0] for o in others
    ]
    return first.replace(b"END:VCALENDAR\r\n", b"".join(events) + b"END:VCALENDAR\r\n")


async def _post(caller: Caller, body: bytes) -> Any:
    return await caller.post("/v1/imip/replies", content=body, headers=CALENDAR)


async def _bo(caller: Caller, follow_up_id: str) -> dict[str, Any]:
    """Bo as the follow-up's read shows him, with his answers to single occurrences."""
    return person_participant(ok(await caller.get(f"/v1/follow-ups/{follow_up_id}")))


def _answers(person: dict[str, Any]) -> list[tuple[datetime, str]]:
    return [
        (datetime.fromisoformat(a["occurrence_start"]), a["status"])
        for a in person["occurrence_answers"]
    ]


async def _history(caller: Caller, follow_up_id: str) -> list[tuple[Any, ...]]:
    items = ok(await caller.get(f"/v1/follow-ups/{follow_up_id}/responses"))["items"]
    return [
        (
            h["status"],
            h["previous_status"],
            h["occurrence_start"] and datetime.fromisoformat(h["occurrence_start"]),
        )
        for h in items
    ]


@pytest.mark.parametrize(
    "when",
    [";TZID=Europe/Copenhagen:20260406T090000", ":20260406T070000Z", ":20260406T090000"],
    ids=["zoned", "utc", "floating-in-the-series-zone"],
)
async def test_a_reply_with_a_recurrence_id_answers_that_occurrence_alone(
    admin: Caller, member: Caller, when: str
) -> None:
    created = await _weekly(admin, member)

    response = await _post(admin, _answer(created, "DECLINED", when, comment="Away that week"))

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "invited"  # the series is still to be answered
    bo = await _bo(member, created["id"])
    assert bo["status"] == "invited"
    assert _answers(bo) == [(SECOND, "declined")]
    assert await _history(member, created["id"]) == [("declined", "invited", SECOND)]
    (event,) = ok(await admin.get("/v1/events", params={"type": "invitation.declined"}))["items"]
    data = event["data"]
    assert data["person_id"] == bo["person_id"]
    assert datetime.fromisoformat(data["occurrence_start"]) == SECOND
    assert (data["previous_status"], data["has_comment"]) == ("invited", True)
    # The organizer's calendar shows it: that occurrence's VEVENT has Bo's answer.
    ics = Calendar.from_ical((await member.get(f"/v1/follow-ups/{created['id']}.ics")).content)
    partstats = {
        (e.decoded("RECURRENCE-ID").astimezone(UTC) if "RECURRENCE-ID" in e else None): [
            a.params["PARTSTAT"] for a in e["ATTENDEE"] if str(a) == f"mailto:{BO}"
        ]
        for e in ics.walk("VEVENT")
    }
    assert partstats == {None: ["NEEDS-ACTION"], SECOND: ["DECLINED"]}


async def test_answers_to_an_occurrence_replace_each_other_and_a_series_reply_all(
    admin: Caller, member: Caller
) -> None:
    created = await _weekly(admin, member)
    uid = f"{created['id']}@convene"
    ok(await _post(admin, reply(uid, BO, "ACCEPTED")))
    ok(await _post(admin, _answer(created, "TENTATIVE", ":20260413T070000Z")))
    ok(await _post(admin, _answer(created, "DECLINED", ":20260413T070000Z")))
    ok(await _post(admin, _answer(created, "DECLINED", ":20260420T070000Z")))
    bo = await _bo(member, created["id"])
    assert bo["status"] == "accepted"
    assert _answers(bo) == [(THIRD, "declined"), (FOURTH, "declined")]

    ok(await _post(admin, reply(uid, BO, "TENTATIVE")))

    bo = await _bo(member, created["id"])
    assert (bo["status"], bo["occurrence_answers"]) == ("tentative", [])
    assert await _history(member, created["id"]) == [
        ("accepted", "invited", None),
        ("tentative", "accepted", THIRD),
        ("declined", "tentative", THIRD),
        ("declined", "accepted", FOURTH),
        ("tentative", "accepted", None),
    ]


async def test_a_reply_of_the_series_with_its_occurrences_answers_the_series(
    admin: Caller, member: Caller
) -> None:
    created = await _weekly(admin, member)
    # Apple Calendar and Outlook add each exception's VEVENT: the series' own answers.
    body = _joined(
        reply(f"{created['id']}@convene", BO, "ACCEPTED"),
        _answer(created, "DECLINED", ":20260406T070000Z"),
    )

    assert len(Calendar.from_ical(body).walk("VEVENT")) == 2
    ok(await _post(admin, body))

    bo = await _bo(member, created["id"])
    assert (bo["status"], bo["occurrence_answers"]) == ("accepted", [])


async def test_an_occurrence_split_off_keeps_the_persons_answer(
    admin: Caller, member: Caller
) -> None:
    created = await _weekly(admin, member)
    ok(await _post(admin, _answer(created, "DECLINED", ":20260420T070000Z")))

    split = await member.post(
        f"/v1/follow-ups/{created['id']}/occurrences/{THIRD.isoformat()}/split",
        json={},
        headers={"If-Match": (await member.get(f"/v1/follow-ups/{created['id']}")).headers["ETag"]},
    )

    assert split.status_code == 201, split.text
    assert _answers(await _bo(member, split.json()["id"])) == [(FOURTH, "declined")]
    assert _answers(await _bo(member, created["id"])) == []


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("single", 422, "not_a_series"),
        ("unknown", 422, "unknown_occurrence"),
        ("cancelled", 409, "occurrence_cancelled"),
        ("two occurrences", 422, "invalid_reply"),
        ("this and future", 422, "invalid_reply"),
    ],
)
async def test_a_reply_to_no_live_occurrence_is_refused_and_changes_nothing(
    admin: Caller, member: Caller, case: str, status: int, code: str
) -> None:
    if case == "single":
        _, created = await invite_person(admin, member)
    else:
        created = await _weekly(admin, member)
    body = _answer(created, "ACCEPTED", ":20260406T070000Z")
    if case == "unknown":
        body = _answer(created, "ACCEPTED", ":20260407T070000Z")
    elif case == "cancelled":
        cancel = f"/v1/follow-ups/{created['id']}/occurrences/{SECOND.isoformat()}/cancel"
        ok(await member.post(cancel, json={}))
        # Answering the request the cancel sent (a stale SEQUENCE would be refused first).
        body = _answer(created, "ACCEPTED", ":20260406T070000Z", sequence=99)
    elif case == "two occurrences":
        body = _joined(body, _answer(created, "ACCEPTED", ":20260413T070000Z"))
    elif case == "this and future":
        body = _answer(created, "ACCEPTED", ";RANGE=THISANDFUTURE:20260406T070000Z")

    response = await _post(admin, body)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    bo = await _bo(member, created["id"])
    assert (bo["status"], bo["occurrence_answers"]) == ("invited", [])
    assert await _history(member, created["id"]) == []


async def test_moving_an_occurrence_asks_a_person_who_answered_it_again(
    admin: Caller, member: Caller
) -> None:
    created = await _weekly(admin, member)
    ok(await _post(admin, _answer(created, "ACCEPTED", ":20260406T070000Z")))
    url = f"/v1/follow-ups/{created['id']}/occurrences/{SECOND.isoformat()}"
    later = {
        "start_at": (SECOND + timedelta(hours=2)).isoformat(),
        "end_at": (SECOND + timedelta(hours=3)).isoformat(),
    }

    ok(await member.patch(url, json=later, headers={"If-Match": "*"}))

    (answer,) = (await _bo(member, created["id"]))["occurrence_answers"]
    assert (answer["status"], answer["rescheduled"]) == ("not_read", True)
    # The new request's SEQUENCE answered: that occurrence is Bo's again.
    etag = (await member.get(f"/v1/follow-ups/{created['id']}")).headers["ETag"]
    body = _answer(created, "DECLINED", ":20260406T070000Z", sequence=int(etag.strip('"')))
    ok(await _post(admin, body))
    (answer,) = (await _bo(member, created["id"]))["occurrence_answers"]
    assert (answer["status"], answer["rescheduled"]) == ("declined", False)
