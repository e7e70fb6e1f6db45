"""Benchmark of webhook delivery: invitation responses committed through the real HTTP API,
delivered by the real dispatcher to a local receiver that counts them.

Everything runs on this machine: a throwaway database (on the server of
CONVENE_BENCH_DATABASE_URL, else an embedded PostgreSQL), `python -m app serve`, a receiver
process (aiohttp on 127.0.0.1, answering 200 at once, recording each request's `webhook-id`
and arrival time.time(), and checking the signature of every 100th with the reference
`standardwebhooks` package), and this script as the client. Setup goes through the API: an
admin creates 200 associates, the associates organize N/10 follow-ups inviting 10 colleagues
each, and only then the receiver is subscribed to invitation.accepted/declined/tentative.
Every response carries a unique comment ("p1:17"). Events say only whether there is one, so
the receiver tells a delivery's phase from its `webhook-id` (a UUIDv7: the event's creation
time, after the client marked the phase's start), and after the run each event is matched to
its request's comment in the database (the response row written in the event's transaction).
Responses go out in random order, so consecutive ones rarely concern the same follow-up
(whose events are delivered in order).

  1  throughput: serve with its in-process dispatcher; the N invitees answer (accepted,
     declined or tentative at random, each with their own token) with 32 requests in
     flight, as fast as the API takes them. deliveries/s = N / (last arrival - first
     response), API and dispatcher sharing one process.
  3  latency (run second, on the same serve): answers changed at --rate per second for
     --latency-seconds, open loop (at most 64 unanswered at once; an API slower than the
     rate shows as achieved_rate < rate and rate_sustained false). commit-to-delivery =
     arrival at the receiver - the time the client had the 200 (the commit precedes the
     response, so this slightly understates; insert_to_delivery, from the delivery row's
     insert inside the transaction, overstates).
  2  drain: serve restarted with CONVENE_WEBHOOK_DISPATCHER=false; every invitee changes
     the answer again (N more events queue up, none sent); serve stopped; then
     `python -m app worker` alone: deliveries/s = (N - 1) / (last arrival - first
     arrival). (Disabling the endpoint instead would not queue anything: events fan out
     only to enabled endpoints.)
  baseline: a plain aiohttp client (plain asyncio loop, as `convene worker` runs) posts the
     N bodies the drain delivered, signed the same way, with the same headers, to the same
     receiver with as many requests in flight as the dispatcher (CONVENE_WEBHOOK_CONCURRENCY), and
     again with its per-endpoint bound (CONVENE_WEBHOOK_ENDPOINT_CONCURRENCY).

Each phase also reports where a delivery's time went, from the delivery rows (database
clock, the same machine's unless CONVENE_BENCH_DATABASE_URL points elsewhere): queued_to_
claimed (row inserted in the response's transaction -> leased), claimed_to_arrival (signing
and HTTP), arrival_to_recorded (-> outcome written back) and endpoint_slot (leased ->
written back: how long a delivery counts against the endpoint's in-flight bound).

For each phase, the CPU seconds of the API, worker (from when it answers on its metrics
port), PostgreSQL (the postmaster's process tree), receiver and this client are read from
/proc, with the machine's busy share and the cores busy with anything else (other_cores).

Run from the project root:

    .venv/bin/python bench/webhooks.py [--responses N] [--rate R] [--latency-seconds S]
        [--seed N] [--app-env CONVENE_NAME=VALUE ...] [--dump FILE]

`--app-env` passes a setting to serve and worker (for tuning experiments; the defaults are
measured without); `--dump` writes each response's times as JSON lines. One JSON line of
figures goes to stdout; progress to stderr. About 10 minutes at the default size, most of it
the API taking 2 x 20,000 responses.
"""

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx
from aiohttp import web
from common import (
    Running,
    bounded,
    busy_share,
    convene_process,
    cpu_times,
    free_port,
    log,
    parent_pid,
    postgres_server,
    process_cpu_seconds,
    serve_process,
    stop_process,
    summary,
    throwaway_database,
    wait_until_healthy,
)
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.auth.tokens import issue_token
from app.config import Settings
from app.db.engine import plain_dsn
from app.webhooks.signing import signed_headers

try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it
    uvloop = None

ASSOCIATES = 200
INVITEES = 10  # per follow-up
LOAD_CONCURRENCY = 32  # responses in flight in phases 1 and 2
SETUP_CONCURRENCY = 8
PACED_IN_FLIGHT = 64  # phase 3: beyond this many unanswered, later ones wait in the client
VERIFY_EVERY = 100  # the receiver checks the signature of every this many requests
QUIET_SECONDS = 40.0  # stop waiting for deliveries when none arrived for this long
STATUSES = ("accepted", "declined", "tentative")
EVENT_TYPES = [f"invitation.{s}" for s in STATUSES]
DISPATCHER_CONCURRENCY: int = Settings.model_fields["webhook_concurrency"].default
ENDPOINT_CONCURRENCY: int = Settings.model_fields["webhook_endpoint_concurrency"].default
CPUS = os.cpu_count() or 1
APP_ENV = {
    "CONVENE_WEBHOOK_ALLOW_HTTP": "true",
    "CONVENE_WEBHOOK_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
}
HOOK = "/hook"
BASELINE = "/baseline"
USER_AGENT = "Convene-Webhooks/1"  # what the dispatcher sends; the baseline sends it too
YEAR_START = datetime(2027, 1, 4, tzinfo=UTC)  # a Monday

