"""Property-based API testing with schemathesis against a real `convene serve` process.

Every operation of the OpenAPI document is called with generated valid and invalid input;
no call may answer 5xx or break the documented schema (status, content type, body, headers).
"""

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.auth.tokens import issue_token
from app.cli import OPENAPI_PATH
from app.kit.schemas import time_zone_names
from tests.fixtures.factories import TEST_SECRET, bearer
from tests.fixtures.servers import convene_env, serving

pytestmark = pytest.mark.slow

TENANT = uuid.uuid4()
MAX_EXAMPLES = 30


@pytest.fixture(scope="module")
def api_base(
    tmp_path_factory: pytest.TempPathFactory, make_database: Callable[..., str]
) -> Iterator[str]:
    env = convene_env(
        CONVENE_DATABASE_URL=make_database(migrate=False), CONVENE_JWT_SECRET=TEST_SECRET
    )
    data_dir: Path = tmp_path_factory.mktemp("schemathesis")
    with serving(data_dir, env) as base:
        yield base


# Operations that act as an associate; an admin token (a service account) never does.
AS_ASSOCIATE = (
    "/v1/follow-ups",
    "/v1/invitations",
    "/v1/notifications",
    "/v1/availability",
    "/v1/feeds",
)


@pytest.fixture(scope="module")
def tokens(api_base: str) -> dict[str, str]:
    """An admin token for the directory, webhooks and events, and an associate's for the rest."""
    provisioning = issue_token(TEST_SECRET, tenant_id=TENANT, subject="provisioning", admin=True)
    associate = httpx.post(
        f"{api_base}/v1/associates",
        json={"name": "Schema Thesis", "email": "st@example.com", "time_zone": "Europe/Copenhagen"},
        headers=bearer(provisioning),
    )
    assert associate.status_code == 201, associate.text
    member = issue_token(TEST_SECRET, tenant_id=TENANT, subject=associate.json()["id"])
    return {"admin": provisioning, "associate": member}


@pytest.fixture(scope="module")
def api_schema(api_base: str) -> Any:
    schema = schemathesis.openapi.from_url(f"{api_base}/openapi.json")
    # The bearer token is sent with every call; mutating it is the auth tests' job.
    schema.config.generation.update(with_security_parameters=False)
    # A body past its documented length is refused before it is read: 413, not 422.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    return schema


def _cases() -> list[tuple[str, str, GenerationMode]]:
    """(method, path, mode) for every operation in the committed document.

    Negative cases only where there is input to break (parameters or a body).
    """
    document = json.loads(OPENAPI_PATH.read_text())
    cases = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            cases.append((method, path, GenerationMode.POSITIVE))
            if operation.get("parameters") or operation.get("requestBody"):
                cases.append((method, path, GenerationMode.NEGATIVE))
    return cases


# Rules JSON Schema cannot state, where schema-valid input may rightly be refused: working
# hours' order and overlap, a follow-up's move against its stored times and If-Match (428
# without it, 412 when stale), durations against their window, a webhook URL's resolved
# address (the SSRF guard), the tenant's webhook cap, a delta cursor's checksum and owner, and
# an e-mailed reply's content (a METHOD:REPLY calendar object naming a follow-up and attendee).
CROSS_FIELD_RULES = {
    ("post", "/v1/imip/replies"),
    ("post", "/v1/associates"),
    ("patch", "/v1/associates/{associate_id}"),
    ("get", "/v1/follow-ups/delta"),
    ("patch", "/v1/follow-ups/{follow_up_id}"),
    ("get", "/v1/availability/first-free"),
    ("post", "/v1/webhooks"),
    ("patch", "/v1/webhooks/{webhook_id}"),
}


def _minute_after(instant: str) -> str:
    return (datetime.fromisoformat(instant.upper()) + timedelta(minutes=1)).isoformat()


def _window(names: tuple[str, str]) -> Callable[[dict[str, Any]], None]:
    """Make `end` a minute after `start`: the one rule of a window the schema cannot state."""
    start, end = names

    def repair(values: dict[str, Any]) -> None:
        if isinstance(values.get(start), str):
            values[end] = _minute_after(values[start])

    return repair


