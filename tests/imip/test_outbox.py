"""Changes to a follow-up queue iMIP e-mails for its persons, in the change's transaction.

The app runs in-process on the test's rolled-back transaction with an SMTP server configured
(nothing is sent here: the worker sends, see test_sending.py); each test reads the outbox.
"""

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.retention.job import purge
from app.retention.purges import PURGES, Purge
from tests.fixtures.factories import TEST_SECRET, Caller, create_person, follow_up_body
from tests.imip.support import (
    MAIL_FROM,
    attendees,
    calendar_part,
    invite_person,
    mail_settings,
    person_participant,
    vevent,
)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None, **mail_settings())


async def _outbox(connection: AsyncConnection, follow_up_id: str) -> list[Any]:
    rows = await connection.execute(
        text(
            "SELECT recipient, method, sequence, message, status FROM mail_messages "
            "WHERE follow_up_id = :f ORDER BY created_at, sequence"
        ),
        {"f": follow_up_id},
    )
    return list(rows.all())


def _sent_e_mails() -> tuple[Purge, ...]:
    return tuple(p for p in PURGES if p.name == "sent e-mails")


def _parsed(row: Any) -> EmailMessage:
    message = email.message_from_string(row.message, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


async def _status(caller: Caller, follow_up_id: str) -> str:
    response = await caller.get(f"/v1/follow-ups/{follow_up_id}")
    assert response.status_code == 200, response.text
    return str(person_participant(response.json())["status"])


async def test_a_new_follow_up_queues_an_rfc_6047_request_and_the_person_is_invited(
    admin: Caller, member: Caller, connection: AsyncConnection
) -> None:
    _, created = await invite_person(admin, member, title="Kick-off", location="Room 2")

    assert person_participant(created)["status"] == "invited"
    (row,) = await _outbox(connection, created["id"])
    assert (row.recipient, row.method, row.status) == ("bo@customer.test", "REQUEST", "pending")
    message = _parsed(row)
    assert message["To"] == "Bo Holm <bo@customer.test>"
    assert MAIL_FROM in message["From"]
    assert message["Subject"] == "Invitation: Kick-off"
    assert message.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in message.iter_parts()]
    assert parts == ["text/plain", "text/calendar"]
    part, calendar = calendar_part(message)
    assert part.get_param("method") == "REQUEST"
    assert part.get_content_charset() == "utf-8"
    assert "Kick-off" in next(message.iter_parts()).get_content()
    assert calendar["METHOD"] == "REQUEST"
    event = vevent(calendar)
    assert str(event["UID"]) == f"{created['id']}@convene"
    assert event["SEQUENCE"] == row.sequence
    assert str(event["SUMMARY"]) == "Kick-off"
    assert str(event["LOCATION"]) == "Room 2"
    assert str(event["ORGANIZER"]).startswith("mailto:ada-")
    invited = attendees(event)["mailto:bo@customer.test"]
    assert invited.params["RSVP"] == "TRUE"
    assert invited.params["PARTSTAT"] == "NEEDS-ACTION"
    assert list(calendar.walk("VTIMEZONE"))


async def test_without_smtp_nothing_is_queued_and_the_person_stays_not_applicable(
    app: Any, admin: Caller, member: Caller, connection: AsyncConnection, tmp_path: Path
) -> None:
    app.state.settings = Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None)
    _, created = await invite_person(admin, member)
    cancelled = await member.post(f"/v1/follow-ups/{created['id']}/cancel", json={})
    assert cancelled.status_code == 200, cancelled.text

    assert person_participant(created)["status"] == "not_applicable"
    assert await _outbox(connection, created["id"]) == []


async def test_a_person_without_an_address_gets_nothing_and_stays_not_applicable(
    admin: Caller, member: Caller, connection: AsyncConnection
) -> None:
    _, created = await invite_person(admin, member, email_address=None)

    assert person_participant(created)["status"] == "not_applicable"
    assert await _outbox(connection, created["id"]) == []


