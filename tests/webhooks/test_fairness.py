"""Fair delivery between tenants: one tenant's hanging endpoints and backlog starve no other.

Tenant A has 8 endpoints on a loopback receiver that never answers within the (short, 2 s)
timeout and a backlog of 2,000 events (16,000 deliveries, retried at once after each timeout);
without a per-tenant cap its endpoints' share (8 x 16) would fill all 128 slots of the
dispatcher. Tenant B's healthy endpoint must still get each of its events within 1 s at p99.
The database is this module's own, so A's backlog is left there (its endpoints disabled).
"""

import asyncio
import math
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from app.config import Settings
from tests.webhooks.receiver import Answer
from tests.webhooks.support import World, world

HANGING_ENDPOINTS = 8
BACKLOG_EVENTS = 2_000
TIMEOUT_SECONDS = 2.0
B_EVENTS = 100
TENANT_CAP: int = Settings.model_fields["webhook_tenant_concurrency"].default


@pytest.fixture(scope="module")
def committed_url(make_database: Callable[..., str]) -> str:
    return make_database()


def p99(samples: list[float]) -> float:
    """Nearest-rank 99th percentile."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


async def _stuck_backlog(w: World) -> uuid.UUID:
    """Tenant A: 8 hanging endpoints and 2,000 events queued for each; returns its id."""
    hanging = await w.another_receiver()
    a = w.another_tenant()
    for n in range(HANGING_ENDPOINTS):
        path = f"/hang/{n}"
        # Answers only after the dispatcher gave up on the attempt.
        hanging.always(Answer(delay=TIMEOUT_SECONDS + 1.0), path=path)
        await w.subscribe(["follow_up.created"], path=path, receiver=hanging, admin=a)
    await w.sql(
        "INSERT INTO events (id, tenant_id, type, data) "
        "SELECT gen_random_uuid(), :tenant_id, 'follow_up.created', '{}'::jsonb "
        "FROM generate_series(1, :n)",
        tenant_id=a.tenant_id,
        n=BACKLOG_EVENTS,
    )
    await w.sql(
        "WITH queued AS ("
        "  INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id)"
        "  SELECT e.tenant_id, w.id, e.id FROM events e"
        "  JOIN webhook_endpoints w ON w.tenant_id = e.tenant_id"
        "  WHERE e.tenant_id = :tenant_id AND w.enabled RETURNING 1"
        ") SELECT count(*), pg_notify('convene_webhooks', '') FROM queued",
        tenant_id=a.tenant_id,
    )
    # Stuck: the tenant holds its share of the dispatcher's slots with hanging attempts.
    total = HANGING_ENDPOINTS * BACKLOG_EVENTS
    paths = [f"/hang/{n}" for n in range(HANGING_ENDPOINTS)]
    await hanging.wait_until_busy(TENANT_CAP, paths, timeout=10)
    assert (await _pending(w, a.tenant_id)) > total - 2 * TENANT_CAP
    return a.tenant_id


async def _pending(w: World, tenant_id: uuid.UUID) -> int:
    [(count,)] = await w.sql(
        "SELECT count(*) FROM webhook_deliveries WHERE tenant_id = :t AND status = 'pending'",
        t=tenant_id,
    )
    return int(count)


async def _in_flight(w: World, tenant_id: uuid.UUID) -> int:
    [(count,)] = await w.sql(
        "SELECT count(*) FROM webhook_deliveries WHERE tenant_id = :t AND status = 'delivering'",
        t=tenant_id,
    )
    return int(count)


async def test_a_tenant_with_hanging_endpoints_and_a_backlog_does_not_stall_another(
    committed_url: str, tmp_path: Path
) -> None:
    async with world(committed_url, tmp_path, webhook_timeout_seconds=TIMEOUT_SECONDS) as w:
        a = await _stuck_backlog(w)
        await w.subscribe(["follow_up.created"], path="/healthy")
        organizer = await w.admin.new_member(name="Olga Organizer")
        invitee = await w.admin.new_member(name="Ivan Invitee")
        committed: dict[str, float] = {}
        peak_in_flight = 0
        for n in range(B_EVENTS):
            follow_up_id, _ = await w.invite(organizer, invitee)
            committed[follow_up_id] = time.monotonic()  # the 201 follows the commit
            if n % 10 == 0:
                peak_in_flight = max(peak_in_flight, await _in_flight(w, a))
            await asyncio.sleep(0.02)
        arrived = await w.receiver.wait_for(B_EVENTS, path="/healthy", timeout=30)
        events = await w.sql(
            "SELECT id, follow_up_id FROM events WHERE tenant_id = :t "
            "AND type = 'follow_up.created'",
            t=w.admin.tenant_id,
        )
        follow_up_of = {str(row.id): str(row.follow_up_id) for row in events}
        waits = [m.arrived - committed[follow_up_of[m.webhook_id]] for m in arrived]
        a_left = await _pending(w, a)

    figure = p99(waits)
    print(
        f"tenant B, {len(waits)} events beside tenant A's stuck backlog: commit to arrival "
        f"p50 {sorted(waits)[len(waits) // 2] * 1000:.1f} ms, p99 {figure * 1000:.1f} ms, "
        f"max {max(waits) * 1000:.1f} ms; A in flight at most {peak_in_flight}, "
        f"{a_left} of A's deliveries still pending"
    )
    assert len(waits) == B_EVENTS == len({m.webhook_id for m in arrived})
    assert figure < 1.0, f"p99 {figure:.3f}s"
    # A stayed stuck throughout, within its cap.
    assert a_left > HANGING_ENDPOINTS * BACKLOG_EVENTS // 2
    assert TENANT_CAP // 2 <= peak_in_flight <= TENANT_CAP
