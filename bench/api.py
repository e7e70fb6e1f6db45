"""Benchmark of the API's hot paths with wrk: req/s, latency, and CPU per request against /healthz.

Starts one `python -m app serve` on a throwaway database (on an embedded PostgreSQL in a
temporary directory, or on the server of `--database-url` / CONVENE_BENCH_DATABASE_URL,
created and dropped there), loads a tenant through the API (an admin creates 40 colleagues
and 10 rooms that allow double booking; the colleagues organize 1,000 follow-ups of 4
invitees each, every other one with a room, over 12 weeks of working hours, 8 creates in
flight), runs VACUUM ANALYZE and CHECKPOINT, then drives each path with wrk (1 thread,
8 connections, `--seconds` each after an unmeasured `--warmup`):

  healthz        GET /healthz, the framework's floor (always run, first);
  get_follow_up  GET /v1/follow-ups/{id} as its organizer, over every follow-up;
  inbox          GET /v1/invitations?status=not_read&limit=50 of 4 colleagues whose
                 invitations are never answered (each has 50+ not_read);
  free_busy      GET /v1/availability: 1 colleague's calendar for a week;
  first_free     GET /v1/availability/first-free: 10 colleagues, PT1H, a 31-day horizon;
  answer         POST /v1/invitations/{id}/response by the invitee, over the other
                 colleagues' invitations, each visit answering differently from the last;
  create         POST /v1/follow-ups with 4 colleagues and a room (run last: it adds data).

Paths that need a body, a token or rotation over ids get a generated wrk Lua script. A few
requests of each path are checked (status and body) before measuring, and a path whose wrk
run saw a non-2xx response or a socket error fails the benchmark. For each path the API's
CPU time (the serve process and its children, /proc) and PostgreSQL's are read before and
after the measured run, per request. PostgreSQL's is the postmaster's whole process tree
for the private embedded server; on a configured server, which others may share, it is the
backends of the throwaway database plus the server's background processes (a process that
starts and ends between two readings is missed there).

Run from the project root:

    .venv/bin/python bench/api.py [--seconds 10] [--warmup 2] [--paths a,b] [--workers N]
        [--log-format json|text] [--seed 1]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

One JSON line of figures goes to stdout; progress and wrk's own output to stderr.
"""

import argparse
import asyncio
import json
import os
import random
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from common import (
    bounded,
    busy_share,
    checkpoint,
    convene_process,
    cpu_times,
    free_port,
    log,
    parent_pid,
    postgres_server,
    process_cpu_seconds,
    throwaway_database,
)

from app.auth.tokens import issue_token
from app.db.engine import plain_dsn

COLLEAGUES = 40
ROOMS = 10
FOLLOW_UPS = 1_000
INVITEES = 4  # colleagues invited to each follow-up (the organizer is a 5th participant)
WEEKS = 12
LOAD_CONCURRENCY = 8
INBOX_COLLEAGUES = 4  # their invitations stay not_read for the inbox path
INBOX_PAGE = 50
FIRST_FREE_CALENDARS = 10
FIRST_FREE_HORIZON = timedelta(days=31)
THREADS = 1
CONNECTIONS = 8
WRK_TIMEOUT = "10s"
SAMPLE = 5  # requests of each path checked before it is measured
STATUSES = ("accepted", "declined", "tentative")
ZONES = ("Europe/Copenhagen", "Europe/Copenhagen", "Europe/Copenhagen", "Europe/London")
CPUS = os.cpu_count() or 1

# The paths in the order they run, with the issue's target for API CPU per request as a
# multiple of /healthz's.
TARGETS: dict[str, int | None] = {
    "healthz": None,
    "get_follow_up": 4,
    "inbox": 5,
    "free_busy": 4,
    "first_free": 5,
    "answer": 6,
    "create": 10,
}
# The order of the paths in the JSON line: the issue's numbering.
REPORT_ORDER = ("healthz", "answer", "get_follow_up", "inbox", "create", "free_busy", "first_free")


class Failed(RuntimeError):
    """A path answered wrongly, or a step of the benchmark could not be done."""


# The tenant ----------------------------------------------------------------------------------


@dataclass
class FollowUp:
    """A loaded follow-up: its organizer and its invitations."""

    id: str
    owner: str
    invitations: dict[str, str]  # participant id -> invited colleague