# The body the dispatcher sends, as app/webhooks/queue.py builds it in the claim, for the
# answer events whose response's comment is LIKE $2. An event and its response row are written
# by one statement (ANSWER), so they share a transaction id: that pairs them.
BODY_SQL = """
SELECT e.id, jsonb_build_object(
    'type', e.type,
    'timestamp', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'data', e.data
)::text AS body
FROM events e
JOIN responses r ON r.tenant_id = e.tenant_id AND r.xmin = e.xmin
  AND r.participant_id = (e.data->>'participant_id')::uuid
WHERE e.type = ANY($1::text[]) AND r.comment LIKE $2
ORDER BY e.created_at
"""

# Per delivery of a phase (its responses' comments LIKE $2, paired as above): when its row was
# inserted (in the response's transaction), last claimed (the lease taken, just before
# sending) and recorded as delivered (the write back).
TIMELINE_SQL = """
SELECT r.comment, e.id AS event_id,
       extract(epoch FROM d.created_at)::float8 AS queued,
       extract(epoch FROM d.last_attempt_at)::float8 AS claimed,
       extract(epoch FROM d.delivered_at)::float8 AS recorded,
       d.attempts, d.status
FROM webhook_deliveries d
JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
JOIN responses r ON r.tenant_id = e.tenant_id AND r.xmin = e.xmin
  AND r.participant_id = (e.data->>'participant_id')::uuid
WHERE e.type = ANY($1::text[]) AND r.comment LIKE $2
"""


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop when installed (as under uvicorn), else asyncio's own."""
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


def run_fast(coroutine: Any) -> Any:
    """Run a coroutine to completion on a fresh uvloop (the client's load generation)."""
    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(coroutine)


# The receiver (its own process) --------------------------------------------------------------


class ReceiverState:
    """What the receiver saw: one record per request, counts per (path, phase tag)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, float, str]] = []  # path, webhook-id, at, tag
        self.phases: list[tuple[int, str]] = []  # (start in unix ms, tag), in order
        self.totals: Counter[str] = Counter()
        self.ids: dict[str, set[str]] = {}
        self.last: dict[str, float] = {}
        self.secret: Webhook | None = None
        self.requests = 0
        self.checked = 0
        self.bad = 0
        self.bad_examples: list[str] = []

    def phase_of(self, webhook_id: str) -> str:
        """The phase an event belongs to: the last marked before its UUIDv7 was made."""
        try:
            made_ms = int(webhook_id.replace("-", "")[:12], 16)
        except ValueError:
            return ""
        return next((tag for start, tag in reversed(self.phases) if start <= made_ms), "")


def receiver_app(state: ReceiverState) -> web.Application:
    async def hook(request: web.Request) -> web.Response:
        arrived = time.time()
        body = await request.read()
        webhook_id = request.headers.get("webhook-id", "")
        tag = state.phase_of(webhook_id)
        key = f"{request.path} {tag}"
        state.records.append((request.path, webhook_id, arrived, tag))
        state.totals[key] += 1
        state.ids.setdefault(key, set()).add(webhook_id)
        state.last[key] = arrived
        state.requests += 1
        if state.requests % VERIFY_EVERY == 0:
            state.checked += 1
            try:
                if state.secret is None:
                    raise WebhookVerificationError("no secret set")
                state.secret.verify(body, dict(request.headers))
            except (WebhookVerificationError, ValueError) as exc:
                state.bad += 1
                if len(state.bad_examples) < 5:
                    state.bad_examples.append(f"{webhook_id}: {exc}")
        return web.Response(text="ok")

    async def set_secret(request: web.Request) -> web.Response:
        state.secret = Webhook((await request.text()).strip())
        return web.Response(text="ok")

    async def phase(request: web.Request) -> web.Response:
        state.phases.append((int(time.time() * 1000), (await request.text()).strip()))
        return web.Response(text="ok")

    async def progress(request: web.Request) -> web.Response:
        return web.json_response(
            {key: [state.totals[key], len(state.ids[key]), state.last[key]] for key in state.totals}
        )

    async def records(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "records": state.records,
                "signatures_checked": state.checked,
                "bad_signatures": state.bad,
                "bad_examples": state.bad_examples,
            }
        )

    app = web.Application()
    app.router.add_post(HOOK, hook)
    app.router.add_post(BASELINE, hook)
    app.router.add_post("/_bench/secret", set_secret)
    app.router.add_post("/_bench/phase", phase)
    app.router.add_get("/_bench/progress", progress)
    app.router.add_get("/_bench/records", records)
    return app


def receiver_main(port: int) -> int:
    """Serve until SIGTERM (aiohttp's run_app exits on it)."""
    state = ReceiverState()
    web.run_app(
        receiver_app(state),
        host="127.0.0.1",
        port=port,
        access_log=None,
        print=None,
        loop=new_loop(),
    )
    return 0


@contextmanager
def receiver_process() -> Iterator[Running]:
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="convene-bench-receiver-"))
    log_path = workdir / "receiver.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, __file__, "--receiver-port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(f"{base}/_bench/progress", process, log_path, "the receiver")
            log(f"receiver on {base} (pid {process.pid})")
            yield Running(process, base, log_path)
        finally:
            stop_process(process)
            output = log_path.read_text(errors="replace").strip()
            if output:
                log(f"receiver output:\n{output[-3000:]}")
            log_path.unlink(missing_ok=True)
            workdir.rmdir()


