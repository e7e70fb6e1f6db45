"""The limiter's parts: windows, the token's identity, the memory counters, costs, settings."""

import uuid
from pathlib import Path

import limits
import pytest
from pydantic import ValidationError
from starlette.requests import Request

from app.availability.cost import availability_cost
from app.config import Settings
from app.ratelimits.limiter import MemoryCounters, RateLimiter
from app.ratelimits.policies import Policy, token_partition, window_of

MINUTE = Policy("token", limits.parse("10/minute"))


def test_a_window_ends_within_its_length_and_keeps_its_key_until_then() -> None:
    now = 1_800_000_000.25
    window = window_of(MINUTE, "abc", now)

    assert 0 < window.ends_in <= 60
    assert window_of(MINUTE, "abc", now + window.ends_in - 0.01).key == window.key
    after = window_of(MINUTE, "abc", now + window.ends_in)
    assert after.key != window.key
    assert after.ends_in == pytest.approx(60)


def test_partitions_get_their_quota_back_at_different_moments() -> None:
    ends = {round(window_of(MINUTE, str(uuid.uuid4()), 1_800_000_000).ends_in) for _ in range(20)}

    assert len(ends) > 5


def test_a_token_is_stored_as_a_hash() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.payload.signature"

    partition = token_partition(token)

    assert token not in partition
    assert len(partition) == 32
    assert partition == token_partition(token)
    assert partition != token_partition(token + "x")


async def test_memory_counters_count_expire_and_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000.0]
    monkeypatch.setattr("app.ratelimits.limiter.time.time", lambda: clock[0])
    counters = MemoryCounters()

    assert await counters.incr("a", 10, amount=3) == 3
    assert await counters.incr("a", 10, amount=2) == 5
    assert await counters.incr("b", 100) == 1
    clock[0] += 10
    assert await counters.incr("a", 10) == 1  # a new window

    clock[0] += 95  # past b's expiry and a's; the next increment sweeps both away
    await counters.incr("c", 10)

    assert set(counters.storage) == {"c"}
    assert set(counters.expirations) == {"c"}


async def test_a_charge_past_the_quota_is_refused_with_retry_after() -> None:
    limiter = RateLimiter([MINUTE], "memory://", "test")
    tenant = uuid.uuid4()

    allowed = await limiter.charge("t", tenant, 10)
    refused = await limiter.charge("t", tenant, 1)

    assert allowed is not None
    assert allowed.refused is None
    assert dict(allowed.headers)[b"ratelimit"].startswith(b'"token";r=0;t=')
    assert refused is not None
    assert refused.refused == MINUTE
    assert 1 <= refused.retry_after <= 60
    assert dict(refused.headers)[b"retry-after"] == str(refused.retry_after).encode()


async def test_a_cost_above_the_quota_is_charged_as_the_whole_quota() -> None:
    limiter = RateLimiter([MINUTE], "memory://", "test")

    verdict = await limiter.charge("t", uuid.uuid4(), 500)

    assert verdict is not None
    assert verdict.refused is None


def query(string: str) -> Request:
    return Request({"type": "http", "method": "GET", "query_string": string.encode()})


@pytest.mark.parametrize(
    ("query_string", "cost"),
    [
        # one calendar for a week: 7 calendar-days
        ("associate_ids=a&start=2027-01-01T00:00:00Z&end=2027-01-08T00:00:00Z", 1),
        # 3 calendars (a repeated id counts once) for 100 days: 300
        (
            "associate_ids=a&associate_ids=a&associate_ids=b&resource_ids=r"
            "&after=2027-01-01T00:00:00Z&before=2027-04-11T00:00:00Z",
            3,
        ),
        # 2 calendars for 50 days and one hour: 51 days started, 102 calendar-days
        ("resource_ids=r&resource_ids=s&start=2027-01-01T00:00:00Z&end=2027-02-20T01:00:00Z", 2),
        # 100 calendars for a year: capped
        (
            "&".join(f"associate_ids={i}" for i in range(100))
            + "&start=2027-01-01T00:00:00Z&end=2028-01-01T00:00:00Z",
            100,
        ),
        # malformed or missing window: what the calendars alone cost, at least 1
        ("associate_ids=a&start=yesterday&end=2027-01-08T00:00:00Z", 1),
        ("", 1),
    ],
)
def test_availability_cost(query_string: str, cost: int) -> None:
    assert availability_cost(query(query_string)) == cost


@pytest.mark.parametrize("value", ["600/minute", "10 per second", "1000/hour", "5/2 minutes"])
def test_a_limit_in_the_limits_notation_is_accepted(tmp_path: Path, value: str) -> None:
    assert Settings(data_dir=tmp_path, rate_limit_per_token=value).rate_limit_per_token == value


@pytest.mark.parametrize("value", ["off", "OFF", "", "none", "0"])
def test_a_limit_can_be_turned_off(tmp_path: Path, value: str) -> None:
    settings = Settings(data_dir=tmp_path, rate_limit_per_tenant=value)

    assert settings.rate_limit_per_tenant == "off"
    assert [p.name for p in RateLimiter.from_settings(settings).policies] == ["token"]


@pytest.mark.parametrize("value", ["600", "lots/minute", "0/minute", "10/second;600/minute"])
def test_a_malformed_limit_stops_the_start(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValidationError, match="rate_limit_per_token"):
        Settings(data_dir=tmp_path, rate_limit_per_token=value)


def test_the_storage_is_memory_or_redis(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, rate_limit_storage="async+redis://cache:6379/2")

    assert settings.rate_limit_storage == "redis://cache:6379/2"
    with pytest.raises(ValidationError, match="rate_limit_storage"):
        Settings(data_dir=tmp_path, rate_limit_storage="memcached://cache:11211")
