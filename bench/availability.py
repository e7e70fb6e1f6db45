"""Benchmark of the availability engine over a year of bookings, through the real HTTP API.

Loads N bookings (default 1,000,000) over 10,000 calendars into a throwaway database with
COPY, starts `python -m app serve` on it, and measures, interleaved round-robin in one run:

  a  GET /v1/availability/first-free: 10 random calendars (5 associates, 5 resources),
     a 30-day horizon, PT1H, working_hours=false, count=1;
  b  the same question as raw asyncpg: the exact FIRST_FREE statement the app sends (one,
     which widens its window itself), over one connection;
  c  GET /v1/availability: free/busy of 100 random calendars (50 + 50) over one week;
  d  GET /v1/follow-ups/{id}: the conflict check computed on read, for follow-ups of the
     caller whose resource is double-booked (so the first free time is searched too).

Run from the project root:

    .venv/bin/python bench/availability.py [--bookings N] [--calendars N]
        [--iterations N] [--seed N] [--scaling] [--explain]

`--scaling` loads 100,000 and 1,000,000 bookings into two databases, serves both, and
measures them taking turns every 50 rounds, so whatever else the machine does weighs on
both alike; the JSON line then adds the small run and the large/small ratio of (a). With
CONVENE_BENCH_DATABASE_URL set, the databases are created on that server (and dropped after);
otherwise an embedded PostgreSQL is started in a temporary directory. One JSON line of
figures goes to stdout; progress, per-step load times and plans go to stderr.
"""

import argparse
import asyncio
import gc
import io
import json
import math
import os
import random
import re
import secrets
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import httpx
from common import (
    api_process,
    busy_share,
    checkpoint,
    cpu_times,
    log,
    postgres_server,
    summary,
    throwaway_database,
)
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from app.auth.tokens import issue_token
from app.availability import repository
from app.availability.service import HORIZONS
from app.db.driver import DriverStatement
from app.db.engine import async_url, plain_dsn

YEAR_START = datetime(2027, 1, 4, tzinfo=UTC)  # a Monday
DAYS = 365
QUARTERS_PER_DAY = 96
SCALING_SIZES = (100_000, 1_000_000)
BLOCK_ROUNDS = 50  # with --scaling, the sizes take turns every this many rounds
BLOCK_WARMUP = 5  # unrecorded rounds at the start of each turn
RIGGED_CONFLICTS = 10  # follow-ups of the caller whose resource is double-booked (for d)
STARTUP_SECONDS = 60

T = TypeVar("T")

# The tables COPY fills; their indexes and constraints are dropped around the load.
BIG_TABLES = ("follow_ups", "participants", "bookings")


# Data ----------------------------------------------------------------------------------------

_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_V4_SET = (0x4000 << 64) | (0x8000 << 48)


def _new_hex(rng: random.Random) -> str:
    """A random version-4 UUID as 32 hex digits (PostgreSQL reads it without hyphens)."""
    return f"{rng.getrandbits(128) & _V4_CLEAR | _V4_SET:032x}"


def _instant(quarter: int) -> str:
    return (YEAR_START + timedelta(minutes=15 * quarter)).strftime("%Y-%m-%dT%H:%M:%S+00")


@dataclass
class Dataset:
    """What the measurement needs to know about the loaded data."""

    tenant_id: uuid.UUID
    associates: list[uuid.UUID]
    resources: list[uuid.UUID]
    viewer: uuid.UUID
    conflicted_follow_ups: list[uuid.UUID]
    bookings: int = 0
    follow_ups: int = 0
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Tables:
    """COPY text-format payloads, one per table."""

    associates: bytes
    resources: bytes
    follow_ups: bytes
    participants: bytes
    bookings: bytes


