"""Cursor pagination: walking pages in creation order, limit bounds and malformed cursors."""

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from app.kit.pagination import MAX_PAGE_SIZE, Cursor, decode_cursor, encode_cursor
from tests.fixtures.factories import Caller, create_contact
from tests.fixtures.problems import assert_problem


def _assert_422(response: httpx.Response, loc: list[str]) -> None:
    body = assert_problem(response, 422, "validation_failed")
    assert loc in [error["loc"] for error in body["errors"]]


async def test_walk_seven_contacts_three_at_a_time(admin: Caller) -> None:
    created = [(await create_contact(admin, name=f"Contact {i}"))["id"] for i in range(7)]

    pages: list[list[str]] = []
    cursor: str | None = None
    for _ in range(5):  # more than enough; a cursor that never ends fails below
        params = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        response = await admin.get("/v1/contacts", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert [len(page) for page in pages] == [3, 3, 1]
    assert cursor is None
    walked = [contact_id for page in pages for contact_id in page]
    assert len(set(walked)) == len(walked)
    assert walked == created


async def test_exactly_one_full_page_has_no_next_cursor(admin: Caller) -> None:
    for i in range(3):
        await create_contact(admin, name=f"Contact {i}")

    body = (await admin.get("/v1/contacts", params={"limit": 3})).json()

    assert len(body["items"]) == 3
    assert body["next_cursor"] is None


async def test_empty_list_is_one_empty_page(admin: Caller) -> None:
    response = await admin.get("/v1/contacts")

    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


async def test_cursor_does_not_cross_tenants(admin: Caller, other_admin: Caller) -> None:
    for i in range(2):
        await create_contact(admin, name=f"Contact {i}")
    mine = [(await create_contact(other_admin, name="Theirs"))["id"] for _ in range(2)]
    cursor = (await admin.get("/v1/contacts", params={"limit": 1})).json()["next_cursor"]

    body = (await other_admin.get("/v1/contacts", params={"cursor": cursor})).json()

    assert {item["id"] for item in body["items"]} <= set(mine)


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1, "many"])
async def test_limit_out_of_bounds_is_422(admin: Caller, limit: object) -> None:
    response = await admin.get("/v1/contacts", params={"limit": limit})

    _assert_422(response, ["query", "limit"])


async def test_limit_at_max_is_accepted(admin: Caller) -> None:
    response = await admin.get("/v1/contacts", params={"limit": MAX_PAGE_SIZE})

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("cursor", ["!!!", "abc", "A", "a" * 65, "AAAA=="])
async def test_garbage_cursor_is_422(admin: Caller, cursor: str) -> None:
    response = await admin.get("/v1/contacts", params={"cursor": cursor})

    _assert_422(response, ["query", "cursor"])


URL_SAFE = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_cursor_round_trips_and_is_url_safe() -> None:
    for _ in range(50):
        value = uuid.uuid4()
        cursor = encode_cursor(value)
        assert decode_cursor(cursor) == Cursor(value)
        assert len(cursor) == 22
        assert set(cursor) <= URL_SAFE


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2199, 1, 1, tzinfo=UTC),
    ],
)
def test_timed_cursor_round_trips(at: datetime) -> None:
    value = uuid.uuid4()
    cursor = encode_cursor(value, at)
    assert decode_cursor(cursor) == Cursor(value, at)
    assert len(cursor) == 32
    assert set(cursor) <= URL_SAFE
