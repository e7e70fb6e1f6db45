"""The `convene` command as a user runs it: serve (embedded and external, one process or
several), token, openapi."""

import asyncio
import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
import pytest

from app.cli import OPENAPI_PATH, render_openapi
from app.db.engine import plain_dsn
from app.webhooks.election import LOCK_KEY
from tests.fixtures.factories import TEST_SECRET, bearer
from tests.fixtures.pgbouncer import direct
from tests.fixtures.servers import (
    Served,
    alive,
    convene_env,
    descendants,
    postgres_running_in,
    run_cli,
    serve_process,
    serving,
)

pytestmark = pytest.mark.slow


def _token(data_dir: Path, *args: str) -> str:
    result = run_cli("--data-dir", str(data_dir), "token", *args, env=convene_env())
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_serve_embedded_quick_start(tmp_path: Path) -> None:
    """Serve with no configuration, create and list objects, stop, restart on the same data."""
    data_dir = tmp_path / "convene-data"
    pgdata = data_dir / "pgdata"
    with serving(data_dir, convene_env()) as base:
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{base}/readyz").json() == {"status": "ready", "database": "ok"}
        assert httpx.get(f"{base}/docs").status_code == 200
        admin = bearer(_token(data_dir, "--admin"))
        created = httpx.post(
            f"{base}/v1/resources", json={"name": "Room 1", "kind": "room"}, headers=admin
        )
        assert created.status_code == 201, created.text
        assert postgres_running_in(pgdata)
    assert not postgres_running_in(pgdata), "SIGTERM left the embedded server running"

    # A second start reuses the data, and the development secret and tenant survived too.
    with serving(data_dir, convene_env()) as base:
        listed = httpx.get(f"{base}/v1/resources", headers=bearer(_token(data_dir, "--admin")))
        assert [r["name"] for r in listed.json()["items"]] == ["Room 1"]
    assert not postgres_running_in(pgdata)


def test_serve_with_database_url_never_starts_embedded(
    tmp_path: Path, make_database: Callable[..., str], server_url: str
) -> None:
    url = make_database(migrate=False)
    data_dir = tmp_path / "convene-data"
    env = convene_env(CONVENE_DATABASE_URL=url, CONVENE_JWT_SECRET=TEST_SECRET)
    with serving(data_dir, env) as base:
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
    assert not (data_dir / "pgdata").exists()


T = TypeVar("T")
SETTLE_SECONDS = 30


def _until(probe: Callable[[], T | None], what: str) -> T:
    """Poll `probe` until it returns something, for at most SETTLE_SECONDS."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        found = probe()
        if found is not None:
            return found
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.1)


def _api_workers(served: Served) -> set[int]:
    """The worker processes of `serve --workers` (interpreters spawned by uvicorn)."""
    found = set()
    for pid in descendants(served.process.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"multiprocessing.spawn" in cmdline:
            found.add(pid)
    return found


def _environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


async def _query(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        return list(await connection.fetch(sql, *args))
    finally:
        await connection.close()


def _listeners(url: str) -> int:
    """How many sessions of the database LISTEN for webhook events: one per dispatcher."""
    rows = asyncio.run(
        _query(
            url,
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
    )
    return int(rows[0][0])


def _leaders(url: str) -> list[int]:
    """The pids of the processes that hold the dispatcher's advisory lock."""
    rows = asyncio.run(
        _query(
            url,
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database() "
            "AND (l.classid::bigint << 32 | l.objid::bigint) = $1",
            LOCK_KEY,
        )
    )
    return [int(row[0].rsplit(" ", 1)[1]) for row in rows]


