"""The `convene` command as a user runs it: serve (embedded and external), token, openapi."""

import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from app.cli import OPENAPI_PATH, render_openapi
from tests.fixtures.factories import TEST_SECRET, bearer
from tests.fixtures.servers import convene_env, postgres_running_in, run_cli, serving

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