# CPU accounting ------------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds of the benchmark's processes over one phase (Linux /proc)."""

    def __init__(self, pids: dict[str, tuple[int, bool]]) -> None:
        self.pids = pids  # name -> (pid, whole process tree)
        self.seconds: dict[str, float] = {}
        self.wall = 0.0
        self.busy: float | None = None

    def _read(self) -> dict[str, float | None]:
        return {name: process_cpu_seconds(pid, tree) for name, (pid, tree) in self.pids.items()}

    def start(self) -> "CpuMeter":
        self._started = time.perf_counter()
        self._host = cpu_times()
        self._before = self._read()
        return self

    def stop(self) -> None:
        """Read again (while the processes still live) and keep the differences."""
        self.wall = time.perf_counter() - self._started
        after = self._read()
        self.busy = busy_share(self._host, cpu_times())
        self.seconds = {}
        for name, before in self._before.items():
            now = after.get(name)
            if before is not None and now is not None:
                self.seconds[name] = round(now - before, 2)

    def __enter__(self) -> "CpuMeter":
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def figures(self) -> dict[str, Any]:
        total = sum(self.seconds.values())
        return {
            "wall_s": round(self.wall, 2),
            "cpu_s": self.seconds,
            "cores": {k: round(v / self.wall, 2) for k, v in self.seconds.items()},
            "share_of_measured_cpu": {
                k: round(v / total, 2) if total else None for k, v in self.seconds.items()
            },
            "host_cpu_busy": self.busy,
            # Cores busy with anything else on the machine (other users, the kernel's share
            # not charged to a process): what skews this phase's figures.
            "other_cores": round(self.busy * CPUS - total / self.wall, 2)
            if self.busy is not None and self.wall
            else None,
        }


async def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL server's main process, when it runs on this machine."""
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        # Read while the backend lives: its parent is the postmaster.
        return parent_pid(await conn.fetchval("SELECT pg_backend_pid()"))
    finally:
        await conn.close()


# The tenant ----------------------------------------------------------------------------------


@dataclass
class Invitation:
    participant_id: str
    associate_id: str
    follow_up_id: str
    status: str = "not_read"


@dataclass
class World:
    tenant_id: uuid.UUID
    secret: str  # the JWT secret
    associates: list[str]
    tokens: dict[str, str]  # associate id -> bearer header value
    invitations: list[Invitation]
    follow_ups: int
    webhook_id: str = ""
    webhook_secret: str = ""


@dataclass(frozen=True)
class Job:
    """One response to send: who answers which invitation how, and its unique comment."""

    invitation: int
    status: str
    comment: str


class Failed(RuntimeError):
    pass


async def _expect(response: aiohttp.ClientResponse, status: int) -> Any:
    body = await response.read()
    if response.status != status:
        raise Failed(f"{response.method} {response.url.path} -> {response.status}: {body[:300]!r}")
    return json.loads(body) if response.content_type.endswith("json") else body


