"""The claim statement on a big queue: its plan and its time, with one tenant's backlog stuck.

    .venv/bin/python bench/claim.py [--rows 100000] [--tenants 200] [--in-flight 128] [--repeat 50]

Loads a throwaway database with set SQL: one tenant with 8 endpoints holding most of the
backlog (`--rows`, all due) and `--in-flight` of its deliveries leased (128: as many as a
dispatcher holds, the tenant stuck on hanging endpoints), and `--tenants` other tenants with
one endpoint and 100 due deliveries each; then VACUUM ANALYZEs and runs the claim of
app/webhooks/queue.py (a batch of 100, each run in a transaction that is rolled back, so every
run sees the same queue). Prints the plan of one run to stderr and one JSON line: p50/p99 of
the claim, the rows it leased, whether the plan scans webhook_deliveries sequentially, and how
many tenants the batch holds. It runs whichever claim the `app` on the path has (before this
claim had a tenant cap, `queue.claim` took no `per_tenant`).

With CONVENE_BENCH_DATABASE_URL set it uses that server, else an embedded one.
"""

import argparse
import asyncio
import inspect
import json
import time
import uuid
from typing import Any

import common
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.engine import async_url
from app.webhooks import queue

BATCH = 100
IN_FLIGHT = 128
HEAVY_ENDPOINTS = 8
PER_OTHER_TENANT = 100

# One tenant's endpoints; `:n` of them, enabled, with a fake https URL.
LOAD_ENDPOINTS = text("""
INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, enabled, secret)
SELECT gen_random_uuid(), :tenant_id, 'https://hooks.example.com/' || g,
    ARRAY['invitation.accepted'], true, 'whsec_bench'
FROM generate_series(1, :n) AS g
""")

# `:per_endpoint` events for each endpoint of the tenant, and their deliveries, due a while
# ago in creation order; 50 follow-ups per endpoint, each with rising seqs.
LOAD_BACKLOG = text("""
WITH e AS (
    INSERT INTO events (id, tenant_id, type, data, created_at)
    SELECT gen_random_uuid(), w.tenant_id, 'invitation.accepted', '{}'::jsonb,
        now() - interval '1 hour' + g * interval '1 millisecond'
    FROM webhook_endpoints w, generate_series(1, :per_endpoint) AS g
    WHERE w.tenant_id = :tenant_id
    RETURNING id, tenant_id, created_at
), numbered AS (
    SELECT e.*, row_number() OVER (ORDER BY e.created_at, e.id) AS n FROM e
), endpoints AS (
    SELECT id, tenant_id, row_number() OVER (ORDER BY id) - 1 AS k,
        count(*) OVER () AS total
    FROM webhook_endpoints WHERE tenant_id = :tenant_id
)
INSERT INTO webhook_deliveries (
    tenant_id, endpoint_id, event_id, follow_up_id, seq, status, attempts, created_at,
    next_attempt_at
)
SELECT x.tenant_id, w.id, x.id,
    uuid_in(md5(w.id::text || (x.n % 50))::cstring), x.n, 'pending', 0, x.created_at,
    x.created_at
FROM numbered x JOIN endpoints w ON w.k = x.n % w.total
""")

# Leases `:n` of the tenant's deliveries (the first of each follow-up) as a dispatcher would.
LEASE_SOME = text("""
UPDATE webhook_deliveries d SET status = 'delivering', attempts = 1,
    lease_until = now() + interval '1 hour', claim_token = gen_random_uuid()
WHERE (d.tenant_id, d.id) IN (
    SELECT tenant_id, id FROM webhook_deliveries
    WHERE tenant_id = :tenant_id AND status = 'pending'
    ORDER BY next_attempt_at LIMIT :n
)
""")


