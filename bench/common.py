"""What the benchmarks share: a PostgreSQL server, throwaway databases, `convene` processes,
percentiles, and CPU time readings from /proc.

Imported as `common` by the scripts next to it (run as `.venv/bin/python bench/<name>.py`
from the project root, which puts bench/ first on sys.path).
"""

import asyncio
import base64
import hashlib
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.db.embedded import EmbeddedPostgres, create_database_if_missing, drop_database
from app.db.engine import plain_dsn
from app.db.migrations import upgrade

STARTUP_SECONDS = 60
STOP_SECONDS = 30


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# PostgreSQL ---------------------------------------------------------------------------------


@contextmanager
def postgres_server() -> Iterator[str]:
    """The configured server's URL, else an embedded server's in a temp dir (removed after)."""
    configured = os.environ.get("CONVENE_BENCH_DATABASE_URL")
    if configured:
        log("using the server of CONVENE_BENCH_DATABASE_URL")
        yield configured
        return
    tmp = Path(tempfile.mkdtemp(prefix="convene-bench-pg-"))
    server = EmbeddedPostgres(tmp / "pgdata")
    try:
        started = time.perf_counter()
        url = server.start()
        log(f"embedded PostgreSQL up in {time.perf_counter() - started:.1f}s ({tmp})")
        yield url
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A new, migrated database on the server; dropped on exit."""
    name = f"convene_bench_{uuid.uuid4().hex[:12]}"
    url = asyncio.run(create_database_if_missing(server_url, name))
    try:
        upgrade(url)
        yield url
    finally:
        asyncio.run(drop_database(server_url, name))
        log(f"dropped database {name}")


async def checkpoint(url: str) -> None:
    """Flush dirty pages now, so no checkpoint writes them while measuring."""
    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute("CHECKPOINT")
    except asyncpg.InsufficientPrivilegeError:
        log("CHECKPOINT not allowed on this server; a checkpoint may overlap the measurement")
    finally:
        await conn.close()


# Processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[bytes], timeout: float = STOP_SECONDS) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `timeout` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"pid {process.pid} ignored SIGTERM for {timeout:.0f}s; killing it")
        process.kill()
        process.wait()


@dataclass
class Running:
    """A `convene` subprocess: its process and, when it serves HTTP, its base URL."""

    process: subprocess.Popen[bytes]
    base: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def app_env(
    database_url: str, secret: str, extra_env: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of a `convene` process of a bench: none of the caller's CONVENE_*.

    The database URL, the JWT secret, a key for webhook secrets at rest derived from it (every
    process of a run must open what another sealed: their data dirs differ), log level warning
    (no access log line per request), and `extra_env`.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVENE_")}
    key = base64.b64encode(hashlib.sha256(secret.encode()).digest()).decode()
    env.update(
        CONVENE_DATABASE_URL=database_url,
        CONVENE_JWT_SECRET=secret,
        CONVENE_SECRET_KEYS=json.dumps({"bench": key}),
        CONVENE_LOG_LEVEL="warning",
    )
    env.update(extra_env or {})  # which may override them
    return env


@contextmanager
def convene_process(
    database_url: str,
    secret: str,
    command: Sequence[str],
    health_url: str | None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Running]:
    """`python -m app <command>` against the database; waits for `health_url` to answer 200.

    The environment is `app_env`'s.
    """
    workdir = Path(tempfile.mkdtemp(prefix="convene-bench-app-"))
    env = app_env(database_url, secret, extra_env)
    log_path = workdir / f"{command[0]}.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "app", "--data-dir", str(workdir / "data"), *command],
            env=env,
            cwd=workdir,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        running = Running(process, health_url.rsplit("/", 1)[0] if health_url else "", log_path)
        try:
            if health_url is not None:
                wait_until_healthy(health_url, process, log_path, f"convene {command[0]}")
            yield running
        finally:
            stop_process(process)
            output = log_path.read_text(errors="replace").strip()
            if output:
                tail = "\n".join(output.splitlines()[-20:])
                log(f"output of convene {command[0]} (pid {process.pid}), last lines:\n{tail}")
            shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def serve_process(
    database_url: str, secret: str, extra_env: dict[str, str] | None = None
) -> Iterator[Running]:
    """`python -m app serve` on a free port against the database."""
    port = free_port()
    with convene_process(
        database_url,
        secret,
        ["serve", "--port", str(port)],
        f"http://127.0.0.1:{port}/healthz",
        extra_env,
    ) as running:
        log(f"API serving on {running.base} (pid {running.pid})")
        yield running


@contextmanager
def api_process(database_url: str, secret: str) -> Iterator[str]:
    """`python -m app serve` on a free port against the database; yields its base URL."""
    with serve_process(database_url, secret) as running:
        yield running.base


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], log_path: Path, name: str
) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{name} did not answer {url} within {STARTUP_SECONDS}s")


# Figures -------------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, in milliseconds rounded to 3 decimals."""
    ordered = sorted(samples)
    value = ordered[max(0, math.ceil(q * len(ordered)) - 1)]
    return round(value * 1000, 3)


def summary(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples) * 1000, 3),
        "p99_ms": percentile(samples, 0.99),
    }


# CPU time ------------------------------------------------------------------------------------


def cpu_times() -> list[int] | None:
    """The machine's CPU time counters (Linux), or None elsewhere."""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None


def busy_share(before: list[int] | None, after: list[int] | None) -> float | None:
    """Share of all CPUs busy between two readings (every process on the machine)."""
    if before is None or after is None:
        return None
    delta = [b - a for a, b in zip(before, after, strict=True)]
    idle = delta[3] + delta[4]  # idle, iowait
    return round(1 - idle / sum(delta), 2) if sum(delta) else None


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from the field after the command name (state is [0], ppid [1])."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def process_cpu_seconds(pid: int, tree: bool = True) -> float | None:
    """User + system CPU seconds of a process; with `tree`, of it and all its descendants.

    A live process's cutime/cstime hold its reaped children, so summing utime + stime +
    cutime + cstime over the live processes of the tree counts every process that ever ran
    in it, once. None when the process is not visible (not on this machine, or gone).
    """
    root = _stat_fields(pid)
    if root is None:
        return None
    members = {pid: root}
    if tree:
        children: dict[int, list[int]] = {}
        stats: dict[int, list[str]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                stats[int(entry.name)] = fields
                children.setdefault(int(fields[1]), []).append(int(entry.name))
        pending = [pid]
        while pending:
            for child in children.get(pending.pop(), []):
                if child in stats and child not in members:
                    members[child] = stats[child]
                    pending.append(child)
    ticks = 0
    for fields in members.values():
        # utime, stime, cutime, cstime are fields 14-17 of stat: [11:15] here.
        ticks += sum(int(v) for v in fields[11:15]) if tree else sum(int(v) for v in fields[11:13])
    return ticks / _TICKS


def parent_pid(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


async def bounded(concurrency: int, items: Sequence[Any], work: Callable[[Any], Any]) -> list[Any]:
    """Run `work(item)` for every item with at most `concurrency` in flight, in order."""
    results: list[Any] = [None] * len(items)
    pending = deque(range(len(items)))

    async def worker() -> None:
        while pending:
            i = pending.popleft()
            results[i] = await work(items[i])

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results
