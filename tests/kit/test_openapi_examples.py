"""Every example in the OpenAPI document is valid: requests succeed, answers match their schema."""

import uuid
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from tests.fixtures.factories import TEST_SECRET, Caller, follow_up_body
from tests.fixtures.openapi import resolved

# The directory objects the examples name, made with these ids in the test's tenant.
ASSOCIATE = uuid.UUID("0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b")
RESOURCE = uuid.UUID("0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6c")
PERSON = uuid.UUID("0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6d")
CONTACT = uuid.UUID("0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b")

# Test ids are made by the server; this gives a created row the id an example names.
RENAME = {
    table: text(f"UPDATE {table} SET id = :new WHERE tenant_id = :tenant AND id = :old")  # noqa: S608
    for table in ("associates", "resources", "contacts", "persons")
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The webhook example's address is in a documentation range (198.51.100.0/24), which the
    # SSRF guard refuses unless allowed: it stands for the subscriber's public address.
    return Settings(
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        database_url=None,
        webhook_allowed_networks=[IPv4Network("198.51.100.0/24")],
    )


async def _as(
    admin: Caller, connection: AsyncConnection, table: str, path: str, body: Any, new: uuid.UUID
) -> None:
    created = await admin.create(path, body)
    parameters = {"new": new, "tenant": admin.tenant_id, "old": uuid.UUID(created["id"])}
    await connection.execute(RENAME[table], parameters)


@pytest.fixture
async def world(admin: Caller, connection: AsyncConnection) -> dict[str, Caller]:
    """The example ids made real, an organizer, and the example colleague as a caller."""
    await _as(admin, connection, "contacts", "/v1/contacts", {"name": "Nordlys"}, CONTACT)
    person = {"name": "Dina", "contact_id": str(CONTACT)}
    await _as(admin, connection, "persons", "/v1/persons", person, PERSON)
    colleague = {"name": "Bo", "email": "bo@example.com", "time_zone": "Europe/Copenhagen"}
    await _as(admin, connection, "associates", "/v1/associates", colleague, ASSOCIATE)
    await _as(
        admin, connection, "resources", "/v1/resources", {"name": "Fjord", "kind": "room"}, RESOURCE
    )
    organizer = await admin.new_member()
    return {
        "admin": admin,
        "organizer": organizer,
        "colleague": Caller(admin.client, admin.tenant_id, str(ASSOCIATE)),
    }


Send = Callable[[dict[str, Caller], Any], Awaitable[httpx.Response]]


async def _follow_up(world: dict[str, Caller], **fields: Any) -> dict[str, Any]:
    return await world["organizer"].create("/v1/follow-ups", follow_up_body(**fields))


async def _patch_follow_up(world: dict[str, Caller], body: Any) -> httpx.Response:
    follow_up = await _follow_up(world)
    path = f"/v1/follow-ups/{follow_up['id']}"
    return await world["organizer"].patch(path, json=body, headers={"If-Match": "*"})


def _on_follow_up(action: str) -> Send:
    async def send(world: dict[str, Caller], body: Any) -> httpx.Response:
        follow_up = await _follow_up(world)
        return await world["organizer"].post(f"/v1/follow-ups/{follow_up['id']}/{action}", body)

    return send


def _on_occurrence(method: str, suffix: str = "", occurrence: str = "2026-12-07") -> Send:
    """Send to an occurrence of a weekly series (the first: the example moves it in its week)."""

    async def send(world: dict[str, Caller], body: Any) -> httpx.Response:
        series = await _follow_up(
            world,
            start_at="2026-12-07T09:00:00+01:00",
            end_at="2026-12-07T10:00:00+01:00",
            recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"},
        )
        path = f"/v1/follow-ups/{series['id']}/occurrences/{occurrence}T08:00:00Z{suffix}"
        with_if_match = method == "PATCH" or suffix in ("/split", "/participants")
        headers = {"If-Match": "*"} if with_if_match else {}
        return await world["organizer"].request(method, path, json=body, headers=headers)

    return send


async def _answer(world: dict[str, Caller], body: Any) -> httpx.Response:
    """Answer an invitation; one to a weekly series when the example names an occurrence."""
    series = (
        {
            "start_at": "2026-12-07T09:00:00+01:00",
            "end_at": "2026-12-07T10:00:00+01:00",
            "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4"},
        }
        if "occurrence" in body
        else {}
    )
    follow_up = await _follow_up(world, participants=[{"associate_id": str(ASSOCIATE)}], **series)
    (invitation,) = [p for p in follow_up["participants"] if p["associate_id"] == str(ASSOCIATE)]
    return await world["colleague"].post(f"/v1/invitations/{invitation['id']}/response", body)


