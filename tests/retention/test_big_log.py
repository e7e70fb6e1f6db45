"""Deleting an endpoint with a 50,000-attempt log: the request marks one row; the job purges.

Before, the request deleted the endpoint and its log by cascade inside the request; the test
times that statement on an identical log for comparison, and prints both figures.
"""

import time
import uuid
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.retention.job import purge
from app.retention.purges import PURGES
from tests.fixtures.factories import TEST_SECRET, Caller
from tests.webhooks.management import subscribe

DELIVERIES = 5_000
ATTEMPTS_EACH = 10

# A log of :deliveries failed deliveries of one endpoint, :attempts attempts each.
BIG_LOG = text("""
WITH events AS (
    INSERT INTO events (id, tenant_id, type, data)
    SELECT gen_random_uuid(), :tenant_id, 'webhook.ping', '{}'
    FROM generate_series(1, :deliveries)
    RETURNING id
), deliveries AS (
    INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, status, attempts)
    SELECT :tenant_id, :endpoint_id, id, 'failed', :attempts FROM events
    RETURNING id
)
INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, started_at, duration_ms, outcome,
    error, response_body)
SELECT :tenant_id, d.id, n, now(), 15000, 'timeout', 'no complete answer in time', NULL
FROM deliveries d, generate_series(1, :attempts) AS n
""")
# The statement the request used to run: the endpoint, and its log by cascade.
CASCADE = text("DELETE FROM webhook_endpoints WHERE tenant_id = :tenant_id AND id = :id")
ATTEMPT_COUNT = text(
    "SELECT count(*) FROM webhook_attempts a JOIN webhook_deliveries d"
    " ON d.tenant_id = a.tenant_id AND d.id = a.delivery_id WHERE d.endpoint_id = :id"
)


async def _big_log(connection: AsyncConnection, tenant: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    await connection.execute(
        BIG_LOG,
        {
            "tenant_id": tenant,
            "endpoint_id": endpoint_id,
            "deliveries": DELIVERIES,
            "attempts": ATTEMPTS_EACH,
        },
    )
    assert await connection.scalar(ATTEMPT_COUNT, {"id": endpoint_id}) == 50_000


async def test_deleting_an_endpoint_with_50k_attempts_is_one_quick_write(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, tmp_path: Path
) -> None:
    doomed = uuid.UUID((await subscribe(admin))["id"])
    before = uuid.UUID((await subscribe(admin))["id"])
    empty = uuid.UUID((await subscribe(admin))["id"])
    await _big_log(connection, tenant, doomed)
    await _big_log(connection, tenant, before)
    await connection.execute(text("ANALYZE webhook_deliveries, webhook_attempts"))

    started = time.perf_counter()
    await connection.execute(CASCADE, {"tenant_id": tenant, "id": before})
    cascade_ms = (time.perf_counter() - started) * 1000

    started = time.perf_counter()
    response = await admin.delete(f"/v1/webhooks/{empty}")
    empty_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 204, response.text

    started = time.perf_counter()
    response = await admin.delete(f"/v1/webhooks/{doomed}")
    request_ms = (time.perf_counter() - started) * 1000

    assert response.status_code == 204, response.text
    assert await connection.scalar(ATTEMPT_COUNT, {"id": doomed}) == 50_000
    settings = Settings(
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        retention_batch_size=1000,
        retention_pause_seconds=0,
    )
    started = time.perf_counter()
    removed = await purge(connection, settings, PURGES[1:4])
    purge_ms = (time.perf_counter() - started) * 1000
    print(
        f"\nDELETE /v1/webhooks/{{id}} with 50,000 attempts: {request_ms:.1f} ms, with none: "
        f"{empty_ms:.1f} ms (the cascade it replaced, same transaction, warm: "
        f"{cascade_ms:.1f} ms); the job's purge in batches of 1,000: {purge_ms:.0f} ms"
    )

    assert removed == {
        "attempts of deleted endpoints": 50_000,
        "deliveries of deleted endpoints": DELIVERIES,
        "deleted endpoints": 2,
    }
    assert await connection.scalar(ATTEMPT_COUNT, {"id": doomed}) == 0
    # One row written, whatever the log's length: as quick as deleting an endpoint with none.
    assert request_ms < 250
    assert request_ms < empty_ms * 2 + 20