WORKING_HOURS = json.dumps(
    {day: [{"start": "09:00", "end": "17:00"}] for day in ("mon", "tue", "wed", "thu", "fri")},
    separators=(",", ":"),
)
COLUMNS = {
    "associates": ["id", "tenant_id", "name", "email", "time_zone", "working_hours", "active"],
    "resources": ["id", "tenant_id", "name", "kind", "capacity", "allow_double_booking", "active"],
    "follow_ups": [
        "id",
        "tenant_id",
        "owner_id",
        "title",
        "kind",
        "status",
        "start_at",
        "end_at",
        "time_zone",
        "all_day",
        "seq",
    ],
    "participants": [
        "id",
        "tenant_id",
        "follow_up_id",
        "kind",
        "associate_id",
        "resource_id",
        "role",
        "status",
        "rescheduled",
    ],
    "bookings": [
        "participant_id",
        "tenant_id",
        "follow_up_id",
        "calendar_kind",
        "calendar_id",
        "during",
        "tentative",
        "strict",
        "occurrence_start",
    ],
}


def generate(bookings: int, calendars: int, seed: int) -> tuple[Dataset, Tables]:
    """A tenant's year: follow-ups of an organizer plus one resource or invited colleague.

    Every follow-up blocks two calendars (the last one only its organizer when `bookings` is
    odd), so there are bookings/2 follow-ups and `bookings` participants and bookings. Half
    the calendars are associates, half resources (all allowing double booking). Starts fall
    on weekdays between 07:00 and 17:45 UTC in quarter hours; durations are 15 min to 2 h.
    The first follow-ups are rigged: the caller (the first associate) organizes ten whose
    resource another follow-up books at an overlapping time.
    """
    rng = random.Random(seed)
    tenant = _new_hex(rng)
    n_resources = calendars // 2
    n_associates = calendars - n_resources
    associates = [_new_hex(rng) for _ in range(n_associates)]
    resources = [_new_hex(rng) for _ in range(n_resources)]
    associate_rows = [
        f"{a}\t{tenant}\tAssociate {i}\tassociate{i}@bench.example\tEurope/Copenhagen\t"
        f"{WORKING_HOURS}\tt\n"
        for i, a in enumerate(associates)
    ]
    resource_rows = [f"{r}\t{tenant}\tRoom {i}\troom\t8\tt\tt\n" for i, r in enumerate(resources)]

    weekdays = [d for d in range(DAYS) if (YEAR_START + timedelta(days=d)).weekday() < 5]
    stamps = [_instant(q) for q in range(DAYS * QUARTERS_PER_DAY + 16)]
    invitee_statuses = ("accepted", "accepted", "not_read", "seen", "tentative")
    n_follow_ups = (bookings + 1) // 2
    follow_up_rows: list[str] = []
    participant_rows: list[str] = []
    booking_rows: list[str] = []
    fu_append, p_append, b_append = (
        follow_up_rows.append,
        participant_rows.append,
        booking_rows.append,
    )
    rand = rng.random
    n_weekdays = len(weekdays)
    conflicted: list[str] = []
    for i in range(n_follow_ups):
        follow_up = _new_hex(rng)
        if i < 2 * RIGGED_CONFLICTS and n_resources > RIGGED_CONFLICTS and n_associates > 2:
            # Pairs sharing resource k, the second starting a quarter hour into the first.
            k = i // 2
            day = weekdays[(k * 17 + 3) % n_weekdays]
            start = day * QUARTERS_PER_DAY + 40 + (i % 2)
            end = start + 4
            owner = associates[0] if i % 2 == 0 else associates[1 + k % (n_associates - 1)]
            second: tuple[str, str] | None = ("resource", resources[k])
            if i % 2 == 0:
                conflicted.append(follow_up)
        else:
            start = weekdays[int(rand() * n_weekdays)] * QUARTERS_PER_DAY + 28 + int(rand() * 44)
            end = start + 1 + int(rand() * 8)
            owner_index = int(rand() * n_associates)
            owner = associates[owner_index]
            if 2 * i + 1 >= bookings:
                second = None
            elif rand() < 0.5:
                second = ("resource", resources[int(rand() * n_resources)])
            else:
                other = int(rand() * (n_associates - 1))
                second = ("associate", associates[other + (other >= owner_index)])
        start_at, end_at = stamps[start], stamps[end]
        during = f"[{start_at},{end_at})"
        fu_append(
            f"{follow_up}\t{tenant}\t{owner}\tMeeting\tmeeting\tscheduled\t"
            f"{start_at}\t{end_at}\tUTC\tf\t0\n"
        )
        participant = _new_hex(rng)
        p_append(
            f"{participant}\t{tenant}\t{follow_up}\tassociate\t{owner}\t\\N\torganizer\taccepted\tf\n"
        )
        b_append(
            f"{participant}\t{tenant}\t{follow_up}\tassociate\t{owner}\t{during}\tf\tf\t{start_at}\n"
        )
        if second is None:
            continue
        kind, calendar = second
        participant = _new_hex(rng)
        if kind == "resource":
            p_append(
                f"{participant}\t{tenant}\t{follow_up}\tresource\t\\N\t{calendar}\t"
                "required\taccepted\tf\n"
            )
            b_append(
                f"{participant}\t{tenant}\t{follow_up}\tresource\t{calendar}\t{during}\tf\tf\t"
                f"{start_at}\n"
            )
        else:
            status = invitee_statuses[int(rand() * len(invitee_statuses))]
            tentative = "f" if status == "accepted" else "t"
            p_append(
                f"{participant}\t{tenant}\t{follow_up}\tassociate\t{calendar}\t\\N\t"
                f"required\t{status}\tf\n"
            )
            b_append(
                f"{participant}\t{tenant}\t{follow_up}\tassociate\t{calendar}\t{during}\t"
                f"{tentative}\tf\t{start_at}\n"
            )
    dataset = Dataset(
        tenant_id=uuid.UUID(tenant),
        associates=[uuid.UUID(a) for a in associates],
        resources=[uuid.UUID(r) for r in resources],
        viewer=uuid.UUID(associates[0]),
        conflicted_follow_ups=[uuid.UUID(f) for f in conflicted],
        bookings=len(booking_rows),
        follow_ups=len(follow_up_rows),
    )
    tables = Tables(
        associates="".join(associate_rows).encode(),
        resources="".join(resource_rows).encode(),
        follow_ups="".join(follow_up_rows).encode(),
        participants="".join(participant_rows).encode(),
        bookings="".join(booking_rows).encode(),
    )
    return dataset, tables


