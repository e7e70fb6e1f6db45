"""A person added to one occurrence alone is asked to it alone; one taken off it, told so.

RFC 5546: a REQUEST with only that occurrence's VEVENT (its RECURRENCE-ID), and a CANCEL of
that RECURRENCE-ID; the other persons get the series with the occurrence's own attendees.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fixtures.factories import Caller, create_person
from tests.fixtures.responses import ok
from tests.followups.test_occurrence_participants import (
    SECOND,
    START,
    add_to,
    by_occurrence,
    take_off,
)
from tests.imip.support import attendees, calendar_part
from tests.imip.test_outbox import _outbox, _parsed, settings  # noqa: F401 (a fixture)


async def test_a_person_is_asked_to_their_occurrence_and_told_when_taken_off(
    admin: Caller, member: Caller, connection: AsyncConnection
) -> None:
    regular = await create_person(admin, email="rita@customer.test")
    guest = await create_person(admin, email="bo@customer.test")
    created = await member.create(
        "/v1/follow-ups",
        {
            "title": "Weekly",
            "start_at": START.isoformat(),
            "end_at": (START + timedelta(hours=1)).isoformat(),
            "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4"},
            "participants": [{"person_id": regular["id"]}],
        },
    )
    sent_before = len(await _outbox(connection, created["id"]))

    added = ok(await add_to(member, created["id"], SECOND, {"person_id": guest["id"]}), 201)

    assert added["status"] == "invited"
    rows = (await _outbox(connection, created["id"]))[sent_before:]
    by_recipient = {row.recipient: row for row in rows}
    assert set(by_recipient) == {"rita@customer.test", "bo@customer.test"}
    assert {row.method for row in rows} == {"REQUEST"}
    _, asked = calendar_part(_parsed(by_recipient["bo@customer.test"]))
    only = by_occurrence(asked)
    assert set(only) == {SECOND}  # the occurrence alone, no series' VEVENT
    assert "mailto:bo@customer.test" in attendees(only[SECOND])
    assert attendees(only[SECOND])["mailto:bo@customer.test"].params["RSVP"] == "TRUE"
    _, series = calendar_part(_parsed(by_recipient["rita@customer.test"]))
    events = by_occurrence(series)
    assert set(events) == {None, SECOND}
    assert "mailto:bo@customer.test" not in attendees(events[None])
    assert "mailto:bo@customer.test" in attendees(events[SECOND])

    sent_before = len(await _outbox(connection, created["id"]))
    removed = await take_off(member, created["id"], SECOND, added["id"])

    assert removed.status_code == 204, removed.text
    rows = (await _outbox(connection, created["id"]))[sent_before:]
    (cancel,) = [row for row in rows if row.recipient == "bo@customer.test"]
    assert cancel.method == "CANCEL"
    _, cancelled = calendar_part(_parsed(cancel))
    (event,) = by_occurrence(cancelled).values()
    assert event.decoded("RECURRENCE-ID").astimezone(UTC) == SECOND
    assert str(event["STATUS"]) == "CANCELLED"
    assert "mailto:bo@customer.test" in attendees(event)
    # Rita is taken off the same occurrence: a CANCEL of it for her; she keeps the others.
    rita = next(
        p["id"]
        for p in ok(await member.get(f"/v1/follow-ups/{created['id']}"))["participants"]
        if p["person_id"] == regular["id"]
    )
    sent_before = len(await _outbox(connection, created["id"]))
    assert (await take_off(member, created["id"], SECOND, rita)).status_code == 204
    rows = (await _outbox(connection, created["id"]))[sent_before:]
    assert [row.method for row in rows] == ["CANCEL", "REQUEST"]
    _, told = calendar_part(_parsed(rows[0]))
    assert {rid for rid in by_occurrence(told)} == {SECOND}
    _, updated = calendar_part(_parsed(rows[1]))
    events = by_occurrence(updated)
    assert "mailto:rita@customer.test" in attendees(events[None])
    assert "mailto:rita@customer.test" not in attendees(events[SECOND])
    assert isinstance(events[SECOND].decoded("DTSTART"), datetime)
