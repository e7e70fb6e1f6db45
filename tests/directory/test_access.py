"""Every directory endpoint against the anonymous, the member, another tenant and bad input."""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from app.auth.tokens import issue_token
from tests.directory.support import (
    CONTACTS,
    KINDS,
    PERSONS,
    Body,
    Kind,
    body_for,
    create,
    fetch,
    ids,
    kinds,
    snapshot,
)
from tests.fixtures.factories import TEST_SECRET, Caller, bearer
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized

VERBS = {"create": "POST", "list": "GET", "get": "GET", "update": "PATCH", "delete": "DELETE"}


@dataclass(frozen=True)
class Endpoint:
    """One operation on one kind of directory object."""

    kind: Kind
    op: str

    def __str__(self) -> str:
        return f"{self.verb} {self.kind.path}{'/{id}' if self.on_one else ''}"

    @property
    def verb(self) -> str:
        return VERBS[self.op]

    @property
    def on_one(self) -> bool:
        return self.op in ("get", "update", "delete")

    @property
    def writes(self) -> bool:
        return self.op in ("create", "update", "delete")


def endpoints_of(kind: Kind) -> list[Endpoint]:
    ops = ["create", "list", "get", "update", *(["delete"] if kind.deactivatable else [])]
    return [Endpoint(kind, op) for op in ops]


ENDPOINTS = [endpoint for kind in KINDS for endpoint in endpoints_of(kind)]
WRITES = [endpoint for endpoint in ENDPOINTS if endpoint.writes]
READS = [endpoint for endpoint in ENDPOINTS if not endpoint.writes]
ON_ONE = [endpoint for endpoint in ENDPOINTS if endpoint.on_one]


