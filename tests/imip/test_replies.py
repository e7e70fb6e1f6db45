"""`POST /v1/imip/replies`: an external person's e-mailed answer, recorded like a colleague's."""

import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.imip.errors import MAX_REPLY_BYTES
from tests.fixtures.factories import TEST_SECRET, Caller, follow_up_body
from tests.imip.support import invite_person, mail_settings, person_participant, reply
from tests.webhooks.support import RESPONSES, world

CALENDAR = {"content-type": "text/calendar; charset=utf-8"}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None, **mail_settings())


def _uid(follow_up: dict[str, Any]) -> str:
    return f"{follow_up['id']}@convene"


async def _post(caller: Caller, body: bytes, headers: dict[str, str] | None = None) -> Any:
    return await caller.post("/v1/imip/replies", content=body, headers=headers or CALENDAR)


async def _person_status(caller: Caller, follow_up_id: str) -> str:
    response = await caller.get(f"/v1/follow-ups/{follow_up_id}")
    assert response.status_code == 200, response.text
    return str(person_participant(response.json())["status"])


def _as_email(calendar: bytes) -> bytes:
    """The reply as a mail client sends it: text and calendar as alternatives."""
    message = EmailMessage(policy=SMTP)
    message["From"] = "Bo Holm <bo@customer.test>"
    message["To"] = "convene@convene.test"
    message["Subject"] = "Declined: Quarterly review"
    message.set_content("Bo Holm has declined.")
    message.add_alternative(calendar.decode(), subtype="calendar", params={"method": "REPLY"})
    return message.as_bytes()


async def test_a_reply_sets_the_status_and_is_kept_in_the_history_with_its_event(
    admin: Caller, member: Caller
) -> None:
    person, created = await invite_person(admin, member)
    body = reply(_uid(created), "BO@customer.test", "ACCEPTED", comment="See you there")

    response = await _post(admin, body)

    assert response.status_code == 200, response.text
    shown = response.json()
    assert (shown["kind"], shown["person_id"], shown["status"]) == (
        "person",
        person["id"],
        "accepted",
    )
    assert shown["responded_at"] is not None
    assert await _person_status(member, created["id"]) == "accepted"
    history = (await member.get(f"/v1/follow-ups/{created['id']}/responses")).json()["items"]
    (answer,) = history
    assert answer["person_id"] == person["id"]
    assert answer["associate_id"] is None
    assert answer["display_name"] == "Bo Holm"
    assert (answer["status"], answer["previous_status"]) == ("accepted", "invited")
    assert answer["comment"] == "See you there"  # the organizer reads it
    events = (await admin.get("/v1/events", params={"type": "invitation.accepted"})).json()
    (event,) = events["items"]
    data = event["data"]
    assert data["person_id"] == person["id"]
    assert data["associate_id"] is None
    assert data["participant_id"] == shown["id"]
    assert (data["status"], data["previous_status"], data["has_comment"]) == (
        "accepted",
        "invited",
        True,
    )
    notes = (await member.get("/v1/notifications")).json()["items"]
    assert any(n["kind"] == "responded" and "Bo Holm" in n["message"] for n in notes)


async def test_the_whole_e_mail_is_accepted_and_a_later_answer_replaces_the_first(
    admin: Caller, member: Caller
) -> None:
    _, created = await invite_person(admin, member)
    first = await _post(admin, reply(_uid(created), "bo@customer.test", "TENTATIVE"))
    assert first.status_code == 200, first.text

    second = await _post(
        admin,
        _as_email(reply(_uid(created), "bo@customer.test", "DECLINED")),
        {"content-type": "message/rfc822"},
    )

    assert second.status_code == 200, second.text
    assert second.json()["status"] == "declined"
    history = (await member.get(f"/v1/follow-ups/{created['id']}/responses")).json()["items"]
    assert [(h["status"], h["previous_status"]) for h in history] == [
        ("tentative", "invited"),
        ("declined", "tentative"),
    ]


async def test_no_token_is_401(client: Any, admin: Caller, member: Caller) -> None:
    _, created = await invite_person(admin, member)
    response = await client.post(
        "/v1/imip/replies",
        content=reply(_uid(created), "bo@customer.test", "ACCEPTED"),
        headers=CALENDAR,
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_a_member_token_is_403_and_changes_nothing(admin: Caller, member: Caller) -> None:
    _, created = await invite_person(admin, member)
    response = await _post(member, reply(_uid(created), "bo@customer.test", "ACCEPTED"))
    assert response.status_code == 403
    assert await _person_status(member, created["id"]) == "invited"


async def test_another_tenants_follow_up_is_404(
    admin: Caller, other_admin: Caller, member: Caller
) -> None:
    _, created = await invite_person(admin, member)
    response = await _post(other_admin, reply(_uid(created), "bo@customer.test", "ACCEPTED"))
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_event"
    assert await _person_status(member, created["id"]) == "invited"


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda uid: reply(uid, "bo@customer.test", "ACCEPTED", method="REQUEST"), "not_a_reply"),
        (lambda uid: reply(uid, "eve@elsewhere.test", "ACCEPTED"), "unknown_attendee"),
        (lambda uid: reply(uid, "bo@customer.test", "NEEDS-ACTION"), "invalid_reply"),
        (lambda uid: b"BEGIN:VCALENDAR\r\nthis is not iCalendar", "invalid_reply"),
        (
            lambda uid: reply(uid, "bo@customer.test", "ACCEPTED").replace(b"mailto:", b"tel:"),
            "invalid_reply",
        ),
    ],
)
async def test_a_bad_reply_is_422_and_changes_nothing(
    admin: Caller, member: Caller, make: Any, code: str
) -> None:
    _, created = await invite_person(admin, member)
    response = await _post(admin, make(_uid(created)))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert await _person_status(member, created["id"]) == "invited"
    history = (await member.get(f"/v1/follow-ups/{created['id']}/responses")).json()["items"]
    assert history == []