# Loading -------------------------------------------------------------------------------------


@dataclass
class Schema:
    """The indexes and constraints of the big tables, to drop before COPY and rebuild after."""

    foreign_keys: list[tuple[str, str, str]]  # (table, name, definition)
    keys: list[tuple[str, str, str, str]]  # (table, name, definition, index definition)
    exclusions: list[tuple[str, str, str]]
    indexes: list[tuple[str, str]]  # (name, definition)


async def read_schema(conn: asyncpg.Connection) -> Schema:
    tables = list(BIG_TABLES)
    foreign_keys = await conn.fetch(
        """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE contype = 'f'
          AND (conrelid::regclass::text = ANY($1) OR confrelid::regclass::text = ANY($1))
        ORDER BY 1, 2
        """,
        tables,
    )
    keys = await conn.fetch(
        """
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid),
               pg_get_indexdef(conindid), contype::text
        FROM pg_constraint
        WHERE contype IN ('p', 'u', 'x') AND conrelid::regclass::text = ANY($1)
        ORDER BY 1, 2
        """,
        tables,
    )
    indexes = await conn.fetch(
        """
        SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid::regclass::text = ANY($1)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY 1
        """,
        tables,
    )
    return Schema(
        foreign_keys=[(r[0], r[1], r[2]) for r in foreign_keys],
        keys=[(r[0], r[1], r[2], r[3]) for r in keys if r[4] in ("p", "u")],
        exclusions=[(r[0], r[1], r[2]) for r in keys if r[4] == "x"],
        indexes=[(r[0], r[1]) for r in indexes],
    )


