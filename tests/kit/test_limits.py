"""The request body cap: 413 problem+json for declared and for streamed bodies, nothing stored."""

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.db.engine import Database
from app.main import create_app
from tests.fixtures.factories import TEST_SECRET, Caller
from tests.fixtures.problems import assert_problem

MAX_BODY = 2048


@pytest.fixture
async def small_client(
    tmp_path: Path, connection: AsyncConnection
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with request bodies capped at MAX_BODY bytes."""
    settings = Settings(
        jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None, max_body_bytes=MAX_BODY
    )
    app = create_app(settings)
    app.state.database = Database.from_connection(connection)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://convene.test") as client:
        yield client


@pytest.fixture
def small_admin(small_client: httpx.AsyncClient, admin: Caller) -> Caller:
    return Caller(small_client, admin.tenant_id, subject=admin.subject, admin=True)


def _contact(size: int) -> bytes:
    """A valid contact body of exactly `size` bytes, padded with JSON whitespace."""
    start, end = b'{"name": "Nordlys A/S"', b"}"
    body = start + b" " * (size - len(start) - len(end)) + end
    assert len(body) == size
    assert json.loads(body) == {"name": "Nordlys A/S"}
    return body


async def _chunks(body: bytes, size: int = 512) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _assert_too_large(response: httpx.Response) -> None:
    body = assert_problem(response, 413, "payload_too_large")
    assert str(MAX_BODY) in body["detail"]
    assert body["instance"] == "/v1/contacts"


async def _contact_ids(admin: Caller) -> list[str]:
    response = await admin.get("/v1/contacts")
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def test_body_over_cap_with_content_length_is_413(small_admin: Caller) -> None:
    body = _contact(MAX_BODY + 1)

    response = await small_admin.client.post(
        "/v1/contacts",
        content=body,
        headers={**small_admin.headers, "content-type": "application/json"},
    )

    assert response.request.headers["content-length"] == str(len(body))
    _assert_too_large(response)
    assert await _contact_ids(small_admin) == []


async def test_streamed_body_over_cap_without_content_length_is_413(
    small_admin: Caller,
) -> None:
    response = await small_admin.client.post(
        "/v1/contacts",
        content=_chunks(_contact(4 * MAX_BODY)),
        headers={**small_admin.headers, "content-type": "application/json"},
    )

    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    _assert_too_large(response)
    assert await _contact_ids(small_admin) == []


async def test_streamed_body_under_cap_is_accepted(small_admin: Caller) -> None:
    response = await small_admin.client.post(
        "/v1/contacts",
        content=_chunks(_contact(MAX_BODY - 1), size=100),
        headers={**small_admin.headers, "content-type": "application/json"},
    )

    assert "content-length" not in response.request.headers
    assert response.status_code == 201, response.text
    assert await _contact_ids(small_admin) == [response.json()["id"]]


async def test_body_exactly_at_cap_is_accepted(small_admin: Caller) -> None:
    response = await small_admin.client.post(
        "/v1/contacts",
        content=_contact(MAX_BODY),
        headers={**small_admin.headers, "content-type": "application/json"},
    )

    assert response.status_code == 201, response.text
