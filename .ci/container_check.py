"""What CI can prove of the container without a Docker engine.

1. docker-compose.yml: PostgreSQL 16+ with a health check, the app waiting for it, configured
   by URL and secret, and no CONVENE_ variable that is not a setting; the init script that
   makes the roles mounted; the app and workers connecting as the app role, migrations as the
   owner, neither the superuser; app and workers given a stop grace period longer than a
   webhook delivery's timeout.
2. Dockerfile: non-root, production mode, migrates-then-serves command.
3. The image's own steps, run here: a non-editable `pip install .` into a fresh venv, then the
   CMD from a folder holding only alembic.ini and migrations/ (the image's /app), against a
   throwaway database on the given server, with the compose file's worker count and dispatcher
   mode; /readyz must answer 200, and SIGTERM must stop it and every process it started.
   Then the compose file's `worker` command from the same install: it must keep running
   against the migrated database and stop cleanly on SIGTERM.

Usage: python .ci/container_check.py [SERVER_URL]   (the smoke run is skipped without one)
"""

import base64
import json
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import yaml
from sqlalchemy.engine import make_url

from app.auth.tokens import issue_token
from app.config import Settings

ROOT = Path(__file__).resolve().parents[1]


INIT_SCRIPT = ROOT / "docker" / "postgres-init" / "10-roles.sh"


def _default(value: object) -> str:
    """A compose value with every `${VAR:-default}` read as its default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def _seconds(duration: str) -> float:
    """A compose duration (`30s`, `1m30s`, `500ms`) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts, f"bad duration {duration!r}"
    assert "".join(n + u for n, u in parts) == duration, f"bad duration {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def check_roles_and_grace(compose: dict[str, Any]) -> None:
    """Non-superuser roles for the app and workers, the owner for migrations, grace periods."""
    services = compose["services"]
    db = services["db"]
    assert any(
        str(v).split(":")[:2] == ["./docker/postgres-init", "/docker-entrypoint-initdb.d"]
        for v in db.get("volumes", [])
    ), "db must mount docker/postgres-init as /docker-entrypoint-initdb.d"
    assert INIT_SCRIPT.exists()
    roles = {k: _default(v) for k, v in db["environment"].items()}
    superuser = roles.get("POSTGRES_USER", "postgres")
    owner, app_role = roles["DB_OWNER"], roles["DB_APP_USER"]
    assert len({superuser, owner, app_role}) == 3, "superuser, owner and app role must differ"
    timeout = Settings().webhook_timeout_seconds
    for name in ("app", "worker"):
        service = services[name]
        environment = service["environment"]
        user = make_url(_default(environment["CONVENE_DATABASE_URL"])).username
        assert user == app_role, f"{name} connects as {user}, not the app role {app_role}"
        for key in ("CONVENE_DATABASE_DIRECT_URL", "CONVENE_DATABASE_READ_URL"):
            if key in environment:
                assert make_url(_default(environment[key])).username != superuser
        grace = _seconds(str(service.get("stop_grace_period", "10s")))
        assert grace > timeout, f"{name}: stop_grace_period {grace}s <= a delivery's {timeout}s"
    migrations = services["app"]["environment"].get("CONVENE_DATABASE_MIGRATION_URL")
    assert migrations is not None, "the app migrates: it needs the owner's URL"
    assert make_url(_default(migrations)).username == owner, "migrations run as the owner"
    print(
        f"compose: app and worker connect as {app_role}, migrations as {owner} (init script "
        f"mounted), stop grace periods above a delivery's {timeout:g} s"
    )