async def _run_parallel(
    conns: Sequence[asyncpg.Connection], statements: Sequence[str], label: str
) -> None:
    """Run the statements over the connections, each taking the next one free."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for statement in statements:
        queue.put_nowait(statement)

    async def worker(conn: asyncpg.Connection) -> None:
        while not queue.empty():
            statement = queue.get_nowait()
            started = time.perf_counter()
            await conn.execute(statement)
            log(f"  {label} {time.perf_counter() - started:5.1f}s  {statement[:110]}")

    await asyncio.gather(*(worker(conn) for conn in conns))


def _build_cost(definition: str) -> int:
    """Rough order for index builds: GiST over bookings first, small btrees last."""
    cost = 0
    if "USING gist" in definition:
        cost += 10
    if " bookings " in definition or "ON public.bookings" in definition:
        cost += 3
    if "WHERE" in definition:
        cost -= 5
    return -cost


async def load(url: str, bookings: int, calendars: int, seed: int) -> Dataset:
    """Generate the data and COPY it in, with indexes and constraints rebuilt after."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    dataset, tables = generate(bookings, calendars, seed)
    timings["generate"] = time.perf_counter() - started
    log(
        f"generated {dataset.follow_ups:,} follow-ups, {dataset.bookings:,} participants and "
        f"bookings in {timings['generate']:.1f}s"
    )

    settings = {"maintenance_work_mem": "512MB", "synchronous_commit": "off"}
    conns = [await asyncpg.connect(plain_dsn(url), server_settings=settings) for _ in range(3)]
    try:
        step = time.perf_counter()
        schema = await read_schema(conns[0])
        for table, name, _ in schema.foreign_keys:
            await conns[0].execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for table, name, _ in schema.exclusions:
            await conns[0].execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for table, name, _, _ in schema.keys:
            await conns[0].execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in schema.indexes:
            await conns[0].execute(f"DROP INDEX {name}")
        timings["drop"] = time.perf_counter() - step

        step = time.perf_counter()
        await conns[0].copy_to_table(
            "associates",
            source=io.BytesIO(tables.associates),
            columns=COLUMNS["associates"],
            format="text",
        )
        await conns[0].copy_to_table(
            "resources",
            source=io.BytesIO(tables.resources),
            columns=COLUMNS["resources"],
            format="text",
        )

        async def copy_frozen(conn: asyncpg.Connection, table: str, payload: bytes) -> None:
            # Truncated in the same transaction, COPY FREEZE writes frozen, all-visible rows:
            # no hint-bit rewrites on first read, and index-only scans work at once.
            began = time.perf_counter()
            async with conn.transaction():
                await conn.execute(f"TRUNCATE {table}")
                await conn.copy_to_table(
                    table,
                    source=io.BytesIO(payload),
                    columns=COLUMNS[table],
                    format="text",
                    freeze=True,
                )
            log(f"  copy  {time.perf_counter() - began:5.1f}s  {table}")

        await asyncio.gather(
            copy_frozen(conns[0], "follow_ups", tables.follow_ups),
            copy_frozen(conns[1], "participants", tables.participants),
            copy_frozen(conns[2], "bookings", tables.bookings),
        )
        timings["copy"] = time.perf_counter() - step
        del tables

        step = time.perf_counter()
        builds = [definition for _, _, _, definition in schema.keys]
        builds += [definition for _, definition in schema.indexes]
        builds.sort(key=_build_cost)
        await _run_parallel(conns[:2], builds, "index")
        for table, name, definition, _ in schema.keys:
            using = "PRIMARY KEY" if definition.startswith("PRIMARY KEY") else "UNIQUE"
            await conns[0].execute(
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {using} USING INDEX "{name}"'
            )
        await _run_parallel(
            conns[:2],
            [
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                for table, name, definition in schema.exclusions
            ],
            "exclude",
        )
        timings["indexes"] = time.perf_counter() - step

        step = time.perf_counter()
        for table, name, definition in schema.foreign_keys:
            await conns[0].execute(
                f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition} NOT VALID'
            )
        await _run_parallel(
            conns[:2],
            [
                f'ALTER TABLE {table} VALIDATE CONSTRAINT "{name}"'
                for table, name, _ in schema.foreign_keys
            ],
            "fk",
        )
        timings["foreign_keys"] = time.perf_counter() - step

        step = time.perf_counter()
        await _run_parallel(
            conns[:2],
            # VACUUM too, so autovacuum does not start on the fresh rows while measuring.
            [
                f"VACUUM (ANALYZE) {table}"
                for table in ("bookings", "participants", "follow_ups", "associates", "resources")
            ],
            "vacuum",
        )
        timings["vacuum_analyze"] = time.perf_counter() - step
        await _check_schema_restored(conns[0], schema)
    finally:
        for conn in conns:
            await conn.close()
    dataset.timings = timings
    return dataset


