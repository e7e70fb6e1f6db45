"""Group free/busy against a CalDAV server: Convene's API and Radicale on the same diaries.

Generates 100 diaries of 1,000 events each over 90 days (starts in quarter hours between
07:00 and 17:45 UTC on any day, 15 to 60 minutes long: about 78 events and 38 merged busy
blocks per diary and week), then loads them twice:

  Convene   a throwaway database, with COPY: one follow-up per event, organized by the
            diary's colleague, so each event is one booking of that colleague's calendar;
  Radicale  a Radicale server (PyPI `radicale`, filesystem storage in a temp dir) started on
            loopback, one calendar collection per diary, each event written as its own .ics
            item the way Radicale stores an uploaded one.

and measures, interleaved in rounds (each round: `--api-per-round` requests of (a), then one
of (b), on the same week):

  a  GET /v1/availability through the real HTTP API: the 100 calendars for one week, asked
     by a colleague who takes part in none of the events (so every calendar is merged busy
     time, what a CalDAV free/busy answer holds);
  b  the CalDAV equivalent: a free-busy-query REPORT (RFC 4791 7.10) on each of the 100
     calendars for the same week, one after the other over one keep-alive connection.

Before measuring, every calendar's busy time of a sample of weeks is compared between the
two; any difference fails the run. Run from the project root:

    .venv/bin/python bench/caldav.py [--rounds 15] [--api-per-round 10] [--seed 1]
        [--explain] [--hold SECONDS]

With CONVENE_BENCH_DATABASE_URL set, the database is created on that server (and dropped
after); otherwise an embedded PostgreSQL is started in a temporary directory. `--hold`
keeps the servers up that long after loading, with their pids on stderr (to profile the
API with `py-spy record --pid`) and requests of (a) running meanwhile. One JSON line of
figures goes to stdout; progress to stderr.
"""

import argparse
import asyncio
import io
import json
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from availability import COLUMNS, WORKING_HOURS, positional
from common import (
    busy_share,
    checkpoint,
    cpu_times,
    free_port,
    log,
    percentile,
    postgres_server,
    serve_process,
    stop_process,
    throwaway_database,
    wait_until_healthy,
)

from app.auth.tokens import issue_token
from app.availability import repository
from app.db.engine import plain_dsn

START = datetime(2027, 1, 4, tzinfo=UTC)  # a Monday
DAYS = 90
DIARIES = 100
EVENTS_PER_DIARY = 1_000
WEEK = timedelta(days=7)
SAMPLE_WEEKS = 3  # weeks whose free/busy is compared between the two before measuring
RADICALE_USER = "bench"
FREE_BUSY_QUERY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav">'
    '<C:time-range start="{start}" end="{end}"/></C:free-busy-query>'
)

Span = tuple[datetime, datetime]


# Data ----------------------------------------------------------------------------------------


@dataclass
class Diaries:
    """The generated data: ids and every diary's events as (start, end)."""

    tenant_id: uuid.UUID
    viewer: uuid.UUID
    diaries: list[uuid.UUID]
    events: list[list[tuple[uuid.UUID, datetime, datetime]]]  # per diary: (uid, start, end)


def generate(seed: int) -> Diaries:
    rng = random.Random(seed)

    def new_id() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    tenant, viewer = new_id(), new_id()
    diaries = [new_id() for _ in range(DIARIES)]
    events = []
    for _ in diaries:
        own = []
        for _ in range(EVENTS_PER_DIARY):
            quarter = int(rng.random() * DAYS) * 96 + 28 + int(rng.random() * 44)
            start = START + timedelta(minutes=15 * quarter)
            own.append(
                (new_id(), start, start + timedelta(minutes=15 * (1 + int(rng.random() * 4))))
            )
        events.append(own)
    return Diaries(tenant, viewer, diaries, events)


