"""Who may ask about availability, unknown calendars, and every cap and malformed query (422)."""

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.availability.support import iso, room, utc
from tests.fixtures.factories import Caller, bearer
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized
from tests.fixtures.responses import ok

START = utc("2026-05-04T08:00")
END = utc("2026-05-04T18:00")


@dataclass(frozen=True)
class Endpoint:
    """One availability endpoint: its path, a valid query, and the names of its window."""

    name: str
    path: str
    valid: dict[str, str]
    lower: str
    upper: str

    def __str__(self) -> str:
        return self.name

    def params(self, ids: list[tuple[str, str]], **changes: str | None) -> list[tuple[str, str]]:
        query = {**self.valid, **changes}
        return [*ids, *((k, v) for k, v in query.items() if v is not None)]


FREE_BUSY = Endpoint(
    "free-busy", "/v1/availability", {"start": iso(START), "end": iso(END)}, "start", "end"
)
FIRST_FREE = Endpoint(
    "first-free",
    "/v1/availability/first-free",
    {"duration": "PT1H", "after": iso(START), "before": iso(END)},
    "after",
    "before",
)
BOTH = pytest.mark.parametrize("endpoint", [FREE_BUSY, FIRST_FREE], ids=str)


def ids(name: str, values: list[str]) -> list[tuple[str, str]]:
    return [(name, value) for value in values]


def random_ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]


async def get(caller: Caller, endpoint: Endpoint, params: list[tuple[str, str]]) -> httpx.Response:
    return await caller.get(endpoint.path, params=params)


@BOTH
@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ({}, "unauthorized"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "unauthorized"),
        (bearer("not-a-jwt"), "invalid_token"),
    ],
    ids=["none", "basic", "garbage"],
)
async def test_without_a_valid_token_is_401(
    client: httpx.AsyncClient,
    member: Caller,
    endpoint: Endpoint,
    authorization: dict[str, str],
    code: str,
) -> None:
    params = endpoint.params(ids("associate_ids", [member.subject]))

    response = await client.get(endpoint.path, params=tuple(params), headers=authorization)

    assert_unauthorized(response, code)


@BOTH
async def test_a_deactivated_member_is_401(admin: Caller, endpoint: Endpoint) -> None:
    gone = await admin.new_member()
    deleted = await admin.delete(f"/v1/associates/{gone.subject}")
    assert deleted.status_code == 204, deleted.text

    response = await get(gone, endpoint, endpoint.params(ids("associate_ids", [gone.subject])))

    assert_problem(response, 401, "invalid_token")


@BOTH
async def test_every_member_and_service_account_may_ask(
    admin: Caller, member: Caller, endpoint: Endpoint
) -> None:
    colleague = await admin.new_member()
    shared = await room(admin)
    params = endpoint.params(
        [*ids("associate_ids", [colleague.subject]), *ids("resource_ids", [shared])]
    )

    for caller in (member, admin, colleague):
        body = ok(await get(caller, endpoint, params))
        assert set(body) == ({"calendars", "free"} if endpoint is FREE_BUSY else {"slots"})


@BOTH
@pytest.mark.parametrize("kind", ["associate", "resource"])
@pytest.mark.parametrize("whose", ["unknown", "other tenant", "other kind"])
async def test_unknown_calendars_are_404(
    admin: Caller,
    member: Caller,
    other_admin: Caller,
    endpoint: Endpoint,
    kind: str,
    whose: str,
) -> None:
    """Ids that are nowhere, in another tenant, or of the other kind (a room as an associate)."""
    if whose == "unknown":
        missing = str(uuid.uuid4())
    elif whose == "other tenant":
        owner = other_admin
        missing = (await owner.new_member()).subject if kind == "associate" else await room(owner)
    else:
        missing = await room(admin) if kind == "associate" else (await admin.new_member()).subject
    params = endpoint.params(
        [*ids("associate_ids", [member.subject]), *ids(f"{kind}_ids", [missing])]
    )

    problem = assert_problem(await get(member, endpoint, params), 404, "unknown_reference")

    assert missing in problem["detail"]
    assert member.subject not in problem["detail"]


@BOTH
@pytest.mark.parametrize(
    ("associates", "resources"), [(100, 0), (0, 100), (50, 50)], ids=["100a", "100r", "50+50"]
)
async def test_up_to_100_calendars_pass_the_cap(
    member: Caller, endpoint: Endpoint, associates: int, resources: int
) -> None:
    """100 calendars are allowed: these are unknown, so the answer is 404, not 422."""
    params = endpoint.params(
        [*ids("associate_ids", random_ids(associates)), *ids("resource_ids", random_ids(resources))]
    )

    assert_problem(await get(member, endpoint, params), 404, "unknown_reference")


@BOTH
@pytest.mark.parametrize(
    ("associates", "resources"),
    [(101, 0), (0, 101), (51, 50), (0, 0)],
    ids=["101a", "101r", "51+50", "none"],
)
async def test_more_than_100_calendars_or_none_is_422(
    member: Caller, endpoint: Endpoint, associates: int, resources: int
) -> None:
    params = endpoint.params(
        [*ids("associate_ids", random_ids(associates)), *ids("resource_ids", random_ids(resources))]
    )

    assert_invalid(await get(member, endpoint, params), "query")


