"""The events table: one event per change, rising seq per follow-up, nothing on rollback."""

import uuid
from datetime import datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

import app.invitations.service as invitation_service
from app.auth.principals import Actor
from app.invitations.repository import InvitationRepository
from app.invitations.schemas import ResponseRequest
from app.kit.errors import Conflict
from app.models import Event, FollowUp, Notification, Participant, Response
from app.webhooks.events import record_event
from tests.fixtures.factories import Caller, follow_up_body

RESPONSE_KEYS = {
    "tenant_id",
    "follow_up_id",
    "participant_id",
    "associate_id",
    "person_id",
    "status",
    "previous_status",
    "occurrence_start",
    "has_comment",
    "responded_at",
    "seq",
}


async def _events(connection: AsyncConnection, follow_up_id: str) -> list[Any]:
    """The follow-up's event rows, in seq order."""
    rows = await connection.execute(
        select(Event.__table__)
        .where(Event.follow_up_id == uuid.UUID(follow_up_id))
        .order_by(Event.seq)
    )
    return list(rows.all())


async def _count(connection: AsyncConnection, model: Any, follow_up_id: str) -> int:
    query = select(func.count()).where(model.follow_up_id == uuid.UUID(follow_up_id))
    return int(await connection.scalar(query) or 0)


async def _invite(organizer: Caller, *invitees: Caller) -> tuple[str, dict[str, str]]:
    """A follow-up of the organizer, and each invitee's participant id by associate id."""
    created = await organizer.create(
        "/v1/follow-ups",
        follow_up_body(participants=[{"associate_id": i.subject} for i in invitees]),
    )
    ids = {p["associate_id"]: p["id"] for p in created["participants"] if p["role"] != "organizer"}
    return created["id"], ids


async def _respond(invitee: Caller, participant_id: str, **body: Any) -> dict[str, Any]:
    response = await invitee.post(f"/v1/invitations/{participant_id}/response", json=body)
    assert response.status_code == 200, response.text
    answered: dict[str, Any] = response.json()
    return answered


async def _move(organizer: Caller, follow_up_id: str, start_at: str, end_at: str) -> None:
    path = f"/v1/follow-ups/{follow_up_id}"
    etag = (await organizer.get(path)).headers["ETag"]
    moved = await organizer.patch(
        path, json={"start_at": start_at, "end_at": end_at}, headers={"If-Match": etag}
    )
    assert moved.status_code == 200, moved.text


async def test_each_response_records_one_event(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, member: Caller
) -> None:
    colleague = await admin.new_member(name="Bo Colleague")
    bystander = await admin.new_member(name="Cy Bystander")
    follow_up_id, ids = await _invite(member, colleague, bystander)
    participant_id = ids[colleague.subject]

    previous = "not_read"
    answers = [
        ("accepted", None),
        ("declined", "Away that week"),
        ("tentative", "Maybe, if the train is on time"),
        ("tentative", None),
        ("accepted", "Back after all"),
    ]
    for status, comment in answers:
        before = await _events(connection, follow_up_id)
        answered = await _respond(colleague, participant_id, status=status, comment=comment)
        after = await _events(connection, follow_up_id)

        assert after[: len(before)] == before
        (event,) = after[len(before) :]
        assert event.type == f"invitation.{status}"
        assert event.tenant_id == tenant
        assert event.follow_up_id == uuid.UUID(follow_up_id)
        assert event.seq == before[-1].seq + 1
        assert set(event.data) == RESPONSE_KEYS
        assert {key: value for key, value in event.data.items() if key != "responded_at"} == {
            "tenant_id": str(tenant),
            "follow_up_id": follow_up_id,
            "participant_id": participant_id,
            "associate_id": colleague.subject,
            "person_id": None,
            "status": status,
            "previous_status": previous,
            "occurrence_start": None,
            # Whether there is a comment, never its text: that is the organizer's to read.
            "has_comment": comment is not None,
            "seq": event.seq,
        }
        responded_at = datetime.fromisoformat(event.data["responded_at"])
        assert responded_at.utcoffset() is not None
        assert responded_at == datetime.fromisoformat(answered["responded_at"])
        previous = status

    # The bystander's invitation was never answered, so no event names it.
    events = await _events(connection, follow_up_id)
    assert all(e.data.get("participant_id") != ids[bystander.subject] for e in events)
    assert await _count(connection, Response, follow_up_id) == len(answers)