@dataclass
class Tenant:
    """What the paths need of the loaded tenant: ids, tokens and the diary's weeks."""

    tenant_id: uuid.UUID
    colleagues: list[str]
    zones: dict[str, str]
    tokens: dict[str, str]  # colleague -> token
    rooms: list[str]
    follow_ups: list[FollowUp]
    first_monday: date
    load_seconds: float = 0.0
    creates_per_second: float = 0.0

    def weekdays(self) -> list[date]:
        """The diary's days: Monday to Friday of WEEKS weeks."""
        return [
            self.first_monday + timedelta(days=7 * w + d) for w in range(WEEKS) for d in range(5)
        ]


def first_monday(today: date) -> date:
    """The Monday of the week after next: the diary is all in the future."""
    return today + timedelta(days=14 - today.weekday())


def meeting_time(day: date, zone: str, rng: random.Random) -> tuple[str, str]:
    """A start between 08:00 and 16:30 local time, 30, 60 or 90 minutes long."""
    start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)) + timedelta(
        minutes=8 * 60 + 30 * rng.randrange(18)
    )
    return start.isoformat(), (start + timedelta(minutes=rng.choice((30, 60, 90)))).isoformat()


def follow_up_body(
    tenant: Tenant, owner: str, day: date, rng: random.Random, room: str | None
) -> dict[str, Any]:
    """A follow-up of `owner` on `day` with INVITEES other colleagues and maybe a room."""
    invitees = rng.sample([c for c in tenant.colleagues if c != owner], INVITEES)
    start_at, end_at = meeting_time(day, tenant.zones[owner], rng)
    participants: list[dict[str, str]] = [{"associate_id": a} for a in invitees]
    if room is not None:
        participants.append({"resource_id": room})
    return {
        "title": "Customer review",
        "start_at": start_at,
        "end_at": end_at,
        "time_zone": tenant.zones[owner],
        "participants": participants,
    }


async def expect(response: aiohttp.ClientResponse, status: int) -> Any:
    """The JSON body of a response with the given status; else fail with what came back."""
    body = await response.read()
    if response.status != status:
        raise Failed(
            f"{response.method} {response.url.path_qs} -> {response.status} "
            f"(expected {status}): {body[:500]!r}"
        )
    return json.loads(body) if body else None


async def load_tenant(base: str, secret: str, seed: int) -> Tenant:
    """The directory, then the follow-ups, all through the API."""
    rng = random.Random(seed)
    tenant_id = uuid.uuid4()
    admin = {
        "Authorization": "Bearer "
        + issue_token(secret, tenant_id=tenant_id, subject="bench-admin", admin=True)
    }
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=LOAD_CONCURRENCY)
    async with aiohttp.ClientSession(base, connector=connector) as http:

        async def colleague(i: int) -> str:
            body = {
                "name": f"Colleague {i}",
                "email": f"colleague{i}@bench.example",
                "time_zone": ZONES[i % len(ZONES)],
            }
            async with http.post("/v1/associates", json=body, headers=admin) as response:
                return str((await expect(response, 201))["id"])

        async def room(i: int) -> str:
            body = {"name": f"Room {i}", "kind": "room", "allow_double_booking": True}
            async with http.post("/v1/resources", json=body, headers=admin) as response:
                return str((await expect(response, 201))["id"])

        colleagues = await bounded(LOAD_CONCURRENCY, range(COLLEAGUES), colleague)
        rooms = await bounded(LOAD_CONCURRENCY, range(ROOMS), room)
        tenant = Tenant(
            tenant_id=tenant_id,
            colleagues=colleagues,
            zones={c: ZONES[i % len(ZONES)] for i, c in enumerate(colleagues)},
            tokens={c: issue_token(secret, tenant_id=tenant_id, subject=c) for c in colleagues},
            rooms=rooms,
            follow_ups=[],
            first_monday=first_monday(date.today()),
        )
        directory_seconds = time.perf_counter() - started
        log(f"created {COLLEAGUES} colleagues and {ROOMS} rooms in {directory_seconds:.1f}s")

        days = tenant.weekdays()
        plans = [
            (
                colleagues[i % COLLEAGUES],
                follow_up_body(
                    tenant,
                    colleagues[i % COLLEAGUES],
                    rng.choice(days),
                    rng,
                    rng.choice(rooms) if i % 2 else None,
                ),
            )
            for i in range(FOLLOW_UPS)
        ]

        async def create(plan: tuple[str, dict[str, Any]]) -> FollowUp:
            owner, body = plan
            headers = {"Authorization": "Bearer " + tenant.tokens[owner]}
            async with http.post("/v1/follow-ups", json=body, headers=headers) as response:
                created = await expect(response, 201)
            invitations = {
                p["id"]: p["associate_id"]
                for p in created["participants"]
                if p["kind"] == "associate" and p["role"] != "organizer"
            }
            return FollowUp(created["id"], owner, invitations)

        creating = time.perf_counter()
        tenant.follow_ups = await bounded(LOAD_CONCURRENCY, plans, create)
        create_seconds = time.perf_counter() - creating
    tenant.load_seconds = time.perf_counter() - started
    tenant.creates_per_second = FOLLOW_UPS / create_seconds
    log(
        f"created {FOLLOW_UPS} follow-ups in {create_seconds:.1f}s "
        f"({tenant.creates_per_second:.0f}/s, {LOAD_CONCURRENCY} in flight)"
    )
    return tenant