def merged(spans: Sequence[Span], window: Span) -> list[Span]:
    """The spans clipped to the window, merged where they overlap or touch."""
    out: list[Span] = []
    for start, end in sorted((max(s, window[0]), min(e, window[1])) for s, e in spans):
        if start >= end:
            continue
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _pg_time(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%S+00")


async def load_convene(url: str, data: Diaries) -> None:
    """COPY the colleagues, one follow-up per event, its organizer and its booking."""
    tenant = data.tenant_id.hex
    people = [data.viewer, *data.diaries]
    associates = "".join(
        f"{a.hex}\t{tenant}\tColleague {i}\tcolleague{i}@bench.example\tUTC\t{WORKING_HOURS}\tt\n"
        for i, a in enumerate(people)
    )
    follow_ups, participants, bookings = [], [], []
    for diary, events in zip(data.diaries, data.events, strict=True):
        for uid, start, end in events:
            s, e = _pg_time(start), _pg_time(end)
            participant = uuid.uuid4().hex
            follow_ups.append(
                f"{uid.hex}\t{tenant}\t{diary.hex}\tMeeting\tmeeting\tscheduled\t{s}\t{e}\tUTC\tf\t0\n"
            )
            participants.append(
                f"{participant}\t{tenant}\t{uid.hex}\tassociate\t{diary.hex}\t\\N\t"
                "organizer\taccepted\tf\n"
            )
            bookings.append(
                f"{participant}\t{tenant}\t{uid.hex}\tassociate\t{diary.hex}\t[{s},{e})\tf\tf\t{s}\n"
            )
    conn = await asyncpg.connect(plain_dsn(url), server_settings={"synchronous_commit": "off"})
    try:
        async with conn.transaction():
            for table, rows in (
                ("associates", [associates]),
                ("follow_ups", follow_ups),
                ("participants", participants),
                ("bookings", bookings),
            ):
                await conn.copy_to_table(
                    table,
                    source=io.BytesIO("".join(rows).encode()),
                    columns=COLUMNS[table],
                    format="text",
                )
        await conn.execute("VACUUM ANALYZE associates, follow_ups, participants, bookings")
    finally:
        await conn.close()


def _ics_time(instant: datetime) -> str:
    return instant.strftime("%Y%m%dT%H%M%SZ")


def write_radicale_collections(root: Path, data: Diaries) -> None:
    """One calendar collection per diary under /bench/, one .ics item per event."""
    user = root / "collection-root" / RADICALE_USER
    user.mkdir(parents=True)
    (user / ".Radicale.props").write_text("{}")
    for diary, events in zip(data.diaries, data.events, strict=True):
        calendar = user / str(diary)
        calendar.mkdir()
        (calendar / ".Radicale.props").write_text(json.dumps({"tag": "VCALENDAR"}))
        for uid, start, end in events:
            (calendar / f"{uid}.ics").write_bytes(
                "\r\n".join(
                    [
                        "BEGIN:VCALENDAR",
                        "VERSION:2.0",
                        "PRODID:-//Convene//bench//EN",
                        "BEGIN:VEVENT",
                        f"UID:{uid}",
                        "DTSTAMP:20261201T000000Z",
                        f"DTSTART:{_ics_time(start)}",
                        f"DTEND:{_ics_time(end)}",
                        "SUMMARY:Meeting",
                        "END:VEVENT",
                        "END:VCALENDAR",
                        "",
                    ]
                ).encode()
            )


@contextmanager
def radicale_server(data: Diaries, keep: Path | None) -> Iterator[tuple[str, int]]:
    """Radicale on a free loopback port over the diaries; yields its base URL and pid.

    With `keep`, the storage lives there and is reused by later runs of the same seed
    (Radicale's item caches included: building them is its slow first read).
    """
    tmp = Path(tempfile.mkdtemp(prefix="convene-bench-radicale-"))
    storage = keep if keep is not None else tmp / "collections"
    try:
        started = time.perf_counter()
        if (storage / "collection-root").exists():
            log(f"reusing the Radicale storage in {storage}")
        else:
            write_radicale_collections(storage, data)
            log(
                f"wrote {DIARIES * EVENTS_PER_DIARY:,} .ics items "
                f"in {time.perf_counter() - started:.1f}s"
            )
        port = free_port()
        config = tmp / "config"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{port}\n"
            "[auth]\ntype = none\n"
            "[rights]\ntype = owner_only\n"
            f"[storage]\nfilesystem_folder = {storage}\n"
            "[web]\ntype = none\n"
            "[logging]\nlevel = warning\n"
        )
        log_path = tmp / "radicale.log"
        with log_path.open("w") as out:
            process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "radicale", "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            try:
                base = f"http://127.0.0.1:{port}"
                wait_until_healthy(f"{base}/.web", process, log_path, "radicale")
                log(f"Radicale serving on {base} (pid {process.pid})")
                yield base, process.pid
            finally:
                stop_process(process)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# Measuring -----------------------------------------------------------------------------------