async def test_an_e_mail_without_a_calendar_part_is_422(admin: Caller) -> None:
    body = b"From: bo@customer.test\r\nSubject: Thanks\r\n\r\nSee you!\r\n"
    response = await _post(admin, body, {"content-type": "message/rfc822"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_reply"


async def test_a_uid_not_of_ours_is_404(admin: Caller) -> None:
    for uid in ("meeting-17@calendar.example", f"{uuid.uuid4()}@convene"):
        response = await _post(admin, reply(uid, "bo@customer.test", "ACCEPTED"))
        assert response.status_code == 404
        assert response.json()["code"] == "unknown_event"


async def test_a_reply_past_the_size_limit_is_413(admin: Caller, member: Caller) -> None:
    _, created = await invite_person(admin, member)
    body = reply(_uid(created), "bo@customer.test", "ACCEPTED", comment="x" * MAX_REPLY_BYTES)
    response = await _post(admin, body)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert await _person_status(member, created["id"]) == "invited"


async def test_another_media_type_is_415(admin: Caller) -> None:
    response = await admin.post("/v1/imip/replies", json={"status": "accepted"})
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


async def test_a_reply_to_a_cancelled_follow_up_is_409(admin: Caller, member: Caller) -> None:
    _, created = await invite_person(admin, member)
    assert (await member.post(f"/v1/follow-ups/{created['id']}/cancel", json={})).is_success
    response = await _post(admin, reply(_uid(created), "bo@customer.test", "ACCEPTED"))
    assert response.status_code == 409
    assert response.json()["code"] == "follow_up_cancelled"


async def test_a_colleague_cannot_be_answered_for_by_e_mail(admin: Caller, member: Caller) -> None:
    colleague = await admin.new_member(email="carl@convene.test")
    created = await member.create(
        "/v1/follow-ups", follow_up_body(participants=[{"associate_id": colleague.subject}])
    )
    response = await _post(admin, reply(_uid(created), "carl@convene.test", "ACCEPTED"))
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_attendee"


@pytest.fixture(scope="module")
def committed_url(make_database: Callable[..., str]) -> str:
    return make_database()


async def test_a_reply_fires_the_invitation_webhook_to_a_real_receiver(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path, **mail_settings()) as w:
        webhook = await w.subscribe(RESPONSES)
        organizer = await w.admin.new_member(name="Olga Organizer")
        person, created = await invite_person(w.admin, organizer)

        response = await _post(w.admin, reply(_uid(created), "bo@customer.test", "TENTATIVE"))
        assert response.status_code == 200, response.text

        (received,) = await w.receiver.wait_for(1)
        payload = received.verified_by(webhook["secret"])
        assert payload["type"] == "invitation.tentative"
        data = payload["data"]
        assert data["follow_up_id"] == created["id"]
        assert data["person_id"] == person["id"]
        assert data["associate_id"] is None
        assert (data["status"], data["previous_status"]) == ("tentative", "invited")


async def test_a_persons_lifecycle_invited_answered_moved_asked_again_cancelled(
    admin: Caller, member: Caller
) -> None:
    _, created = await invite_person(admin, member)
    url = f"/v1/follow-ups/{created['id']}"
    steps = []

    sequence = 1

    async def answer(partstat: str) -> int:
        body = reply(_uid(created), "bo@customer.test", partstat, sequence=sequence)
        response = await _post(admin, body)
        return int(response.status_code)

    steps.append(("created", 0, await _person_status(member, created["id"])))
    steps.append(
        ("accepted", await answer("ACCEPTED"), await _person_status(member, created["id"]))
    )
    current = await member.get(url)
    moved = await member.patch(
        url,
        json={"start_at": "2026-04-01T09:00:00+02:00", "end_at": "2026-04-01T10:00:00+02:00"},
        headers={"If-Match": current.headers["etag"]},
    )
    assert moved.status_code == 200, moved.text
    steps.append(("moved", 0, await _person_status(member, created["id"])))
    steps.append(("stale", await answer("DECLINED"), await _person_status(member, created["id"])))
    sequence = int(moved.headers["etag"].strip('"'))  # the new request's SEQUENCE
    steps.append(
        ("tentative", await answer("TENTATIVE"), await _person_status(member, created["id"]))
    )
    assert (await member.post(f"{url}/cancel", json={})).status_code == 200
    steps.append(
        ("after cancel", await answer("DECLINED"), await _person_status(member, created["id"]))
    )

    assert steps == [
        ("created", 0, "invited"),
        ("accepted", 200, "accepted"),
        ("moved", 0, "invited"),
        ("stale", 409, "invited"),
        ("tentative", 200, "tentative"),
        ("after cancel", 409, "tentative"),
    ]


async def test_a_retried_reply_with_an_idempotency_key_is_replayed(
    admin: Caller, member: Caller
) -> None:
    _, created = await invite_person(admin, member)
    body = reply(_uid(created), "bo@customer.test", "ACCEPTED")
    headers = {**CALENDAR, "Idempotency-Key": "reply-1"}

    first = await _post(admin, body, headers)
    again = await _post(admin, body, headers)

    assert first.status_code == again.status_code == 200, first.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    history = (await member.get(f"/v1/follow-ups/{created['id']}/responses")).json()["items"]
    assert len(history) == 1