def _calendars(query: dict[str, Any]) -> None:
    """1 to 100 calendars across associate_ids and resource_ids (each alone says at most 100)."""
    associates = list(dict.fromkeys(query.get("associate_ids") or []))
    resources = list(dict.fromkeys(query.get("resource_ids") or []))[: 100 - len(associates)]
    query["associate_ids"] = associates or ([] if resources else [str(uuid.uuid4())])
    query["resource_ids"] = resources


def _availability(query: dict[str, Any]) -> None:
    _window(("start", "end"))(query)
    _calendars(query)


def _recent(body: dict[str, Any]) -> None:
    """Recovery reaches back at most 31 days, and not into the future."""
    body["since"] = (datetime.now(UTC) - timedelta(days=1)).isoformat()


def _timed(body: dict[str, Any]) -> None:
    """A timed follow-up: given by instants, ending after it starts, repeating by no rule.

    All-day ones (on midnights, or by dates) are not generated, and neither are series: a
    rule must give `start_at` as its first occurrence, which the schema cannot state.
    """
    body["all_day"] = False
    body.pop("start_date", None)
    body.pop("end_date", None)
    body.pop("recurrence", None)
    if not isinstance(body.get("start_at"), str):
        body["start_at"] = "2026-03-30T09:00:00+02:00"
    _window(("start_at", "end_at"))(body)


def _split(body: dict[str, Any]) -> None:
    """A split keeps the series' rule (a rule's content is beyond the schema) and, given a
    start, ends a minute later; an end alone is left out (it could precede the kept start)."""
    body.pop("recurrence", None)
    if isinstance(body.get("start_at"), str):
        _window(("start_at", "end_at"))(body)
    else:
        body.pop("end_at", None)


# For the operations with a rule across fields, each positive case is made to keep it, so the
# positive-data check holds them to everything else the document states.
REPAIRS: dict[tuple[str, str], tuple[str, Callable[[dict[str, Any]], None]]] = {
    ("get", "/v1/follow-ups"): ("query", _window(("start", "end"))),
    ("get", "/v1/availability"): ("query", _availability),
    ("post", "/v1/follow-ups"): ("body", _timed),
    ("post", "/v1/follow-ups/{follow_up_id}/occurrences/{original_start}/split"): ("body", _split),
    ("post", "/v1/webhooks/{webhook_id}/recover"): ("body", _recent),
}

# The API declares time zones with this format; generate real ones.
schemathesis.openapi.format("iana-time-zone", st.sampled_from(sorted(time_zone_names())))


# schemathesis' own pytest loader does not run on pytest 9 (it reads a removed node attribute),
# so each operation is a parametrized test driving the operation's hypothesis strategy.
@pytest.mark.parametrize(("method", "path", "mode"), _cases())
def test_api_conforms_to_its_schema(
    api_schema: Any,
    api_base: str,
    tokens: dict[str, str],
    method: str,
    path: str,
    mode: GenerationMode,
) -> None:
    operation = api_schema[path][method]
    token = tokens["associate" if path.startswith(AS_ASSOCIATE) else "admin"]
    excluded = [positive_data_acceptance] if (method, path) in CROSS_FIELD_RULES else []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: Any) -> None:
        key = (case.headers or {}).get("Idempotency-Key")
        if isinstance(key, str) and mode is GenerationMode.POSITIVE:
            # A key reused for another request is rightly refused (422), a rule across requests
            # that the schema cannot state: keep the generated key's shape, make it unique.
            case.headers["Idempotency-Key"] = (uuid.uuid4().hex + key)[:255]
        repair = REPAIRS.get((method, path))
        if repair is not None and mode is GenerationMode.POSITIVE:
            part, fix = repair
            values = case.query if part == "query" else case.body
            if isinstance(values, dict):
                fix(values)
        case.call_and_validate(base_url=api_base, headers=bearer(token), excluded_checks=excluded)

    check()
