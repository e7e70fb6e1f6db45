"""Every webhook type is in the document, and what is delivered for each matches its schema."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.followups.series import extend_due
from app.models.states import PING, EventType
from app.webhooks import payloads
from app.webhooks.document import add_webhooks
from app.webhooks.events import record_event
from tests.fixtures.factories import create_person, create_resource
from tests.webhooks.payload_schema import check_payload, document
from tests.webhooks.support import world

SIGNATURE_HEADERS = {"webhook-id", "webhook-timestamp", "webhook-signature"}


@pytest.fixture(scope="module")
def committed_url(make_database: Callable[..., str]) -> str:
    return make_database()


def _resolve(reference: dict[str, Any]) -> dict[str, Any]:
    name = reference["$ref"].removeprefix("#/components/")
    kind, key = name.split("/")
    found: dict[str, Any] = document()["components"][kind][key]
    return found


def test_the_document_has_one_webhook_per_event_type_and_the_ping() -> None:
    assert set(document()["webhooks"]) == {*EventType, PING}


@pytest.mark.parametrize("event_type", [*EventType, PING])
def test_each_webhook_names_its_type_and_the_signature_headers(event_type: str) -> None:
    operation = document()["webhooks"][event_type]["post"]
    headers = {_resolve(p)["name"]: _resolve(p) for p in operation["parameters"]}
    assert set(headers) == SIGNATURE_HEADERS
    assert all(h["in"] == "header" and h["required"] for h in headers.values())
    body = _resolve(operation["requestBody"]["content"]["application/json"]["schema"])
    assert body["properties"]["type"]["const"] == event_type
    assert set(body["required"]) == {"type", "timestamp", "data"}


def test_a_wrong_body_fails_the_schema() -> None:
    # The check that the delivery tests rely on can fail: a missing field, a wrong type.
    good = {
        "type": "webhook.ping",
        "timestamp": "2026-11-30T08:00:00.000000Z",
        "data": {
            "tenant_id": "0193a2b4-1c2d-7e3f-8a9b-0c1d2e3f4a5b",
            "endpoint_id": "0193a2b4-1c2d-7e3f-8a9b-0c1d2e3f4a5c",
        },
    }
    check_payload(good)
    with pytest.raises(ValueError, match="endpoint_id"):
        check_payload({**good, "data": {"tenant_id": good["data"]["tenant_id"]}})
    with pytest.raises(ValueError, match="not-a-uuid"):
        check_payload({**good, "data": {**good["data"], "endpoint_id": "not-a-uuid"}})
    with pytest.raises(ValueError, match="FollowUpCancelledData"):
        check_payload({**good, "type": "follow_up.cancelled"})


async def test_facts_of_another_type_are_refused() -> None:
    facts = payloads.FollowUpCancelled(reason=None)
    with pytest.raises(TypeError, match=r"follow_up\.created"):
        await record_event(None, None, EventType.FOLLOW_UP_CREATED, facts)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        payloads.FollowUpCancelled(reason=None, comment="secret")  # type: ignore[call-arg]


async def test_every_type_delivered_matches_the_document(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path) as w:
        webhook = await w.subscribe(event_types=list(EventType))
        organizer = await w.admin.new_member(name="Olga Organizer")
        invitee = await w.admin.new_member(name="Ivan Invitee")
        heir = await w.admin.new_member(name="Hanne Heir")
        room = await create_resource(w.admin)
        person = await create_person(w.admin)
        follow_up_id, ids = await w.invite(organizer, invitee)
        path = f"/v1/follow-ups/{follow_up_id}"
        participant = ids[invitee.subject]

        async def ok(response: Any, status: int = 200) -> dict[str, Any]:
            assert response.status_code == status, response.text
            return {} if status == 204 else dict(response.json())

        await ok(await invitee.post(f"/v1/invitations/{participant}/seen"))
        for status in ("tentative", "accepted", "declined"):
            body = {"status": status, "comment": "Away" if status == "declined" else None}
            await ok(await invitee.post(f"/v1/invitations/{participant}/response", json=body))
        await ok(await organizer.post(f"{path}/participants/{participant}/acknowledge"))
        etag = (await organizer.get(path)).headers["ETag"]
        patched = await organizer.patch(path, json={"title": "Renamed"}, headers={"If-Match": etag})
        await ok(patched)
        moved = {"start_at": "2026-03-30T13:00:00+02:00", "end_at": "2026-03-30T14:00:00+02:00"}
        await ok(
            await organizer.patch(path, json=moved, headers={"If-Match": patched.headers["ETag"]})
        )
        added = [
            await ok(await organizer.post(f"{path}/participants", json=ref), 201)
            for ref in ({"resource_id": room["id"]}, {"person_id": person["id"]})
        ]
        for each in added:
            await ok(await organizer.delete(f"{path}/participants/{each['id']}"), 204)
        await ok(await organizer.post(f"{path}/assign", json={"associate_id": heir.subject}))
        await ok(await heir.post(f"{path}/cancel", json={"reason": "Postponed"}))
        weekly = {
            "title": "Stand-up",
            "start_at": "2026-04-06T09:00:00+02:00",
            "end_at": "2026-04-06T09:15:00+02:00",
            "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"},
            "participants": [{"associate_id": invitee.subject}],
        }
        created = await ok(await organizer.post("/v1/follow-ups", json=weekly), 201)
        series = f"/v1/follow-ups/{created['id']}"
        (invited,) = [p for p in created["participants"] if p["associate_id"] == invitee.subject]
        await ok(
            await invitee.post(
                f"/v1/invitations/{invited['id']}/response",
                json={"status": "declined", "occurrence": "2026-04-20T07:00:00Z"},
            )
        )
        one_later = {"start_at": "2026-04-06T10:00:00+02:00", "end_at": "2026-04-06T10:15:00+02:00"}
        await ok(
            await organizer.patch(
                f"{series}/occurrences/2026-04-06T07:00:00Z",
                json=one_later,
                headers={"If-Match": "*"},
            )
        )
        await ok(
            await organizer.post(
                f"{series}/occurrences/2026-04-13T07:00:00Z/cancel", json={"reason": "Easter"}
            )
        )
        split = await organizer.post(
            f"{series}/occurrences/2026-04-20T07:00:00Z/split", headers={"If-Match": "*"}
        )
        await ok(split, 201)
        # An unbounded series whose strict room is taken past its horizon: the series job
        # books that occurrence without the room and reports it.
        strict = await create_resource(w.admin, name="Strict", allow_double_booking=False)
        start = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
        daily = {
            "title": "Daily",
            "start_at": start.isoformat(),
            "end_at": (start + timedelta(hours=1)).isoformat(),
            "time_zone": "UTC",
            "recurrence": {"rrule": "FREQ=DAILY"},
            "participants": [{"resource_id": strict["id"]}],
        }
        await ok(await organizer.post("/v1/follow-ups", json=daily), 201)
        taken = start + timedelta(days=560)
        blocker = {
            "title": "Blocker",
            "start_at": taken.isoformat(),
            "end_at": (taken + timedelta(hours=1)).isoformat(),
            "participants": [{"resource_id": strict["id"]}],
        }
        await ok(await organizer.post("/v1/follow-ups", json=blocker), 201)
        engine = w.committed.database.engine
        assert engine is not None
        async with AsyncSession(engine) as session, session.begin():
            later = datetime.now(UTC) + timedelta(days=30)
            assert await extend_due(session, batch=10, now=later) == 1
        await ok(await w.admin.post(f"/v1/webhooks/{webhook['id']}/ping"), 202)

        # created, seen, 3 answers, acknowledged, updated, rescheduled, 2 added, 2 removed,
        # assigned, cancelled; a series created, one occurrence answered, one moved, one
        # cancelled, split (and its new series created); a daily series and its blocker
        # created, a room the series job found taken; ping: 24
        received = await w.receiver.wait_for(24)
        payloads_by_type: dict[str, list[dict[str, Any]]] = {}
        for message in received:
            assert {k.lower() for k in message.headers} >= SIGNATURE_HEADERS
            payload = message.verified_by(webhook["secret"])  # checks it against the document
            assert payload == json.loads(message.body)
            payloads_by_type.setdefault(payload["type"], []).append(payload)
        assert set(payloads_by_type) == {*EventType, PING}
        kinds = [p["data"]["kind"] for p in payloads_by_type["participant.added"]]
        assert kinds == ["resource", "person"]
        assert payloads_by_type["follow_up.cancelled"][0]["data"]["reason"] == "Postponed"
        (cancelled_one,) = payloads_by_type["occurrence.cancelled"]
        assert cancelled_one["data"]["occurrence_start"] == "2026-04-13T07:00:00+00:00"
        declined = [p["data"] for p in payloads_by_type["invitation.declined"]]
        assert [(d["occurrence_start"], d["previous_status"]) for d in declined] == [
            (None, "accepted"),
            ("2026-04-20T07:00:00+00:00", "not_read"),
        ]
        assert {p["data"]["occurrence_start"] for p in payloads_by_type["invitation.accepted"]} == {
            None
        }
        series_created = {
            p["data"]["recurrence"]["rrule"]
            for p in payloads_by_type["follow_up.created"]
            if p["data"]["recurrence"] is not None and p["data"]["split_from"] is None
        }
        assert series_created == {"FREQ=WEEKLY;COUNT=3", "FREQ=DAILY"}
        (split_event,) = payloads_by_type["follow_up.split"]
        assert split_event["data"]["new_follow_up_id"] == split.json()["id"]
        assert split_event["data"]["recurrence"] == {"rrule": "FREQ=WEEKLY;COUNT=2"}
        (split_off,) = [p for p in payloads_by_type["follow_up.created"] if p["data"]["split_from"]]
        assert split_off["data"]["follow_up_id"] == split.json()["id"]
        (room_taken,) = payloads_by_type["occurrence.resource_taken"]
        assert room_taken["data"]["resource_id"] == strict["id"]
        assert room_taken["data"]["occurrence_start"] == taken.isoformat()


def test_a_payload_schema_may_not_redefine_one_of_the_api() -> None:
    answer = {"enum": ["accepted", "declined", "tentative"], "type": "string", "title": "Answer"}
    annotated = {"components": {"schemas": {"Answer": {**answer, "description": "Said"}}}}
    add_webhooks(annotated)  # the API's annotated copy of the same enum is kept
    assert annotated["components"]["schemas"]["Answer"]["description"] == "Said"
    clash = {"components": {"schemas": {"Answer": {**answer, "enum": ["yes", "no"]}}}}
    with pytest.raises(ValueError, match="Answer"):
        add_webhooks(clash)