async def setup(base: str, secret: str, responses: int, seed: int) -> World:
    """Associates and follow-ups through the API (no subscription yet: nothing is sent)."""
    rng = random.Random(seed)
    tenant = uuid.uuid4()
    admin = {
        "Authorization": "Bearer "
        + issue_token(secret, tenant_id=tenant, subject="bench-admin", admin=True)
    }
    follow_ups = math.ceil(responses / INVITEES)
    connector = aiohttp.TCPConnector(limit=SETUP_CONCURRENCY)
    async with aiohttp.ClientSession(base, connector=connector) as http:

        async def associate(i: int) -> str:
            body = {
                "name": f"Associate {i}",
                "email": f"associate{i}@bench.example",
                "time_zone": "Europe/Copenhagen",
            }
            async with http.post("/v1/associates", json=body, headers=admin) as response:
                created = await _expect(response, 201)
            return str(created["id"])

        associates = await bounded(SETUP_CONCURRENCY, range(ASSOCIATES), associate)
        tokens = {
            a: "Bearer " + issue_token(secret, tenant_id=tenant, subject=a) for a in associates
        }
        log(f"created {len(associates)} associates")
        plans = []
        for f in range(follow_ups):
            owner = associates[f % ASSOCIATES]
            invitees = rng.sample([a for a in associates if a != owner], INVITEES)
            day = YEAR_START + timedelta(days=7 * (f // 50 % 52) + f % 5)
            start = day + timedelta(hours=7 + f % 9)
            plans.append((owner, invitees, start))

        async def follow_up(plan: tuple[str, list[str], datetime]) -> list[Invitation]:
            owner, invitees, start = plan
            body = {
                "title": "Bench review",
                "start_at": start.isoformat(),
                "end_at": (start + timedelta(hours=1)).isoformat(),
                "participants": [{"associate_id": a} for a in invitees],
            }
            headers = {"Authorization": tokens[owner]}
            async with http.post("/v1/follow-ups", json=body, headers=headers) as response:
                created = await _expect(response, 201)
            return [
                Invitation(p["id"], p["associate_id"], created["id"])
                for p in created["participants"]
                if p["role"] != "organizer"
            ]

        started = time.perf_counter()
        made = await bounded(SETUP_CONCURRENCY * 2, plans, follow_up)
        invitations = [i for group in made for i in group][:responses]
        log(
            f"created {follow_ups} follow-ups ({len(invitations)} invitations used) in "
            f"{time.perf_counter() - started:.1f}s"
        )
    return World(tenant, secret, associates, tokens, invitations, follow_ups)


async def subscribe(base: str, world: World, receiver: str) -> None:
    admin = {
        "Authorization": "Bearer "
        + issue_token(world.secret, tenant_id=world.tenant_id, subject="bench-admin", admin=True)
    }
    async with aiohttp.ClientSession(base) as http:
        body = {"url": receiver + HOOK, "event_types": EVENT_TYPES, "description": "bench"}
        async with http.post("/v1/webhooks", json=body, headers=admin) as response:
            created = await _expect(response, 201)
        world.webhook_id = created["id"]
        world.webhook_secret = created["secret"]
        async with http.post(f"{receiver}/_bench/secret", data=world.webhook_secret) as response:
            await _expect(response, 200)


def plan_jobs(world: World, tag: str, order: Sequence[int], rng: random.Random) -> list[Job]:
    """Answers for the invitations in `order`, each differing from the one before it."""
    jobs = []
    for n, i in enumerate(order):
        invitation = world.invitations[i]
        status = rng.choice([s for s in STATUSES if s != invitation.status])
        invitation.status = status
        jobs.append(Job(i, status, f"{tag}:{n}"))
    return jobs


# Sending responses ---------------------------------------------------------------------------


@dataclass
class Sent:
    """What the client saw of a phase's requests."""

    started: float = 0.0  # time.time() before the first request
    done: dict[str, float] = field(default_factory=dict)  # comment -> time.time() of the 200
    # Seconds per request: sent-to-answered (closed loop) or due-to-answered (open loop).
    latency: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def ok(self) -> int:
        return len(self.done)


async def _respond(http: aiohttp.ClientSession, world: World, job: Job, sent: Sent) -> float:
    invitation = world.invitations[job.invitation]
    async with http.post(
        f"/v1/invitations/{invitation.participant_id}/response",
        json={"status": job.status, "comment": job.comment},
        headers={"Authorization": world.tokens[invitation.associate_id]},
    ) as response:
        body = await response.read()
        answered = time.time()
    if response.status == 200:
        sent.done[job.comment] = answered
    else:
        sent.errors[f"{response.status}: {body[:200].decode(errors='replace')}"] += 1
    return answered


async def send_closed_loop(base: str, world: World, jobs: Sequence[Job]) -> Sent:
    """All jobs, LOAD_CONCURRENCY in flight, each next one as soon as one is answered."""
    sent = Sent()
    connector = aiohttp.TCPConnector(limit=LOAD_CONCURRENCY)
    async with aiohttp.ClientSession(base, connector=connector) as http:

        async def one(job: Job) -> None:
            began = time.perf_counter()
            await _respond(http, world, job, sent)
            sent.latency.append(time.perf_counter() - began)

        sent.started = time.time()
        await bounded(LOAD_CONCURRENCY, jobs, one)
    return sent


async def send_paced(base: str, world: World, jobs: Sequence[Job], rate: float) -> Sent:
    """Open loop: job i is due at i / rate seconds, whether or not earlier ones are answered.

    At most PACED_IN_FLIGHT are sent at once (the rest wait in the client, which counts in
    their scheduled-to-answered time), so an API slower than the rate is not pushed into
    pool timeouts.
    """
    sent = Sent()
    connector = aiohttp.TCPConnector(limit=PACED_IN_FLIGHT)
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(base, connector=connector) as http:

        async def one(job: Job, due: float) -> None:
            answered = await _respond(http, world, job, sent)
            sent.latency.append(answered - due)

        tasks = []
        sent.started = time.time()
        origin_loop, origin_wall = loop.time(), sent.started
        for i, job in enumerate(jobs):
            delay = origin_loop + i / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(job, origin_wall + i / rate)))
        await asyncio.gather(*tasks)
    return sent


# Waiting for and reading deliveries ----------------------------------------------------------