async def _check_schema_restored(conn: asyncpg.Connection, before: Schema) -> None:
    after = await read_schema(conn)
    if after != before:
        raise RuntimeError(f"schema differs after the load:\n{before}\n{after}")
    invalid = await conn.fetchval(
        "SELECT count(*) FROM pg_constraint WHERE NOT convalidated AND contype = 'f'"
    )
    if invalid:
        raise RuntimeError(f"{invalid} foreign keys left unvalidated")


# Measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FirstFreeInput:
    associates: list[uuid.UUID]
    resources: list[uuid.UUID]
    after: datetime
    before: datetime


@dataclass(frozen=True)
class FreeBusyInput:
    associates: list[uuid.UUID]
    resources: list[uuid.UUID]
    start: datetime
    end: datetime


DURATION = timedelta(hours=1)
HORIZON = timedelta(days=30)
WEEK = timedelta(days=7)


def make_inputs(
    dataset: Dataset, count: int, seed: int
) -> tuple[list[FirstFreeInput], list[FreeBusyInput]]:
    rng = random.Random(seed + 1)
    latest_after = (DAYS * 24 * 60) - int(HORIZON.total_seconds() // 60)
    first_free = []
    free_busy = []
    for _ in range(count):
        after = YEAR_START + timedelta(minutes=rng.randrange(latest_after))
        first_free.append(
            FirstFreeInput(
                rng.sample(dataset.associates, 5),
                rng.sample(dataset.resources, 5),
                after,
                after + HORIZON,
            )
        )
        start = YEAR_START + timedelta(days=rng.randrange(DAYS - 7))
        free_busy.append(
            FreeBusyInput(
                rng.sample(dataset.associates, 50),
                rng.sample(dataset.resources, 50),
                start,
                start + WEEK,
            )
        )
    return first_free, free_busy


def first_free_params(dataset: Dataset, item: FirstFreeInput) -> dict[str, Any]:
    """The parameters AvailabilityRepository.first_free binds, as the API's request sends them."""
    return {
        "tenant_id": dataset.tenant_id,
        "calendar_ids": list(dict.fromkeys([*item.associates, *item.resources])),
        "after": item.after,
        "ends": window_ends(item),
        "before": item.before,
        "duration": DURATION,
        "count": 1,
        "exclude": None,
        "check": True,
        "working_hours": False,
        "associate_ids": item.associates,
        "resource_ids": item.resources,
    }


def window_ends(item: FirstFreeInput) -> list[datetime]:
    """The ends of the growing windows the statement tries (service.search_first_free)."""
    ends: list[datetime] = []
    for horizon in HORIZONS:
        ends.append(min(item.after + horizon, item.before))
        if ends[-1] >= item.before:
            break
    return ends


async def raw_statement(
    url: str, dataset: Dataset, sample: FirstFreeInput
) -> tuple[str, list[str]]:
    """FIRST_FREE as the app sends it: compiled for asyncpg, checked against a real execution.

    Returns the SQL text and the parameter names in positional order.
    """
    params = first_free_params(dataset, sample)
    sql, names = positional(repository.FIRST_FREE)
    captured: list[tuple[str, Any]] = []
    engine = create_async_engine(async_url(url))

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with AsyncSession(engine) as session:
            await repository.AvailabilityRepository(session, dataset.tenant_id).first_free(
                params["calendar_ids"],
                DURATION,
                sample.after,
                params["ends"],
                1,
                asked=(sample.associates, sample.resources),
            )
    finally:
        await engine.dispose()
    # A DriverStatement is announced to the listeners as written, with its named parameters.
    statement, parameters = next((s, p) for s, p in captured if "WITH known AS" in s)
    if statement != repository.FIRST_FREE.sql:
        raise RuntimeError("the compiled FIRST_FREE differs from what the app sends")
    sent = [parameters[name] for name in names]
    if sent != [params[name] for name in names]:
        raise RuntimeError(f"parameters differ: {sent!r}")
    return sql, names


@dataclass
class Target:
    """One loaded database and the API process serving it."""

    dataset: Dataset
    url: str
    secret: str
    load_seconds: float
    base: str = ""


class Probe:
    """The measurements a to d (and /healthz, the HTTP floor) against one target."""

    def __init__(
        self,
        target: Target,
        client: httpx.AsyncClient,
        conn: asyncpg.Connection,
        statement: str,
        names: list[str],
        rounds: int,
        seed: int,
    ) -> None:
        self.target = target
        self.dataset = target.dataset
        self.client = client
        self.conn = conn
        self.statement = statement
        self.names = names
        self.first_free_inputs, self.free_busy_inputs = make_inputs(self.dataset, rounds, seed)
        self.samples: dict[str, list[float]] = {k: [] for k in ("a", "b", "c", "d", "healthz")}
        self.raw_windows: Counter[int] = Counter()
        self.mismatches = 0
        self.conflicts_seen = 0
        self.rounds = 0

    async def round(self, record: bool) -> None:
        """One of each on the next inputs, in the same order every round; kept when `record`."""
        i = self.rounds
        self.rounds += 1
        item = self.first_free_inputs[i]
        api = await self._timed("a", self.api_first_free(item), record)
        raw, runs = await self._timed("b", self.raw_first_free(item), record)
        await self._timed("c", self.api_free_busy(self.free_busy_inputs[i]), record)
        follow_ups = self.dataset.conflicted_follow_ups
        conflict = await self._timed(
            "d", self.api_follow_up(follow_ups[i % len(follow_ups)]), record
        )
        await self._timed("healthz", self.healthz(), record)
        if record:
            self.raw_windows[runs] += 1
            self.mismatches += api != raw
            self.conflicts_seen += conflict

    async def _timed(self, key: str, call: Awaitable[T], record: bool) -> T:
        started = time.perf_counter()
        result = await call
        if record:
            self.samples[key].append(time.perf_counter() - started)
        return result

    async def api_first_free(self, item: FirstFreeInput) -> list[datetime]:
        response = await self.client.get(
            "/v1/availability/first-free",
            params=[
                *(("associate_ids", str(a)) for a in item.associates),
                *(("resource_ids", str(r)) for r in item.resources),
                ("after", item.after.isoformat()),
                ("before", item.before.isoformat()),
                ("duration", "PT1H"),
                ("working_hours", "false"),
                ("count", "1"),
            ],
        )
        _expect_ok(response)
        return [datetime.fromisoformat(s["start_at"]) for s in response.json()["slots"]]

    async def raw_first_free(self, item: FirstFreeInput) -> tuple[list[datetime], int]:
        """The service's one statement (app.availability.service.search_first_free), and how
        many of its growing windows (1, 7, 31... days from `after`) the answer needed."""
        params = first_free_params(self.dataset, item)
        row = await self.conn.fetchrow(self.statement, *(params[name] for name in self.names))
        starts: list[datetime] = list(row["starts"])
        ends = params["ends"]
        if not starts:
            return starts, len(ends)
        return starts, next(n for n, end in enumerate(ends, 1) if starts[0] + DURATION <= end)

    async def api_free_busy(self, item: FreeBusyInput) -> None:
        response = await self.client.get(
            "/v1/availability",
            params=[
                *(("associate_ids", str(a)) for a in item.associates),
                *(("resource_ids", str(r)) for r in item.resources),
                ("start", item.start.isoformat()),
                ("end", item.end.isoformat()),
            ],
        )
        _expect_ok(response)

    async def api_follow_up(self, follow_up_id: uuid.UUID) -> bool:
        response = await self.client.get(f"/v1/follow-ups/{follow_up_id}")
        _expect_ok(response)
        return bool(response.json()["has_conflict"])

    async def healthz(self) -> None:
        _expect_ok(await self.client.get("/healthz"))

    def figures(self, iterations: int, warmup: int) -> dict[str, Any]:
        label = f"{self.dataset.bookings:,} bookings"
        if self.mismatches:
            log(f"WARNING ({label}): API and raw first free differed in {self.mismatches} rounds")
        for key, values in self.samples.items():
            worst = ", ".join(f"{v * 1000:.1f}" for v in sorted(values)[-5:])
            log(f"{label} {key}: p50 {statistics.median(values) * 1000:.2f} ms, slowest {worst} ms")
        figures: dict[str, Any] = {k: summary(v) for k, v in self.samples.items()}
        return {
            **{k: figures[k] for k in ("a", "b", "c", "d")},
            "ratio_api_over_raw_p50": round(figures["a"]["p50_ms"] / figures["b"]["p50_ms"], 2),
            "ratio_api_over_raw_p99": round(figures["a"]["p99_ms"] / figures["b"]["p99_ms"], 2),
            "healthz": figures["healthz"],
            "raw_mode": "one statement, trying windows of 1, 7, 31 days until one answers",
            "raw_windows_per_search": {str(k): v for k, v in sorted(self.raw_windows.items())},
            "first_free_mismatches": self.mismatches,
            "d_mode": "GET /v1/follow-ups/{id}: conflicts on read, resource double-booked",
            "d_conflicted": f"{self.conflicts_seen}/{iterations}",
            "iterations": iterations,
            "warmup": warmup,
        }


async def measure(
    targets: Sequence[Target], iterations: int, seed: int, explain: bool
) -> list[dict[str, Any]]:
    """Round-robin over the measurements, in blocks per target; the figures of each target.

    With several targets (--scaling) they take turns every BLOCK_ROUNDS rounds, each turn
    starting with BLOCK_WARMUP unrecorded rounds: switching between two API processes every
    request would measure cold CPU caches, and a whole run each after the other would
    measure whatever else the machine did meanwhile.
    """
    warmup = max(20, iterations // 10)
    block_warmup = BLOCK_WARMUP if len(targets) > 1 else 0
    blocks = math.ceil(iterations / BLOCK_ROUNDS)
    rounds = warmup + iterations + blocks * block_warmup
    async with AsyncExitStack() as stack:
        probes = []
        for target in targets:
            dataset = target.dataset
            sample = make_inputs(dataset, 1, seed)[0][0]
            statement, names = await raw_statement(target.url, dataset, sample)
            token = issue_token(
                target.secret, tenant_id=dataset.tenant_id, subject=str(dataset.viewer)
            )
            client = await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=target.base, headers={"Authorization": f"Bearer {token}"}, timeout=60
                )
            )
            conn = await asyncpg.connect(
                plain_dsn(target.url),
                server_settings={
                    "statement_timeout": "15000",
                    "application_name": "convene-bench-raw",
                    "timezone": "UTC",
                },
            )
            stack.push_async_callback(conn.close)
            probes.append(Probe(target, client, conn, statement, names, rounds, seed))
        log(
            "raw statement = FIRST_FREE as compiled and sent by the app (checked against a capture)"
        )
        # Keep this process's own garbage collection out of the measured latencies.
        gc.collect()
        gc.freeze()
        try:
            for probe in probes:
                for _ in range(warmup):
                    await probe.round(record=False)
            log(f"warm-up done ({warmup} rounds); measuring {iterations} rounds")
            for block in range(blocks):
                size = min(BLOCK_ROUNDS, iterations - block * BLOCK_ROUNDS)
                for probe in probes:
                    for _ in range(block_warmup):
                        await probe.round(record=False)
                    for _ in range(size):
                        await probe.round(record=True)
        finally:
            gc.unfreeze()
        if explain:
            for probe in probes:
                log(f"=== {probe.dataset.bookings:,} bookings ===")
                await _explain(
                    probe.conn,
                    probe.dataset,
                    probe.first_free_inputs[-1],
                    probe.free_busy_inputs[-1],
                )
        return [probe.figures(iterations, warmup) for probe in probes]


