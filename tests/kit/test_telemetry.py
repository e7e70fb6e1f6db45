"""The request id, the access log line (JSON and text) and the HTTP metrics of each request."""

import json
import logging
import uuid

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from app.auth.tokens import issue_token
from app.kit.logs import TextFormatter, json_formatter
from tests.fixtures.factories import Caller, bearer
from tests.fixtures.problems import assert_problem, assert_unauthorized

ACCESS = "convene.access"
ASSOCIATE_ROUTE = "/v1/associates/{associate_id}"


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=ACCESS)
    return caplog


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == ACCESS]


def only_access_record(caplog: pytest.LogCaptureFixture) -> logging.LogRecord:
    (record,) = access_records(caplog)
    return record


def as_json(record: logging.LogRecord) -> dict[str, object]:
    line = json_formatter().format(record)
    assert "\n" not in line
    parsed: dict[str, object] = json.loads(line)
    return parsed


def requests_counted(route: str, method: str, status: int) -> float:
    labels = {"route": route, "method": method, "status": str(status)}
    return REGISTRY.get_sample_value("convene_http_requests_total", labels) or 0.0


def durations_observed(route: str, method: str) -> float:
    labels = {"route": route, "method": method}
    return REGISTRY.get_sample_value("convene_http_request_duration_seconds_count", labels) or 0.0


# The request id -----------------------------------------------------------------------------


async def test_a_request_without_an_id_gets_one_echoed_and_logged(
    client: httpx.AsyncClient, access_log: pytest.LogCaptureFixture
) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")

    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert ids[0] != ids[1]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert [r.request_id for r in access_records(access_log)] == ids  # type: ignore[attr-defined]


async def test_a_sane_request_id_is_kept(
    client: httpx.AsyncClient, access_log: pytest.LogCaptureFixture
) -> None:
    supplied = "lb-7f3a:0193c1d2-e3f4.5/6+7=="

    response = await client.get("/healthz", headers={"X-Request-ID": supplied})

    assert response.headers["x-request-id"] == supplied
    assert only_access_record(access_log).request_id == supplied  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "supplied",
    [
        "x" * 129,
        "two words",
        'quote"and{json}',
        "new\\nline",
        "ünïcode",
        "",
    ],
)
async def test_a_request_id_that_is_not_sane_is_replaced(
    client: httpx.AsyncClient, access_log: pytest.LogCaptureFixture, supplied: str
) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": supplied.encode()})

    replaced = response.headers["x-request-id"]
    assert replaced != supplied
    assert len(replaced) == 32
    assert only_access_record(access_log).request_id == replaced  # type: ignore[attr-defined]
    if supplied:
        assert supplied not in access_log.text


async def test_problem_bodies_carry_the_request_id(
    client: httpx.AsyncClient, admin: Caller
) -> None:
    supplied = {"X-Request-ID": "report-me-1"}

    not_found = await admin.get(f"/v1/associates/{uuid.uuid4()}", headers=supplied)
    unmatched = await client.get("/no/such/path", headers=supplied)
    invalid = await admin.get("/v1/associates?limit=0", headers=supplied)
    anonymous = await client.get("/v1/associates", headers=supplied)

    for response, status, code in [
        (not_found, 404, "not_found"),
        (unmatched, 404, "not_found"),
        (invalid, 422, "validation_failed"),
        (anonymous, 401, "unauthorized"),
    ]:
        problem = assert_problem(response, status, code)
        assert problem["request_id"] == "report-me-1"


async def test_a_body_too_large_is_logged_with_its_request_id(
    client: httpx.AsyncClient, admin: Caller, access_log: pytest.LogCaptureFixture
) -> None:
    response = await admin.post("/v1/contacts", content=b"x" * 2_000_000)

    problem = assert_problem(response, 413, "payload_too_large")
    record = only_access_record(access_log)
    assert problem["request_id"] == record.request_id  # type: ignore[attr-defined]
    assert (record.status, record.problem) == (413, "payload_too_large")  # type: ignore[attr-defined]


async def test_an_unhandled_error_is_a_500_with_the_request_id_logged_as_an_error(
    app: FastAPI, client: httpx.AsyncClient, access_log: pytest.LogCaptureFixture
) -> None:
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    before = requests_counted("/boom", "GET", 500)

    response = await client.get("/boom", headers={"X-Request-ID": "bug-42"})

    problem = assert_problem(response, 500, "internal_error")
    assert problem["request_id"] == "bug-42"
    record = only_access_record(access_log)
    assert (record.levelno, record.status, record.route) == (logging.ERROR, 500, "/boom")  # type: ignore[attr-defined]
    unhandled = [r for r in access_log.records if r.name == "app.kit.errors"]
    assert [r.request_id for r in unhandled] == ["bug-42"]  # type: ignore[attr-defined]
    assert requests_counted("/boom", "GET", 500) == before + 1


# The access log line ------------------------------------------------------------------------


async def test_the_line_names_the_route_template_tenant_and_subject(
    admin: Caller, member: Caller, access_log: pytest.LogCaptureFixture
) -> None:
    access_log.clear()
    response = await member.get(f"/v1/associates/{member.subject}")
    assert response.status_code == 200, response.text

    line = as_json(only_access_record(access_log))

    assert line["route"] == ASSOCIATE_ROUTE
    assert member.subject not in str(line["route"])
    assert line["method"] == "GET"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] > 0
    assert line["tenant"] == str(member.tenant_id)
    assert line["subject"] == member.subject
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["level"] == "INFO"
    assert line["logger"] == ACCESS
    assert isinstance(line["time"], str)
    assert "problem" not in line
    assert "reason" not in line