def check_compose() -> None:
    """Check the compose file's database, health check and app wiring."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    db, app = compose["services"]["db"], compose["services"]["app"]
    major = int(re.match(r"postgres:(\d+)", db["image"]).group(1))  # type: ignore[union-attr]
    assert major >= 16, f"compose runs PostgreSQL {major}; 16+ is required"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"]), "db needs a pg_isready health check"
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert {
        "CONVENE_DATABASE_URL",
        "CONVENE_JWT_SECRET",
        "CONVENE_SECRET_KEYS",
    } <= app["environment"].keys()
    settings = {f"CONVENE_{name.upper()}" for name in Settings.model_fields}
    for name, service in compose["services"].items():
        unknown = {k for k in service.get("environment", {}) if k.startswith("CONVENE_")} - settings
        assert not unknown, f"{name} sets {sorted(unknown)}, which no setting reads"
    print(f"compose: postgres:{major} with health check; app waits for it; settings all known")
    check_roles_and_grace(compose)


def app_scaling() -> dict[str, str]:
    """The compose app's worker count and dispatcher mode, `${VAR:-default}` read as default."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    environment = compose["services"]["app"]["environment"]
    wanted = ("CONVENE_SERVE_WORKERS", "CONVENE_WEBHOOK_DISPATCHER")
    return {name: _default(environment[name]) for name in wanted if name in environment}


def descendants(pid: int) -> set[int]:
    """Every live process below `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:
            continue
        if stat:
            children.setdefault(int(stat[stat.rindex(")") + 2 :].split()[1]), []).append(
                int(entry.name)
            )
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether the process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def dockerfile_cmd() -> list[str]:
    """Check the Dockerfile's final stage and return its CMD."""
    text = (ROOT / "Dockerfile").read_text()
    final_stage = text.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER (?!root)\S+", final_stage, re.M), (
        "the final stage must not run as root"
    )
    assert "CONVENE_ENVIRONMENT=production" in final_stage
    cmd: list[str] = json.loads(re.search(r"^CMD (\[.*\])$", final_stage, re.M).group(1))  # type: ignore[union-attr]
    assert cmd[:2] == ["convene", "serve"], cmd
    print(f"Dockerfile: non-root, production, CMD {' '.join(cmd)}")
    return cmd