async def test_seq_rises_across_every_kind_of_event(
    connection: AsyncConnection, admin: Caller, member: Caller
) -> None:
    colleague = await admin.new_member(name="Bo Colleague")
    latecomer = await admin.new_member(name="Di Latecomer")
    follow_up_id, ids = await _invite(member, colleague)
    other_id, other_ids = await _invite(member, colleague)
    invitation = ids[colleague.subject]
    path = f"/v1/follow-ups/{follow_up_id}"

    assert (await colleague.post(f"/v1/invitations/{invitation}/seen")).status_code == 200
    await _respond(colleague, other_ids[colleague.subject], status="accepted")
    await _respond(colleague, invitation, status="declined", comment="Away")
    acknowledged = await member.post(f"{path}/participants/{invitation}/acknowledge")
    assert acknowledged.status_code == 200, acknowledged.text
    added = await member.post(f"{path}/participants", json={"associate_id": latecomer.subject})
    assert added.status_code == 201, added.text
    await _move(member, other_id, "2026-04-02T09:00:00+02:00", "2026-04-02T10:00:00+02:00")
    removed = await member.delete(f"{path}/participants/{added.json()['id']}")
    assert removed.status_code == 204, removed.text
    etag = (await member.get(path)).headers["ETag"]
    renamed = await member.patch(path, json={"title": "Renamed"}, headers={"If-Match": etag})
    assert renamed.status_code == 200, renamed.text
    await _move(member, follow_up_id, "2026-04-01T13:00:00+02:00", "2026-04-01T14:00:00+02:00")
    await _respond(colleague, invitation, status="accepted")
    assigned = await member.post(f"{path}/assign", json={"associate_id": colleague.subject})
    assert assigned.status_code == 200, assigned.text
    cancelled = await colleague.post(f"{path}/cancel", json={"reason": "Postponed"})
    assert cancelled.status_code == 200, cancelled.text

    events = await _events(connection, follow_up_id)
    assert [e.type for e in events] == [
        "follow_up.created",
        "invitation.seen",
        "invitation.declined",
        "invitation.acknowledged",
        "participant.added",
        "participant.removed",
        "follow_up.updated",
        "follow_up.rescheduled",
        "invitation.accepted",
        "follow_up.assigned",
        "follow_up.cancelled",
    ]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(e.data["seq"] == e.seq for e in events)
    assert all(e.data["follow_up_id"] == follow_up_id for e in events)
    # In the order they were written (UUIDv7 ids and insertion times agree with seq).
    assert [e.seq for e in sorted(events, key=lambda e: (e.created_at, e.id))] == [
        e.seq for e in events
    ]
    # The follow-up's counter is where its last event left it.
    stored_seq = await connection.scalar(
        select(FollowUp.seq).where(FollowUp.id == uuid.UUID(follow_up_id))
    )
    assert stored_seq == events[-1].seq

    # The other follow-up, changed in between, counts on its own.
    others = await _events(connection, other_id)
    assert [(e.type, e.seq) for e in others] == [
        ("follow_up.created", 1),
        ("invitation.accepted", 2),
        ("follow_up.rescheduled", 3),
    ]


async def test_no_event_when_nothing_changes(
    connection: AsyncConnection, admin: Caller, member: Caller
) -> None:
    colleague = await admin.new_member(name="Bo Colleague")
    stranger = await admin.new_member(name="Ed Stranger")
    follow_up_id, ids = await _invite(member, colleague)
    invitation = ids[colleague.subject]
    path = f"/v1/follow-ups/{follow_up_id}"

    async def unchanged(status: int, method: str, url: str, caller: Caller, **kw: Any) -> None:
        before = await _events(connection, follow_up_id)
        response = await caller.request(method, url, **kw)
        assert response.status_code == status, response.text
        assert await _events(connection, follow_up_id) == before

    assert (await colleague.post(f"/v1/invitations/{invitation}/seen")).status_code == 200
    await unchanged(200, "POST", f"/v1/invitations/{invitation}/seen", colleague)
    await unchanged(409, "POST", f"{path}/participants/{invitation}/acknowledge", member)
    await unchanged(404, "POST", f"/v1/invitations/{invitation}/seen", stranger)
    await unchanged(
        404, "POST", f"/v1/invitations/{invitation}/response", stranger, json={"status": "accepted"}
    )

    await _respond(colleague, invitation, status="declined")
    # `seen` after an answer keeps the answer and records nothing.
    await unchanged(200, "POST", f"/v1/invitations/{invitation}/seen", colleague)
    assert (await colleague.get("/v1/invitations")).json()["items"][0]["status"] == "declined"
    acknowledged = await member.post(f"{path}/participants/{invitation}/acknowledge")
    assert acknowledged.status_code == 200
    await unchanged(200, "POST", f"{path}/participants/{invitation}/acknowledge", member)

    current = await member.get(path)
    same = {key: current.json()[key] for key in ("title", "start_at", "end_at")}
    await unchanged(
        200, "PATCH", path, member, json=same, headers={"If-Match": current.headers["ETag"]}
    )
    await unchanged(412, "PATCH", path, member, json={"title": "X"}, headers={"If-Match": '"999"'})
    await unchanged(428, "PATCH", path, member, json={"title": "X"})
    assert (await member.get(path)).headers["ETag"] == current.headers["ETag"]

    cancelled = await member.post(f"{path}/cancel", json={})
    assert cancelled.status_code == 200
    await unchanged(
        409,
        "POST",
        f"/v1/invitations/{invitation}/response",
        colleague,
        json={"status": "accepted"},
    )
    await unchanged(409, "POST", f"{path}/cancel", member, json={})
    await unchanged(409, "POST", f"{path}/participants/{invitation}/acknowledge", member)


