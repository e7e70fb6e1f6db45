"""Cursor pages over directory lists: every item exactly once, in order, filters kept."""

import math
from typing import Any

import pytest

from tests.directory.support import CONTACTS, PERSONS, RESOURCES, Kind, create
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_invalid


async def walk(caller: Caller, path: str, limit: int, **params: Any) -> list[list[str]]:
    """Follow `next_cursor` from the first page to the last; the ids of each page."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await caller.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append([item["id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) <= 100, "the cursor never ends"


async def create_many(admin: Caller, kind: Kind, count: int, **fields: Any) -> list[str]:
    return [(await create(admin, kind, **fields))["id"] for _ in range(count)]


@pytest.mark.parametrize("limit", [1, 2, 4, 5, 6, 200])
async def test_pages_walk_every_item_once_in_order(admin: Caller, limit: int) -> None:
    created = await create_many(admin, CONTACTS, 5)

    pages = await walk(admin, CONTACTS.path, limit)

    assert [item for page in pages for item in page] == created
    assert len(pages) == math.ceil(len(created) / limit)
    assert all(len(page) == limit for page in pages[:-1])
    assert 0 < len(pages[-1]) <= limit


async def test_pages_keep_the_contact_filter(admin: Caller) -> None:
    wanted, other = (await create(admin, CONTACTS))["id"], (await create(admin, CONTACTS))["id"]
    expected = []
    for _ in range(3):
        expected += await create_many(admin, PERSONS, 1, contact_id=wanted)
        await create_many(admin, PERSONS, 1, contact_id=other)

    pages = await walk(admin, PERSONS.path, 1, contact_id=wanted)

    assert pages == [[person] for person in expected]


async def test_pages_skip_inactive_unless_asked(admin: Caller) -> None:
    created = await create_many(admin, RESOURCES, 4)
    for resource_id in created[1:3]:
        assert (await admin.delete(RESOURCES.url(resource_id))).status_code == 204

    active = await walk(admin, RESOURCES.path, 1)
    everything = await walk(admin, RESOURCES.path, 1, include_inactive="true")

    assert active == [[created[0]], [created[3]]]
    assert everything == [[resource_id] for resource_id in created]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": -1}, "limit"),
        ({"limit": 201}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "%%%"}, "cursor"),
        ({"cursor": "A" * 65}, "cursor"),
        ({"include_inactive": "maybe"}, "include_inactive"),
        ({"kind": "car"}, "kind"),
        ({"external_id": ""}, "external_id"),
        ({"kindd": "room"}, "kindd"),
    ],
    ids=lambda value: str(value) if isinstance(value, dict) else None,
)
async def test_bad_list_parameters_are_422(admin: Caller, params: dict[str, Any], loc: str) -> None:
    await create(admin, RESOURCES)

    assert_invalid(await admin.get(RESOURCES.path, params=params), "query", loc)