def worker_command() -> list[str]:
    """The compose file's worker command, which must be `convene worker`."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command: list[str] = compose["services"]["worker"]["command"]
    assert command[:2] == ["convene", "worker"], f"worker runs {command}"
    return command


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _make_roles(server_url: str, name: str) -> dict[str, str]:
    """Run the compose file's init script on the server: database `name`, its two roles.

    Returns the app's and the owner's URLs. Names of their own, as the server is shared.
    """
    url = make_url(server_url)
    roles = {
        "DB_NAME": name,
        "DB_OWNER": f"{name}_owner",
        "DB_OWNER_PASSWORD": secrets.token_urlsafe(16),
        "DB_APP_USER": f"{name}_app",
        "DB_APP_PASSWORD": secrets.token_urlsafe(16),
    }
    env = {
        "PATH": "/usr/bin:/bin",
        "PGHOST": url.host or str(url.query.get("host", "")),
        "PGPORT": str(url.port or 5432),
        "PGPASSWORD": url.password or "",
        "POSTGRES_USER": url.username or "postgres",
        "POSTGRES_DB": url.database or "postgres",
        **roles,
    }
    subprocess.run(["bash", str(INIT_SCRIPT)], env=env, check=True, capture_output=True)  # noqa: S603, S607

    def as_role(user: str, password: str) -> str:
        return url.set(username=user, password=password, database=name).render_as_string(
            hide_password=False
        )

    return {
        "app": as_role(roles["DB_APP_USER"], roles["DB_APP_PASSWORD"]),
        "owner": as_role(roles["DB_OWNER"], roles["DB_OWNER_PASSWORD"]),
    }


async def _drop(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for role in (f"{name}_app", f"{name}_owner"):
            await conn.execute(f'DROP ROLE IF EXISTS "{role}"')
    finally:
        await conn.close()


async def _app_role_may_not_alter(app_url: str) -> None:
    """The app role: no superuser, and refused DDL on the tables the owner made."""
    conn = await asyncpg.connect(app_url)
    try:
        assert not await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        for ddl in ("CREATE TABLE intruder (id int)", "DROP TABLE associates"):
            try:
                await conn.execute(ddl)
            except asyncpg.InsufficientPrivilegeError:
                continue
            raise AssertionError(f"the app role may run {ddl!r}")
    finally:
        await conn.close()


def smoke(cmd: list[str], server_url: str) -> None:
    """Install as the image does and run its CMD until /readyz answers."""
    import asyncio

    work = Path(tempfile.mkdtemp(prefix="convene-image-"))
    name = f"convene_image_{uuid.uuid4().hex[:10]}"
    try:
        urls = _make_roles(server_url, name)
        venv = work / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603
            [str(venv / "bin/pip"), "install", "--quiet", str(ROOT)], check=True
        )
        app_dir = work / "app"
        app_dir.mkdir()
        shutil.copy(ROOT / "alembic.ini", app_dir)
        shutil.copytree(ROOT / "migrations", app_dir / "migrations")
        port = free_port()
        args = [str(venv / "bin" / cmd[0]), *cmd[1:]]
        args[args.index("--host") + 1] = "127.0.0.1"
        args[args.index("--port") + 1] = str(port)
        env = {
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            "CONVENE_ENVIRONMENT": "production",
            "CONVENE_DATA_DIR": str(work / "data"),
            "CONVENE_DATABASE_URL": urls["app"],
            "CONVENE_JWT_SECRET": secrets.token_urlsafe(48),
            "CONVENE_SECRET_KEYS": json.dumps(
                {"k1": base64.b64encode(secrets.token_bytes(32)).decode()}
            ),
        }
        migrating = {"CONVENE_DATABASE_MIGRATION_URL": urls["owner"]}
        scaling = app_scaling()
        started: set[int] = set()
        process = subprocess.Popen(args, cwd=app_dir, env={**env, **migrating, **scaling})  # noqa: S603
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                        assert r.status == 200
                        break
                except OSError:
                    assert process.poll() is None, "the image's CMD exited"
                    assert time.monotonic() < deadline, "no /readyz within 60 s"
                    time.sleep(0.3)
            workers = int(scaling.get("CONVENE_SERVE_WORKERS", "1"))
            started = descendants(process.pid)
            spawned = [
                p for p in started if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
            ]
            assert len(spawned) == (workers if workers > 1 else 0), (workers, spawned)
            token = issue_token(
                env["CONVENE_JWT_SECRET"], tenant_id=uuid.uuid4(), subject="ci", admin=True
            )
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/contacts",
                data=b'{"name": "Nordlys A/S"}',
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=5) as created:  # noqa: S310
                assert created.status == 201
            asyncio.run(_app_role_may_not_alter(urls["app"]))
            print(
                f"image CMD: migrated as the owner, ready and writing as the app role (refused "
                f"DDL), from a non-editable install, {scaling}"
            )
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
        assert code in (0, 128 + signal.SIGTERM), f"exit code {code} after SIGTERM"
        deadline = time.monotonic() + 10  # the last of them may take a moment to go
        while [p for p in started if alive(p)]:
            assert time.monotonic() < deadline, "SIGTERM left processes of the CMD behind"
            time.sleep(0.1)
        assert not (work / "data" / "pgdata").exists(), "started an embedded server despite a URL"
        worker = [
            str(venv / "bin" / part) if i == 0 else part for i, part in enumerate(worker_command())
        ]
        process = subprocess.Popen(worker, cwd=app_dir, env=env)  # noqa: S603
        time.sleep(3)
        assert process.poll() is None, f"`convene worker` exited with {process.returncode}"
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        assert code == 0, f"`convene worker` exit code {code} after SIGTERM"
        print("compose worker command: runs, and stops cleanly on SIGTERM")
    finally:
        asyncio.run(_drop(server_url, name))
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    """Run every check; the smoke run only with a server URL."""
    check_compose()
    cmd = dockerfile_cmd()
    if len(sys.argv) > 1:
        smoke(cmd, sys.argv[1])
    else:
        print("image CMD smoke run skipped: no PostgreSQL server given")


if __name__ == "__main__":
    main()