def test_serve_with_workers_shares_one_embedded_server_and_sigterm_stops_all(
    tmp_path: Path,
) -> None:
    """Two API processes on one port, on the one embedded server their parent started."""
    data_dir = tmp_path / "convene-data"
    pgdata = data_dir / "pgdata"
    with serve_process(data_dir, convene_env(), "--workers", "2") as served:
        workers = _until(
            lambda: _api_workers(served) if len(_api_workers(served)) == 2 else None, "2 workers"
        )
        urls = {_environment(pid)["CONVENE_DATABASE_URL"] for pid in workers}
        assert len(urls) == 1, urls
        (url,) = urls
        # The default (all): each API process runs a dispatcher of its own.
        _until(lambda: True if _listeners(url) == 2 else None, "a dispatcher in each worker")
        admin = bearer(_token(data_dir, "--admin"))
        for n in range(4):
            created = httpx.post(
                f"{served.base}/v1/resources",
                json={"name": f"Room {n}", "kind": "room"},
                headers=admin,
            )
            assert created.status_code == 201, created.text
        assert postgres_running_in(pgdata)
        everything = descendants(served.process.pid)
    assert served.process.returncode == 0, served.log.read_text()
    _until(lambda: None if any(alive(pid) for pid in everything) else True, "every process gone")
    assert not postgres_running_in(pgdata), "SIGTERM left the embedded server running"


def test_one_dispatcher_among_workers_and_another_takes_over_when_it_dies(
    tmp_path: Path, make_database: Callable[..., str]
) -> None:
    url = direct(make_database(migrate=False))
    env = convene_env(
        CONVENE_DATABASE_URL=url,
        CONVENE_JWT_SECRET=TEST_SECRET,
        CONVENE_WEBHOOK_DISPATCHER="one",
        CONVENE_WEBHOOK_POLL_SECONDS="0.2",
    )
    with serve_process(tmp_path / "data", env, "--workers", "2") as served:
        workers = _until(
            lambda: _api_workers(served) if len(_api_workers(served)) == 2 else None, "2 workers"
        )
        (leader,) = _until(lambda: _leaders(url) or None, "an elected dispatcher")
        assert leader in workers
        _until(lambda: True if _listeners(url) == 1 else None, "exactly one dispatcher")

        os.kill(leader, signal.SIGKILL)
        (successor,) = _until(
            lambda: [pid for pid in _leaders(url) if pid != leader] or None, "a successor"
        )
        assert successor in _api_workers(served)
        _until(lambda: True if _listeners(url) == 1 else None, "one dispatcher again")
        assert _leaders(url) == [successor]
        everything = descendants(served.process.pid)
    _until(lambda: None if any(alive(pid) for pid in everything) else True, "every process gone")
    assert _leaders(url) == []
    assert _listeners(url) == 0


def test_production_refuses_missing_secret(tmp_path: Path) -> None:
    env = convene_env(CONVENE_ENVIRONMENT="production")
    result = run_cli("--data-dir", str(tmp_path), "serve", env=env)
    assert result.returncode == 2
    assert "CONVENE_JWT_SECRET" in result.stderr


def test_token_for_an_associate_needs_the_associate(tmp_path: Path) -> None:
    result = run_cli("--data-dir", str(tmp_path), "token", env=convene_env())
    assert result.returncode == 2
    tenant, associate = uuid.uuid4(), uuid.uuid4()
    token = _token(tmp_path, "--tenant", str(tenant), "--associate", str(associate))
    assert token.count(".") == 2


def test_committed_openapi_matches_the_app() -> None:
    assert OPENAPI_PATH.read_text() == render_openapi(), "run `convene openapi`"


@pytest.mark.parametrize("before", [True, False])
def test_data_dir_before_or_after_the_subcommand(tmp_path: Path, before: bool) -> None:
    args = ["token", "--admin"]
    args = ["--data-dir", str(tmp_path), *args] if before else [*args, "--data-dir", str(tmp_path)]
    result = run_cli(*args, env=convene_env())
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "jwt-secret").exists()
    assert (tmp_path / "tenant-id").exists()


def test_admin_token_longer_than_the_maximum_lifetime_is_refused(tmp_path: Path) -> None:
    too_long = run_cli(
        "--data-dir", str(tmp_path), "token", "--admin", "--ttl-hours", "25", env=convene_env()
    )
    assert too_long.returncode == 2
    assert "CONVENE_ADMIN_TOKEN_MAX_LIFETIME_SECONDS" in too_long.stderr
    assert _token(tmp_path, "--admin", "--ttl-hours", "24").count(".") == 2
