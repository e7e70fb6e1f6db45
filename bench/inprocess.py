"""API CPU per request with no HTTP server or load generator: the ASGI app called in a loop.

For comparing two trees, or profiling one, without wrk's and uvicorn's share and their noise:
a throwaway database on the server of `--database-url` / CONVENE_BENCH_DATABASE_URL (else an
embedded PostgreSQL), bench/api.py's tenant loaded through `convene serve` and settled (VACUUM
ANALYZE), then this process builds the app (`create_app`), runs its lifespan, and calls it
directly, one request after another: `/healthz`, a week's free/busy of one colleague (as
bench/api.py's `free_busy`) and a follow-up read by its organizer (its `get_follow_up`).
Each path runs `--rounds` times `--requests` requests, the paths in turn; the figure is this
process's CPU time (`time.process_time`) per request, the app's and its driver's work, median
over the rounds, and its multiple of `/healthz`'s. Every answer must be 200.

    .venv/bin/python bench/inprocess.py [--requests 2000] [--rounds 4] [--database-url ...]

Profile it with `py-spy record -o profile.txt --format raw -- .venv/bin/python
bench/inprocess.py`. One JSON line goes to stdout; progress to stderr.
"""

import argparse
import asyncio
import logging
import os
import secrets
import statistics
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from api import Tenant, load_tenant, postgres, run_and_print, settle
from common import log, serve_process, throwaway_database

from app.auth.tokens import issue_token

SEED = 1
WARMUP = 100  # requests of each path before its first round
Request = tuple[str, str, str | None]  # path, query string, token


def requests_of(tenant: Tenant, secret: str) -> dict[str, list[Request]]:
    """Each path's requests, with tokens signed by `secret`."""
    tokens = {
        c: issue_token(secret, tenant_id=tenant.tenant_id, subject=c) for c in tenant.colleagues
    }
    free_busy = []
    for k, colleague in enumerate(tenant.colleagues):
        for monday in tenant.weekdays()[::5]:
            start = datetime(
                monday.year, monday.month, monday.day, tzinfo=ZoneInfo(tenant.zones[colleague])
            )
            query = urlencode(
                [
                    ("associate_ids", colleague),
                    ("start", start.isoformat()),
                    ("end", (start + timedelta(days=7)).isoformat()),
                ]
            )
            viewer = tenant.colleagues[(k + 1) % len(tenant.colleagues)]
            free_busy.append(("/v1/availability", query, tokens[viewer]))
    reads = [(f"/v1/follow-ups/{f.id}", "", tokens[f.owner]) for f in tenant.follow_ups]
    return {"healthz": [("/healthz", "", None)], "free_busy": free_busy, "get_follow_up": reads}


async def call(app: Any, request: Request) -> None:
    """One GET through the ASGI app; fails unless it answers 200."""
    path, query, token = request
    headers = [(b"host", b"bench")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    statuses = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses != [200]:
        raise RuntimeError(f"{path}?{query}: answered {statuses}")


async def measure(
    paths: dict[str, list[Request]], requests: int, rounds: int
) -> dict[str, list[float]]:
    """CPU ms per request of each path, one figure per round."""
    from app.main import create_app

    app = create_app()
    per_round: dict[str, list[float]] = {name: [] for name in paths}
    async with app.router.lifespan_context(app):
        for items in paths.values():
            for i in range(WARMUP):
                await call(app, items[i % len(items)])
        for r in range(rounds):
            for name, items in paths.items():
                started = time.process_time()
                for i in range(requests):
                    await call(app, items[(7 * i + r) % len(items)])
                per_round[name].append((time.process_time() - started) * 1000 / requests)
    return per_round


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Load the tenant, then the loop; the figures."""
    database_url = args.database_url or os.environ.get("CONVENE_BENCH_DATABASE_URL")
    secret = secrets.token_urlsafe(48)
    with postgres(database_url) as (server_url, private), throwaway_database(server_url) as url:
        with serve_process(url, secret) as api:
            tenant = asyncio.run(load_tenant(api.base, secret, SEED))
        asyncio.run(settle(url))
        # This process is the app now: the same settings a `convene serve` would be given.
        os.environ.update(
            CONVENE_DATABASE_URL=url,
            CONVENE_JWT_SECRET=secret,
            CONVENE_LOG_LEVEL="warning",
            CONVENE_WEBHOOK_DISPATCHER="off",
        )
        logging.disable(logging.WARNING)
        log(f"calling the app in-process: {args.rounds} rounds of {args.requests} per path")
        per_round = asyncio.run(measure(requests_of(tenant, secret), args.requests, args.rounds))
    healthz = statistics.median(per_round["healthz"])
    figures: dict[str, Any] = {}
    for name, values in per_round.items():
        median = statistics.median(values)
        figures[name] = {
            "cpu_ms": round(median, 3),
            "x_healthz": round(median / healthz, 2),
            "rounds": [round(v, 3) for v in values],
        }
    figures["postgres"] = "embedded" if private else "configured server"
    figures["requests_per_round"] = args.requests
    return figures


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per path and round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to create the throwaway database on "
        "(default: CONVENE_BENCH_DATABASE_URL, else an embedded server)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print one JSON line."""
    args = parse_args(argv)
    return run_and_print(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