async def settle(url: str) -> None:
    """Statistics for the planner and no dirty pages, as a tenant in steady state would have."""
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    await checkpoint(url)


# The paths -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One request of a path's rotation; `body` None for a GET."""

    method: str
    path: str
    token: str
    body: str | None = None
    expect: dict[str, Any] = field(default_factory=dict)  # fields the answer must carry


@dataclass
class PathSpec:
    """A path to measure: its rotation of requests and what a good answer looks like."""

    name: str
    label: str
    status: int
    entries: list[Entry]
    answers: bool = False  # the body is {"status": ...}, rotating through STATUSES
    check: Callable[[Entry, Any], str | None] | None = None  # an error message, or None
    offset: int = 0  # where the rotation resumes (requests already sent)

    def request(self, k: int) -> tuple[Entry, str | None]:
        """The k-th request of the rotation: the entry and the body to send."""
        entry = self.entries[k % len(self.entries)]
        if not self.answers:
            return entry, entry.body
        return entry, json.dumps({"status": answer_status(k, len(self.entries))})


def answer_status(k: int, n: int) -> str:
    """The status of the k-th answer over n invitations (as the Lua script computes it)."""
    # Visit v of invitation i sends STATUSES[(i + v) % 3]: never the answer it already has.
    return STATUSES[(k % n + k // n) % len(STATUSES)]


def spread(items: list[tuple[str, str, Any]], window: int) -> list[Any]:
    """Items keyed (who, what), reordered so no who or what recurs within `window` items."""
    # Requests in flight together then come from different invitees about different
    # follow-ups, and do not queue on one follow-up's row lock (answers take it).
    queues: dict[str, deque[tuple[str, Any]]] = {}
    for who, what, item in items:
        queues.setdefault(who, deque()).append((what, item))
    order: list[Any] = []
    recent: deque[str] = deque(maxlen=2 * window)
    callers = deque(queues)
    while callers:
        for _ in range(len(callers)):
            who = callers[0]
            what, _item = queues[who][0]
            if who not in recent and what not in recent:
                break
            callers.rotate(-1)
        who = callers.popleft()
        what, item = queues[who].popleft()
        order.append(item)
        recent.extend((who, what))
        if queues[who]:
            callers.append(who)
    return order


def query(path: str, params: Sequence[tuple[str, str]]) -> str:
    """`path` with its query string (offsets' `+` escaped)."""
    return f"{path}?{urlencode(params)}"


def build_paths(tenant: Tenant, seed: int) -> dict[str, PathSpec]:
    """Every path's requests, from the loaded tenant."""
    rng = random.Random(seed + 1)
    tokens = tenant.tokens
    inbox_colleagues = tenant.colleagues[:INBOX_COLLEAGUES]
    weekdays = tenant.weekdays()
    mondays = weekdays[::5]

    def follow_up_check(entry: Entry, body: Any) -> str | None:
        return None if body["id"] == entry.expect["id"] else f"got follow-up {body['id']}"

    follow_ups = [
        Entry("GET", f"/v1/follow-ups/{f.id}", tokens[f.owner], expect={"id": f.id})
        for f in tenant.follow_ups
    ]
    rng.shuffle(follow_ups)

    def inbox_check(entry: Entry, body: Any) -> str | None:
        statuses = {item["status"] for item in body["items"]}
        if len(body["items"]) != INBOX_PAGE or statuses != {"not_read"}:
            return f"{len(body['items'])} items, statuses {sorted(statuses)}"
        return None

    inbox = [
        Entry(
            "GET",
            query("/v1/invitations", [("status", "not_read"), ("limit", str(INBOX_PAGE))]),
            tokens[c],
        )
        for c in inbox_colleagues
    ]

    pairs = [
        (colleague, f.id, Entry("POST", f"/v1/invitations/{pid}/response", tokens[colleague]))
        for f in tenant.follow_ups
        for pid, colleague in f.invitations.items()
        if colleague not in inbox_colleagues
    ]
    rng.shuffle(pairs)
    answers = spread(pairs, 2 * CONNECTIONS)

    def create_check(entry: Entry, body: Any) -> str | None:
        kinds = sorted(p["kind"] for p in body["participants"])
        wanted = sorted(["associate"] * (INVITEES + 1) + ["resource"])
        return None if kinds == wanted else f"participants {kinds}"

    creates = []
    for i in range(FOLLOW_UPS):
        owner = tenant.colleagues[i % COLLEAGUES]
        body = follow_up_body(
            tenant, owner, rng.choice(weekdays), rng, tenant.rooms[i % len(tenant.rooms)]
        )
        creates.append(Entry("POST", "/v1/follow-ups", tokens[owner], json.dumps(body)))
    rng.shuffle(creates)

    def free_busy_check(entry: Entry, body: Any) -> str | None:
        return None if len(body["calendars"]) == 1 else f"{len(body['calendars'])} calendars"

    free_busy = []
    for colleague in tenant.colleagues:
        for monday in mondays:
            zone = ZoneInfo(tenant.zones[colleague])
            start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
            params = [
                ("associate_ids", colleague),
                ("start", start.isoformat()),
                ("end", (start + timedelta(days=7)).isoformat()),
            ]
            viewer = rng.choice([c for c in tenant.colleagues if c != colleague])
            free_busy.append(Entry("GET", query("/v1/availability", params), tokens[viewer]))
    rng.shuffle(free_busy)

    def first_free_check(entry: Entry, body: Any) -> str | None:
        return None if isinstance(body.get("slots"), list) else "no slots list"

    first_free = []
    # Starts in the first weeks, so the horizon's 31 days lie mostly inside the diary.
    search_days = weekdays[: 5 * (WEEKS - 4)]
    for _ in range(FOLLOW_UPS):
        calendars = rng.sample(tenant.colleagues, FIRST_FREE_CALENDARS)
        day = rng.choice(search_days)
        after = datetime(day.year, day.month, day.day, 7, tzinfo=ZoneInfo("UTC"))
        params = [
            *(("associate_ids", c) for c in calendars),
            ("duration", "PT1H"),
            ("after", after.isoformat()),
            ("before", (after + FIRST_FREE_HORIZON).isoformat()),
        ]
        first_free.append(
            Entry("GET", query("/v1/availability/first-free", params), tokens[calendars[0]])
        )

    specs = [
        PathSpec("healthz", "GET /healthz", 200, [Entry("GET", "/healthz", "")]),
        PathSpec(
            "get_follow_up",
            "GET /v1/follow-ups/{id}",
            200,
            follow_ups,
            check=follow_up_check,
        ),
        PathSpec(
            "inbox", "GET /v1/invitations?status=not_read&limit=50", 200, inbox, check=inbox_check
        ),
        PathSpec(
            "free_busy",
            "GET /v1/availability (1 calendar, a week)",
            200,
            free_busy,
            check=free_busy_check,
        ),
        PathSpec(
            "first_free",
            "GET /v1/availability/first-free (10 calendars, PT1H)",
            200,
            first_free,
            check=first_free_check,
        ),
        PathSpec(
            "answer",
            "POST /v1/invitations/{id}/response",
            200,
            answers,
            answers=True,
        ),
        PathSpec(
            "create",
            "POST /v1/follow-ups (4 colleagues and a room)",
            201,
            creates,
            check=create_check,
        ),
    ]
    return {spec.name: spec for spec in specs}


async def check_sample(base: str, spec: PathSpec) -> None:
    """Send the next SAMPLE requests of the rotation; fail unless each answers as it should."""
    async with aiohttp.ClientSession(base) as http:
        first_free_found = 0
        for k in range(spec.offset, spec.offset + SAMPLE):
            entry, body = spec.request(k)
            headers = {"Authorization": "Bearer " + entry.token} if entry.token else {}
            if body is not None:
                headers["Content-Type"] = "application/json"
            async with http.request(entry.method, entry.path, data=body, headers=headers) as r:
                answer = await expect(r, spec.status)
            problem = spec.check(entry, answer) if spec.check else None
            if problem:
                raise Failed(f"{spec.label}: {entry.method} {entry.path}: {problem}")
            if spec.answers and answer["status"] != json.loads(body or "{}")["status"]:
                raise Failed(f"{spec.label}: answered {answer['status']}, sent {body}")
            if spec.name == "first_free":
                first_free_found += bool(answer["slots"])
    spec.offset += SAMPLE
    if spec.name == "first_free":
        log(f"  first_free: a slot found in {first_free_found} of {SAMPLE} checked searches")
    log(f"  {spec.name}: {SAMPLE} requests checked ({spec.status})")


# wrk -----------------------------------------------------------------------------------------

LUA = """-- Generated by bench/api.py: rotates over prepared requests.
local tokens = {
%(tokens)s
}
local entries = {
%(entries)s
}
local statuses = {%(statuses)s}
local prepared = {}
local k = 0

local function format(e, body)
  local headers = {Host = wrk.headers["Host"], Authorization = "Bearer " .. tokens[e[3]]}
  if body then headers["Content-Type"] = "application/json" end
  return wrk.format(e[1], e[2], headers, body)
end

function init(args)
  k = tonumber(args[1]) or 0
  if #statuses == 0 then
    for i, e in ipairs(entries) do prepared[i] = format(e, e[4]) end
  end
end

function request()
  local n = #entries
  local i = k %% n
  local visit = math.floor(k / n)
  k = k + 1
  if #statuses == 0 then return prepared[i + 1] end
  -- As answer_status in bench/api.py: each visit answers differently from the one before.
  local status = statuses[(i + visit) %% #statuses + 1]
  return format(entries[i + 1], '{"status":"' .. status .. '"}')
end
"""


def lua_string(value: str) -> str:
    """A Lua long-bracket string literal of `value`."""
    if "]==]" in value or value.startswith("\n"):
        raise ValueError(f"cannot quote {value[:40]!r} for Lua")
    return f"[==[{value}]==]"


def lua_script(spec: PathSpec) -> str:
    """The wrk script of a path: its requests, tokens and, for answers, the statuses."""
    token_index: dict[str, int] = {}
    for entry in spec.entries:
        token_index.setdefault(entry.token, len(token_index) + 1)
    entries = []
    for entry in spec.entries:
        fields = [lua_string(entry.method), lua_string(entry.path), str(token_index[entry.token])]
        if entry.body is not None:
            fields.append(lua_string(entry.body))
        entries.append("  {" + ", ".join(fields) + "},")
    return LUA % {
        "tokens": "\n".join(f"  {lua_string(t)}," for t in token_index),
        "entries": "\n".join(entries),
        "statuses": ", ".join(lua_string(s) for s in STATUSES) if spec.answers else "",
    }


@dataclass
class WrkResult:
    """What one wrk run reports."""

    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise Failed(f"cannot read wrk's time {text!r}")
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """The figures of wrk's text output (with --latency)."""

    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise Failed(f"no {pattern!r} in wrk's output:\n{output}")
        return match

    done = find(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)")
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests=int(done.group(1)),
        seconds=_ms(done.group(2) + done.group(3)) / 1000,
        rps=float(find(r"^Requests/sec:\s+([\d.]+)").group(1)),
        p50_ms=_ms(find(r"^\s+50%\s+(\S+)").group(1)),
        p99_ms=_ms(find(r"^\s+99%\s+(\S+)").group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(v) for v in socket.groups()) if socket else 0,
    )


async def run_wrk(base: str, spec: PathSpec, script: Path | None, seconds: int) -> WrkResult:
    """One wrk run of the path from where its rotation stands; the rotation moves on."""
    command = [
        "wrk",
        f"--threads={THREADS}",
        f"--connections={CONNECTIONS}",
        f"--duration={seconds}s",
        f"--timeout={WRK_TIMEOUT}",
        "--latency",
    ]
    if script is None:
        command.append(base + spec.entries[0].path)
    else:
        command += ["--script", str(script), base + "/", "--", str(spec.offset)]
    process = await asyncio.create_subprocess_exec(
        *command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    if process.returncode != 0:
        raise Failed(f"wrk exited with {process.returncode}:\n{text}")
    result = parse_wrk(text)
    # wrk builds one request it never sends (its check of the script), and requests in
    # flight when it stopped may have been served: skip past all of them.
    spec.offset += 1 + result.requests + CONNECTIONS
    return result


# CPU time ------------------------------------------------------------------------------------


def is_postgres(pid: int) -> bool:
    """Whether the local process `pid` is a PostgreSQL process."""
    try:
        return b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


class PostgresCpu:
    """PostgreSQL's CPU seconds: the postmaster's tree, or on a shared server only ours."""

    # On a shared server, other databases' sessions are not ours to count: the postmaster
    # itself (without its reaped children, which include them), our database's backends and
    # the processes of no database (checkpointer, WAL writer, launchers) are; the
    # monitoring connection that lists them is not.

    def __init__(self, postmaster: int | None, private: bool, url: str) -> None:
        self.postmaster = postmaster
        self.private = private
        self.url = url
        self.conn: asyncpg.Connection | None = None

    @property
    def scope(self) -> str:
        if self.postmaster is None:
            return "not measured (the server is not on this machine)"
        if self.private:
            return "the embedded server's postmaster and all its processes"
        return "the postmaster, this database's backends and the server's background processes"

    async def open(self) -> None:
        if self.postmaster is not None and not self.private:
            self.conn = await asyncpg.connect(plain_dsn(self.url))

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()

    async def read(self) -> dict[int, float]:
        """CPU seconds per counted process, now."""
        if self.postmaster is None:
            return {}
        if self.private:
            seconds = process_cpu_seconds(self.postmaster, tree=True)
            return {} if seconds is None else {self.postmaster: seconds}
        assert self.conn is not None
        rows = await self.conn.fetch(
            "SELECT pid FROM pg_stat_activity "
            "WHERE (datname = current_database() OR datname IS NULL) "
            "AND pid <> pg_backend_pid()"
        )
        readings = {}
        for pid in [self.postmaster, *(row["pid"] for row in rows)]:
            seconds = process_cpu_seconds(pid, tree=False)
            if seconds is not None:
                readings[pid] = seconds
        return readings

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float | None:
        """Seconds between two readings; a process first seen in `after` started between them."""
        if not after:
            return None
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


async def postmaster_of(url: str) -> tuple[int | None, str]:
    """The server's postmaster when it runs on this machine (a backend's parent); its version."""
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        version = str(await conn.fetchval("SHOW server_version")).split()[0]
        log(f"PostgreSQL {version}")
        if await conn.fetchval("SHOW autovacuum") != "on":
            # Then nothing analyses a new table, and plans made while it was empty stay:
            # the foreign-key checks then pick any index led by tenant_id (see the README).
            version += ", autovacuum off"
            log("autovacuum is off on this server: a fresh database keeps its empty-table plans")
        # Read while the backend lives: its parent is the postmaster.
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        postmaster = parent_pid(backend) if is_postgres(backend) else None
    finally:
        await conn.close()
    if postmaster is not None and not is_postgres(postmaster):
        postmaster = None
    return postmaster, version


def children_cpu_seconds() -> float:
    """CPU seconds of this process's reaped children (wrk, once it has exited)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# Measuring -----------------------------------------------------------------------------------


async def measure(
    base: str, api_pid: int, pg: PostgresCpu, spec: PathSpec, script: Path | None, seconds: int
) -> dict[str, Any]:
    """One measured wrk run of the path, with the CPU time the API and PostgreSQL spent."""
    host_before = cpu_times()
    wrk_before = children_cpu_seconds()
    api_before = process_cpu_seconds(api_pid, tree=True)
    pg_before = await pg.read()
    started = time.perf_counter()
    result = await run_wrk(base, spec, script, seconds)
    wall = time.perf_counter() - started
    api_after = process_cpu_seconds(api_pid, tree=True)
    pg_after = await pg.read()
    wrk_cpu = children_cpu_seconds() - wrk_before
    busy = busy_share(host_before, cpu_times())
    if api_before is None or api_after is None:
        raise Failed(f"cannot read the API's CPU time (pid {api_pid})")
    api_cpu = api_after - api_before
    pg_cpu = PostgresCpu.spent(pg_before, pg_after)
    requests = max(result.requests, 1)
    figures: dict[str, Any] = {
        "rps": round(result.rps, 1),
        "p50_ms": round(result.p50_ms, 3),
        "p99_ms": round(result.p99_ms, 3),
        "requests": result.requests,
        "non_2xx": result.non_2xx,
        "socket_errors": result.socket_errors,
        "api_cpu_ms": round(api_cpu * 1000 / requests, 3),
        "pg_cpu_ms": None if pg_cpu is None else round(pg_cpu * 1000 / requests, 3),
        "api_cores": round(api_cpu / wall, 2),
        # Cores busy with anything but the API, PostgreSQL and wrk: others on the machine.
        "other_cores": None
        if busy is None
        else round(busy * CPUS - (api_cpu + (pg_cpu or 0.0) + wrk_cpu) / wall, 2),
    }
    log(
        f"  {spec.name}: {figures['rps']} req/s, p50 {figures['p50_ms']} ms, "
        f"p99 {figures['p99_ms']} ms, API {figures['api_cpu_ms']} ms/req, "
        f"PostgreSQL {figures['pg_cpu_ms']} ms/req, non-2xx {result.non_2xx}, "
        f"socket errors {result.socket_errors}"
    )
    if result.non_2xx or result.socket_errors:
        raise Failed(
            f"{spec.label}: {result.non_2xx} non-2xx responses and {result.socket_errors} "
            f"socket errors in {result.requests} requests"
        )
    return figures


@contextmanager
def profiled(api_pid: int, directory: Path | None, name: str, seconds: int) -> Iterator[None]:
    """py-spy samples the API during the block into DIRECTORY/NAME.txt (folded stacks)."""
    if directory is None:
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.txt"
    # --nonblocking: the API is not paused to be sampled, so its CPU figures stay near true.
    command = ["py-spy", "record", "--pid", str(api_pid), "--nonblocking", "--format", "raw"]
    command += ["--rate", "200", "--duration", str(seconds + 1), "--output", str(target)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        yield
    finally:
        spy.wait()
        log(f"{name}: py-spy profile in {target}")


async def drive(
    base: str,
    api_pid: int,
    pg: PostgresCpu,
    specs: Sequence[PathSpec],
    scripts: Path,
    args: argparse.Namespace,
) -> dict[str, dict[str, Any]]:
    """Check, warm up and measure each path in turn."""
    results: dict[str, dict[str, Any]] = {}
    await pg.open()
    try:
        for spec in specs:
            log(f"{spec.label}: {len(spec.entries)} requests in rotation")
            await check_sample(base, spec)
            script = None
            if spec.name != "healthz":
                script = scripts / f"{spec.name}.lua"
                script.write_text(lua_script(spec))
            if args.warmup > 0:
                warm = await run_wrk(base, spec, script, args.warmup)
                if warm.non_2xx or warm.socket_errors:
                    raise Failed(
                        f"{spec.label}: {warm.non_2xx} non-2xx responses and "
                        f"{warm.socket_errors} socket errors while warming up"
                    )
            with profiled(api_pid, args.profile, spec.name, args.seconds):
                results[spec.name] = await measure(base, api_pid, pg, spec, script, args.seconds)
    finally:
        await pg.close()
    floor = results["healthz"]["api_cpu_ms"]
    for name, figures in results.items():
        if name != "healthz":
            figures["x_healthz"] = round(figures["api_cpu_ms"] / floor, 2) if floor else None
            figures["target_x"] = TARGETS[name]
    return results


# Orchestration -------------------------------------------------------------------------------


@contextmanager
def postgres(database_url: str | None) -> Iterator[tuple[str, bool]]:
    """The server to create the throwaway database on, and whether it is ours alone."""
    if database_url:
        log("using the configured PostgreSQL server")
        yield database_url, False
        return
    with postgres_server() as url:
        yield url, True


def serve_supports_workers() -> bool:
    """Whether `convene serve` takes --workers in this tree."""
    help_text = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return "--workers" in help_text


def serve_command(workers: int | None) -> list[str]:
    """`convene serve` on a free port (`command[2]`), with `--workers` when given."""
    command = ["serve", "--port", str(free_port())]
    if workers is not None:
        if not serve_supports_workers():
            raise Failed("`convene serve` has no --workers option in this tree")
        command += ["--workers", str(workers)]
    return command


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start PostgreSQL and the API, load the tenant, measure the paths; the figures."""
    names = [name for name in TARGETS if name == "healthz" or name in args.paths]
    database_url = args.database_url or os.environ.get("CONVENE_BENCH_DATABASE_URL")
    command = serve_command(args.workers)
    secret = secrets.token_urlsafe(48)
    with ExitStack() as stack:
        server_url, private = stack.enter_context(postgres(database_url))
        url = stack.enter_context(throwaway_database(server_url))
        postmaster, version = asyncio.run(postmaster_of(url))
        pg = PostgresCpu(postmaster, private, url)
        if postmaster is None:
            log("PostgreSQL is not on this machine: its CPU time is not measured")
        # Logging at info writes one access line per request to the server's log file.
        server_env = (
            {"CONVENE_LOG_LEVEL": "info", "CONVENE_LOG_FORMAT": args.log_format}
            if args.log_format
            else {}
        )
        # Every request is still charged to its token and tenant, but the quotas are far
        # above what a run sends: the paths together pass 60,000 a minute for the one tenant.
        server_env |= {
            "CONVENE_RATE_LIMIT_PER_TOKEN": "1000000/minute",
            "CONVENE_RATE_LIMIT_PER_TENANT": "10000000/minute",
        }
        api = stack.enter_context(
            convene_process(
                url, secret, command, f"http://127.0.0.1:{command[2]}/healthz", server_env
            )
        )
        base = api.base
        log(f"API serving on {base} (pid {api.pid})")
        tenant = asyncio.run(load_tenant(base, secret, args.seed))
        asyncio.run(settle(url))
        specs = build_paths(tenant, args.seed)
        scripts = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="convene-wrk-")))
        results = asyncio.run(drive(base, api.pid, pg, [specs[n] for n in names], scripts, args))
    return {
        "tenant": {
            "colleagues": COLLEAGUES,
            "rooms": ROOMS,
            "follow_ups": FOLLOW_UPS,
            "invitees_per_follow_up": INVITEES,
            "invitations": sum(len(f.invitations) for f in tenant.follow_ups),
            "weeks": WEEKS,
        },
        "load_seconds": round(tenant.load_seconds, 1),
        "creates_per_second": round(tenant.creates_per_second, 1),
        **{name: results[name] for name in REPORT_ORDER if name in results},
        "postgres": f"{'embedded' if private else 'configured server'}, {version}",
        "pg_cpu_scope": pg.scope,
        "workers": args.workers,
        "log": f"info, {args.log_format}" if args.log_format else "warning (no access lines)",
        "wrk": {"threads": THREADS, "connections": CONNECTIONS, "seconds": args.seconds},
        "warmup_seconds": args.warmup,
        "cpus": CPUS,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="measured wrk run per path")
    parser.add_argument(
        "--warmup", type=int, default=2, help="unmeasured wrk run per path first (0: none)"
    )
    parser.add_argument(
        "--paths",
        default=",".join(TARGETS),
        help=f"comma-separated, of {', '.join(TARGETS)} (healthz always runs: the baseline)",
    )
    parser.add_argument(
        "--workers", type=int, help="passed on as `convene serve --workers N` (if it has it)"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to create the throwaway database on "
        "(default: CONVENE_BENCH_DATABASE_URL, else an embedded server)",
    )
    parser.add_argument(
        "--log-format",
        choices=["json", "text"],
        help="serve at log level info in this format, one access line per request "
        "(default: level warning, no access lines)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="record each measured path with py-spy into DIR/<path>.txt (folded stacks)",
    )
    args = parser.parse_args(argv)
    args.paths = {p.strip() for p in args.paths.split(",") if p.strip()}
    unknown = args.paths - set(TARGETS)
    if unknown:
        parser.error(f"unknown paths {sorted(unknown)}; choose from {', '.join(TARGETS)}")
    if args.seconds < 1 or args.warmup < 0:
        parser.error("--seconds must be at least 1, --warmup at least 0")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def run_and_print(figures: Callable[[], dict[str, Any]]) -> int:
    """Run a benchmark and print its JSON line with the wall time; 1 when it failed."""
    started = time.perf_counter()
    try:
        line = figures()
    except Failed as exc:
        log(f"FAILED: {exc}")
        return 1
    line["wall_seconds"] = round(time.perf_counter() - started, 1)
    log(f"wall time {line['wall_seconds']:.1f}s")
    print(json.dumps(line), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print one JSON line."""
    args = parse_args(argv)
    return run_and_print(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