async def load(url: str, rows: int, tenants: int, in_flight: int, analyze: bool) -> uuid.UUID:
    """The queue described above; returns the heavy tenant's id."""
    engine = create_async_engine(async_url(url))
    heavy = uuid.uuid4()
    try:
        async with engine.begin() as connection:
            await connection.execute(LOAD_ENDPOINTS, {"tenant_id": heavy, "n": HEAVY_ENDPOINTS})
            await connection.execute(
                LOAD_BACKLOG, {"tenant_id": heavy, "per_endpoint": rows // HEAVY_ENDPOINTS}
            )
            await connection.execute(LEASE_SOME, {"tenant_id": heavy, "n": in_flight})
            for _ in range(tenants):
                other = uuid.uuid4()
                await connection.execute(LOAD_ENDPOINTS, {"tenant_id": other, "n": 1})
                await connection.execute(
                    LOAD_BACKLOG, {"tenant_id": other, "per_endpoint": PER_OTHER_TENANT}
                )
        async with engine.connect() as connection:
            await connection.execute(text("COMMIT"))
            if not analyze:
                return heavy
            await connection.execute(text("VACUUM ANALYZE webhook_deliveries"))
            await connection.execute(text("VACUUM ANALYZE webhook_endpoints"))
            await connection.execute(text("VACUUM ANALYZE events"))
    finally:
        await engine.dispose()
    return heavy


def claim_params() -> dict[str, Any]:
    """The claim's parameters as the dispatcher passes them (the cap only where there is one)."""
    params: dict[str, Any] = {"limit": BATCH, "lease_seconds": 60.0, "per_endpoint": 16}
    if "per_tenant" in inspect.signature(queue.claim).parameters:
        params["per_tenant"] = 32
    return params


async def measure(url: str, heavy: uuid.UUID, repeat: int) -> dict[str, Any]:
    """Time the claim `repeat` times (rolled back each time); EXPLAIN one run."""
    engine = create_async_engine(async_url(url))
    params = claim_params()
    samples: list[float] = []
    leased = tenants = heavy_in_batch = 0
    try:
        async with engine.connect() as connection:
            for _ in range(repeat):
                transaction = await connection.begin()
                started = time.perf_counter()
                claimed = await queue.claim(connection, **params)
                samples.append(time.perf_counter() - started)
                leased = len(claimed)
                tenants = len({c.tenant_id for c in claimed})
                heavy_in_batch = sum(c.tenant_id == heavy for c in claimed)
                await transaction.rollback()
            transaction = await connection.begin()
            sql_params = {**params, "claim_token": uuid.uuid4()}
            plan = await connection.execute(
                text("EXPLAIN (ANALYZE, BUFFERS) " + queue.CLAIM_DELIVERIES.text), sql_params
            )
            lines = [row[0] for row in plan]
            await transaction.rollback()
    finally:
        await engine.dispose()
    common.log("plan of one claim:\n" + "\n".join(lines))
    return {
        "claim_ms": common.summary(samples),
        "leased": leased,
        "tenants_in_batch": tenants,
        "heavy_tenant_in_batch": heavy_in_batch,
        "seq_scan_on_deliveries": any("Seq Scan on webhook_deliveries" in line for line in lines),
        "execution_ms": next(
            (float(line.split()[2]) for line in lines if line.startswith("Execution Time")), None
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=IN_FLIGHT)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="skip VACUUM ANALYZE: the plan on fresh rows autovacuum has not analysed yet",
    )
    args = parser.parse_args()
    with common.postgres_server() as server, common.throwaway_database(server) as url:
        started = time.perf_counter()
        heavy = asyncio.run(load(url, args.rows, args.tenants, args.in_flight, not args.no_analyze))
        common.log(f"loaded in {time.perf_counter() - started:.1f}s")
        out = {
            "rows": args.rows + args.tenants * PER_OTHER_TENANT,
            "in_flight": args.in_flight,
            "analyzed": not args.no_analyze,
            **asyncio.run(measure(url, heavy, args.repeat)),
        }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