async def test_the_text_line_has_the_same_fields(
    admin: Caller, access_log: pytest.LogCaptureFixture
) -> None:
    response = await admin.get(f"/v1/associates/{uuid.uuid4()}")

    line = TextFormatter().format(only_access_record(access_log))

    assert f"GET {ASSOCIATE_ROUTE} 404 " in line
    assert f"request_id={response.headers['x-request-id']}" in line
    assert f"tenant={admin.tenant_id} subject={admin.subject} problem=not_found" in line
    assert "\n" not in line


async def test_an_unmatched_path_is_logged_and_counted_as_unmatched(
    client: httpx.AsyncClient, access_log: pytest.LogCaptureFixture
) -> None:
    before = requests_counted("unmatched", "GET", 404)

    await client.get("/wp-admin/secret-probe")

    line = as_json(only_access_record(access_log))
    assert (line["route"], line["status"]) == ("unmatched", 404)
    assert "secret-probe" not in access_log.text
    assert requests_counted("unmatched", "GET", 404) == before + 1


async def test_a_missing_token_is_logged_with_the_reason(
    client: httpx.AsyncClient, access_log: pytest.LogCaptureFixture
) -> None:
    assert_unauthorized(await client.get("/v1/associates"), "unauthorized")

    record = only_access_record(access_log)
    line = as_json(record)
    assert record.levelno == logging.WARNING
    assert line["status"] == 401
    assert line["problem"] == "unauthorized"
    assert line["reason"] == "send a bearer token in the Authorization header"
    assert "tenant" not in line


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("another-secret-that-is-long-enough-for-hs256-xyz", "Signature verification failed"),
        (None, "Not enough segments"),
    ],
)
async def test_a_bad_token_is_logged_with_the_reason_never_the_token(
    client: httpx.AsyncClient,
    access_log: pytest.LogCaptureFixture,
    secret: str | None,
    expected: str,
) -> None:
    tenant = uuid.uuid4()
    token = (
        issue_token(secret, tenant_id=tenant, subject="intruder", admin=True)
        if secret
        else "not-a-jwt-but-long-enough"
    )

    assert_unauthorized(await client.get("/v1/associates", headers=bearer(token)))

    record = only_access_record(access_log)
    line = as_json(record)
    assert (record.levelno, line["status"], line["problem"]) == (
        logging.WARNING,
        401,
        "invalid_token",
    )
    assert expected in str(line["reason"])
    for formatted in (json.dumps(line), TextFormatter().format(record), access_log.text):
        assert token not in formatted
        for part in token.split("."):
            assert part not in formatted


async def test_a_forbidden_call_is_logged_with_the_caller_and_the_reason(
    member: Caller, access_log: pytest.LogCaptureFixture
) -> None:
    access_log.clear()
    response = await member.post("/v1/contacts", json={"name": "Nordlys A/S"})
    assert_problem(response, 403, "forbidden")

    record = only_access_record(access_log)
    line = as_json(record)
    assert record.levelno == logging.WARNING
    assert (line["status"], line["route"], line["method"]) == (403, "/v1/contacts", "POST")
    assert (line["tenant"], line["subject"]) == (str(member.tenant_id), member.subject)
    assert line["reason"] == "this operation needs the admin scope"
    token = member.headers["Authorization"].removeprefix("Bearer ")
    assert token not in access_log.text


async def test_other_lines_written_during_a_request_carry_its_id(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    from app.kit.logs import RequestIdFilter

    async def chatty() -> dict[str, str]:
        logging.getLogger("app.chatty").warning("something worth a line")
        return {}

    app.add_api_route("/chatty", chatty)
    caplog.handler.addFilter(RequestIdFilter())

    response = await client.get("/chatty", headers={"X-Request-ID": "trace-me"})

    (record,) = [r for r in caplog.records if r.name == "app.chatty"]
    assert record.request_id == "trace-me" == response.headers["x-request-id"]  # type: ignore[attr-defined]
    assert as_json(record)["request_id"] == "trace-me"


# HTTP metrics -------------------------------------------------------------------------------


async def test_each_request_moves_its_counter_and_histogram(
    admin: Caller, client: httpx.AsyncClient
) -> None:
    found = requests_counted(ASSOCIATE_ROUTE, "GET", 200)
    missing = requests_counted(ASSOCIATE_ROUTE, "GET", 404)
    timed = durations_observed(ASSOCIATE_ROUTE, "GET")
    created = await admin.create(
        "/v1/associates",
        {"name": "Bo", "email": "bo@example.com", "time_zone": "Europe/Copenhagen"},
    )

    for _ in range(3):
        assert (await admin.get(f"/v1/associates/{created['id']}")).status_code == 200
    assert (await admin.get(f"/v1/associates/{uuid.uuid4()}")).status_code == 404

    assert requests_counted(ASSOCIATE_ROUTE, "GET", 200) == found + 3
    assert requests_counted(ASSOCIATE_ROUTE, "GET", 404) == missing + 1
    assert durations_observed(ASSOCIATE_ROUTE, "GET") == timed + 4
    exposed = (await client.get("/metrics")).text
    assert (
        f'convene_http_requests_total{{method="GET",route="{ASSOCIATE_ROUTE}",status="200"}}'
        in exposed
    )
    assert (
        f'convene_http_request_duration_seconds_bucket{{le="0.005",method="GET",'
        f'route="{ASSOCIATE_ROUTE}"}}' in exposed
    )


async def test_an_unknown_method_is_counted_as_other(client: httpx.AsyncClient) -> None:
    before = requests_counted("/healthz", "other", 405)

    response = await client.request("BREW", "/healthz")

    assert response.status_code == 405
    assert requests_counted("/healthz", "other", 405) == before + 1
