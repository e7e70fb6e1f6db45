"""Every write of the API, sent twice with one Idempotency-Key: the second is the first replayed."""

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.directory import test_access as directory
from tests.fixtures.factories import Caller
from tests.fixtures.openapi import resolved
from tests.followups import test_access as followups
from tests.followups import test_occurrence_participants_access as occurrence_participants
from tests.followups import test_series_access as occurrences
from tests.followups.support import make_world as followups_world
from tests.idempotency.support import assert_replayed, every_row, key
from tests.imip.support import invite_person, reply
from tests.webhooks import test_access as webhooks

WRITES = {"POST", "PATCH", "DELETE"}
FOLLOWUP_WRITES = [e for e in followups.ENDPOINTS if e.method in WRITES]
WEBHOOK_WRITES = [e for e in webhooks.ENDPOINTS if e.method in WRITES]
FEED_WRITES = [("POST", "/v1/feeds"), ("DELETE", "/v1/feeds/{feed_id}")]
IMIP_WRITES = {("POST", "/v1/imip/replies")}


def test_the_cases_cover_every_write_of_the_document(app: FastAPI) -> None:
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method.upper() in WRITES
    }
    covered = (
        {e.route for e in [*FOLLOWUP_WRITES, *WEBHOOK_WRITES]}
        | set(FEED_WRITES)
        | IMIP_WRITES
        | occurrences.WRITES
        | occurrence_participants.WRITES
    )
    covered |= {
        (
            e.verb,
            f"{e.kind.path}/{{{e.kind.path.rsplit('/', 1)[1][:-1]}_id}}"
            if e.on_one
            else e.kind.path,
        )
        for e in directory.WRITES
    }
    assert covered == documented


def test_every_write_documents_the_key_and_its_outcomes(app: FastAPI) -> None:
    document = app.openapi()
    parameter = document["components"]["parameters"]["IdempotencyKey"]
    assert (parameter["in"], parameter["name"]) == ("header", "Idempotency-Key")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            # If-Match is shared too, once two writes take it: only the key counts here.
            refs = [
                p
                for p in operation.get("parameters", [])
                if p.get("$ref") == "#/components/parameters/IdempotencyKey"
            ]
            if method.upper() not in WRITES:
                assert not refs, (method, path)
                continue
            assert refs == [{"$ref": "#/components/parameters/IdempotencyKey"}], (method, path)
            conflict = resolved(document, operation["responses"]["409"])
            invalid = resolved(document, operation["responses"]["422"])
            assert "idempotency_key_in_progress" in conflict["description"]
            assert "idempotency_key_reused" in invalid["description"]


async def _twice(send: Any, connection: AsyncConnection, tenant: uuid.UUID) -> None:
    """Send one write twice with one key: the second replays the first and changes nothing."""
    headers = key()
    first = await send(headers)
    assert first.status_code < 300, first.text
    before = await every_row(connection, tenant)

    again = await send(headers)

    assert_replayed(first, again)
    assert await every_row(connection, tenant) == before


@pytest.mark.parametrize("endpoint", FOLLOWUP_WRITES, ids=str)
async def test_follow_up_and_invitation_writes_replay(
    admin: Caller, connection: AsyncConnection, tenant: uuid.UUID, endpoint: followups.Endpoint
) -> None:
    world = await followups_world(admin)
    caller = endpoint.caller(world)
    body = endpoint.body(world) if endpoint.body else None  # once: a retry sends the same
    await _twice(
        lambda headers: endpoint.send(world, {**caller.headers, **headers}, body=body),
        connection,
        tenant,
    )


@pytest.mark.parametrize("endpoint", WEBHOOK_WRITES, ids=str)
async def test_webhook_writes_replay(
    admin: Caller,
    member: Caller,
    connection: AsyncConnection,
    tenant: uuid.UUID,
    endpoint: webhooks.Endpoint,
) -> None:
    world = await webhooks.make_world(admin, member)
    body = endpoint.body(world) if endpoint.body else None  # once: a retry sends the same
    await _twice(
        lambda headers: endpoint.send(world, {**admin.headers, **headers}, body=body),
        connection,
        tenant,
    )


@pytest.mark.parametrize("endpoint", directory.WRITES, ids=str)
async def test_directory_writes_replay(
    admin: Caller, connection: AsyncConnection, tenant: uuid.UUID, endpoint: directory.Endpoint
) -> None:
    call = await directory.arrange(admin, endpoint)
    await _twice(
        lambda headers: directory.send(admin.client, endpoint, call, {**admin.headers, **headers}),
        connection,
        tenant,
    )


@pytest.mark.parametrize(("method", "path"), FEED_WRITES)
async def test_feed_writes_replay(
    member: Caller, connection: AsyncConnection, tenant: uuid.UUID, method: str, path: str
) -> None:
    if method == "DELETE":
        feed = await member.create("/v1/feeds", {})
        path = path.replace("{feed_id}", feed["id"])
    body = {"name": "Work"} if method == "POST" else None
    await _twice(
        lambda headers: member.client.request(
            method, path, json=body, headers={**member.headers, **headers}
        ),
        connection,
        tenant,
    )


async def test_an_e_mailed_reply_replays(
    admin: Caller, member: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    _, created = await invite_person(admin, member)
    body = reply(f"{created['id']}@convene", "bo@customer.test", "DECLINED")
    headers = {**admin.headers, "content-type": "text/calendar; charset=utf-8"}
    await _twice(
        lambda more: admin.client.post(
            "/v1/imip/replies", content=body, headers={**headers, **more}
        ),
        connection,
        tenant,
    )
