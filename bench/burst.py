"""Fifty invitees of one follow-up answering at once, against an answer sent alone.

Issue 10's check that an answer holds the follow-up's row lock for one statement, not its
transaction: 50 concurrent answers to one follow-up all succeed with consecutive seqs, and
the last of them finishes within 10 times a lone answer's latency. On a throwaway database
(an embedded PostgreSQL, or the server of `--database-url` / CONVENE_BENCH_DATABASE_URL):
  1. `python -m app serve [--workers N]`; an admin creates an organizer and 50 colleagues,
     and the organizer invites the 50 to two follow-ups per round (and one more to warm up);
  2. each round, the lone answers: the invitees of the first follow-up answer one after
     another (each alone on the server), by one curl process over one kept-alive connection;
  3. then the burst: the invitees of the second answer at once, one curl process starting
     all 50 transfers together, each on a connection of its own (`--parallel-immediate`);
  4. every answer must be a 200, and the second follow-up's events must carry seqs 1 to 51,
     its creation first.
curl's `time_total` of each transfer is its latency; the burst's last finish is the largest.
Figures: the lone answers' p50, the burst's p50 and last finish, their ratio per round and
the median over the rounds. One JSON line to stdout; progress to stderr. Run from the
project root:
    .venv/bin/python bench/burst.py [--rounds 5] [--workers N] [--pool-size N]
        [--rrule 'FREQ=WEEKLY;COUNT=4'] [--database-url postgresql://...]
The API's CPU per answer (the serve process and its workers, /proc) is read around the lone
answers and around the burst.
"""

import argparse
import asyncio
import json
import secrets
import shutil
import statistics
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import common
import httpx
from api import Failed, postgres, postmaster_of, run_and_print, serve_command
from common import convene_process, log, process_cpu_seconds, throwaway_database

from app.auth.tokens import issue_token
from app.db.engine import plain_dsn

INVITEES = 50
TARGET_RATIO = 10
STATUSES = ("accepted", "declined", "tentative")
FIRST_DAY = datetime(2031, 3, 3, 9, tzinfo=UTC)  # a Monday, far from anything else
CURL = shutil.which("curl") or "curl"
# Far above what a run sends, as in bench/api.py: the answers are charged, not refused.
QUOTAS = {
    "CONVENE_RATE_LIMIT_PER_TOKEN": "1000000/minute",
    "CONVENE_RATE_LIMIT_PER_TENANT": "10000000/minute",
}
common.STARTUP_SECONDS = 180  # several workers start slowly on a busy 2-core machine


@dataclass
class Invitation:
    """One invitee's invitation to one follow-up, with the token that answers it."""

    participant_id: str
    token: str
    status: str


@dataclass
class Meeting:
    """A follow-up of the organizer with its 50 invitations."""

    follow_up_id: str
    invitations: list[Invitation]


def create_meetings(base: str, secret: str, count: int, rrule: str | None) -> list[Meeting]:
    """An organizer and 50 colleagues, and `count` follow-ups inviting all 50; through the API."""
    tenant_id = uuid.uuid4()
    admin = issue_token(secret, tenant_id=tenant_id, subject="bench-admin", admin=True)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as http:
        people = []
        for n in range(INVITEES + 1):
            body = {"name": f"Colleague {n}", "email": f"c{n}@burst.example", "time_zone": "UTC"}
            created = http.post("/v1/associates", json=body)
            if created.status_code != 201:
                raise Failed(f"creating colleague {n}: {created.status_code} {created.text}")
            people.append(str(created.json()["id"]))
    organizer, invitees = people[0], people[1:]
    tokens = {p: issue_token(secret, tenant_id=tenant_id, subject=p) for p in invitees}
    meetings = []
    own = {"Authorization": f"Bearer {issue_token(secret, tenant_id=tenant_id, subject=organizer)}"}
    with httpx.Client(base_url=base, headers=own) as http:
        for k in range(count):
            start = FIRST_DAY + timedelta(days=k)
            body = {
                "title": f"All hands {k + 1}",
                "start_at": start.isoformat(),
                "end_at": (start + timedelta(hours=1)).isoformat(),
                "participants": [{"associate_id": p} for p in invitees],
            }
            if rrule:
                body["recurrence"] = {"rrule": rrule}
            created = http.post("/v1/follow-ups", json=body)
            if created.status_code != 201:
                raise Failed(f"creating follow-up {k}: {created.status_code} {created.text}")
            follow_up = created.json()
            by_person = {
                p["associate_id"]: p["id"]
                for p in follow_up["participants"]
                if p["role"] != "organizer"
            }
            invitations = [
                Invitation(by_person[p], tokens[p], STATUSES[n % len(STATUSES)])
                for n, p in enumerate(invitees)
            ]
            meetings.append(Meeting(str(follow_up["id"]), invitations))
    return meetings


def curl_config(base: str, invitations: Sequence[Invitation]) -> str:
    """A curl config: one POST per invitation, each printing its status and time_total."""
    sections = []
    for invitation in invitations:
        body = json.dumps({"status": invitation.status}, separators=(",", ":"))
        sections.append(
            "\n".join(
                [
                    f'url = "{base}/v1/invitations/{invitation.participant_id}/response"',
                    f'header = "Authorization: Bearer {invitation.token}"',
                    'header = "Content-Type: application/json"',
                    f"data = {json.dumps(body)}",
                    'output = "/dev/null"',
                    'write-out = "%{http_code} %{time_total}\\n"',
                ]
            )
        )
    return "\nnext\n".join(sections) + "\n"