async def test_a_move_asks_again_with_a_higher_sequence_and_resets_the_answer(
    admin: Caller, member: Caller, connection: AsyncConnection
) -> None:
    _, created = await invite_person(admin, member)
    await connection.execute(
        text(
            "UPDATE participants SET status = 'accepted' WHERE follow_up_id = :f AND person_id "
            "IS NOT NULL"
        ),
        {"f": created["id"]},
    )
    current = await member.get(f"/v1/follow-ups/{created['id']}")
    moved = await member.patch(
        f"/v1/follow-ups/{created['id']}",
        json={"start_at": "2026-03-31T09:00:00+02:00", "end_at": "2026-03-31T10:00:00+02:00"},
        headers={"If-Match": current.headers["etag"]},
    )
    assert moved.status_code == 200, moved.text

    first, second = await _outbox(connection, created["id"])
    assert second.method == "REQUEST"
    assert second.sequence > first.sequence
    message = _parsed(second)
    assert message["Subject"].startswith("Updated invitation")
    event = vevent(calendar_part(message)[1])
    assert event["SEQUENCE"] == second.sequence
    assert event.decoded("DTSTART").isoformat() == "2026-03-31T09:00:00+02:00"
    assert await _status(member, created["id"]) == "invited"


async def test_a_new_title_sends_an_update_and_a_new_kind_does_not(
    admin: Caller, member: Caller, connection: AsyncConnection
) -> None:
    _, created = await invite_person(admin, member)
    for change in ({"kind": "call"}, {"title": "Renamed"}):
        current = await member.get(f"/v1/follow-ups/{created['id']}")
        response = await member.patch(
            f"/v1/follow-ups/{created['id']}",
            json=change,
            headers={"If-Match": current.headers["etag"]},
        )
        assert response.status_code == 200, response.text

    rows = await _outbox(connection, created["id"])
    assert [r.method for r in rows] == ["REQUEST", "REQUEST"]
    assert str(vevent(calendar_part(_parsed(rows[1]))[1])["SUMMARY"]) == "Renamed"


async def test_cancelling_sends_method_cancel(
    admin: Caller, member: Caller, connection: AsyncConnection
) -> None:
    _, created = await invite_person(admin, member)
    response = await member.post(f"/v1/follow-ups/{created['id']}/cancel", json={})
    assert response.status_code == 200, response.text

    first, cancel = await _outbox(connection, created["id"])
    assert cancel.method == "CANCEL"
    assert cancel.sequence > first.sequence
    message = _parsed(cancel)
    part, calendar = calendar_part(message)
    assert part.get_param("method") == "CANCEL"
    assert calendar["METHOD"] == "CANCEL"
    assert str(vevent(calendar)["STATUS"]) == "CANCELLED"
    assert message["Subject"].startswith("Cancelled")


async def test_adding_and_removing_a_person_invites_then_cancels_for_them(
    admin: Caller, member: Caller, connection: AsyncConnection
) -> None:
    created = await member.create("/v1/follow-ups", follow_up_body())
    person = await create_person(admin, email="Lis@Customer.test", name="Lis Lund")
    added = await member.create(
        f"/v1/follow-ups/{created['id']}/participants", {"person_id": person["id"]}
    )
    assert added["status"] == "invited"
    response = await member.delete(f"/v1/follow-ups/{created['id']}/participants/{added['id']}")
    assert response.status_code == 204, response.text

    request, cancel = await _outbox(connection, created["id"])
    assert (request.method, cancel.method) == ("REQUEST", "CANCEL")
    assert cancel.recipient == "Lis@Customer.test"
    event = vevent(calendar_part(_parsed(cancel))[1])
    assert str(event["STATUS"]) == "CANCELLED"
    assert list(attendees(event)) == [str(event["ORGANIZER"]).lower(), "mailto:lis@customer.test"]


