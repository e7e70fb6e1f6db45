"""Liveness, readiness against a real database (migrated, behind, unreachable) and /metrics."""

import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from app.db.migrations import alembic_config, downgrade, head_revisions, upgrade
from tests.fixtures.committed import committed_app
from tests.fixtures.factories import TEST_SECRET
from tests.fixtures.servers import convene_env, free_port, run_cli, serving

READY = {"status": "ready", "database": "ok"}
NOT_MIGRATED = {"status": "unavailable", "database": "not_migrated"}
UNREACHABLE = {"status": "unavailable", "database": "unreachable"}
WEBHOOK_METRICS = {
    "convene_webhook_deliveries",
    "convene_webhook_deliveries_given_up",
    "convene_webhook_queue_depth",
    "convene_webhook_oldest_due_seconds",
    "convene_webhook_commit_to_first_attempt_seconds",
    "convene_webhook_attempt_seconds",
}


def revision_before_head() -> str:
    """The migration just below the (single) head."""
    (head,) = head_revisions()
    revision = ScriptDirectory.from_config(alembic_config("")).get_revision(head)
    assert revision is not None
    assert isinstance(revision.down_revision, str)
    return revision.down_revision


@pytest.fixture(scope="module")
def unmigrated_url(make_database: Callable[..., str]) -> str:
    """A database with no schema and no alembic_version table."""
    return make_database(migrate=False)


@pytest.fixture(scope="module")
def behind_url(make_database: Callable[..., str]) -> str:
    """A database migrated to the revision before the head."""
    url = make_database(migrate=False)
    upgrade(url, revision_before_head())
    return url


@pytest.fixture(params=["no server", "no such database"])
def unreachable_url(request: pytest.FixtureRequest, server_url: str) -> str:
    if request.param == "no server":
        return f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    missing = make_url(server_url).set(database=f"convene_missing_{uuid.uuid4().hex[:12]}")
    return missing.render_as_string(hide_password=False)


async def get_from_app_on(url: str, data_dir: Path, path: str) -> httpx.Response:
    """GET `path` from an app whose database is `url`, with a pool of its own."""
    async with committed_app(url, data_dir) as committed, committed.client() as client:
        return await client.get(path)


async def readiness(url: str, data_dir: Path) -> tuple[int, dict[str, str]]:
    """The status and body of /readyz from an app whose database is `url`."""
    response = await get_from_app_on(url, data_dir, "/readyz")
    return response.status_code, response.json()


def metric_families(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    return {family.name for family in text_string_to_metric_families(response.text)}


# /healthz -----------------------------------------------------------------------------------


async def test_healthz_is_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


async def test_healthz_needs_no_database(unreachable_url: str, tmp_path: Path) -> None:
    response = await get_from_app_on(unreachable_url, tmp_path, "/healthz")

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


# /readyz ------------------------------------------------------------------------------------


async def test_readyz_on_a_migrated_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")

    assert response.status_code == 200, response.text
    assert response.json() == READY


async def test_readyz_on_an_unmigrated_database_is_503_not_migrated(
    unmigrated_url: str, tmp_path: Path
) -> None:
    assert await readiness(unmigrated_url, tmp_path) == (503, NOT_MIGRATED)


async def test_readyz_on_a_database_behind_the_head_is_503_not_migrated(
    behind_url: str, tmp_path: Path
) -> None:
    assert await readiness(behind_url, tmp_path) == (503, NOT_MIGRATED)


async def test_readyz_on_an_unreachable_database_is_503_unreachable(
    unreachable_url: str, tmp_path: Path
) -> None:
    assert await readiness(unreachable_url, tmp_path) == (503, UNREACHABLE)


@pytest.mark.slow
def test_readyz_reports_a_database_behind_the_migrations(
    tmp_path: Path, make_database: Callable[..., str]
) -> None:
    url = make_database()
    env = convene_env(CONVENE_DATABASE_URL=url, CONVENE_JWT_SECRET=TEST_SECRET)
    with serving(tmp_path / "d", env) as base:
        assert httpx.get(f"{base}/readyz").status_code == 200
        downgrade(url, "base")
        behind = httpx.get(f"{base}/readyz")
        assert behind.status_code == 503
        assert behind.json() == {"status": "unavailable", "database": "not_migrated"}
        result = run_cli("migrate", env=env)
        assert result.returncode == 0, result.stderr
        assert httpx.get(f"{base}/readyz").status_code == 200


# /metrics -----------------------------------------------------------------------------------


async def test_metrics_are_prometheus_text_with_the_webhook_figures(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/metrics")

    assert metric_families(response) >= WEBHOOK_METRICS


async def test_metrics_are_served_without_the_database(
    unreachable_url: str, tmp_path: Path
) -> None:
    response = await get_from_app_on(unreachable_url, tmp_path, "/metrics")

    assert metric_families(response) >= WEBHOOK_METRICS
