"""What one Idempotency-Key means: per caller and tenant, one request, 24 hours, errors not kept."""

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.followups import commands
from app.models import FollowUp, IdempotencyKey
from app.retention.job import purge
from app.retention.purges import PURGES
from tests.fixtures.factories import Caller, bearer, follow_up_body
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized
from tests.fixtures.responses import ok
from tests.followups.support import book, participant
from tests.idempotency.support import assert_replayed, key

PUBLIC = "https://93.184.215.14/hook"


EXPIRED_KEYS = tuple(p for p in PURGES if p.name == "expired idempotency keys")


async def follow_ups_of(connection: AsyncConnection, tenant: uuid.UUID) -> int:
    query = select(func.count()).select_from(FollowUp).where(FollowUp.tenant_id == tenant)
    return int(await connection.scalar(query) or 0)


async def keys_of(connection: AsyncConnection, tenant: uuid.UUID) -> int:
    query = select(func.count()).select_from(IdempotencyKey)
    return int(await connection.scalar(query.where(IdempotencyKey.tenant_id == tenant)) or 0)


async def test_a_retried_create_makes_one_follow_up(
    member: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    headers = key()
    first = await member.post("/v1/follow-ups", json=follow_up_body(), headers=headers)
    again = await member.post("/v1/follow-ups", json=follow_up_body(), headers=headers)

    assert first.status_code == 201
    assert_replayed(first, again)
    assert await follow_ups_of(connection, tenant) == 1


async def test_without_a_key_a_retry_is_a_new_write(
    member: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    for _ in range(2):
        ok(await member.post("/v1/follow-ups", json=follow_up_body()), 201)

    assert await follow_ups_of(connection, tenant) == 2
    assert await keys_of(connection, tenant) == 0


async def test_the_same_key_with_another_body_is_422(
    member: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    headers = key()
    ok(await member.post("/v1/follow-ups", json=follow_up_body(), headers=headers), 201)

    response = await member.post(
        "/v1/follow-ups", json=follow_up_body(title="Another meeting"), headers=headers
    )

    assert_problem(response, 422, "idempotency_key_reused")
    assert await follow_ups_of(connection, tenant) == 1


async def test_the_same_key_on_another_path_is_422(admin: Caller) -> None:
    headers = key()
    ok(await admin.post("/v1/contacts", json={"name": "Fjord"}, headers=headers), 201)

    response = await admin.post("/v1/resources", json={"name": "Fjord"}, headers=headers)

    assert_problem(response, 422, "idempotency_key_reused")
    assert ok(await admin.get("/v1/resources"))["items"] == []


async def test_other_callers_and_tenants_have_keys_of_their_own(
    admin: Caller, other_admin: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    ada, bo = await admin.new_member(), await admin.new_member()
    stranger = await other_admin.new_member()
    headers = {"Idempotency-Key": "same-key-for-everyone"}

    created = [
        ok(await caller.post("/v1/follow-ups", json=follow_up_body(), headers=headers), 201)
        for caller in (ada, bo, stranger)
    ]

    assert len({c["id"] for c in created}) == 3
    assert await follow_ups_of(connection, tenant) == 2
    assert await follow_ups_of(connection, other_admin.tenant_id) == 1


@pytest.mark.parametrize("sent", ["a-fine-key", "\x01"], ids=["well-formed key", "malformed key"])
async def test_without_a_token_is_401_before_the_key(
    member: Caller, connection: AsyncConnection, tenant: uuid.UUID, sent: str
) -> None:
    for headers in ({}, bearer("not-a-jwt")):
        response = await member.client.post(
            "/v1/follow-ups",
            json=follow_up_body(),
            headers={**headers, "Idempotency-Key": sent},
        )
        assert_unauthorized(response, "invalid_token" if headers else "unauthorized")
    assert await keys_of(connection, tenant) == 0
    assert await follow_ups_of(connection, tenant) == 0


@pytest.mark.parametrize(
    "sent",
    ["", "x" * 256, "tab\there", "nul\x00", "del\x7f", "café".encode()],
    ids=["empty", "256 characters", "tab", "nul", "del", "not ASCII"],
)
async def test_a_malformed_key_is_422_and_changes_nothing(
    member: Caller, connection: AsyncConnection, tenant: uuid.UUID, sent: str | bytes
) -> None:
    response = await member.client.post(
        "/v1/follow-ups",
        json=follow_up_body(),
        headers=[*member.headers.items(), ("Idempotency-Key", sent)],
    )

    assert_invalid(response, "header", "Idempotency-Key")
    assert await follow_ups_of(connection, tenant) == 0


async def test_keys_of_255_printable_characters_are_fine(member: Caller) -> None:
    headers = {"Idempotency-Key": ("~ !" * 85)}
    first = await member.post("/v1/follow-ups", json=follow_up_body(), headers=headers)
    again = await member.post("/v1/follow-ups", json=follow_up_body(), headers=headers)

    assert first.status_code == 201
    assert_replayed(first, again)


async def test_a_key_expires_after_24_hours(
    member: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    headers = key()
    first = ok(await member.post("/v1/follow-ups", json=follow_up_body(), headers=headers), 201)
    (expires_at,) = (
        await connection.execute(
            text(
                "UPDATE idempotency_keys SET created_at = created_at - interval '24 hours', "
                "expires_at = expires_at - interval '24 hours' WHERE tenant_id = :tenant "
                "RETURNING expires_at - created_at"
            ),
            {"tenant": tenant},
        )
    ).one()
    assert expires_at.total_seconds() == 24 * 3600

    again = await member.post("/v1/follow-ups", json=follow_up_body(), headers=headers)

    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.json()["id"] != first["id"]
    assert await follow_ups_of(connection, tenant) == 2
    assert await keys_of(connection, tenant) == 1  # the expired one was replaced


async def test_expired_keys_are_deleted_in_batches(
    app: FastAPI, member: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    for _ in range(3):
        ok(await member.post("/v1/follow-ups", json=follow_up_body(), headers=key()), 201)
    live = key()
    ok(await member.post("/v1/follow-ups", json=follow_up_body(), headers=live), 201)
    await connection.execute(
        text(
            "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' "
            "WHERE tenant_id = :tenant AND key <> :live"
        ),
        {"tenant": tenant, "live": live["Idempotency-Key"]},
    )

    settings = app.state.settings.model_copy(
        update={"retention_batch_size": 2, "retention_pause_seconds": 0}
    )
    async with app.state.database.sessionmaker() as session:
        removed = await purge(await session.connection(), settings, EXPIRED_KEYS)
        await session.commit()

    assert removed == {"expired idempotency keys": 3}  # in batches of 2 and 1
    assert await keys_of(connection, tenant) == 1


async def test_a_server_error_is_not_kept_and_frees_the_key(
    member: Caller,
    connection: AsyncConnection,
    tenant: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def fails(*args: Any, **kwargs: Any) -> Any:
        await commands.create(*args, **kwargs)  # the change is made, then the server fails
        raise RuntimeError("the server failed after the change")

    headers = key()
    with monkeypatch.context() as patched:
        patched.setattr("app.followups.router.commands.create", fails)
        failed = await member.post("/v1/follow-ups", json=follow_up_body(), headers=headers)
    assert_problem(failed, 500, "internal_error")
    assert await keys_of(connection, tenant) == 0
    assert await follow_ups_of(connection, tenant) == 0  # rolled back with the key

    retried = await member.post("/v1/follow-ups", json=follow_up_body(), headers=headers)

    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried.headers
    assert await follow_ups_of(connection, tenant) == 1


async def test_a_refused_request_is_not_kept(admin: Caller) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    created = await book(organizer, bo)
    url = f"/v1/follow-ups/{created['id']}"
    headers = key()

    refused = await organizer.patch(url, json={"title": "Renamed"}, headers=headers)
    assert_problem(refused, 428, "precondition_required")
    etag = (await organizer.get(url)).headers["ETag"]
    changed = await organizer.patch(
        url, json={"title": "Renamed"}, headers={**headers, "If-Match": etag}
    )

    assert ok(changed)["title"] == "Renamed"


async def test_a_retried_rotation_rotates_once(admin: Caller) -> None:
    webhook = await admin.create(
        "/v1/webhooks", {"url": PUBLIC, "event_types": ["invitation.accepted"]}
    )
    url = f"/v1/webhooks/{webhook['id']}/rotate-secret"
    headers = key()

    first = ok(await admin.post(url, headers=headers))
    again = await admin.post(url, headers=headers)
    fresh = ok(await admin.post(url, headers=key()))

    assert again.json()["secret"] == first["secret"] != webhook["secret"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert fresh["secret"] not in (first["secret"], webhook["secret"])


async def test_kept_answers_that_carry_a_secret_are_sealed(
    admin: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    headers = key()
    body = {"url": PUBLIC, "event_types": ["invitation.accepted"]}
    created = ok(await admin.post("/v1/webhooks", json=body, headers=headers), 201)
    kept = await connection.scalar(
        text("SELECT body FROM idempotency_keys WHERE tenant_id = :tenant AND key = :key"),
        {"tenant": tenant, "key": headers["Idempotency-Key"]},
    )
    replay = await admin.post("/v1/webhooks", json=body, headers=headers)

    assert kept is not None
    assert created["secret"].encode() not in kept
    assert bytes(kept).startswith(b"v1:")
    assert ok(replay, 201)["secret"] == created["secret"]


async def test_a_retried_answer_adds_no_response_notification_or_event(
    admin: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    created = await book(organizer, bo)
    url = f"/v1/invitations/{participant(created, associate_id=bo.subject)['id']}/response"
    headers = key()
    counts = text(
        "SELECT (SELECT count(*) FROM responses WHERE tenant_id = :t), "
        "(SELECT count(*) FROM notifications WHERE tenant_id = :t), "
        "(SELECT count(*) FROM events WHERE tenant_id = :t)"
    )
    before = (await connection.execute(counts, {"t": tenant})).one()

    for _ in range(3):
        answered = await bo.post(url, json={"status": "declined"}, headers=headers)
        assert ok(answered)["status"] == "declined"

    after = (await connection.execute(counts, {"t": tenant})).one()
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 1, 1]


async def test_a_caller_who_may_not_act_is_refused_and_keeps_no_key(
    admin: Caller, member: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    headers = key()

    refused = await member.post("/v1/resources", json={"name": "Fjord"}, headers=headers)
    not_an_associate = await admin.post("/v1/follow-ups", json=follow_up_body(), headers=headers)

    assert_problem(refused, 403, "forbidden")
    assert_problem(not_an_associate, 403, "not_an_associate")
    assert await keys_of(connection, tenant) == 0
    assert await follow_ups_of(connection, tenant) == 0
