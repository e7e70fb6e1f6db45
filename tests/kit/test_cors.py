"""CORS: preflights and labelled answers for the listed origins only, none when none are set."""

import json
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from app.kit.cors import ALLOWED_HEADERS, ALLOWED_METHODS, EXPOSED_HEADERS
from tests.fixtures.factories import TEST_SECRET, Caller, follow_up_body
from tests.fixtures.problems import assert_problem

APP = "https://app.example.com"
DEV = "http://localhost:5173"
ELSEWHERE = "https://evil.example"
OPENAPI = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        database_url=None,
        # As an operator writes them; the app compares the forms browsers send.
        cors_origins=["https://APP.example.com:443", DEV],
    )


def preflight(origin: str, method: str = "POST", headers: str = "authorization,content-type"):
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


def cors_fields(response: httpx.Response) -> set[str]:
    return {name for name in response.headers if name.lower().startswith("access-control-")}


def listed(value: str) -> set[str]:
    return {item.strip().lower() for item in value.split(",")}


@pytest.mark.parametrize("origin", [APP, DEV])
async def test_a_preflight_from_a_listed_origin_gets_the_fields_without_a_token(
    client: httpx.AsyncClient, origin: str
) -> None:
    response = await client.options(
        "/v1/follow-ups/00000000-0000-0000-0000-000000000000",
        headers=preflight(origin, "PATCH", "authorization,content-type,if-match,idempotency-key"),
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert listed(response.headers["access-control-allow-methods"]) >= {"patch", "delete"}
    assert listed(response.headers["access-control-allow-headers"]) >= {
        "authorization",
        "content-type",
        "if-match",
        "idempotency-key",
    }
    assert int(response.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in response.headers
    assert "origin" in listed(response.headers["vary"])


async def test_a_preflight_from_another_origin_gets_no_cors_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.options("/v1/follow-ups", headers=preflight(ELSEWHERE))
    assert_problem(response, 405, "method_not_allowed")
    assert cors_fields(response) == set()


async def test_a_preflight_asking_for_a_header_not_allowed_is_refused(
    client: httpx.AsyncClient,
) -> None:
    response = await client.options("/v1/follow-ups", headers=preflight(APP, "POST", "x-secret"))
    assert response.status_code == 400
    assert "x-secret" not in listed(response.headers["access-control-allow-headers"])


async def test_an_answer_to_a_listed_origin_exposes_the_fields_a_client_reads(
    member: Caller,
) -> None:
    response = await member.post("/v1/follow-ups", json=follow_up_body(), headers={"Origin": DEV})
    assert response.status_code == 201, response.text
    assert response.headers["access-control-allow-origin"] == DEV
    exposed = listed(response.headers["access-control-expose-headers"])
    assert exposed == {name.lower() for name in EXPOSED_HEADERS}
    assert "etag" in response.headers
    assert "origin" in listed(response.headers["vary"])


async def test_an_answer_to_another_origin_has_no_cors_field(admin: Caller) -> None:
    response = await admin.get("/v1/associates", headers={"Origin": ELSEWHERE})
    assert response.status_code == 200, response.text
    assert cors_fields(response) == set()


class TestRateLimited:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return Settings(
            jwt_secret=TEST_SECRET,
            data_dir=tmp_path,
            database_url=None,
            cors_origins=[APP],
            rate_limit_per_token="1/minute",
        )

    async def test_preflights_are_not_charged_to_any_quota(
        self, client: httpx.AsyncClient, member: Caller
    ) -> None:
        for _ in range(5):
            response = await client.options("/v1/notifications", headers=preflight(APP, "GET"))
            assert response.status_code == 200
            assert "ratelimit" not in response.headers
        # The quota of one a minute is live: the first call passes, the second is refused,
        # and the browser may read why and when to retry.
        token = member.headers
        first = await client.get("/v1/notifications", headers={**token, "Origin": APP})
        assert first.status_code == 200, first.text
        refused = await client.get("/v1/notifications", headers={**token, "Origin": APP})
        assert_problem(refused, 429, "rate_limited")
        assert refused.headers["access-control-allow-origin"] == APP
        exposed = listed(refused.headers["access-control-expose-headers"])
        assert {"retry-after", "ratelimit"} <= exposed


class TestNoneConfigured:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None)

    async def test_no_origin_gets_a_cors_field(
        self, client: httpx.AsyncClient, admin: Caller
    ) -> None:
        response = await client.options("/v1/follow-ups", headers=preflight(APP))
        assert_problem(response, 405, "method_not_allowed")
        assert cors_fields(response) == set()
        answer = await admin.get("/v1/associates", headers={"Origin": APP})
        assert answer.status_code == 200
        assert cors_fields(answer) == set()


def test_origins_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVENE_CORS_ORIGINS", json.dumps([DEV, "https://[::1]:8443/"[:-1]]))
    assert Settings(jwt_secret=TEST_SECRET).cors_origins == [DEV, "https://[::1]:8443"]


def test_no_origin_is_allowed_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CONVENE_CORS_ORIGINS", raising=False)
    assert Settings(jwt_secret=TEST_SECRET, _env_file=None).cors_origins == []  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "origin",
    [
        "app.example.com",
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://app.example.com?x=1",
        "https://user@app.example.com",
        "ftp://app.example.com",
        "https://app.example.com:99999",
        "https://app example.com",
        "null",
    ],
)
def test_an_origin_that_is_not_scheme_host_port_refuses_to_start(origin: str) -> None:
    with pytest.raises(ValidationError, match="not an origin"):
        Settings(jwt_secret=TEST_SECRET, cors_origins=[origin])


def test_every_origin_is_allowed_only_without_credentials() -> None:
    assert Settings(jwt_secret=TEST_SECRET, cors_origins=["*"]).cors_origins == ["*"]
    with pytest.raises(ValidationError, match="CONVENE_CORS_ALLOW_CREDENTIALS"):
        Settings(jwt_secret=TEST_SECRET, cors_origins=["*"], cors_allow_credentials=True)
    with pytest.raises(ValidationError, match="list it alone"):
        Settings(jwt_secret=TEST_SECRET, cors_origins=["*", APP])


def test_the_allowed_methods_are_the_methods_of_the_document() -> None:
    document = json.loads(OPENAPI.read_text())
    methods = {method.upper() for path in document["paths"].values() for method in path}
    assert set(ALLOWED_METHODS) == methods


def test_the_allowed_headers_are_the_request_headers_of_the_document() -> None:
    document = json.loads(OPENAPI.read_text())
    shared = document.get("components", {}).get("parameters", {})
    # Only the API's operations: the webhooks' headers are ones Convene sends, not receives.
    parameters = [
        shared[parameter["$ref"].rsplit("/", 1)[1]] if "$ref" in parameter else parameter
        for path in document["paths"].values()
        for operation in path.values()
        for parameter in operation.get("parameters", [])
    ]
    assert any(p["name"] == "Idempotency-Key" for p in parameters)
    documented = {p["name"].lower() for p in parameters if p.get("in") == "header"}
    assert documented <= {name.lower() for name in ALLOWED_HEADERS}