async def mark_phase(receiver: str, tag: str) -> None:
    """Tell the receiver that events made from now on belong to phase `tag`."""
    async with httpx.AsyncClient(base_url=receiver, timeout=10) as http:
        (await http.post("/_bench/phase", content=tag)).raise_for_status()


async def wait_for_deliveries(receiver: str, key: str, expected: int) -> float:
    """Poll the receiver until `expected` distinct deliveries arrived under `key` ("path tag"),
    or none arrived for QUIET_SECONDS; returns the seconds waited."""
    started = time.perf_counter()
    last_count, last_change, last_log = -1, time.perf_counter(), 0.0
    async with httpx.AsyncClient(base_url=receiver, timeout=10) as http:
        while True:
            progress = (await http.get("/_bench/progress")).json()
            distinct = progress.get(key, [0, 0, 0])[1]
            now = time.perf_counter()
            if distinct >= expected:
                return now - started
            if distinct != last_count:
                last_count, last_change = distinct, now
            elif now - last_change > QUIET_SECONDS:
                log(f"  {key}: nothing arrived for {QUIET_SECONDS:.0f}s; {distinct}/{expected}")
                return now - started
            if now - last_log > 5:
                log(f"  {key}: {distinct}/{expected} delivered")
                last_log = now
            await asyncio.sleep(0.05)


@dataclass
class Arrivals:
    """The receiver's records of one phase: first arrival per event id, and the counts."""

    first: dict[str, float]
    total: int
    distinct_ids: int

    @classmethod
    def of(cls, records: Sequence[Sequence[Any]], path: str, tag: str) -> "Arrivals":
        first: dict[str, float] = {}
        ids = set()
        total = 0
        for record_path, webhook_id, at, record_tag in records:
            if record_path != path or record_tag != tag:
                continue
            total += 1
            ids.add(webhook_id)
            if webhook_id not in first or at < first[webhook_id]:
                first[webhook_id] = at
        return cls(first, total, len(ids))

    @property
    def duplicates(self) -> int:
        return self.total - self.distinct_ids


Timeline = dict[str, tuple[float, float, float, int, str, str]]


async def timeline(url: str, tag: str) -> Timeline:
    """Per comment of the phase: its delivery's queued, claimed and recorded times, attempts,
    status, and its event's id."""
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await conn.fetch(TIMELINE_SQL, EVENT_TYPES, tag + ":%")
    finally:
        await conn.close()
    return {
        r["comment"]: (
            r["queued"],
            r["claimed"],
            r["recorded"],
            r["attempts"],
            r["status"],
            str(r["event_id"]),
        )
        for r in rows
    }


def stats_ms(samples: Sequence[float]) -> dict[str, float] | None:
    if not samples:
        return None
    return {
        **summary(samples),
        "mean_ms": round(statistics.fmean(samples) * 1000, 3),
        "max_ms": round(max(samples) * 1000, 3),
    }


def first_arrivals(arrivals: Arrivals, times: Timeline) -> dict[str, float]:
    """First arrival per comment, through each comment's event id."""
    return {c: arrivals.first[t[5]] for c, t in times.items() if t[5] in arrivals.first}


def delivery_figures(sent: Sent, arrivals: Arrivals, times: Timeline) -> dict[str, Any]:
    """Lost, duplicates, commit-to-delivery, and where the time went (database clock)."""
    expected = set(sent.done)
    first = first_arrivals(arrivals, times)
    delivered = expected & set(first)
    commit_to_delivery = [first[c] - sent.done[c] for c in delivered]
    insert_to_delivery = [first[c] - times[c][0] for c in delivered]
    queued_to_claimed = [times[c][1] - times[c][0] for c in delivered]
    claimed_to_arrival = [first[c] - times[c][1] for c in delivered]
    arrival_to_recorded = [times[c][2] - first[c] for c in delivered if times[c][2]]
    attempts = Counter(times[c][3] for c in expected if c in times)
    return {
        "expected": len(expected),
        "delivered": len(delivered),
        "lost": len(expected - delivered),
        "duplicates": arrivals.duplicates,
        "unexpected": len(set(arrivals.first) - {times[c][5] for c in expected if c in times}),
        "attempts_histogram": {str(k): v for k, v in sorted(attempts.items())},
        "commit_to_delivery": stats_ms(commit_to_delivery),
        "insert_to_delivery": stats_ms(insert_to_delivery),
        "queued_to_claimed": stats_ms(queued_to_claimed),
        "claimed_to_arrival": stats_ms(claimed_to_arrival),
        "arrival_to_recorded": stats_ms(arrival_to_recorded),
        # How long a delivery holds one of the endpoint's in-flight slots: from its claim
        # until its outcome is written back (it counts as in flight until then).
        "endpoint_slot": stats_ms([times[c][2] - times[c][1] for c in delivered if times[c][2]]),
    }


# The baseline --------------------------------------------------------------------------------