def answer(base: str, invitations: Sequence[Invitation], *, at_once: bool) -> list[float]:
    """Send the invitations' answers with curl; each one's latency in seconds (all must be 200)."""
    with tempfile.NamedTemporaryFile("w", suffix=".curl") as config:
        config.write(curl_config(base, invitations))
        config.flush()
        command = [CURL, "--silent", "--show-error", "--config", config.name]
        if at_once:
            parallel = ["--parallel", "--parallel-immediate", "--parallel-max", str(INVITEES)]
            command[1:1] = parallel
        done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    lines = done.stdout.split()
    codes, seconds = lines[0::2], [float(s) for s in lines[1::2]]
    if done.returncode != 0 or len(codes) != len(invitations) or set(codes) != {"200"}:
        raise Failed(f"answers: curl exited {done.returncode}, codes {codes}: {done.stderr}")
    return seconds


async def seqs(url: str, follow_up_id: str) -> list[int]:
    """The follow-up's event seqs, in order."""
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT seq FROM events WHERE follow_up_id = $1 AND seq IS NOT NULL ORDER BY seq",
            uuid.UUID(follow_up_id),
        )
    finally:
        await conn.close()
    return [row["seq"] for row in rows]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start PostgreSQL and the API, make the follow-ups, answer them; the figures."""
    command = serve_command(args.workers)
    secret = secrets.token_urlsafe(48)
    with ExitStack() as stack:
        server_url, private = stack.enter_context(postgres(args.database_url))
        url = stack.enter_context(throwaway_database(server_url))
        _, version = asyncio.run(postmaster_of(url))
        health = f"http://127.0.0.1:{command[2]}/healthz"
        env = QUOTAS | ({"CONVENE_DB_POOL_SIZE": str(args.pool_size)} if args.pool_size else {})
        api = stack.enter_context(convene_process(url, secret, command, health, env))
        log(f"API serving on {api.base} (pid {api.pid})")
        warmup, *meetings = create_meetings(api.base, secret, 1 + 2 * args.rounds, args.rrule)
        answer(api.base, warmup.invitations, at_once=True)
        rounds = []
        for k in range(args.rounds):
            lone_meeting, burst_meeting = meetings[2 * k], meetings[2 * k + 1]
            before = process_cpu_seconds(api.pid) or 0.0
            lone = answer(api.base, lone_meeting.invitations, at_once=False)
            between = process_cpu_seconds(api.pid) or 0.0
            burst = answer(api.base, burst_meeting.invitations, at_once=True)
            after = process_cpu_seconds(api.pid) or 0.0
            written = asyncio.run(seqs(url, burst_meeting.follow_up_id))
            if written != list(range(1, INVITEES + 2)):
                raise Failed(f"round {k + 1}: the burst's seqs are {written}")
            lone_p50 = statistics.median(lone)
            rounds.append(
                {
                    "lone_p50_ms": round(lone_p50 * 1000, 2),
                    "lone_max_ms": round(max(lone) * 1000, 2),
                    "burst_p50_ms": round(statistics.median(burst) * 1000, 2),
                    "burst_last_ms": round(max(burst) * 1000, 2),
                    "ratio": round(max(burst) / lone_p50, 2),
                    "lone_api_cpu_ms": round((between - before) / INVITEES * 1000, 3),
                    "burst_api_cpu_ms": round((after - between) / INVITEES * 1000, 3),
                }
            )
            log(f"round {k + 1}: {rounds[-1]}")
    ratios = [r["ratio"] for r in rounds]
    return {
        "invitees": INVITEES,
        "rounds": rounds,
        "lone_p50_ms": statistics.median(r["lone_p50_ms"] for r in rounds),
        "burst_last_ms": statistics.median(r["burst_last_ms"] for r in rounds),
        "ratio_last_over_lone_p50": statistics.median(ratios),
        "ratio_range": [min(ratios), max(ratios)],
        "target_ratio": TARGET_RATIO,
        "all_200_seqs_consecutive": True,
        "burst_api_cpu_ms": statistics.median(r["burst_api_cpu_ms"] for r in rounds),
        "workers": args.workers,
        "pool_size": args.pool_size,
        "rrule": args.rrule,
        "postgres": f"{'embedded' if private else 'configured server'}, {version}",
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds")
    parser.add_argument("--workers", type=int, help="passed on as `convene serve --workers N`")
    parser.add_argument(
        "--pool-size",
        type=int,
        help="CONVENE_DB_POOL_SIZE of the API (default: the app's own, 10 and 10 overflow)",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server to create the throwaway database on "
        "(default: CONVENE_BENCH_DATABASE_URL, else an embedded server)",
    )
    parser.add_argument(
        "--rrule", help="make each follow-up a series of this rule (e.g. FREQ=WEEKLY;COUNT=4)"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    if args.pool_size is not None and args.pool_size < 1:
        parser.error("--pool-size must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print one JSON line."""
    args = parse_args(argv)
    return run_and_print(lambda: run(args))


if __name__ == "__main__":
    raise SystemExit(main())
