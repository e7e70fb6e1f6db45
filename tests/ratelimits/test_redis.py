"""Rate limits in Redis (the machine's, 127.0.0.1:6379): shared between processes, and fail-open."""

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import coredis
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.db.engine import Database
from app.main import create_app
from app.ratelimits.policies import token_partition
from tests.fixtures.factories import TEST_SECRET, Caller
from tests.fixtures.problems import assert_problem
from tests.ratelimits.test_http import limits_of, token_of

REDIS_URL = os.environ.get("CONVENE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CLOSED_PORT_URL = "redis://127.0.0.1:1/0"


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"convene-test-{uuid.uuid4().hex}"
    yield prefix
    keys = await stored_keys(prefix)
    if keys:
        redis = coredis.Redis.from_url(REDIS_URL)
        try:
            await redis.delete(keys)
        finally:
            redis.connection_pool.disconnect()
    assert not await stored_keys(prefix)


async def stored_keys(prefix: str) -> list[str]:
    redis = coredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        return [key async for key in redis.scan_iter(match=f"{prefix}*")]
    finally:
        redis.connection_pool.disconnect()


def redis_app(tmp_path: Path, connection: AsyncConnection, storage: str, prefix: str) -> FastAPI:
    settings = Settings(
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        database_url=None,
        rate_limit_storage=storage,
        rate_limit_key_prefix=prefix,
        rate_limit_per_token="4/minute",
        rate_limit_per_tenant="100/minute",
    )
    app = create_app(settings)
    app.state.database = Database.from_connection(connection)
    return app


@pytest.fixture
async def two_processes(
    tmp_path: Path, connection: AsyncConnection, prefix: str
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two apps on one Redis, as two API processes would be."""
    apps = [redis_app(tmp_path, connection, REDIS_URL, prefix) for _ in range(2)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://convene.test")
        for app in apps
    ]
    yield clients
    for client, app in zip(clients, apps, strict=True):
        await client.aclose()
        app.state.rate_limiter.close()


async def test_processes_on_one_redis_share_a_token_quota(
    two_processes: list[httpx.AsyncClient], prefix: str
) -> None:
    first, second = two_processes
    admin = Caller(first, uuid.uuid4(), subject="provisioning", admin=True)
    headers = token_of(admin)

    answers = [
        await (first, second)[i % 2].get("/v1/associates", headers=headers) for i in range(4)
    ]
    refused = await second.get("/v1/associates", headers=headers)

    assert [a.status_code for a in answers] == [200] * 4
    assert [limits_of(a)["token"][0] for a in answers] == [3, 2, 1, 0]
    assert_problem(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    token = headers["Authorization"].removeprefix("Bearer ")
    keys = await stored_keys(prefix)
    assert any(token_partition(token) in key for key in keys)
    assert any(str(admin.tenant_id) in key for key in keys)
    assert not any(token in key for key in keys)


async def test_an_unreachable_redis_serves_without_limits(
    tmp_path: Path, connection: AsyncConnection, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.ratelimits.limiter.STANDBY_SECONDS", 60.0)  # however slow the run
    app = redis_app(tmp_path, connection, CLOSED_PORT_URL, prefix)
    transport = httpx.ASGITransport(app=app)
    errors = "convene_rate_limit_storage_errors_total"
    before = REGISTRY.get_sample_value(errors) or 0.0
    async with httpx.AsyncClient(transport=transport, base_url="http://convene.test") as client:
        admin = Caller(client, uuid.uuid4(), subject="provisioning", admin=True)
        headers = token_of(admin)
        answers = [await client.get("/v1/associates", headers=headers) for _ in range(6)]
    app.state.rate_limiter.close()

    assert [a.status_code for a in answers] == [200] * 6  # past the quota of 4: fail-open
    assert not any("RateLimit" in a.headers for a in answers)
    # The first failure sets the limiter aside (a second, here a minute): one failed call.
    assert (REGISTRY.get_sample_value(errors) or 0.0) == before + 1
