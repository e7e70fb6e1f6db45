"""The group free/busy statement alone, on bench/caldav.py's data: a revision's against ours.

Loads caldav.py's 100 diaries (1,000 events each over 90 days) into a throwaway database and
measures, over one asyncpg connection per statement and random weeks:

  statement  FREE_BUSY of `--baseline REV` and the current one for the 100 calendars, in
             turn per week: wall time and the backend's CPU time (from /proc/<pid>/schedstat,
             so only with a server on this machine);
  halves     the current FREE_BUSY for the first N calendars as one statement, and as two
             statements over half of them each at once on two connections (what
             app/availability/halves.py does), in turn per week, for each N of `--sizes`.

Run from the project root:

    CONVENE_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/free_busy_sql.py --baseline 54bfe4b [--weeks 40]

One JSON line of figures (medians in ms) to stdout; progress to stderr.
"""

import argparse
import asyncio
import json
import random
import re
import statistics
import subprocess
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from caldav import DAYS, START, WEEK, Diaries, generate, load_convene
from common import log, postgres_server, throwaway_database

from app.availability import repository
from app.db.driver import DriverStatement
from app.db.engine import plain_dsn

OLD_FREE_BUSY = re.compile(r'^FREE_BUSY = DriverStatement\("""(.*?)"""\)', re.MULTILINE | re.DOTALL)


def statement_of(revision: str) -> DriverStatement:
    """FREE_BUSY as the revision's app/availability/repository.py writes it."""
    source = subprocess.run(  # noqa: S603
        ["git", "show", f"{revision}:app/availability/repository.py"],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found = OLD_FREE_BUSY.search(source)
    if found is None:
        raise SystemExit(f"no FREE_BUSY in {revision}'s app/availability/repository.py")
    return DriverStatement(found.group(1))


class Backend:
    """A connection and its server process's CPU time, when that process is on this machine."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.schedstat = Path(f"/proc/{conn.get_server_pid()}/schedstat")

    def cpu_ms(self) -> float | None:
        try:
            return int(self.schedstat.read_text().split()[0]) / 1e6
        except OSError:
            return None

    async def run(self, statement: DriverStatement, params: dict[str, Any]) -> None:
        await self.conn.fetchrow(statement.driver_sql, *statement.args(params))


def params(data: Diaries, calendars: Sequence[Any], week: Any) -> dict[str, Any]:
    return {
        "tenant_id": data.tenant_id,
        "viewer": data.viewer,
        "associate_ids": list(calendars),
        "resource_ids": [],
        "start": week,
        "end": week + WEEK,
    }


def median_ms(samples: Sequence[float]) -> float | None:
    return round(statistics.median(samples), 2) if samples else None


async def measure(url: str, data: Diaries, args: argparse.Namespace) -> dict[str, Any]:
    ours, theirs = repository.FREE_BUSY, statement_of(args.baseline)
    one = Backend(await asyncpg.connect(plain_dsn(url), server_settings={"timezone": "UTC"}))
    two = Backend(await asyncpg.connect(plain_dsn(url), server_settings={"timezone": "UTC"}))
    rng = random.Random(args.seed)
    weeks = [START + timedelta(days=rng.randrange(DAYS - 7)) for _ in range(args.weeks)]
    try:
        for week in weeks[:3]:  # warm the cache and the prepared statements
            for statement in (theirs, ours):
                await one.run(statement, params(data, data.diaries, week))
            await two.run(ours, params(data, data.diaries, week))
        figures: dict[str, dict[str, list[float]]] = {
            name: {"wall": [], "cpu": []} for name in ("baseline", "current")
        }
        for week in weeks:
            for name, statement in (("baseline", theirs), ("current", ours)):
                cpu, started = one.cpu_ms(), time.perf_counter()
                await one.run(statement, params(data, data.diaries, week))
                figures[name]["wall"].append((time.perf_counter() - started) * 1000)
                after = one.cpu_ms()
                if cpu is not None and after is not None:
                    figures[name]["cpu"].append(after - cpu)
        log(f"statement: {args.weeks} weeks each, {args.baseline}'s and the current one")
        halves: dict[str, dict[str, float | None]] = {}
        for size in args.sizes:
            calendars = data.diaries[:size]
            cut = size // 2
            whole, split = [], []
            for week in weeks:
                started = time.perf_counter()
                await one.run(ours, params(data, calendars, week))
                whole.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                await asyncio.gather(
                    one.run(ours, params(data, calendars[:cut], week)),
                    two.run(ours, params(data, calendars[cut:], week)),
                )
                split.append((time.perf_counter() - started) * 1000)
            halves[str(size)] = {"one_ms": median_ms(whole), "two_halves_ms": median_ms(split)}
            log(f"halves of {size}: {halves[str(size)]}")
    finally:
        await one.conn.close()
        await two.conn.close()
    return {
        "weeks": args.weeks,
        "baseline": args.baseline,
        "statement_100_calendars": {
            name: {"wall_ms": median_ms(f["wall"]), "pg_cpu_ms": median_ms(f["cpu"])}
            for name, f in figures.items()
        },
        "halves": halves,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default="HEAD", metavar="REV")
    parser.add_argument("--weeks", type=int, default=40)
    parser.add_argument("--sizes", type=int, nargs="*", default=[5, 10, 20, 40, 100])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    data = generate(args.seed)
    with postgres_server() as server_url, throwaway_database(server_url) as url:
        asyncio.run(load_convene(url, data))
        line = asyncio.run(measure(url, data, args))
    print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