async def plain_client(
    receiver: str, bodies: Sequence[tuple[str, bytes]], secret: str, concurrency: int
) -> float:
    """POST every body, signed, with `concurrency` in flight, as the dispatcher would;
    returns posts per second."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=15, sock_connect=5)
    url = receiver + BASELINE
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers={"user-agent": USER_AGENT}
    ) as http:

        async def post(item: tuple[str, bytes]) -> None:
            event_id, body = item
            headers = signed_headers([secret], event_id, int(time.time()), body)
            async with http.post(url, data=body, headers=headers, allow_redirects=False) as r:
                await r.read()
                if r.status != 200:
                    raise Failed(f"baseline POST -> {r.status}")

        started = time.perf_counter()
        await bounded(concurrency, bodies, post)
        return len(bodies) / (time.perf_counter() - started)


async def delivered_bodies(url: str, tag: str) -> list[tuple[str, bytes]]:
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await conn.fetch(BODY_SQL, EVENT_TYPES, tag + ":%")
    finally:
        await conn.close()
    return [(str(r["id"]), r["body"].encode()) for r in rows]


async def fetch_records(receiver: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=receiver, timeout=60) as http:
        records: dict[str, Any] = (await http.get("/_bench/records")).json()
        return records


async def queue_state(url: str) -> dict[str, Any]:
    """Deliveries by status, and whether the planner has seen the table since it grew (a
    claim planned on stale statistics scans every open delivery per candidate)."""
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await conn.fetch("SELECT status, count(*) FROM webhook_deliveries GROUP BY 1")
        stats = await conn.fetchrow(
            """
            SELECT n_live_tup, n_mod_since_analyze,
                   extract(epoch FROM clock_timestamp() - greatest(last_analyze,
                       last_autoanalyze))::float8 AS analyzed_seconds_ago
            FROM pg_stat_user_tables WHERE relname = 'webhook_deliveries'
            """
        )
    finally:
        await conn.close()
    return {
        "by_status": {r["status"]: r["count"] for r in rows},
        "rows_changed_since_analyze": stats["n_mod_since_analyze"],
        "analyzed_seconds_ago": None
        if stats["analyzed_seconds_ago"] is None
        else round(stats["analyzed_seconds_ago"], 1),
    }


def dump(
    path: Path,
    sent: dict[str, Sent],
    arrivals: dict[str, Arrivals],
    times: dict[str, Timeline],
) -> None:
    """One JSON line per response: times (epoch seconds) of answer, row insert, claim,
    arrival and write-back, for looking at a run more closely."""
    firsts = {tag: first_arrivals(arrivals[tag], times[tag]) for tag in sent}
    with path.open("w") as out:
        for tag, phase in sent.items():
            for comment, answered in phase.done.items():
                queued, claimed, recorded, attempts, status, _ = times[tag].get(
                    comment, (None, None, None, None, None, None)
                )
                row = {
                    "comment": comment,
                    "answered": answered,
                    "queued": queued,
                    "claimed": claimed,
                    "arrived": firsts[tag].get(comment),
                    "recorded": recorded,
                    "attempts": attempts,
                    "status": status,
                }
                out.write(json.dumps(row) + "\n")
    log(f"wrote per-response times to {path}")


# Orchestration -------------------------------------------------------------------------------


def _check_errors(label: str, sent: Sent) -> float:
    """Log the requests that failed; the seconds from the first sent to the last answered."""
    for message, count in sent.errors.most_common(5):
        log(f"  {label}: {count} x {message}")
    if not sent.done:
        raise Failed(f"{label}: no response succeeded")
    return max(sent.done.values()) - sent.started


def run(args: argparse.Namespace) -> dict[str, Any]:
    n = args.responses
    rng = random.Random(args.seed)
    app_env = {**APP_ENV, **dict(pair.split("=", 1) for pair in args.app_env)}
    out: dict[str, Any] = {
        "responses": n,
        "rate": args.rate,
        "latency_seconds": args.latency_seconds,
        "seed": args.seed,
        "cpus": os.cpu_count(),
        "load_concurrency": LOAD_CONCURRENCY,
        "dispatcher_concurrency": int(
            app_env.get("CONVENE_WEBHOOK_CONCURRENCY", DISPATCHER_CONCURRENCY)
        ),
        "endpoint_concurrency": int(
            app_env.get("CONVENE_WEBHOOK_ENDPOINT_CONCURRENCY", ENDPOINT_CONCURRENCY)
        ),
        "app_env_overrides": {k: v for k, v in app_env.items() if k not in APP_ENV},
        "associates": ASSOCIATES,
        "invitees_per_follow_up": INVITEES,
    }
    with ExitStack() as stack:
        server_url = stack.enter_context(postgres_server())
        url = stack.enter_context(throwaway_database(server_url))
        secret = secrets.token_urlsafe(48)
        receiver = stack.enter_context(receiver_process())
        postmaster = asyncio.run(postmaster_pid(url))
        if postmaster is None:
            log("PostgreSQL is not on this machine: its CPU time is not measured")
        base_pids = {"receiver": (receiver.pid, True), "client": (os.getpid(), False)}
        if postmaster is not None:
            base_pids["postgres"] = (postmaster, True)

        # Setup, phase 1 and phase 3: serve with its dispatcher. -------------------------
        with serve_process(url, secret, app_env) as api:
            started = time.perf_counter()
            world = run_fast(setup(api.base, secret, n, args.seed))
            run_fast(subscribe(api.base, world, receiver.base))
            out["follow_ups"] = world.follow_ups
            out["setup_seconds"] = round(time.perf_counter() - started, 1)
            pids = {**base_pids, "api": (api.pid, True)}

            log(f"phase 1: {n} responses, {LOAD_CONCURRENCY} in flight, dispatcher in serve")
            order = list(range(n))
            rng.shuffle(order)
            jobs1 = plan_jobs(world, "p1", order, rng)
            asyncio.run(mark_phase(receiver.base, "p1"))
            gc.collect()
            gc.freeze()
            with CpuMeter(pids) as cpu1:
                sent1 = run_fast(send_closed_loop(api.base, world, jobs1))
                sent_seconds = _check_errors("phase 1", sent1)
                log(f"  answered {sent1.ok} in {sent_seconds:.1f}s")
                run_fast(wait_for_deliveries(receiver.base, f"{HOOK} p1", sent1.ok))
            out["api_responses_per_second"] = round(sent1.ok / sent_seconds, 1)

            total = round(args.rate * args.latency_seconds)
            log(f"phase 3: {total} responses at {args.rate}/s, dispatcher in serve")
            order = [i for _ in range(math.ceil(total / n)) for i in rng.sample(range(n), n)]
            jobs3 = plan_jobs(world, "p3", order[:total], rng)
            asyncio.run(mark_phase(receiver.base, "p3"))
            with CpuMeter(pids) as cpu3:
                sent3 = run_fast(send_paced(api.base, world, jobs3, args.rate))
                paced_seconds = _check_errors("phase 3", sent3)
                run_fast(wait_for_deliveries(receiver.base, f"{HOOK} p3", sent3.ok))

        # Phase 2: responses queue up with no dispatcher, then a worker drains them. -------
        with serve_process(url, secret, {**app_env, "CONVENE_WEBHOOK_DISPATCHER": "false"}) as api:
            log(f"phase 2: {n} responses, {LOAD_CONCURRENCY} in flight, no dispatcher")
            order = list(range(n))
            rng.shuffle(order)
            jobs2 = plan_jobs(world, "p2", order, rng)
            asyncio.run(mark_phase(receiver.base, "p2"))
            with CpuMeter({**base_pids, "api": (api.pid, True)}) as cpu2c:
                sent2 = run_fast(send_closed_loop(api.base, world, jobs2))
                commit_seconds = _check_errors("phase 2", sent2)
            log(f"  answered {sent2.ok} in {commit_seconds:.1f}s")
        queued = asyncio.run(queue_state(url))
        log(f"  queue before the worker: {queued}")
        metrics_port = free_port()
        spawned = time.time()
        # The worker starts delivering about when its metrics port answers.
        with convene_process(
            url,
            secret,
            ["worker", "--metrics-port", str(metrics_port)],
            f"http://127.0.0.1:{metrics_port}/metrics",
            app_env,
        ) as worker:
            log(f"  worker up (pid {worker.pid})")
            cpu2 = CpuMeter({**base_pids, "worker": (worker.pid, True)}).start()
            run_fast(wait_for_deliveries(receiver.base, f"{HOOK} p2", sent2.ok))
            cpu2.stop()
        gc.unfreeze()

        # Baseline: a plain client, the same bodies, the same receiver. --------------------
        bodies = asyncio.run(delivered_bodies(url, "p2"))
        baseline: dict[str, float] = {}
        baseline_cpu: dict[str, Any] = {}
        for concurrency in (DISPATCHER_CONCURRENCY, ENDPOINT_CONCURRENCY):
            log(f"baseline: {len(bodies)} posts, {concurrency} in flight, plain aiohttp")
            with CpuMeter(base_pids) as cpu_b:
                rate = asyncio.run(
                    plain_client(receiver.base, bodies, world.webhook_secret, concurrency)
                )
            baseline[str(concurrency)] = round(rate, 1)
            baseline_cpu[str(concurrency)] = cpu_b.figures()
            log(f"  {rate:.0f} posts/s")

        records = asyncio.run(fetch_records(receiver.base))
        rows = records["records"]
        arrivals = {tag: Arrivals.of(rows, HOOK, tag) for tag in ("p1", "p2", "p3")}
        times = {tag: asyncio.run(timeline(url, tag)) for tag in ("p1", "p2", "p3")}
        if args.dump:
            dump(args.dump, {"p1": sent1, "p2": sent2, "p3": sent3}, arrivals, times)

    # Figures -------------------------------------------------------------------------------
    a1, a2, a3 = arrivals["p1"], arrivals["p2"], arrivals["p3"]
    p1 = delivery_figures(sent1, a1, times["p1"])
    p2 = delivery_figures(sent2, a2, times["p2"])
    p3 = delivery_figures(sent3, a3, times["p3"])
    first_commit = min(sent1.done.values())
    last_arrival1 = max(a1.first.values())
    last_answer1 = max(sent1.done.values())
    out["deliveries_per_second"] = round(sent1.ok / (last_arrival1 - first_commit), 1)
    drain_first, drain_last = min(a2.first.values()), max(a2.first.values())
    drain_rate = (len(a2.first) - 1) / (drain_last - drain_first)
    out["deliveries_per_second_drain"] = round(drain_rate, 1)
    latency = p3["commit_to_delivery"] or {}
    out["commit_to_delivery_p50_ms"] = latency.get("p50_ms")
    out["commit_to_delivery_p99_ms"] = latency.get("p99_ms")
    out["commit_to_delivery_max_ms"] = latency.get("max_ms")
    out["lost"] = p1["lost"] + p2["lost"] + p3["lost"]
    out["duplicates"] = a1.duplicates + a2.duplicates + a3.duplicates
    out["signatures_checked"] = records["signatures_checked"]
    out["bad_signatures"] = records["bad_signatures"]
    if records["bad_examples"]:
        log(f"bad signatures, e.g.: {records['bad_examples']}")
    out["baseline_posts_per_second"] = baseline[str(DISPATCHER_CONCURRENCY)]
    out["baseline_posts_per_second_at_endpoint_concurrency"] = baseline[str(ENDPOINT_CONCURRENCY)]
    out["ratio_drain_over_plain_client"] = round(
        drain_rate / baseline[str(DISPATCHER_CONCURRENCY)], 3
    )
    out["ratio_drain_over_plain_client_at_endpoint_concurrency"] = round(
        drain_rate / baseline[str(ENDPOINT_CONCURRENCY)], 3
    )
    out["phase1_throughput"] = {
        "api_responses_per_second": out["api_responses_per_second"],
        "api_request_ms": stats_ms(sent1.latency),
        "deliveries_per_second": out["deliveries_per_second"],
        # What the dispatcher kept up with while the API was busy (in the same process).
        "deliveries_per_second_while_responding": round(
            sum(1 for c, at in a1.first.items() if c in sent1.done and at <= last_answer1)
            / (last_answer1 - first_commit),
            1,
        ),
        "delivery_tail_after_last_response_s": round(last_arrival1 - max(sent1.done.values()), 2),
        "errors": sum(sent1.errors.values()),
        **p1,
        "cpu": cpu1.figures(),
    }
    out["phase2_drain"] = {
        "deliveries_per_second": out["deliveries_per_second_drain"],
        "queue_before_worker": queued,
        "drain_seconds_first_to_last_arrival": round(drain_last - drain_first, 2),
        "worker_spawn_to_first_arrival_s": round(drain_first - spawned, 2),
        "deliveries_per_second_from_worker_spawn": round(len(a2.first) / (drain_last - spawned), 1),
        "api_responses_per_second_without_dispatcher": round(sent2.ok / commit_seconds, 1),
        "errors": sum(sent2.errors.values()),
        **p2,
        "cpu": cpu2.figures(),
        "cpu_while_committing": cpu2c.figures(),
    }
    out["phase3_latency"] = {
        "target_rate": args.rate,
        "achieved_rate": round(sent3.ok / paced_seconds, 1),
        "rate_sustained": sent3.ok / paced_seconds >= 0.95 * args.rate,
        "api_scheduled_to_answered_ms": stats_ms(sent3.latency),
        "errors": sum(sent3.errors.values()),
        **p3,
        "cpu": cpu3.figures(),
    }
    out["baseline"] = {
        "client": "aiohttp, asyncio default loop (as `convene worker`), bodies of phase 2",
        "posts_per_second_by_concurrency": baseline,
        "cpu": baseline_cpu,
    }
    out["targets_met"] = {
        "drain_at_least_1000_per_s": drain_rate >= 1000,
        "latency_rate_sustained": out["phase3_latency"]["rate_sustained"],
        "latency_p50_under_50_ms": latency.get("p50_ms", math.inf) < 50,
        "latency_p99_under_250_ms": latency.get("p99_ms", math.inf) < 250,
        "lost_zero": out["lost"] == 0,
        "no_duplicates": out["duplicates"] == 0,
        "signatures_ok": out["bad_signatures"] == 0 and out["signatures_checked"] > 0,
    }
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=20_000, help="N per phase")
    parser.add_argument("--rate", type=float, default=200.0, help="responses/s in phase 3")
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--app-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a CONVENE_* setting for serve and worker (repeatable)",
    )
    parser.add_argument(
        "--dump", type=Path, help="write one JSON line of times per response to this file"
    )
    parser.add_argument("--receiver-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.receiver_port is None and args.responses < 100:
        parser.error("need at least 100 responses")
    for pair in args.app_env:
        if not pair.startswith("CONVENE_") or "=" not in pair:
            parser.error(f"--app-env takes CONVENE_NAME=VALUE, not {pair!r}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.receiver_port is not None:
        return receiver_main(args.receiver_port)
    started = time.perf_counter()
    line = run(args)
    line["wall_seconds"] = round(time.perf_counter() - started, 1)
    log(f"wall time {line['wall_seconds']:.1f}s")
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
