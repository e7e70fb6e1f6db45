"""A feed's URL is rate-limited like a token: its own quota and its tenant's, after the lookup."""

from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.calendars.support import new_feed
from tests.fixtures.factories import TEST_SECRET, Caller
from tests.fixtures.problems import assert_problem

QUOTA = 3


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        database_url=None,
        rate_limit_per_token=f"{QUOTA}/minute",
        rate_limit_per_tenant="1000/minute",
    )


async def test_a_feed_url_gets_its_quota_then_429(
    member: Caller, client: httpx.AsyncClient
) -> None:
    _, path = await new_feed(member)
    _, other_path = await new_feed(member)

    answers = [await client.get(path) for _ in range(QUOTA)]
    refused = await client.get(path)

    assert [a.status_code for a in answers] == [200] * QUOTA
    assert answers[0].headers["RateLimit-Policy"].startswith(f'"token";q={QUOTA};w=60')
    assert_problem(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1
    # Another feed of the same colleague is another secret with a quota of its own.
    assert (await client.get(other_path)).status_code == 200


async def test_wrong_tokens_are_not_charged(member: Caller, client: httpx.AsyncClient) -> None:
    """The charge follows the lookup: a guessed URL names no tenant whose quota it could spend."""
    _, path = await new_feed(member)
    wrong = path[:-5] + ("A" if path[-5] != "A" else "B") + ".ics"

    refused = await client.get(wrong)
    served = await client.get(path)

    assert_problem(refused, 404, "not_found")
    assert "RateLimit" not in refused.headers
    assert served.headers["RateLimit"].startswith(f'"token";r={QUOTA - 1};')
