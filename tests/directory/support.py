"""Shared helpers of the directory tests: the four kinds of object, their bodies and checks."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pytest

from tests.fixtures.factories import Caller, create_contact
from tests.fixtures.problems import assert_errors_at, assert_problem

Body = dict[str, Any]
Method = Literal["create", "patch"]
METHODS: tuple[Method, ...] = ("create", "patch")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def week(**days: list[tuple[str, str]]) -> Body:
    """Working hours as the API returns them: every day present, local times as HH:MM."""
    return {day: [{"start": start, "end": end} for start, end in days.get(day, [])] for day in DAYS}


OFFICE_HOURS = week(**{day: [("09:00", "17:00")] for day in DAYS[:5]})


@dataclass(frozen=True)
class Kind:
    """One kind of directory object and what the tests need to know about it."""

    name: str
    minimal: Body
    optional: Body
    defaults: Body
    changes: Body
    nullable: tuple[str, ...]
    not_null: tuple[str, ...]
    deactivatable: bool = False
    belongs_to_contact: bool = False

    def __str__(self) -> str:
        return self.name

    @property
    def path(self) -> str:
        return f"/v1/{self.name}"

    @property
    def id_param(self) -> str:
        """The name of the path parameter, e.g. `associate_id`."""
        return f"{self.name.removesuffix('s')}_id"

    @property
    def required(self) -> tuple[str, ...]:
        return (*self.minimal, *(("contact_id",) if self.belongs_to_contact else ()))

    def url(self, object_id: str) -> str:
        return f"{self.path}/{object_id}"


ASSOCIATES = Kind(
    name="associates",
    minimal={"name": "Ada Jensen", "email": "ada@example.com", "time_zone": "Europe/Copenhagen"},
    optional={"working_hours": week(mon=[("08:00", "12:00"), ("13:00", "16:00")])},
    defaults={"external_id": None, "active": True},
    changes={
        "name": "Bo Holm",
        "email": "bo@example.com",
        "time_zone": "America/New_York",
        "working_hours": week(sat=[("10:00", "14:00")]),
        "external_id": "crm-changed",
        "active": False,
    },
    nullable=("external_id",),
    not_null=("name", "email", "time_zone", "working_hours", "active"),
    deactivatable=True,
)
RESOURCES = Kind(
    name="resources",
    minimal={"name": "Boardroom", "kind": "room"},
    optional={"capacity": 12, "allow_double_booking": False},
    defaults={"capacity": None, "allow_double_booking": True, "external_id": None, "active": True},
    changes={
        "name": "Projector",
        "kind": "equipment",
        "capacity": 3,
        "allow_double_booking": True,
        "external_id": "crm-changed",
        "active": False,
    },
    nullable=("capacity", "external_id"),
    not_null=("name", "kind", "allow_double_booking", "active"),
    deactivatable=True,
)
CONTACTS = Kind(
    name="contacts",
    minimal={"name": "Nordlys A/S"},
    optional={"email": "hello@nordlys.example", "phone": "+45 70 12 34 56"},
    defaults={"email": None, "phone": None, "external_id": None},
    changes={
        "name": "Fjord ApS",
        "email": "info@fjord.example",
        "phone": "+45 20 30 40 50",
        "external_id": "crm-changed",
    },
    nullable=("email", "phone", "external_id"),
    not_null=("name",),
)
PERSONS = Kind(
    name="persons",
    minimal={"name": "Bo Holm"},
    optional={"email": "bo@nordlys.example", "phone": "+45 20 30 40 50"},
    defaults={"email": None, "phone": None, "external_id": None},
    changes={
        "name": "Cai Lund",
        "email": "cai@nordlys.example",
        "phone": "+45 30 40 50 60",
        "external_id": "crm-changed",
    },
    nullable=("email", "phone", "external_id"),
    not_null=("name", "contact_id"),
    belongs_to_contact=True,
)

KINDS = (ASSOCIATES, RESOURCES, CONTACTS, PERSONS)
DEACTIVATABLE = tuple(kind for kind in KINDS if kind.deactivatable)


INVALID_EMAILS = (
    "not-an-email",
    "ada@",
    "@example.com",
    "ada@example",
    "ada @example.com",
    "ada@@example.com",
    "",
    f"{'a' * 320}@example.com",
)


methods = pytest.mark.parametrize("method", METHODS)


def kinds(*selected: Kind) -> pytest.MarkDecorator:
    """Parametrize a test's `kind` argument, with readable ids."""
    return pytest.mark.parametrize("kind", selected or KINDS, ids=str)


