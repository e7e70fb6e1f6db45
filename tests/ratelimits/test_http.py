"""Rate limits over HTTP with the in-memory storage: per token, per tenant, headers, 401 first."""

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.auth.tokens import issue_token
from app.config import Settings
from app.ratelimits.limiter import RateLimiter
from tests.fixtures.factories import TEST_SECRET, Caller, bearer, create_associate
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized

TOKEN_QUOTA = 5
TENANT_QUOTA = 8
POLICY = f'"token";q={TOKEN_QUOTA};w=60, "tenant";q={TENANT_QUOTA};w=60'
LIMIT = re.compile(r'"(\w+)";r=(\d+);t=(\d+)')


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        database_url=None,
        rate_limit_per_token=f"{TOKEN_QUOTA}/minute",
        rate_limit_per_tenant=f"{TENANT_QUOTA}/minute",
    )


def token_of(caller: Caller, ttl_hours: float = 1.0) -> dict[str, str]:
    """One fixed token of the caller (Caller.headers mints a new one per request)."""
    token = issue_token(
        TEST_SECRET,
        tenant_id=caller.tenant_id,
        subject=caller.subject,
        admin=caller.admin,
        ttl=timedelta(hours=ttl_hours),
    )
    return bearer(token)


def limits_of(response: httpx.Response) -> dict[str, tuple[int, int]]:
    """The `RateLimit` field as {policy: (remaining, seconds to the window's end)}."""
    return {m[1]: (int(m[2]), int(m[3])) for m in LIMIT.finditer(response.headers["RateLimit"])}