async def _snapshot(connection: AsyncConnection, follow_up_id: str) -> dict[str, Any]:
    """What a response may touch: events, the invitation, answers, notifications, the counter."""
    participants = await connection.execute(
        select(Participant.__table__)
        .where(Participant.follow_up_id == uuid.UUID(follow_up_id))
        .order_by(Participant.id)
    )
    return {
        "events": await _events(connection, follow_up_id),
        "participants": list(participants.all()),
        "responses": await _count(connection, Response, follow_up_id),
        "notifications": await _count(connection, Notification, follow_up_id),
        "seq": await connection.scalar(
            select(FollowUp.seq).where(FollowUp.id == uuid.UUID(follow_up_id))
        ),
    }


async def test_a_rolled_back_service_call_leaves_no_event(
    app: FastAPI, connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, member: Caller
) -> None:
    colleague = await admin.new_member(name="Bo Colleague")
    follow_up_id, ids = await _invite(member, colleague)
    before = await _snapshot(connection, follow_up_id)

    async with app.state.database.sessionmaker() as session:
        participant = await invitation_service.respond(
            session,
            Actor(tenant, uuid.UUID(colleague.subject)),
            uuid.UUID(ids[colleague.subject]),
            ResponseRequest(status="declined", comment="Away"),
        )
        assert participant.status == "declined"
        types = await session.scalars(
            select(Event.type).where(Event.follow_up_id == uuid.UUID(follow_up_id))
        )
        assert sorted(types.all()) == ["follow_up.created", "invitation.declined"]
        await session.rollback()

    assert await _snapshot(connection, follow_up_id) == before


async def test_a_rolled_back_request_leaves_no_event(
    connection: AsyncConnection, admin: Caller, member: Caller
) -> None:
    colleague = await admin.new_member(name="Bo Colleague")
    follow_up_id, ids = await _invite(member, colleague)
    before = await _snapshot(connection, follow_up_id)

    savepoint = await connection.begin_nested()
    await _respond(colleague, ids[colleague.subject], status="accepted")
    inside = await _snapshot(connection, follow_up_id)
    assert [e.type for e in inside["events"]] == ["follow_up.created", "invitation.accepted"]
    assert inside["responses"] == 1
    await savepoint.rollback()

    assert await _snapshot(connection, follow_up_id) == before


async def test_a_request_failing_after_its_event_leaves_nothing(
    connection: AsyncConnection, admin: Caller, member: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event is written, then the request fails: the change and the event go together."""
    colleague = await admin.new_member(name="Bo Colleague")
    follow_up_id, ids = await _invite(member, colleague)
    before = await _snapshot(connection, follow_up_id)
    recorded: list[str] = []

    # The answer records its event inside its one statement; fail right after it.
    answer = InvitationRepository.answer

    async def answer_then_fail(self: InvitationRepository, *args: Any, **kwargs: Any) -> Any:
        answered = await answer(self, *args, **kwargs)
        assert answered is not None
        recorded.append(f"invitation.{answered.status}")
        raise Conflict("failed after the event was written")

    monkeypatch.setattr(InvitationRepository, "answer", answer_then_fail)
    response = await colleague.post(
        f"/v1/invitations/{ids[colleague.subject]}/response", json={"status": "declined"}
    )

    assert response.status_code == 409, response.text
    assert recorded == ["invitation.declined"]
    assert await _snapshot(connection, follow_up_id) == before
    monkeypatch.undo()
    answered = await _respond(colleague, ids[colleague.subject], status="declined")
    assert answered["status"] == "declined"
    events = await _events(connection, follow_up_id)
    assert [(e.type, e.seq) for e in events] == [
        ("follow_up.created", 1),
        ("invitation.declined", 2),
    ]


async def test_a_seen_failing_after_its_event_leaves_nothing(
    connection: AsyncConnection, admin: Caller, member: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    """record_event wrote the event, then the request fails: neither stays."""
    colleague = await admin.new_member(name="Bo Colleague")
    follow_up_id, ids = await _invite(member, colleague)
    before = await _snapshot(connection, follow_up_id)
    recorded: list[str] = []

    async def record_then_fail(*args: Any, **kwargs: Any) -> Event:
        event = await record_event(*args, **kwargs)
        recorded.append(event.type)
        raise Conflict("failed after the event was written")

    monkeypatch.setattr("app.invitations.service.record_event", record_then_fail)
    response = await colleague.post(f"/v1/invitations/{ids[colleague.subject]}/seen")

    assert response.status_code == 409, response.text
    assert recorded == ["invitation.seen"]
    assert await _snapshot(connection, follow_up_id) == before