@BOTH
async def test_a_window_of_366_days_is_allowed(member: Caller, endpoint: Endpoint) -> None:
    params = endpoint.params(
        ids("associate_ids", [member.subject]),
        **{endpoint.upper: iso(START + timedelta(days=366))},
    )

    ok(await get(member, endpoint, params))


@BOTH
@pytest.mark.parametrize(
    "upper",
    [START + timedelta(days=366, seconds=1), START, START - timedelta(minutes=1)],
    ids=["366 days and a second", "empty", "backwards"],
)
async def test_a_bad_window_is_422(member: Caller, endpoint: Endpoint, upper: Any) -> None:
    params = endpoint.params(ids("associate_ids", [member.subject]), **{endpoint.upper: iso(upper)})

    assert_invalid(await get(member, endpoint, params), "query", endpoint.upper)


@BOTH
@pytest.mark.parametrize("field", ["lower", "upper"])
@pytest.mark.parametrize("value", ["2026-05-04T08:00:00", "2026-05-04", "soon", ""])
async def test_a_naive_or_malformed_time_is_422(
    member: Caller, endpoint: Endpoint, field: str, value: str
) -> None:
    name = getattr(endpoint, field)
    params = endpoint.params(ids("associate_ids", [member.subject]), **{name: value})

    assert_invalid(await get(member, endpoint, params), "query", name)


@BOTH
@pytest.mark.parametrize("field", ["lower", "upper"])
async def test_a_missing_time_is_422(member: Caller, endpoint: Endpoint, field: str) -> None:
    name = getattr(endpoint, field)
    params = endpoint.params(ids("associate_ids", [member.subject]), **{name: None})

    assert_invalid(await get(member, endpoint, params), "query", name)


@BOTH
@pytest.mark.parametrize("name", ["associate_ids", "resource_ids"])
@pytest.mark.parametrize("value", ["not-a-uuid", "123", ""])
async def test_a_malformed_id_is_422(
    member: Caller, endpoint: Endpoint, name: str, value: str
) -> None:
    params = endpoint.params([*ids("associate_ids", [member.subject]), (name, value)])

    assert_invalid(await get(member, endpoint, params), "query", name)


@BOTH
async def test_an_unknown_query_parameter_is_422(member: Caller, endpoint: Endpoint) -> None:
    params = endpoint.params([*ids("associate_ids", [member.subject]), ("associate_id", "x")])

    assert_invalid(await get(member, endpoint, params), "query", "associate_id")


@pytest.mark.parametrize("duration", ["PT1M", "PT60S", "PT1H", "P31D"])
async def test_durations_from_a_minute_to_31_days_are_allowed(
    member: Caller, duration: str
) -> None:
    params = FIRST_FREE.params(
        ids("associate_ids", [member.subject]),
        duration=duration,
        before=iso(START + timedelta(days=40)),
    )

    ok(await get(member, FIRST_FREE, params))


@pytest.mark.parametrize("duration", ["PT59S", "PT0S", "-PT1H", "P31DT1S", "P32D", "an hour", ""])
async def test_a_duration_out_of_range_or_malformed_is_422(member: Caller, duration: str) -> None:
    params = FIRST_FREE.params(ids("associate_ids", [member.subject]), duration=duration)

    assert_invalid(await get(member, FIRST_FREE, params), "query", "duration")


@pytest.mark.parametrize("count", ["1", "50"])
async def test_counts_from_1_to_50_are_allowed(member: Caller, count: str) -> None:
    params = FIRST_FREE.params(
        ids("associate_ids", [member.subject]), count=count, working_hours="false"
    )

    slots = ok(await get(member, FIRST_FREE, params))["slots"]
    assert len(slots) == min(int(count), 10)  # ten free hours in the window


@pytest.mark.parametrize("count", ["0", "51", "-1", "many", "1.5"])
async def test_a_count_out_of_range_or_malformed_is_422(member: Caller, count: str) -> None:
    params = FIRST_FREE.params(ids("associate_ids", [member.subject]), count=count)

    assert_invalid(await get(member, FIRST_FREE, params), "query", "count")


@pytest.mark.parametrize("value", ["maybe", "2"])
async def test_a_malformed_working_hours_flag_is_422(member: Caller, value: str) -> None:
    params = FIRST_FREE.params(ids("associate_ids", [member.subject]), working_hours=value)

    assert_invalid(await get(member, FIRST_FREE, params), "query", "working_hours")


@BOTH
async def test_a_repeated_single_parameter_is_422(member: Caller, endpoint: Endpoint) -> None:
    params = [
        *endpoint.params(ids("associate_ids", [member.subject])),
        (endpoint.lower, iso(START)),
    ]

    assert_invalid(await get(member, endpoint, params), "query", endpoint.lower)