async def notifications(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.get("/v1/notifications", headers=headers)


async def test_a_token_gets_its_quota_then_429_with_retry_after(
    client: httpx.AsyncClient, member: Caller
) -> None:
    headers = token_of(member)
    for used in range(1, TOKEN_QUOTA + 1):
        response = await notifications(client, headers)
        assert response.status_code == 200, response.text
        assert response.headers["RateLimit-Policy"] == POLICY
        remaining = limits_of(response)
        assert remaining["token"][0] == TOKEN_QUOTA - used
        assert remaining["tenant"][0] == TENANT_QUOTA - used - 1  # creating the member
        assert 1 <= remaining["token"][1] <= 60

    refused = await notifications(client, headers)

    problem = assert_problem(refused, 429, "rate_limited")
    assert "token quota of 5 per 60 s" in problem["detail"]
    state = limits_of(refused)
    assert state == {"token": (0, state["token"][1])}  # the tenant was not charged
    retry_after = int(refused.headers["Retry-After"])
    assert retry_after == state["token"][1]
    assert 1 <= retry_after <= 60
    assert refused.headers["RateLimit-Policy"] == POLICY


async def test_refused_requests_are_not_charged_to_the_tenant(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    runaway = token_of(admin, ttl_hours=1)
    for _ in range(TOKEN_QUOTA + 10):
        await client.get("/v1/associates", headers=runaway)

    colleague = await client.get("/v1/associates", headers=token_of(admin, ttl_hours=2))

    assert colleague.status_code == 200
    assert limits_of(colleague)["tenant"][0] == TENANT_QUOTA - TOKEN_QUOTA - 1


async def test_tokens_of_one_tenant_share_its_quota_and_another_tenant_is_unaffected(
    client: httpx.AsyncClient, admin: Caller, other_admin: Caller
) -> None:
    first, second = token_of(admin, ttl_hours=1), token_of(admin, ttl_hours=2)
    for _ in range(TOKEN_QUOTA):
        assert (await client.get("/v1/associates", headers=first)).status_code == 200
    for _ in range(TENANT_QUOTA - TOKEN_QUOTA):
        assert (await client.get("/v1/associates", headers=second)).status_code == 200

    refused = await client.get("/v1/associates", headers=second)
    other = await client.get("/v1/associates", headers=token_of(other_admin))

    problem = assert_problem(refused, 429, "rate_limited")
    assert "tenant quota of 8 per 60 s" in problem["detail"]
    state = limits_of(refused)
    assert state["tenant"][0] == 0
    assert state["token"][0] == TOKEN_QUOTA - (TENANT_QUOTA - TOKEN_QUOTA) - 1
    assert int(refused.headers["Retry-After"]) == state["tenant"][1]
    assert other.status_code == 200
    assert limits_of(other) == {
        "token": (TOKEN_QUOTA - 1, limits_of(other)["token"][1]),
        "tenant": (TENANT_QUOTA - 1, limits_of(other)["tenant"][1]),
    }


async def test_no_token_or_a_bad_one_is_401_and_spends_nothing(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    forged = issue_token("another-secret-" + "x" * 40, tenant_id=admin.tenant_id, subject="x")
    for _ in range(TENANT_QUOTA + 2):
        anonymous = await client.get("/v1/associates")
        assert_unauthorized(anonymous, "unauthorized")
        assert "RateLimit" not in anonymous.headers
        assert_unauthorized(await client.get("/v1/associates", headers=bearer(forged)))

    response = await client.get("/v1/associates", headers=token_of(admin))

    assert response.status_code == 200
    assert limits_of(response)["tenant"][0] == TENANT_QUOTA - 1


async def test_a_caller_who_may_not_act_and_malformed_input_are_charged(
    client: httpx.AsyncClient, member: Caller
) -> None:
    headers = token_of(member)

    forbidden = await client.post("/v1/associates", json={}, headers=headers)
    malformed = await client.get("/v1/notifications?limit=0", headers=headers)

    assert_problem(forbidden, 403, "forbidden")
    assert limits_of(forbidden)["token"][0] == TOKEN_QUOTA - 1
    assert_invalid(malformed, "query", "limit")
    assert limits_of(malformed)["token"][0] == TOKEN_QUOTA - 2


async def test_availability_costs_calendars_times_days(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, admin: Caller
) -> None:
    settings.rate_limit_per_token = "1000/minute"
    settings.rate_limit_per_tenant = "1000/minute"
    app.state.rate_limiter = RateLimiter.from_settings(settings)
    colleagues = [(await create_associate(admin))["id"] for _ in range(10)]
    start = datetime(2027, 3, 1, tzinfo=UTC)
    headers = token_of(admin)

    # 10 calendars x 31 days = 310 calendar-days: 4 units.
    month = await client.get(
        "/v1/availability",
        params={
            "associate_ids": colleagues,
            "start": start.isoformat(),
            "end": (start + timedelta(days=31)).isoformat(),
        },
        headers=headers,
    )
    # 1 calendar x 7 days: 1 unit, like any request.
    week = await client.get(
        "/v1/availability/first-free",
        params={
            "associate_ids": colleagues[:1],
            "duration": "PT1H",
            "after": start.isoformat(),
            "before": (start + timedelta(days=7)).isoformat(),
        },
        headers=headers,
    )

    assert month.status_code == 200, month.text
    assert limits_of(month)["token"][0] == 1000 - 4
    assert week.status_code == 200, week.text
    assert limits_of(week)["token"][0] == 1000 - 5


async def test_only_the_configured_policies_are_sent(
    app: FastAPI, client: httpx.AsyncClient, settings: Settings, admin: Caller
) -> None:
    settings.rate_limit_per_token = "off"
    app.state.rate_limiter = RateLimiter.from_settings(settings)

    response = await client.get("/v1/associates", headers=token_of(admin))

    assert response.headers["RateLimit-Policy"] == f'"tenant";q={TENANT_QUOTA};w=60'
    assert set(limits_of(response)) == {"tenant"}


async def test_health_is_not_limited(client: httpx.AsyncClient) -> None:
    for _ in range(TENANT_QUOTA + 1):
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert "RateLimit" not in response.headers