FREEBUSY_LINE = re.compile(r"^FREEBUSY(?:;[^:]*)?:(.*)$", re.MULTILINE)


def parse_free_busy(body: str) -> list[Span]:
    """The busy periods of a VFREEBUSY answer (unfolded), in order."""
    unfolded = body.replace("\r\n ", "").replace("\n ", "")
    spans = []
    for value in FREEBUSY_LINE.findall(unfolded):
        for period in value.strip().split(","):
            start, end = period.split("/")
            spans.append(
                (
                    datetime.strptime(start, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC),
                    datetime.strptime(end, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC),
                )
            )
    return sorted(spans)


class Probe:
    """The clients (the API, the baseline's API if any, Radicale) and the questions asked."""

    def __init__(
        self,
        data: Diaries,
        api: httpx.AsyncClient,
        caldav: httpx.AsyncClient,
        baseline: httpx.AsyncClient | None = None,
    ) -> None:
        self.data = data
        self.api = api
        self.caldav = caldav
        self.baseline = baseline

    async def api_free_busy(
        self, week: datetime, client: httpx.AsyncClient | None = None
    ) -> httpx.Response:
        response = await (client or self.api).get(
            "/v1/availability",
            params=[
                *(("associate_ids", str(d)) for d in self.data.diaries),
                ("start", week.isoformat()),
                ("end", (week + WEEK).isoformat()),
            ],
        )
        _expect(response, 200)
        return response

    async def caldav_free_busy(self, week: datetime) -> list[str]:
        body = FREE_BUSY_QUERY.format(start=_ics_time(week), end=_ics_time(week + WEEK))
        answers = []
        for diary in self.data.diaries:
            response = await self.caldav.request(
                "REPORT",
                f"/{RADICALE_USER}/{diary}/",
                content=body,
                headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
            )
            _expect(response, 200)
            answers.append(response.text)
        return answers

    async def check(self, week: datetime) -> int:
        """Compare both answers with each other and with the generated events; blocks seen."""
        window = (week, week + WEEK)
        ours = (await self.api_free_busy(week)).json()
        if self.baseline is not None:
            before = (await self.api_free_busy(week, self.baseline)).json()
            if before != ours:
                raise RuntimeError(f"the baseline answers the week of {week:%Y-%m-%d} otherwise")
        theirs = await self.caldav_free_busy(week)
        blocks = 0
        for diary, events, calendar, answer in zip(
            self.data.diaries, self.data.events, ours["calendars"], theirs, strict=True
        ):
            assert calendar["id"] == str(diary), calendar["id"]
            api = [
                (datetime.fromisoformat(b["start_at"]), datetime.fromisoformat(b["end_at"]))
                for b in calendar["busy"]
            ]
            assert all(
                b["status"] == "busy" and b["follow_up_id"] is None for b in calendar["busy"]
            )
            expected = merged([(s, e) for _, s, e in events], window)
            if api != expected or parse_free_busy(answer) != expected:
                raise RuntimeError(
                    f"free/busy of {diary} for the week of {week:%Y-%m-%d} differs: "
                    f"Convene {len(api)} blocks, Radicale {len(parse_free_busy(answer))}, "
                    f"expected {len(expected)}"
                )
            blocks += len(expected)
        return blocks


