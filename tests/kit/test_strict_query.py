"""Unknown and repeated query parameters: a 422 on reads (checked by the route) and writes."""

import httpx
from fastapi import FastAPI

from app.config import Settings
from app.kit.strict_query import StrictQueryRoute, reject_unknown_query_params
from app.main import create_app
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_problem


def _errors(response: httpx.Response) -> list[object]:
    errors = assert_problem(response, 422, "validation_failed")["errors"]
    assert isinstance(errors, list)
    return errors


async def test_a_read_refuses_unknown_and_repeated_parameters(admin: Caller) -> None:
    unknown = await admin.get("/v1/contacts", params={"colour": "red", "limit": 5})
    repeated = await admin.get("/v1/contacts", params=[("limit", "1"), ("limit", "2")])

    assert _errors(unknown) == [
        {"loc": ["query", "colour"], "msg": "unknown query parameter", "type": "extra_forbidden"}
    ]
    assert _errors(repeated) == [
        {"loc": ["query", "limit"], "msg": "given more than once", "type": "repeated"}
    ]
    assert (await admin.get("/v1/contacts", params={"limit": 5})).status_code == 200


async def test_routes_outside_the_api_refuse_them_too(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", params={"verbose": "1"})

    assert _errors(response)[0] == {
        "loc": ["query", "verbose"],
        "msg": "unknown query parameter",
        "type": "extra_forbidden",
    }


async def test_the_token_is_checked_before_the_query(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/contacts", params={"colour": "red"})

    assert_problem(response, 401, "unauthorized")


async def test_a_write_reports_a_malformed_body_before_the_query(admin: Caller) -> None:
    response = await admin.client.post(
        "/v1/contacts?colour=red",
        content=b'{"name": "Nordlys',
        headers={**admin.headers, "content-type": "application/json"},
    )

    errors = _errors(response)
    assert isinstance(errors[0], dict)
    assert (errors[0]["loc"][0], errors[0]["type"]) == ("body", "json_invalid")
    created = await admin.post("/v1/contacts?colour=red", json={"name": "Nordlys"})
    assert _errors(created)[0] == {
        "loc": ["query", "colour"],
        "msg": "unknown query parameter",
        "type": "extra_forbidden",
    }
    assert (await admin.get("/v1/contacts")).json()["items"] == []


async def test_a_read_checks_without_solving_the_dependency(settings: Settings) -> None:
    app: FastAPI = create_app(settings)

    @app.get("/probe")
    async def probe() -> dict[str, str]:
        return {"ok": "yes"}

    route = next(r for r in app.routes if getattr(r, "path", None) == "/probe")
    assert isinstance(route, StrictQueryRoute)
    assert all(d.call is not reject_unknown_query_params for d in route.dependant.dependencies)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://convene.test") as client:
        assert (await client.get("/probe")).json() == {"ok": "yes"}
        assert _errors(await client.get("/probe?x=1"))[0] == {
            "loc": ["query", "x"],
            "msg": "unknown query parameter",
            "type": "extra_forbidden",
        }