async def test_moving_one_occurrence_sends_the_series_with_its_override(
    admin: Caller, member: Caller, connection: AsyncConnection
) -> None:
    _, created = await invite_person(admin, member, recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"})
    current = await member.get(f"/v1/follow-ups/{created['id']}")
    response = await member.patch(
        f"/v1/follow-ups/{created['id']}/occurrences/2026-04-06T07:00:00Z",
        json={"start_at": "2026-04-07T07:00:00Z", "end_at": "2026-04-07T08:00:00Z"},
        headers={"If-Match": current.headers["etag"]},
    )
    assert response.status_code == 200, response.text

    _, moved = await _outbox(connection, created["id"])
    calendar = calendar_part(_parsed(moved))[1]
    assert "RRULE" in vevent(calendar)
    overrides = [e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" in e]
    assert len(overrides) == 1
    assert overrides[0]["SEQUENCE"] == moved.sequence


async def test_splitting_a_series_sends_the_shortened_series_and_invites_to_the_new_one(
    admin: Caller, member: Caller, connection: AsyncConnection
) -> None:
    _, created = await invite_person(admin, member, recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"})
    current = await member.get(f"/v1/follow-ups/{created['id']}")
    response = await member.post(
        f"/v1/follow-ups/{created['id']}/occurrences/2026-04-13T07:00:00Z/split",
        json={},
        headers={"If-Match": current.headers["etag"]},
    )
    assert response.status_code == 201, response.text
    new = response.json()

    _, shortened = await _outbox(connection, created["id"])
    assert shortened.method == "REQUEST"
    assert vevent(calendar_part(_parsed(shortened))[1])["RRULE"]["COUNT"] == [2]
    (invitation,) = await _outbox(connection, new["id"])
    assert invitation.method == "REQUEST"
    event = vevent(calendar_part(_parsed(invitation))[1])
    assert event["RRULE"]["COUNT"] == [2]
    assert str(event["UID"]).startswith(new["id"])
    assert await _status(member, new["id"]) == "invited"


async def test_settled_e_mails_go_after_their_age_and_pending_ones_stay(
    admin: Caller, member: Caller, connection: AsyncConnection, settings: Settings
) -> None:
    for status in ("succeeded", "failed", "pending", "succeeded"):
        _, created = await invite_person(admin, member)
        await connection.execute(
            text(
                "UPDATE mail_messages SET status = :s, updated_at = now() - interval '31 days' "
                "WHERE follow_up_id = :f"
            ),
            {"s": status, "f": created["id"]},
        )
    _, recent = await invite_person(admin, member)
    await connection.execute(
        text("UPDATE mail_messages SET status = 'succeeded' WHERE follow_up_id = :f"),
        {"f": recent["id"]},
    )
    doomed = (
        await connection.execute(
            text(
                "SELECT count(*) FROM mail_messages WHERE status <> 'pending' "
                "AND updated_at < now() - interval '30 days'"
            )
        )
    ).scalar_one()

    removed = await purge(connection, settings, _sent_e_mails())

    assert removed == {"sent e-mails": doomed}
    assert doomed >= 3
    statuses = await connection.execute(
        text("SELECT status FROM mail_messages WHERE follow_up_id = :f"), {"f": recent["id"]}
    )
    assert list(statuses.scalars()) == ["succeeded"]
    left = await connection.execute(
        text(
            "SELECT count(*) FROM mail_messages WHERE status = 'pending' "
            "AND updated_at < now() - interval '30 days'"
        )
    )
    assert left.scalar_one() >= 1


async def test_replies_can_be_routed_to_the_sender_as_organizer(
    app: Any, admin: Caller, member: Caller, connection: AsyncConnection, settings: Settings
) -> None:
    app.state.settings = settings.model_copy(update={"mail_replies_to_sender": True})
    _, created = await invite_person(admin, member)

    (row,) = await _outbox(connection, created["id"])
    organizer = vevent(calendar_part(_parsed(row))[1])["ORGANIZER"]
    assert str(organizer) == f"mailto:{MAIL_FROM}"
    assert organizer.params["CN"] == "Ada Jensen"