async def _patch_webhook(world: dict[str, Caller], body: Any) -> httpx.Response:
    created = await world["admin"].create(
        "/v1/webhooks", {"url": "https://198.51.100.8/hook", "event_types": ["invitation.seen"]}
    )
    return await world["admin"].patch(f"/v1/webhooks/{created['id']}", json=body)


def _plain(caller: str, method: str, path: str) -> Send:
    async def send(world: dict[str, Caller], body: Any) -> httpx.Response:
        return await world[caller].request(method, path, json=body)

    return send


SENDERS: dict[tuple[str, str], Send] = {
    ("post", "/v1/associates"): _plain("admin", "POST", "/v1/associates"),
    ("patch", "/v1/associates/{associate_id}"): _plain(
        "admin", "PATCH", f"/v1/associates/{ASSOCIATE}"
    ),
    ("post", "/v1/contacts"): _plain("admin", "POST", "/v1/contacts"),
    ("patch", "/v1/contacts/{contact_id}"): _plain("admin", "PATCH", f"/v1/contacts/{CONTACT}"),
    ("post", "/v1/persons"): _plain("admin", "POST", "/v1/persons"),
    ("patch", "/v1/persons/{person_id}"): _plain("admin", "PATCH", f"/v1/persons/{PERSON}"),
    ("post", "/v1/resources"): _plain("admin", "POST", "/v1/resources"),
    ("patch", "/v1/resources/{resource_id}"): _plain("admin", "PATCH", f"/v1/resources/{RESOURCE}"),
    ("post", "/v1/follow-ups"): _plain("organizer", "POST", "/v1/follow-ups"),
    ("patch", "/v1/follow-ups/{follow_up_id}"): _patch_follow_up,
    ("patch", "/v1/follow-ups/{follow_up_id}/occurrences/{original_start}"): _on_occurrence(
        "PATCH"
    ),
    ("post", "/v1/follow-ups/{follow_up_id}/occurrences/{original_start}/cancel"): _on_occurrence(
        "POST", "/cancel"
    ),
    ("post", "/v1/follow-ups/{follow_up_id}/occurrences/{original_start}/split"): _on_occurrence(
        "POST", "/split", "2026-12-14"
    ),
    (
        "post",
        "/v1/follow-ups/{follow_up_id}/occurrences/{original_start}/participants",
    ): _on_occurrence("POST", "/participants", "2026-12-14"),
    ("post", "/v1/follow-ups/{follow_up_id}/assign"): _on_follow_up("assign"),
    ("post", "/v1/follow-ups/{follow_up_id}/cancel"): _on_follow_up("cancel"),
    ("post", "/v1/follow-ups/{follow_up_id}/participants"): _on_follow_up("participants"),
    ("post", "/v1/invitations/{participant_id}/response"): _answer,
    ("post", "/v1/webhooks"): _plain("admin", "POST", "/v1/webhooks"),
    ("patch", "/v1/webhooks/{webhook_id}"): _patch_webhook,
}


def _media(document: dict[str, Any], part: str) -> list[tuple[str, str, Any]]:
    """(operation, media type object, example) of every request or response example."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if part == "request":
                holders = [operation.get("requestBody", {})]
            else:
                holders = [resolved(document, r) for r in operation["responses"].values()]
            for holder in holders:
                for media in holder.get("content", {}).values():
                    for example in media.get("examples", {}).values():
                        found.append((f"{method} {path}", media, example["value"]))
    return found


def _valid(document: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    validator = jsonschema_rs.Draft202012Validator({**schema, "components": document["components"]})
    return [error.message for error in validator.iter_errors(value)]


def test_every_example_matches_its_schema(app: FastAPI) -> None:
    document = app.openapi()
    examples = _media(document, "request") + _media(document, "response")
    assert len(examples) > 100
    for operation, media, value in examples:
        assert _valid(document, media["schema"], value) == [], (operation, value)


def test_no_schema_carries_examples_tools_could_combine(app: FastAPI) -> None:
    """Examples of a whole request sit at the media type; none is left on a body's model."""
    document = app.openapi()
    bodies = {
        ref["$ref"].rsplit("/", 1)[1]
        for item in document["paths"].values()
        for operation in item.values()
        for media in operation.get("requestBody", {}).get("content", {}).values()
        for ref in [media["schema"], *media["schema"].get("anyOf", [])]
        if "$ref" in ref
    }
    assert bodies
    for name in bodies:
        assert "examples" not in document["components"]["schemas"][name], name


async def test_every_request_example_succeeds(app: FastAPI, world: dict[str, Caller]) -> None:
    document = app.openapi()
    sent = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            examples = content.get("application/json", {}).get("examples", {})
            for name, example in examples.items():
                assert (method, path) in SENDERS, f"no way to send {name} to {method} {path}"
                response = await SENDERS[method, path](world, example["value"])

                assert 200 <= response.status_code < 300, (method, path, name, response.text)
                sent += 1
    assert sent >= len(SENDERS)
