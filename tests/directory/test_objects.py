"""Behaviour all directory objects share: CRUD, names, e-mail, external ids, deactivation."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.directory.support import (
    ASSOCIATES,
    CONTACTS,
    DEACTIVATABLE,
    INVALID_EMAILS,
    KINDS,
    PERSONS,
    Kind,
    Method,
    assert_timestamp,
    body_for,
    create,
    fetch,
    ids,
    items,
    kinds,
    methods,
    other_fields,
    write_accepted,
    write_refused,
    write_rejected,
)
from tests.fixtures.factories import Caller

STORED_FIELDS = {"id", "created_at", "updated_at"}


# Create, read, list ---------------------------------------------------------------------------


@kinds()
async def test_create_returns_the_stored_object(admin: Caller, kind: Kind) -> None:
    body = await body_for(admin, kind)

    response = await admin.post(kind.path, json=body)

    assert response.status_code == 201, response.text
    created = response.json()
    extra = {"active"} if kind.deactivatable else set()
    assert set(created) == set(body) | STORED_FIELDS | extra
    assert {key: created[key] for key in body} == body
    assert uuid.UUID(created["id"]).version == 7
    created_at = assert_timestamp(created["created_at"])
    assert abs(datetime.now(UTC) - created_at) < timedelta(minutes=5)
    assert assert_timestamp(created["updated_at"]) >= created_at
    if kind.deactivatable:
        assert created["active"] is True
    assert await fetch(admin, kind, created["id"]) == created
    assert await items(admin, kind.path) == [created]


@kinds()
async def test_optional_fields_have_defaults(admin: Caller, kind: Kind) -> None:
    created = await admin.create(kind.path, await body_for(admin, kind, minimal=True))

    assert {key: created[key] for key in kind.defaults} == kind.defaults


@kinds()
async def test_list_is_oldest_first(admin: Caller, kind: Kind) -> None:
    created = [(await create(admin, kind))["id"] for _ in range(3)]

    assert await ids(admin, kind.path) == created


# Patch ----------------------------------------------------------------------------------------

CHANGES = [
    *((kind, field, value) for kind in KINDS for field, value in kind.changes.items()),
    *((kind, field, None) for kind in KINDS for field in kind.nullable),
]


def label(value: Any) -> str:
    return "week" if isinstance(value, dict) else str(value)


@pytest.mark.parametrize(("kind", "field", "value"), CHANGES, ids=label)
async def test_patch_changes_only_the_given_field(
    admin: Caller, kind: Kind, field: str, value: Any
) -> None:
    before = await create(admin, kind)
    assert before[field] != value

    response = await admin.patch(kind.url(before["id"]), json={field: value})

    assert response.status_code == 200, response.text
    after = response.json()
    assert after[field] == value
    assert other_fields(after, field) == other_fields(before, field)
    assert await fetch(admin, kind, before["id"]) == after


@kinds()
async def test_empty_patch_changes_nothing(admin: Caller, kind: Kind) -> None:
    before = await create(admin, kind)

    response = await admin.patch(kind.url(before["id"]), json={})

    assert response.status_code == 200, response.text
    assert response.json() == before


@methods
@pytest.mark.parametrize(
    ("kind", "field"), [(kind, field) for kind in KINDS for field in kind.not_null], ids=str
)
async def test_null_for_a_field_that_cannot_be_empty_is_422(
    admin: Caller, kind: Kind, field: str, method: Method
) -> None:
    await write_rejected(admin, kind, method, {field: None}, field)


# Names ----------------------------------------------------------------------------------------


@kinds()
@methods
@pytest.mark.parametrize(
    ("name", "stored"), [("x" * 200, "x" * 200), ("  Ada  ", "Ada")], ids=["200 chars", "padded"]
)
async def test_name_is_stored_trimmed(
    admin: Caller, kind: Kind, method: Method, name: str, stored: str
) -> None:
    assert (await write_accepted(admin, kind, method, {"name": name}))["name"] == stored


@kinds()
@methods
@pytest.mark.parametrize(
    "name",
    [
        "x" * 201,
        " " + "x" * 200,
        "\x85" + "x" * 200,
        "",
        "   ",
        "\t\n",
        "two\nlines",
        "nul\x00byte",
        42,
    ],
    ids=[
        "201 chars",
        "201 with a space",
        "201 with a NEL",
        "empty",
        "blank",
        "whitespace",
        "newline",
        "NUL",
        "number",
    ],
)
async def test_invalid_name_is_422(admin: Caller, kind: Kind, method: Method, name: Any) -> None:
    await write_rejected(admin, kind, method, {"name": name}, "name")


# E-mail ---------------------------------------------------------------------------------------


@kinds(ASSOCIATES, CONTACTS, PERSONS)
@methods
@pytest.mark.parametrize("email", INVALID_EMAILS)
async def test_invalid_email_is_422(admin: Caller, kind: Kind, method: Method, email: str) -> None:
    await write_rejected(admin, kind, method, {"email": email}, "email")


# External ids ---------------------------------------------------------------------------------


@kinds()
@methods
@pytest.mark.parametrize("padding", ["", "  "], ids=["same", "padded"])
async def test_taken_external_id_is_409(
    admin: Caller, kind: Kind, method: Method, padding: str
) -> None:
    taken = (await create(admin, kind))["external_id"]
    fields = {"external_id": f"{padding}{taken}{padding}"}

    await write_refused(admin, kind, method, fields, 409, "duplicate_external_id")


@kinds()
async def test_cleared_external_id_can_be_taken(admin: Caller, kind: Kind) -> None:
    first = await create(admin, kind)
    second = await create(admin, kind)
    external_id = first["external_id"]

    cleared = await admin.patch(kind.url(first["id"]), json={"external_id": None})
    taken = await admin.patch(kind.url(second["id"]), json={"external_id": external_id})

    assert (cleared.status_code, taken.status_code) == (200, 200)
    assert await ids(admin, kind.path, external_id=external_id) == [second["id"]]


@kinds()
async def test_external_id_is_unique_per_tenant_only(
    admin: Caller, other_admin: Caller, kind: Kind
) -> None:
    ours = await create(admin, kind, external_id="crm-shared")
    theirs = await create(other_admin, kind, external_id="crm-shared")

    assert await ids(admin, kind.path, external_id="crm-shared") == [ours["id"]]
    assert await ids(other_admin, kind.path, external_id="crm-shared") == [theirs["id"]]


@kinds()
async def test_external_id_filter(admin: Caller, kind: Kind) -> None:
    wanted = await create(admin, kind)
    await create(admin, kind)
    await create(admin, kind, external_id=None)

    assert await ids(admin, kind.path, external_id=wanted["external_id"]) == [wanted["id"]]
    assert await ids(admin, kind.path, external_id="crm-nobody") == []


# Deactivation ---------------------------------------------------------------------------------


async def deactivate(admin: Caller, kind: Kind, object_id: str) -> None:
    response = await admin.delete(kind.url(object_id))
    assert response.status_code == 204, response.text
    assert response.content == b""


@kinds(*DEACTIVATABLE)
async def test_delete_deactivates_and_keeps_the_object(admin: Caller, kind: Kind) -> None:
    target = await create(admin, kind)
    bystander = await create(admin, kind)

    await deactivate(admin, kind, target["id"])

    after = await fetch(admin, kind, target["id"])
    assert after["active"] is False
    assert other_fields(after, "active") == other_fields(target, "active")
    assert await ids(admin, kind.path) == [bystander["id"]]
    assert await ids(admin, kind.path, include_inactive="false") == [bystander["id"]]
    assert await ids(admin, kind.path, include_inactive="true") == [target["id"], bystander["id"]]


@kinds(*DEACTIVATABLE)
async def test_delete_twice_is_still_204(admin: Caller, kind: Kind) -> None:
    target = await create(admin, kind)

    await deactivate(admin, kind, target["id"])
    await deactivate(admin, kind, target["id"])

    assert (await fetch(admin, kind, target["id"]))["active"] is False


@kinds(*DEACTIVATABLE)
async def test_patch_active_true_reactivates(admin: Caller, kind: Kind) -> None:
    target = await create(admin, kind)
    await deactivate(admin, kind, target["id"])

    response = await admin.patch(kind.url(target["id"]), json={"active": True})

    assert response.status_code == 200, response.text
    assert response.json()["active"] is True
    assert await ids(admin, kind.path) == [target["id"]]