def _expect_ok(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text[:500]}"
        )


UUID_ARRAY = re.compile(r"'\{([0-9a-f-]{36}(?:,[0-9a-f-]{36})*)\}'::uuid\[\]")


def _count_uuids(match: re.Match[str]) -> str:
    return f"'{{<{match.group(1).count(',') + 1} uuids>}}'::uuid[]"


def positional(clause: Any) -> tuple[str, list[str]]:
    """A text() statement compiled for asyncpg: its SQL and the parameter names in order."""
    if isinstance(clause, DriverStatement):
        return clause.driver_sql, clause.names
    compiled = clause.compile(dialect=asyncpg_dialect.dialect())  # type: ignore[no-untyped-call]
    return str(compiled), list(compiled.positiontup or [])


async def _explain(
    conn: asyncpg.Connection,
    dataset: Dataset,
    first_free: FirstFreeInput,
    free_busy: FreeBusyInput,
) -> None:
    """EXPLAIN ANALYZE of the statements behind a, c and d, to stderr."""
    cases = [
        (
            "FIRST_FREE (a, its growing windows)",
            repository.FIRST_FREE,
            first_free_params(dataset, first_free),
        ),
        (
            "FREE_BUSY (c, 100 calendars, one week)",
            repository.FREE_BUSY,
            {
                "tenant_id": dataset.tenant_id,
                "viewer": dataset.viewer,
                "associate_ids": free_busy.associates,
                "resource_ids": free_busy.resources,
                "start": free_busy.start,
                "end": free_busy.end,
            },
        ),
        (
            "CONFLICTS (d)",
            repository.CONFLICTS,
            {"tenant_id": dataset.tenant_id, "follow_up_id": dataset.conflicted_follow_ups[0]},
        ),
    ]
    for title, clause, params in cases:
        sql, names = positional(clause)
        rows = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) " + sql, *(params[name] for name in names)
        )
        plan = UUID_ARRAY.sub(_count_uuids, "\n".join(row[0] for row in rows))
        log(f"EXPLAIN ANALYZE of {title}:\n{plan}")


