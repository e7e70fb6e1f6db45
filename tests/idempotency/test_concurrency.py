"""Duplicates sent at once, on a committed database: one write wins, the others wait or replay."""

import asyncio
import uuid

import httpx
from sqlalchemy import func, select

from app.models import FollowUp, Response
from tests.fixtures.committed import (  # noqa: F401 (fixtures)
    CommittedApp,
    acting_through,
    admin,
    client,
    committed,
    committed_url,
    follow_up_row_locked,
    until_lock_waiters,
)
from tests.fixtures.factories import Caller, follow_up_body
from tests.fixtures.problems import assert_problem
from tests.idempotency.support import assert_replayed, key


async def count(
    committed: CommittedApp, model: type[FollowUp] | type[Response], tenant: uuid.UUID
) -> int:
    async with committed.database.sessionmaker() as session:
        query = select(func.count()).select_from(model).where(model.tenant_id == tenant)
        return int(await session.scalar(query) or 0)


async def test_a_duplicate_of_a_running_write_is_409(
    committed: CommittedApp, admin: Caller
) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    created = await organizer.create(
        "/v1/follow-ups", follow_up_body(participants=[{"associate_id": bo.subject}])
    )
    (invitation,) = [p["id"] for p in created["participants"] if p["associate_id"] == bo.subject]
    url, body, headers = f"/v1/invitations/{invitation}/response", {"status": "accepted"}, key()

    async with committed.client() as first_client, committed.client() as second_client:
        async with follow_up_row_locked(committed, created["id"]):
            first = asyncio.create_task(
                acting_through(bo, first_client).post(url, json=body, headers=headers)
            )
            await until_lock_waiters(committed, 1)  # the first holds the key, waits for the row
            duplicate = await acting_through(bo, second_client).post(
                url, json=body, headers=headers
            )
            assert_problem(duplicate, 409, "idempotency_key_in_progress")
        answered = await first

    assert answered.status_code == 200, answered.text
    assert_replayed(answered, await bo.post(url, json=body, headers=headers))
    assert await count(committed, Response, admin.tenant_id) == 1


async def test_of_many_duplicates_at_once_one_writes(
    committed: CommittedApp, admin: Caller
) -> None:
    organizer = await admin.new_member()
    headers = key()

    async def send() -> httpx.Response:
        async with committed.client() as client:
            return await acting_through(organizer, client).post(
                "/v1/follow-ups", json=follow_up_body(), headers=headers
            )

    responses = await asyncio.gather(*(send() for _ in range(8)))

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert created
    assert len({r.content for r in created}) == 1
    for refused in (r for r in responses if r.status_code == 409):
        assert_problem(refused, 409, "idempotency_key_in_progress")
    assert await count(committed, FollowUp, admin.tenant_id) == 1
