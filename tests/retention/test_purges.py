"""The retention purges, on the test database: what goes at its age, what stays, in batches."""

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.db.base import new_id
from app.retention.job import purge
from app.retention.purges import PURGES, Purge
from tests.fixtures.factories import TEST_SECRET

DAY = timedelta(days=1)

ENDPOINT = text("""
INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, enabled, secret, deleted_at)
VALUES (:id, :tenant_id, 'https://hooks.example.com/', '{}', :enabled, 'v1:k:n:c',
        now() - make_interval(days => :deleted_days_ago))
""")
EVENT = text("""
INSERT INTO events (id, tenant_id, type, data, created_at)
VALUES (:id, :tenant_id, 'webhook.ping', '{}', now() - make_interval(days => :days_ago))
""")
DELIVERY = text("""
INSERT INTO webhook_deliveries (id, tenant_id, endpoint_id, event_id, status, attempts,
    created_at, last_attempt_at, delivered_at)
VALUES (:id, :tenant_id, :endpoint_id, :event_id, CAST(:status AS text), 1,
    now() - make_interval(days => :days_ago), now() - make_interval(days => :days_ago),
    CASE WHEN CAST(:status AS text) = 'succeeded' THEN now() - make_interval(days => :days_ago) END)
""")
ATTEMPTS = text("""
INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, started_at, duration_ms, outcome)
SELECT :tenant_id, :delivery_id, n, now() - make_interval(days => :days_ago), 5, 'success'
FROM generate_series(1, :count) AS n
""")
NOTIFICATION = text("""
INSERT INTO notifications (id, tenant_id, associate_id, kind, follow_up_id, message, created_at)
VALUES (:id, :tenant_id, :id, 'invited', :id, 'm', now() - make_interval(days => :days_ago))
""")
COUNT = "SELECT count(*) FROM {table} WHERE tenant_id = :tenant_id"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Ages of 30 days (notifications 90), and batches of 2 so that every purge repeats."""
    return Settings(
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        retention_batch_size=2,
        retention_pause_seconds=0,
    )


class Tenant:
    """Rows of one fresh tenant, written with the ages a test gives them."""

    def __init__(self, connection: AsyncConnection) -> None:
        self.connection = connection
        self.id = uuid.uuid4()

    async def _run(self, statement: Any, **params: Any) -> uuid.UUID:
        row_id = params.setdefault("id", new_id())
        await self.connection.execute(statement, {"tenant_id": self.id, **params})
        assert isinstance(row_id, uuid.UUID)
        return row_id

    async def endpoint(self, deleted_days_ago: float | None = None) -> uuid.UUID:
        return await self._run(
            ENDPOINT, enabled=deleted_days_ago is None, deleted_days_ago=deleted_days_ago
        )

    async def event(self, days_ago: float) -> uuid.UUID:
        return await self._run(EVENT, days_ago=days_ago)

    async def delivery(
        self, endpoint_id: uuid.UUID, status: str, days_ago: float, attempts: int = 1
    ) -> uuid.UUID:
        event_id = await self.event(days_ago)
        delivery_id = await self._run(
            DELIVERY, endpoint_id=endpoint_id, event_id=event_id, status=status, days_ago=days_ago
        )
        await self.connection.execute(
            ATTEMPTS,
            {
                "tenant_id": self.id,
                "delivery_id": delivery_id,
                "days_ago": days_ago,
                "count": attempts,
            },
        )
        return delivery_id

    async def notification(self, days_ago: float) -> uuid.UUID:
        return await self._run(NOTIFICATION, days_ago=days_ago)

    async def count(self, table: str) -> int:
        found = await self.connection.scalar(
            text(COUNT.format(table=table)), {"tenant_id": self.id}
        )
        return int(found or 0)

    async def ids(self, table: str) -> set[uuid.UUID]:
        rows = await self.connection.execute(
            text(f"SELECT id FROM {table} WHERE tenant_id = :tenant_id"),  # noqa: S608
            {"tenant_id": self.id},
        )
        return set(rows.scalars())


def _named(*names: str) -> tuple[Purge, ...]:
    return tuple(p for p in PURGES if p.name in names)


async def test_settled_deliveries_and_their_attempts_go_after_their_age_pending_work_stays(
    connection: AsyncConnection, settings: Settings
) -> None:
    tenant = Tenant(connection)
    endpoint = await tenant.endpoint()
    old_ok = await tenant.delivery(endpoint, "succeeded", 31, attempts=3)
    old_failed = await tenant.delivery(endpoint, "failed", 40, attempts=5)
    young_ok = await tenant.delivery(endpoint, "succeeded", 29)
    old_pending = await tenant.delivery(endpoint, "pending", 45, attempts=2)
    old_delivering = await tenant.delivery(endpoint, "delivering", 45)

    removed = await purge(
        connection, settings, _named("webhook attempts", "webhook deliveries", "events")
    )

    assert removed == {"webhook attempts": 8, "webhook deliveries": 2, "events": 2}
    assert await tenant.ids("webhook_deliveries") == {young_ok, old_pending, old_delivering}
    assert old_ok not in await tenant.ids("webhook_deliveries")
    assert old_failed not in await tenant.ids("webhook_deliveries")
    # Attempts of pending work and young attempts stay: 1 + 2 + 1.
    assert await tenant.count("webhook_attempts") == 4
    # The events of the kept deliveries stay, however old.
    assert await tenant.count("events") == 3


async def test_old_events_go_once_no_delivery_refers_to_them(
    connection: AsyncConnection, settings: Settings
) -> None:
    tenant = Tenant(connection)
    endpoint = await tenant.endpoint()
    old = {await tenant.event(31) for _ in range(5)}
    young = await tenant.event(1)
    held = await tenant.delivery(endpoint, "pending", 60)

    removed = await purge(connection, settings, _named("events"))

    assert removed == {"events": 5}
    remaining = await tenant.ids("events")
    assert young in remaining
    assert not old & remaining
    assert len(remaining) == 2
    assert held in await tenant.ids("webhook_deliveries")


async def test_notifications_go_after_90_days_read_or_not(
    connection: AsyncConnection, settings: Settings
) -> None:
    tenant = Tenant(connection)
    old = [await tenant.notification(91) for _ in range(3)]
    kept = await tenant.notification(89)

    removed = await purge(connection, settings, _named("notifications"))

    assert removed == {"notifications": 3}
    assert await tenant.ids("notifications") == {kept}
    assert old


async def test_ages_are_settings(connection: AsyncConnection, settings: Settings) -> None:
    tenant = Tenant(connection)
    await tenant.notification(3)
    await tenant.event(3)

    short = settings.model_copy(
        update={"retention_notifications_days": 2, "retention_events_days": 4}
    )
    removed = await purge(connection, short, _named("notifications", "events"))

    assert removed == {"notifications": 1, "events": 0}


async def test_a_deleted_endpoint_is_purged_with_its_log_but_not_under_an_attempt_in_flight(
    connection: AsyncConnection, settings: Settings
) -> None:
    tenant = Tenant(connection)
    live = await tenant.endpoint()
    doomed = await tenant.endpoint(deleted_days_ago=0)
    busy = await tenant.endpoint(deleted_days_ago=0)
    kept = {await tenant.delivery(live, "pending", 0) for _ in range(2)}
    for status in ("succeeded", "failed", "pending", "succeeded", "pending"):
        await tenant.delivery(doomed, status, 0, attempts=3)
    in_flight = await tenant.delivery(busy, "delivering", 0)
    await tenant.delivery(busy, "pending", 0)

    removed = await purge(connection, settings, PURGES[1:4])

    assert removed == {
        "attempts of deleted endpoints": 16,
        "deliveries of deleted endpoints": 6,
        "deleted endpoints": 1,
    }
    assert await tenant.ids("webhook_endpoints") == {live, busy}
    assert await tenant.ids("webhook_deliveries") == kept | {in_flight}
    # The events stay: they are the tenant's, not the endpoint's.
    assert await tenant.count("events") == 9

    # Once the attempt in flight has closed, the next round takes the rest.
    await connection.execute(
        text("UPDATE webhook_deliveries SET status = 'succeeded' WHERE id = :id"),
        {"id": in_flight},
    )
    again = await purge(connection, settings, PURGES[1:4])
    assert again == {
        "attempts of deleted endpoints": 1,
        "deliveries of deleted endpoints": 1,
        "deleted endpoints": 1,
    }
    assert await tenant.ids("webhook_endpoints") == {live}


async def test_a_stop_ends_the_purge_between_batches(
    connection: AsyncConnection, settings: Settings
) -> None:
    import asyncio

    tenant = Tenant(connection)
    for _ in range(6):
        await tenant.notification(100)
    stopping = asyncio.Event()
    stopping.set()

    removed = await purge(connection, settings, _named("notifications"), stopping)

    assert removed == {"notifications": 0}
    assert await tenant.count("notifications") == 6
