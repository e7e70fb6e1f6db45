"""Problem+json errors: unknown paths and methods, invalid bodies, and unhandled exceptions."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.config import Settings
from app.kit.errors import Conflict
from app.main import create_app
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_problem


@pytest.fixture
async def raising_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A fresh app with extra routes that fail in ways the real routes should not."""
    app: FastAPI = create_app(settings)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    @app.get("/unavailable")
    async def unavailable() -> None:
        raise StarletteHTTPException(503, detail="try later")

    @app.get("/clash")
    async def clash() -> None:
        raise Conflict("it clashes", first_free_at="2026-03-29T10:00:00+02:00")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://convene.test") as client:
        yield client


async def test_unknown_path_is_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/no-such-thing")

    assert_problem(response, 404, "not_found")


async def test_unknown_object_is_404_problem(admin: Caller) -> None:
    response = await admin.get("/v1/contacts/00000000-0000-7000-8000-000000000000")

    body = assert_problem(response, 404, "not_found")
    assert body["title"] == "Not found"


async def test_wrong_method_is_405_problem_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put("/v1/associates", json={})

    assert_problem(response, 405, "method_not_allowed")
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert allowed == {"GET", "POST"}


async def test_malformed_json_is_422_with_body_loc(admin: Caller) -> None:
    response = await admin.client.post(
        "/v1/contacts",
        content=b'{"name": "Nordlys',
        headers={**admin.headers, "content-type": "application/json"},
    )

    body = assert_problem(response, 422, "validation_failed")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors
    assert errors[0]["loc"][0] == "body"
    assert errors[0]["type"] == "json_invalid"


async def test_unknown_field_is_422_naming_the_field(admin: Caller) -> None:
    response = await admin.post("/v1/contacts", json={"name": "Nordlys", "colour": "red"})

    body = assert_problem(response, 422, "validation_failed")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert {"loc": ["body", "colour"], "type": "extra_forbidden"}.items() <= errors[0].items()
    assert "colour" in str(body["detail"])
    assert (await admin.get("/v1/contacts")).json()["items"] == []


async def test_missing_field_is_422_naming_the_field(admin: Caller) -> None:
    response = await admin.post("/v1/contacts", json={})

    body = assert_problem(response, 422, "validation_failed")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert ["body", "name"] in [e["loc"] for e in errors]


async def test_bad_path_parameter_is_422_naming_it(admin: Caller) -> None:
    response = await admin.get("/v1/contacts/not-a-uuid")

    body = assert_problem(response, 422, "validation_failed")
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors[0]["loc"] == ["path", "contact_id"]


async def test_unhandled_exception_is_500_problem_without_internals(
    raising_client: httpx.AsyncClient,
) -> None:
    response = await raising_client.get("/boom")

    body = assert_problem(response, 500, "internal_error")
    assert "secret internals" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    assert "errors" not in body or body["errors"] is None


async def test_other_http_errors_become_problems(raising_client: httpx.AsyncClient) -> None:
    response = await raising_client.get("/unavailable")

    body = assert_problem(response, 503, "service_unavailable")
    assert body["detail"] == "try later"


async def test_problem_extra_fields_are_rendered(raising_client: httpx.AsyncClient) -> None:
    response = await raising_client.get("/clash")

    body = assert_problem(response, 409, "conflict")
    assert body["detail"] == "it clashes"
    assert body["first_free_at"] == "2026-03-29T10:00:00+02:00"