# Orchestration -------------------------------------------------------------------------------


def run(server_url: str, sizes: Sequence[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Load a database per size, serve each, measure them in turns; the figures per size."""
    with ExitStack() as stack:
        targets = []
        for bookings in sizes:
            log(f"--- {bookings:,} bookings over {args.calendars:,} calendars ---")
            url = stack.enter_context(throwaway_database(server_url))
            started = time.perf_counter()
            dataset = asyncio.run(load(url, bookings, args.calendars, args.seed))
            load_seconds = time.perf_counter() - started
            steps = ", ".join(f"{k} {v:.1f}s" for k, v in dataset.timings.items())
            log(f"loaded in {load_seconds:.1f}s ({steps})")
            asyncio.run(checkpoint(url))
            targets.append(Target(dataset, url, secrets.token_urlsafe(48), load_seconds))
        for target in targets:
            target.base = stack.enter_context(api_process(target.url, target.secret))
        # Other work on this machine skews the figures; the CPU use while measuring shows it.
        before = cpu_times()
        figures = asyncio.run(measure(targets, args.iterations, args.seed, args.explain))
        busy = busy_share(before, cpu_times())
    return [
        {
            "bookings": target.dataset.bookings,
            "calendars": args.calendars,
            "follow_ups": target.dataset.follow_ups,
            "load_seconds": round(target.load_seconds, 2),
            **figure,
            "cpus": os.cpu_count(),
            "host_cpu_busy_while_measuring": busy,
        }
        for target, figure in zip(targets, figures, strict=True)
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--calendars", type=int, default=10_000)
    parser.add_argument("--iterations", type=int, default=300, help="measured rounds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="measure 100,000 and 1,000,000 bookings, taking turns (ignores --bookings)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print EXPLAIN ANALYZE of the statements behind a, c and d to stderr",
    )
    args = parser.parse_args(argv)
    if args.calendars < 200 or args.bookings < 4 * RIGGED_CONFLICTS:
        parser.error("need at least 200 calendars and 40 bookings")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SCALING_SIZES if args.scaling else (args.bookings,)
    started = time.perf_counter()
    with postgres_server() as server_url:
        results = run(server_url, sizes, args)
    line = results[-1]
    if args.scaling:
        small, large = results
        line = {
            **large,
            "small": small,
            "ratio_large_over_small_p50": round(large["a"]["p50_ms"] / small["a"]["p50_ms"], 2),
            "ratio_large_over_small_p99": round(large["a"]["p99_ms"] / small["a"]["p99_ms"], 2),
            "scaling_schedule": (
                f"sizes take turns every {BLOCK_ROUNDS} rounds, "
                f"{BLOCK_WARMUP} unrecorded rounds per turn"
            ),
        }
    log(f"wall time {time.perf_counter() - started:.1f}s")
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