def endpoints(selected: list[Endpoint]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("endpoint", selected, ids=str)


@dataclass(frozen=True)
class Call:
    """A valid request to an endpoint, and the existing object it concerns."""

    target: Body
    url: str
    body: Any


async def arrange(admin: Caller, endpoint: Endpoint) -> Call:
    kind = endpoint.kind
    target = await create(admin, kind)
    url = kind.url(target["id"]) if endpoint.on_one else kind.path
    body: Any = None
    if endpoint.op == "create":
        body = await body_for(admin, kind)
    elif endpoint.op == "update":
        body = {"name": "Changed"}
    return Call(target, url, body)


async def send(
    client: httpx.AsyncClient, endpoint: Endpoint, call: Call, headers: dict[str, str]
) -> httpx.Response:
    return await client.request(endpoint.verb, call.url, json=call.body, headers=headers)


# Anonymous and bad tokens ---------------------------------------------------------------------

Headers = Callable[[uuid.UUID], dict[str, str]]
OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256-987654"


def token(secret: str = TEST_SECRET, **claims: Any) -> Headers:
    """Headers with a token for the test's tenant, made once the tenant is known."""

    def headers(tenant: uuid.UUID) -> dict[str, str]:
        fields = {"subject": "provisioning", "admin": True, **claims}
        return bearer(issue_token(secret, tenant_id=tenant, **fields))

    return headers


BAD_CREDENTIALS: dict[str, tuple[Headers, str]] = {
    "no token": (lambda tenant: {}, "unauthorized"),
    "basic auth": (lambda tenant: {"Authorization": "Basic dXNlcjpwYXNz"}, "unauthorized"),
    "not a JWT": (lambda tenant: bearer("not-a-jwt"), "invalid_token"),
    "wrong secret": (token(OTHER_SECRET), "invalid_token"),
    "expired": (token(ttl=timedelta(hours=-1)), "invalid_token"),
    "member not an associate": (token(subject=str(uuid.uuid4()), admin=False), "invalid_token"),
}


@endpoints(ENDPOINTS)
@pytest.mark.parametrize("credentials", BAD_CREDENTIALS, ids=str)
async def test_without_valid_token_is_401(
    client: httpx.AsyncClient,
    admin: Caller,
    tenant: uuid.UUID,
    endpoint: Endpoint,
    credentials: str,
) -> None:
    make_headers, code = BAD_CREDENTIALS[credentials]
    call = await arrange(admin, endpoint)
    before = await snapshot(admin, endpoint.kind)

    response = await send(client, endpoint, call, make_headers(tenant))

    assert_unauthorized(response, code)
    assert await snapshot(admin, endpoint.kind) == before


# Members read, admins write -------------------------------------------------------------------


@endpoints(WRITES)
async def test_member_may_not_write(admin: Caller, member: Caller, endpoint: Endpoint) -> None:
    call = await arrange(admin, endpoint)
    before = await snapshot(admin, endpoint.kind)

    response = await send(member.client, endpoint, call, member.headers)

    assert_problem(response, 403, "forbidden")
    assert await snapshot(admin, endpoint.kind) == before


@endpoints(READS)
async def test_member_may_read(admin: Caller, member: Caller, endpoint: Endpoint) -> None:
    call = await arrange(admin, endpoint)

    response = await send(member.client, endpoint, call, member.headers)

    assert response.status_code == 200, response.text
    if endpoint.op == "get":
        assert response.json() == call.target
    else:
        assert call.target in response.json()["items"]


@endpoints(WRITES)
async def test_admin_may_write(admin: Caller, endpoint: Endpoint) -> None:
    call = await arrange(admin, endpoint)

    response = await send(admin.client, endpoint, call, admin.headers)

    assert response.status_code == {"create": 201, "update": 200, "delete": 204}[endpoint.op]


# Tenants --------------------------------------------------------------------------------------


@endpoints(ON_ONE)
async def test_other_tenant_gets_404_and_changes_nothing(
    admin: Caller, other_admin: Caller, endpoint: Endpoint
) -> None:
    call = await arrange(admin, endpoint)

    response = await send(other_admin.client, endpoint, call, other_admin.headers)

    assert_problem(response, 404, "not_found")
    assert await fetch(admin, endpoint.kind, call.target["id"]) == call.target


@endpoints(ON_ONE)
async def test_unknown_id_is_404(admin: Caller, endpoint: Endpoint) -> None:
    call = await arrange(admin, endpoint)
    unknown = Call(call.target, endpoint.kind.url(str(uuid.uuid4())), call.body)

    response = await send(admin.client, endpoint, unknown, admin.headers)

    assert_problem(response, 404, "not_found")


@kinds()
async def test_lists_never_cross_tenants(admin: Caller, other_admin: Caller, kind: Kind) -> None:
    ours = await create(admin, kind)
    theirs = await create(other_admin, kind)

    assert [item["id"] for item in await snapshot(admin, kind)] == [ours["id"]]
    assert [item["id"] for item in await snapshot(other_admin, kind)] == [theirs["id"]]
    assert await ids(other_admin, kind.path, external_id=ours["external_id"]) == []
    if kind.belongs_to_contact:
        assert await ids(other_admin, kind.path, contact_id=ours["contact_id"]) == []


@kinds(CONTACTS, PERSONS)
async def test_contacts_and_persons_cannot_be_deleted(admin: Caller, kind: Kind) -> None:
    target = await create(admin, kind)

    response = await admin.delete(kind.url(target["id"]))

    assert_problem(response, 405, "method_not_allowed")
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert {"GET", "PATCH"} <= allowed
    assert "DELETE" not in allowed
    assert await fetch(admin, kind, target["id"]) == target


# Malformed input ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Malformed:
    """A bad request: the valid call with its id or body spoiled; the error lies at `loc`."""

    endpoint: Endpoint
    label: str
    loc: tuple[str, ...]
    path_id: str | None = None
    spoil: Callable[[Any], Any] | None = None

    def __str__(self) -> str:
        return f"{self.endpoint} {self.label}"


def without(field: str) -> Callable[[Body], Body]:
    return lambda body: {key: value for key, value in body.items() if key != field}


def malformed_cases() -> Iterator[Malformed]:
    for kind in KINDS:
        creating, updating = Endpoint(kind, "create"), Endpoint(kind, "update")
        for endpoint in endpoints_of(kind):
            if endpoint.on_one:
                for bad_id in ("not-a-uuid", "123"):
                    yield Malformed(endpoint, f"id {bad_id}", ("path", kind.id_param), bad_id)
        for endpoint in (creating, updating):
            yield Malformed(endpoint, "no body", ("body",), spoil=lambda body: None)
            yield Malformed(endpoint, "array body", ("body",), spoil=lambda body: [body])
            yield Malformed(endpoint, "string body", ("body",), spoil=lambda body: "name")
            yield Malformed(
                endpoint, "name not a string", ("body", "name"), spoil=lambda b: {**b, "name": [1]}
            )
            yield Malformed(
                endpoint, "unknown field", ("body", "colour"), spoil=lambda b: {**b, "colour": 1}
            )
            yield Malformed(
                endpoint,
                "id in body",
                ("body", "id"),
                spoil=lambda b: {**b, "id": str(uuid.uuid4())},
            )
        for field in kind.required:
            yield Malformed(creating, f"without {field}", ("body", field), spoil=without(field))


@pytest.mark.parametrize("case", list(malformed_cases()), ids=str)
async def test_malformed_input_is_422_and_changes_nothing(admin: Caller, case: Malformed) -> None:
    endpoint, kind = case.endpoint, case.endpoint.kind
    call = await arrange(admin, endpoint)
    url = kind.url(case.path_id) if case.path_id else call.url
    body = case.spoil(call.body) if case.spoil else call.body
    before = await snapshot(admin, kind)

    response = await admin.request(endpoint.verb, url, json=body)

    assert_invalid(response, *case.loc)
    assert await snapshot(admin, kind) == before
