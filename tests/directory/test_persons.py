"""Persons: their contact must be one of the tenant's; filtering by contact, moving between them."""

import uuid
from typing import Any

import pytest

from tests.directory.support import (
    CONTACTS,
    PERSONS,
    Method,
    create,
    fetch,
    ids,
    methods,
    write_refused,
    write_rejected,
)
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_invalid


async def unknown_contact(admin: Caller, other_admin: Caller) -> str:
    return str(uuid.uuid4())


async def other_tenants_contact(admin: Caller, other_admin: Caller) -> str:
    return str((await create(other_admin, CONTACTS))["id"])


async def a_person(admin: Caller, other_admin: Caller) -> str:
    """The id of a person of the tenant: an object, but not a contact."""
    return str((await create(admin, PERSONS))["id"])


@methods
@pytest.mark.parametrize("contact", [unknown_contact, other_tenants_contact, a_person])
async def test_contact_must_be_one_of_the_tenant(
    admin: Caller, other_admin: Caller, method: Method, contact: Any
) -> None:
    fields = {"contact_id": await contact(admin, other_admin)}

    # A 404 like any object the tenant does not have; the code tells it from a missing URL.
    await write_refused(admin, PERSONS, method, fields, 404, "unknown_reference")


@methods
@pytest.mark.parametrize("contact_id", ["not-a-uuid", 42, ""])
async def test_contact_id_must_be_a_uuid(admin: Caller, method: Method, contact_id: Any) -> None:
    await write_rejected(admin, PERSONS, method, {"contact_id": contact_id}, "contact_id")


async def test_contact_filter(admin: Caller, other_admin: Caller) -> None:
    nordlys, fjord, empty = [(await create(admin, CONTACTS))["id"] for _ in range(3)]
    bo = await create(admin, PERSONS, contact_id=nordlys)
    cai = await create(admin, PERSONS, contact_id=fjord)
    dan = await create(admin, PERSONS, contact_id=nordlys)

    assert await ids(admin, PERSONS.path, contact_id=nordlys) == [bo["id"], dan["id"]]
    assert await ids(admin, PERSONS.path, contact_id=fjord) == [cai["id"]]
    assert await ids(admin, PERSONS.path, contact_id=empty) == []
    assert await ids(admin, PERSONS.path, contact_id=str(uuid.uuid4())) == []
    assert await ids(other_admin, PERSONS.path, contact_id=nordlys) == []
    assert_invalid(
        await admin.get(PERSONS.path, params={"contact_id": "nope"}), "query", "contact_id"
    )


async def test_patch_contact_id_moves_the_person(admin: Caller) -> None:
    old, new = [(await create(admin, CONTACTS))["id"] for _ in range(2)]
    person = await create(admin, PERSONS, contact_id=old)

    response = await admin.patch(PERSONS.url(person["id"]), json={"contact_id": new})

    assert response.status_code == 200, response.text
    assert response.json()["contact_id"] == new
    assert await fetch(admin, PERSONS, person["id"]) == response.json()
    assert await ids(admin, PERSONS.path, contact_id=old) == []
    assert await ids(admin, PERSONS.path, contact_id=new) == [person["id"]]