def _expect(response: httpx.Response, status: int) -> None:
    if response.status_code != status:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} -> "
            f"{response.status_code}: {response.text[:500]}"
        )


def weeks(rng: random.Random, n: int) -> list[datetime]:
    """N random week windows starting at midnight, wholly inside the 90 days."""
    return [START + timedelta(days=rng.randrange(DAYS - 7)) for _ in range(n)]


async def hold(probe: Probe, seconds: float, seed: int) -> None:
    """Keep (a) running for `seconds`, for a profiler attached to the API."""
    rng = random.Random(seed)
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline:
        await probe.api_free_busy(weeks(rng, 1)[0])
        count += 1
    log(f"held: {count} requests of (a) in {seconds:.0f}s")


async def explain(url: str, data: Diaries, week: datetime) -> None:
    """EXPLAIN ANALYZE of the free/busy statement for one week, to stderr."""
    conn = await asyncpg.connect(plain_dsn(url), server_settings={"timezone": "UTC"})
    try:
        sql, names = positional(repository.FREE_BUSY)
        params = {
            "tenant_id": data.tenant_id,
            "viewer": data.viewer,
            "associate_ids": data.diaries,
            "resource_ids": [],
            "start": week,
            "end": week + WEEK,
        }
        rows = await conn.fetch(
            "EXPLAIN (ANALYZE, BUFFERS) " + sql, *(params[name] for name in names)
        )
        log("EXPLAIN ANALYZE of FREE_BUSY:\n" + "\n".join(row[0] for row in rows))
    finally:
        await conn.close()


@dataclass
class Samples:
    """Latencies in seconds: (a), the baseline's (a) when there is one, and (b)."""

    a: list[float]
    baseline: list[float]
    b: list[float]
    blocks: int = 0
    size: int = 0


async def measure(probe: Probe, args: argparse.Namespace) -> Samples:
    """Samples of (a), the baseline's and (b), and the blocks checked and (a)'s size."""
    rng = random.Random(args.seed)
    blocks = 0
    for week in weeks(rng, SAMPLE_WEEKS):
        blocks += await probe.check(week)
    log(
        f"free/busy matches for {SAMPLE_WEEKS} weeks "
        f"({blocks / SAMPLE_WEEKS / DIARIES:.1f} blocks per diary-week)"
    )
    log("warming up")
    for week in weeks(rng, 2):
        await probe.caldav_free_busy(week)
        for _ in range(args.api_per_round):
            await probe.api_free_busy(week)
    if args.hold:
        await hold(probe, args.hold, args.seed)
    samples = Samples([], [], [], blocks)
    for i, week in enumerate(weeks(rng, args.rounds)):
        for _ in range(args.api_per_round):
            started = time.perf_counter()
            response = await probe.api_free_busy(week)
            samples.a.append(time.perf_counter() - started)
            samples.size = len(response.content)
            if probe.baseline is not None:
                started = time.perf_counter()
                await probe.api_free_busy(week, probe.baseline)
                samples.baseline.append(time.perf_counter() - started)
        started = time.perf_counter()
        await probe.caldav_free_busy(week)
        samples.b.append(time.perf_counter() - started)
        baseline = (
            f", baseline p50 {statistics.median(samples.baseline) * 1000:.1f} ms"
            if samples.baseline
            else ""
        )
        log(
            f"round {i + 1}/{args.rounds}: a p50 {statistics.median(samples.a) * 1000:.1f} ms"
            f"{baseline}, b {samples.b[-1] * 1000:.0f} ms"
        )
    return samples


@contextmanager
def baseline_tree(revision: str | None) -> Iterator[Path | None]:
    """The app of a git revision, exported to a temp dir (for PYTHONPATH), or None."""
    if revision is None:
        yield None
        return
    tmp = Path(tempfile.mkdtemp(prefix="convene-bench-baseline-"))
    try:
        archive = subprocess.run(  # noqa: S603
            ["git", "archive", revision, "app", "migrations", "alembic.ini"],  # noqa: S607
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(  # noqa: S603
            ["tar", "-x", "-C", str(tmp)],  # noqa: S607
            input=archive,
            check=True,
        )
        log(f"baseline: the app of {revision} in {tmp}")
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def figures(samples: Sequence[float]) -> dict[str, Any]:
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p95_ms": percentile(samples, 0.95),
        "n": len(samples),
    }