def other_fields(obj: Body, *fields: str) -> Body:
    """The object without these fields and `updated_at`: what must not change."""
    return {key: value for key, value in obj.items() if key not in {*fields, "updated_at"}}


def unique_external_id() -> str:
    return f"crm-{uuid.uuid4().hex[:12]}"


async def body_for(admin: Caller, kind: Kind, /, *, minimal: bool = False, **fields: Any) -> Body:
    """A valid create body: the required fields (and unless `minimal` every optional one)."""
    body = dict(kind.minimal)
    if not minimal:
        body |= {**kind.optional, "external_id": unique_external_id()}
    if kind.belongs_to_contact:
        body["contact_id"] = (await create_contact(admin))["id"]
    return body | fields


async def create(admin: Caller, kind: Kind, /, **fields: Any) -> Body:
    """Create an object of this kind with every field set; `fields` override."""
    return await admin.create(kind.path, await body_for(admin, kind, **fields))


async def snapshot(admin: Caller, kind: Kind) -> list[Body]:
    """Every object of the kind in the caller's tenant, deactivated ones included."""
    params: dict[str, Any] = {"limit": 200}
    if kind.deactivatable:
        params["include_inactive"] = "true"
    return await items(admin, kind.path, **params)


async def items(caller: Caller, path: str, **params: Any) -> list[Body]:
    """The items of a list that fits on one page."""
    response = await caller.get(path, params=params)
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["next_cursor"] is None
    found: list[Body] = page["items"]
    return found


async def ids(caller: Caller, path: str, **params: Any) -> list[str]:
    return [item["id"] for item in await items(caller, path, **params)]


async def fetch(caller: Caller, kind: Kind, object_id: str) -> Body:
    """GET one object, asserting it is there."""
    response = await caller.get(kind.url(object_id))
    assert response.status_code == 200, response.text
    found: Body = response.json()
    return found


def assert_timestamp(value: str) -> datetime:
    """An ISO 8601 time that carries its offset."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, value
    return parsed


async def prepare(admin: Caller, kind: Kind, method: Method, fields: Body) -> tuple[str, str, Body]:
    """The request that creates an object with `fields` (over a valid body) or patches a new one."""
    if method == "create":
        return "POST", kind.path, await body_for(admin, kind, **fields)
    target = await create(admin, kind)
    return "PATCH", kind.url(target["id"]), fields


async def write_accepted(admin: Caller, kind: Kind, method: Method, fields: Body) -> Body:
    """The write succeeds; return the stored object, re-read with GET."""
    verb, url, body = await prepare(admin, kind, method, fields)
    response = await admin.request(verb, url, json=body)
    assert response.status_code == (201 if method == "create" else 200), response.text
    stored = await fetch(admin, kind, response.json()["id"])
    assert stored == response.json()
    return stored


async def write_refused(
    admin: Caller, kind: Kind, method: Method, fields: Body, status: int, code: str
) -> Body:
    """The write fails with this problem, and the tenant's objects stay as they were."""
    verb, url, body = await prepare(admin, kind, method, fields)
    before = await snapshot(admin, kind)
    problem = assert_problem(await admin.request(verb, url, json=body), status, code)
    assert await snapshot(admin, kind) == before
    return problem


async def write_rejected(
    admin: Caller, kind: Kind, method: Method, fields: Body, *loc: str | int
) -> None:
    """The write is a 422 at `loc` under the body, and the tenant's objects stay as they were."""
    problem = await write_refused(admin, kind, method, fields, 422, "validation_failed")
    assert_errors_at(problem, "body", *loc)