def run(server_url: str, args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    data = generate(args.seed)
    log(
        f"generated {DIARIES} diaries x {EVENTS_PER_DIARY:,} events "
        f"in {time.perf_counter() - started:.1f}s"
    )
    with ExitStack() as stack:
        url = stack.enter_context(throwaway_database(server_url))
        started = time.perf_counter()
        asyncio.run(load_convene(url, data))
        load_seconds = time.perf_counter() - started
        log(f"loaded Convene in {load_seconds:.1f}s")
        asyncio.run(checkpoint(url))
        secret = secrets.token_urlsafe(48)
        token = issue_token(secret, tenant_id=data.tenant_id, subject=str(data.viewer))
        caldav_base, _ = stack.enter_context(radicale_server(data, args.radicale_dir))
        api = stack.enter_context(serve_process(url, secret))
        tree = stack.enter_context(baseline_tree(args.baseline))
        baseline = (
            stack.enter_context(serve_process(url, secret, {"PYTHONPATH": str(tree)}))
            if tree is not None
            else None
        )

        async def clients() -> Samples:
            headers = {"Authorization": f"Bearer {token}"}
            async with AsyncExitStack() as clients:
                api_client, caldav_client = (
                    await clients.enter_async_context(
                        httpx.AsyncClient(base_url=api.base, headers=headers, timeout=60)
                    ),
                    await clients.enter_async_context(
                        httpx.AsyncClient(
                            base_url=caldav_base, auth=(RADICALE_USER, "x"), timeout=600
                        )
                    ),
                )
                baseline_client = (
                    await clients.enter_async_context(
                        httpx.AsyncClient(base_url=baseline.base, headers=headers, timeout=60)
                    )
                    if baseline is not None
                    else None
                )
                probe = Probe(data, api_client, caldav_client, baseline_client)
                return await measure(probe, args)

        before = cpu_times()
        samples = asyncio.run(clients())
        busy = busy_share(before, cpu_times())
        if args.explain:
            asyncio.run(explain(url, data, START + timedelta(days=14)))
    a50, b50 = statistics.median(samples.a) * 1000, statistics.median(samples.b) * 1000
    line: dict[str, Any] = {
        "diaries": DIARIES,
        "events_per_diary": EVENTS_PER_DIARY,
        "days": DAYS,
        "blocks_per_diary_week": round(samples.blocks / SAMPLE_WEEKS / DIARIES, 1),
        "load_seconds": round(load_seconds, 2),
        "a_api_free_busy": {**figures(samples.a), "response_bytes": samples.size},
        "b_radicale_free_busy_query": {**figures(samples.b), "requests": DIARIES},
        "ratio_b_over_a_p50": round(b50 / a50, 1),
    }
    if samples.baseline:
        base50 = statistics.median(samples.baseline) * 1000
        line.update(
            baseline=args.baseline,
            a_baseline=figures(samples.baseline),
            ratio_b_over_baseline_p50=round(b50 / base50, 1),
            ratio_baseline_over_a_p50=round(base50 / a50, 2),
        )
    return {
        **line,
        "radicale": _version("radicale"),
        "cpus": os.cpu_count(),
        "host_cpu_busy_while_measuring": busy,
    }


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="measured rounds")
    parser.add_argument("--api-per-round", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE to stderr")
    parser.add_argument("--hold", type=float, default=0, help="seconds to run (a) for profiling")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        help="also serve the app of this git revision on the same database and measure it too",
    )
    parser.add_argument(
        "--radicale-dir",
        type=Path,
        help="keep Radicale's storage here and reuse it in later runs (same --seed)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    with postgres_server() as server_url:
        line = run(server_url, args)
    log(f"wall time {time.perf_counter() - started:.1f}s")
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
