"""Every webhook and event-feed route against the anonymous, members, other tenants, bad input."""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.tokens import issue_token
from app.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.router import router as webhooks_router
from tests.fixtures.access import KEEP, Operation
from tests.fixtures.factories import TEST_SECRET, Caller, bearer, follow_up_body
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized
from tests.fixtures.responses import ok

Body = dict[str, Any]

PUBLIC = "https://93.184.215.14/hook"
RESPONSES = ["invitation.accepted", "invitation.declined", "invitation.tentative"]
# The path parameter each placeholder of an endpoint's path stands for.
PARAMS = {"webhook": "webhook_id"}


@dataclass(frozen=True)
class World:
    """A tenant with a webhook that has deliveries (an answer and a ping) and events."""

    admin: Caller
    member: Caller
    organizer: Caller
    webhook: Body
    follow_up_id: str

    @property
    def path_ids(self) -> dict[str, str]:
        return {"webhook": self.webhook["id"]}


async def make_world(admin: Caller, member: Caller) -> World:
    organizer = await admin.new_member(name="Olga Organizer")
    invitee = await admin.new_member(name="Ivan Invitee")
    webhook = await admin.create(
        "/v1/webhooks", {"url": PUBLIC, "event_types": [*RESPONSES, "follow_up.created"]}
    )
    created = await organizer.create(
        "/v1/follow-ups", follow_up_body(participants=[{"associate_id": invitee.subject}])
    )
    (invitation,) = [p for p in created["participants"] if p["associate_id"] == invitee.subject]
    answered = await invitee.post(
        f"/v1/invitations/{invitation['id']}/response", json={"status": "declined"}
    )
    assert answered.status_code == 200, answered.text
    pinged = await admin.post(f"/v1/webhooks/{webhook['id']}/ping")
    assert pinged.status_code == 202, pinged.text
    return World(admin, member, organizer, webhook, created["id"])


def an_hour_ago() -> str:
    return (datetime.now(UTC) - timedelta(hours=1)).isoformat()


@dataclass(frozen=True)
class Endpoint(Operation[World]):
    """One operation, and a valid call to it by the tenant's admin."""

    PATH_PARAMS = PARAMS

    def client(self, world: World) -> httpx.AsyncClient:
        return world.admin.client


def endpoint(method: str, path: str, *tags: str, **fields: Any) -> Endpoint:
    return Endpoint(method, path, tags=frozenset(tags), **fields)


ONE = "/v1/webhooks/{webhook}"
ENDPOINTS = [
    endpoint(
        "POST",
        "/v1/webhooks",
        "body",
        body=lambda w: {"url": PUBLIC, "event_types": RESPONSES, "description": "Another"},
        success=201,
    ),
    endpoint("GET", "/v1/webhooks", "list", params=lambda w: {"limit": 10}),
    endpoint("GET", ONE),
    endpoint("PATCH", ONE, "body", body=lambda w: {"description": "Changed", "enabled": False}),
    endpoint("DELETE", ONE, success=204),
    endpoint("POST", f"{ONE}/rotate-secret"),
    endpoint("POST", f"{ONE}/ping", success=202),
    endpoint("GET", f"{ONE}/deliveries", params=lambda w: {"status": "pending", "limit": 10}),
    endpoint(
        "POST", f"{ONE}/recover", "body", body=lambda w: {"since": an_hour_ago()}, success=202
    ),
    endpoint("GET", "/v1/events", "list", params=lambda w: {"type": "invitation.declined"}),
]


def select_endpoints(predicate: Callable[[Endpoint], bool]) -> list[Endpoint]:
    return [e for e in ENDPOINTS if predicate(e)]


ON_ONE = select_endpoints(lambda e: bool(e.placeholders))
LISTS = select_endpoints(lambda e: "list" in e.tags)


def endpoints(selected: list[Endpoint]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("endpoint", selected, ids=str)


def find(method: str, path: str) -> Endpoint:
    (found,) = [e for e in ENDPOINTS if (e.method, e.path) == (method, path)]
    return found


CREATE = find("POST", "/v1/webhooks")
LIST = find("GET", "/v1/webhooks")
PATCH = find("PATCH", ONE)
DELIVERIES = find("GET", f"{ONE}/deliveries")
RECOVER = find("POST", f"{ONE}/recover")
EVENTS = find("GET", "/v1/events")


# The state of the database ------------------------------------------------------------------


async def tenant_rows(
    connection: AsyncConnection, tenant_id: uuid.UUID
) -> dict[str, list[Row[Any]]]:
    """Every webhook endpoint, delivery, attempt and event row of the tenant, in full."""
    endpoints_ = WebhookEndpoint.__table__
    deliveries = WebhookDelivery.__table__
    attempts = WebhookAttempt.__table__
    events = Event.__table__
    queries = {
        "webhook_endpoints": select(endpoints_)
        .where(endpoints_.c.tenant_id == tenant_id)
        .order_by(endpoints_.c.id),
        "webhook_deliveries": select(deliveries)
        .where(deliveries.c.tenant_id == tenant_id)
        .order_by(deliveries.c.id),
        "webhook_attempts": select(attempts)
        .join(deliveries, deliveries.c.id == attempts.c.delivery_id)
        .where(deliveries.c.tenant_id == tenant_id)
        .order_by(attempts.c.id),
        "events": select(events).where(events.c.tenant_id == tenant_id).order_by(events.c.id),
    }
    return {name: list((await connection.execute(query)).all()) for name, query in queries.items()}


@dataclass
class Unchanged:
    """Takes the tenant's webhook and event rows now; `check()` asserts they are the same."""

    connection: AsyncConnection
    tenant: uuid.UUID
    before: dict[str, Any] = field(default_factory=dict)

    async def take(self) -> "Unchanged":
        self.before = await tenant_rows(self.connection, self.tenant)
        return self

    async def check(self) -> None:
        assert await tenant_rows(self.connection, self.tenant) == self.before


@pytest.fixture
async def world(admin: Caller, member: Caller) -> World:
    return await make_world(admin, member)


@pytest.fixture
async def unchanged(connection: AsyncConnection, tenant: uuid.UUID, world: World) -> Unchanged:
    taken = await Unchanged(connection, tenant).take()
    assert taken.before["webhook_endpoints"]
    assert taken.before["webhook_deliveries"]
    assert taken.before["events"]
    return taken


# The matrix covers the router ---------------------------------------------------------------


def test_matrix_covers_every_route() -> None:
    declared = {
        (method, route.path)
        for route in webhooks_router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert {e.route for e in ENDPOINTS} == declared


@endpoints(ENDPOINTS)
async def test_the_admin_succeeds(world: World, endpoint: Endpoint) -> None:
    response = await endpoint.send(world, world.admin.headers)

    assert response.status_code == endpoint.success, response.text


# Tokens -------------------------------------------------------------------------------------

OTHER_SECRET = "another-secret-that-is-long-enough-for-hs256-987654"
Headers = Callable[[World], dict[str, str]]


def token(secret: str = TEST_SECRET, **claims: Any) -> Headers:
    def headers(world: World) -> dict[str, str]:
        fields = {"subject": "provisioning", "admin": True, **claims}
        return bearer(issue_token(secret, tenant_id=world.admin.tenant_id, **fields))

    return headers


BAD_CREDENTIALS: dict[str, tuple[Headers, str]] = {
    "no token": (lambda w: {}, "unauthorized"),
    "basic auth": (lambda w: {"Authorization": "Basic dXNlcjpwYXNz"}, "unauthorized"),
    "empty bearer": (lambda w: {"Authorization": "Bearer "}, "unauthorized"),
    "not a JWT": (lambda w: bearer("not-a-jwt"), "invalid_token"),
    "wrong secret": (token(OTHER_SECRET), "invalid_token"),
    "expired": (token(ttl=timedelta(hours=-1)), "invalid_token"),
    # Without the admin scope the subject must be an associate; a service's is not.
    "no admin scope, no associate": (token(admin=False), "invalid_token"),
}


@endpoints(ENDPOINTS)
async def test_without_a_valid_token_is_401(
    world: World, unchanged: Unchanged, endpoint: Endpoint
) -> None:
    failures = []
    for label, (make_headers, code) in BAD_CREDENTIALS.items():
        response = await endpoint.send(world, make_headers(world))
        try:
            assert_unauthorized(response, code)
        except (AssertionError, KeyError) as exc:
            failures.append(f"{label}: {exc!r}")
    assert not failures, "\n".join(failures)
    await unchanged.check()


@endpoints(ENDPOINTS)
async def test_an_associate_is_403(world: World, unchanged: Unchanged, endpoint: Endpoint) -> None:
    """A member, and the organizer whose follow-up is in the feed: neither is an admin."""
    for caller in (world.member, world.organizer):
        response = await endpoint.send(world, caller.headers)

        assert_problem(response, 403, "forbidden")
    await unchanged.check()


# Tenants ------------------------------------------------------------------------------------


@endpoints(ON_ONE)
async def test_admin_of_another_tenant_gets_404(
    world: World, unchanged: Unchanged, other_admin: Caller, endpoint: Endpoint
) -> None:
    response = await endpoint.send(world, other_admin.headers)
    # Owning webhooks of one's own does not open ours either.
    await other_admin.create("/v1/webhooks", {"url": PUBLIC, "event_types": RESPONSES})
    with_their_own = await endpoint.send(world, other_admin.headers)

    assert_problem(response, 404, "not_found")
    assert_problem(with_their_own, 404, "not_found")
    await unchanged.check()


@endpoints(LISTS)
async def test_admin_of_another_tenant_lists_nothing_of_ours(
    world: World, unchanged: Unchanged, other_admin: Caller, endpoint: Endpoint
) -> None:
    response = await endpoint.send(world, other_admin.headers)

    assert ok(response) == {"items": [], "next_cursor": None}
    assert ok(await endpoint.send(world, other_admin.headers, params=None))["items"] == []
    await unchanged.check()


async def test_admin_of_another_tenant_creates_in_their_own_tenant(
    world: World, unchanged: Unchanged, other_admin: Caller
) -> None:
    response = await CREATE.send(world, other_admin.headers)

    theirs = ok(response, 201)
    await unchanged.check()
    assert [w["id"] for w in ok(await other_admin.get("/v1/webhooks"))["items"]] == [theirs["id"]]
    assert theirs["id"] not in [w["id"] for w in ok(await world.admin.get("/v1/webhooks"))["items"]]


async def test_foreign_webhook_ids_never_leak_deliveries(
    world: World, unchanged: Unchanged, other_admin: Caller
) -> None:
    """Their ping of their webhook and our delivery log stay apart."""
    theirs = await other_admin.create("/v1/webhooks", {"url": PUBLIC, "event_types": RESPONSES})
    ok(await other_admin.post(f"/v1/webhooks/{theirs['id']}/ping"), 202)

    ours = ok(await world.admin.get(f"/v1/webhooks/{world.webhook['id']}/deliveries"))
    foreign = await world.admin.get(f"/v1/webhooks/{theirs['id']}/deliveries")

    assert [d["event_type"] for d in ours["items"]] == [
        "webhook.ping",
        "invitation.declined",
        "follow_up.created",
    ]
    assert_problem(foreign, 404, "not_found")
    await unchanged.check()


@endpoints(ON_ONE)
async def test_unknown_ids_are_404(world: World, unchanged: Unchanged, endpoint: Endpoint) -> None:
    url = endpoint.url(world, webhook=str(uuid.uuid4()))

    response = await endpoint.send(world, world.admin.headers, url=url)

    assert_problem(response, 404, "not_found")
    await unchanged.check()


# Malformed input ----------------------------------------------------------------------------

Spoil = Callable[[Any], Any]
ONE_ID = str(uuid.uuid4())


@dataclass(frozen=True)
class Malformed:
    """The valid call of an endpoint with one thing spoiled; the error lies at `loc`."""

    endpoint: Endpoint
    label: str
    loc: tuple[str | int, ...]
    path: dict[str, str] = field(default_factory=dict)
    body: Spoil | None = None
    params: Spoil | None = None

    def __str__(self) -> str:
        return f"{self.endpoint} {self.label}"


def merge(**fields: Any) -> Spoil:
    return lambda valid: {**(valid or {}), **fields}


def without(name: str) -> Spoil:
    return lambda valid: {key: value for key, value in valid.items() if key != name}


def replace(value: Any) -> Spoil:
    return lambda valid: value


BODY_CASES: dict[Endpoint, list[tuple[str, tuple[str | int, ...], Spoil]]] = {
    CREATE: [
        ("no body", (), replace(None)),
        ("array body", (), lambda valid: [valid]),
        ("string body", (), replace("https://93.184.215.14/")),
        ("without url", ("url",), without("url")),
        ("without event_types", ("event_types",), without("event_types")),
        ("url not a string", ("url",), merge(url=["x"])),
        ("url not http(s)", ("url",), merge(url="gopher://93.184.215.14/")),
        ("url too long", ("url",), merge(url=PUBLIC + "/" + "x" * 2000)),
        ("event_types empty", ("event_types",), merge(event_types=[])),
        ("event type unknown", ("event_types",), merge(event_types=["follow_up.deleted"])),
        ("event type ping", ("event_types",), merge(event_types=["webhook.ping"])),
        ("event types repeated", (), merge(event_types=RESPONSES + RESPONSES[:1])),
        ("description multi-line", ("description",), merge(description="a\nb")),
        ("secret given", ("secret",), merge(secret="whsec_AAAA")),
        ("unknown field", ("colour",), merge(colour="red")),
    ],
    PATCH: [
        ("array body", (), lambda valid: [valid]),
        ("url null", ("url",), replace({"url": None})),
        ("url not http(s)", ("url",), replace({"url": "ws://93.184.215.14/"})),
        ("event_types null", ("event_types",), replace({"event_types": None})),
        ("event_types empty", ("event_types",), replace({"event_types": []})),
        ("event type ping", ("event_types",), replace({"event_types": ["webhook.ping"]})),
        ("enabled null", ("enabled",), replace({"enabled": None})),
        ("enabled a string", ("enabled",), replace({"enabled": "true"})),
        ("description too long", ("description",), replace({"description": "d" * 501})),
        ("id in body", ("id",), replace({"id": ONE_ID})),
        ("unknown field", ("secret",), replace({"secret": "whsec_AAAA"})),
    ],
    RECOVER: [
        ("no body", (), replace(None)),
        ("empty body", ("since",), replace({})),
        ("since null", ("since",), replace({"since": None})),
        ("since naive", ("since",), replace({"since": "2026-11-20T00:00:00"})),
        ("since not a time", ("since",), replace({"since": "last week"})),
        ("since before 1900", ("since",), replace({"since": "1800-01-01T00:00:00Z"})),
        ("unknown field", ("until",), merge(until="2026-11-20T00:00:00Z")),
    ],
}

COMMON_PARAM_CASES: list[tuple[str, tuple[str, ...], Spoil]] = [
    ("unknown parameter", ("query", "colour"), merge(colour="red")),
    ("tenant_id parameter", ("query", "tenant_id"), merge(tenant_id=ONE_ID)),
]
PARAM_CASES: dict[Endpoint, list[tuple[str, tuple[str, ...], Spoil]]] = {
    LIST: [
        ("limit 0", ("query", "limit"), merge(limit=0)),
        ("limit 201", ("query", "limit"), merge(limit=201)),
        ("limit repeated", ("query", "limit"), replace([("limit", "1"), ("limit", "2")])),
        ("bad cursor", ("query", "cursor"), merge(cursor="not-a-cursor")),
        ("status is no filter here", ("query", "status"), merge(status="pending")),
    ],
    DELIVERIES: [
        ("unknown status", ("query", "status"), merge(status="lost")),
        ("status repeated", ("query", "status"), replace([("status", "failed")] * 2)),
        ("limit 0", ("query", "limit"), merge(limit=0)),
        ("id cursor on a timed list", ("query", "cursor"), merge(cursor="A" * 22)),
        ("after is no parameter here", ("query", "after"), merge(after=ONE_ID)),
    ],
    EVENTS: [
        ("after not a uuid", ("query", "after"), merge(after="yesterday")),
        ("type ping", ("query", "type"), merge(type="webhook.ping")),
        ("unknown type", ("query", "type"), merge(type="invitation.ignored")),
        ("type repeated", ("query", "type"), replace([("type", "follow_up.created")] * 2)),
        ("limit 201", ("query", "limit"), merge(limit=201)),
        ("cursor is no parameter here", ("query", "cursor"), merge(cursor="A" * 22)),
    ],
}


def malformed_cases() -> Iterator[Malformed]:
    for e in ON_ONE:
        for bad in ("not-a-uuid", "12345", f"{ONE_ID}0", "00000000-0000-0000-0000-00000000000g"):
            yield Malformed(e, f"webhook {bad}", ("path", "webhook_id"), path={"webhook": bad})
    for e, body_cases in BODY_CASES.items():
        for label, loc, spoil in body_cases:
            yield Malformed(e, label, ("body", *loc), body=spoil)
    for e in ENDPOINTS:
        for label, loc, spoil in [*COMMON_PARAM_CASES, *PARAM_CASES.get(e, [])]:
            yield Malformed(e, label, loc, params=spoil)


MALFORMED: dict[Endpoint, list[Malformed]] = {}
for _case in malformed_cases():
    MALFORMED.setdefault(_case.endpoint, []).append(_case)


def test_every_endpoint_has_malformed_cases() -> None:
    assert set(MALFORMED) == set(ENDPOINTS)


@pytest.mark.parametrize("endpoint", list(MALFORMED), ids=str)
async def test_malformed_input_is_422_and_changes_nothing(
    world: World, unchanged: Unchanged, endpoint: Endpoint
) -> None:
    """Every malformed variant of the endpoint's call (one world: none may change it)."""
    failures = []
    for case in MALFORMED[endpoint]:
        valid_body = endpoint.body(world) if endpoint.body else None
        valid_params = endpoint.params(world) if endpoint.params else {}
        response = await endpoint.send(
            world,
            world.admin.headers,
            url=endpoint.url(world, **case.path),
            body=case.body(valid_body) if case.body else KEEP,
            params=case.params(valid_params) if case.params else KEEP,
        )
        try:
            assert_invalid(response, *case.loc)
        except AssertionError as exc:
            failures.append(f"{case.label}: {exc}")
    assert not failures, "\n".join(failures)
    await unchanged.check()


@endpoints([CREATE, PATCH])
async def test_refused_urls_change_nothing(
    world: World, unchanged: Unchanged, endpoint: Endpoint
) -> None:
    for url in ("https://127.0.0.1/", "https://user:pw@93.184.215.14/", "http://93.184.215.14/"):
        body = {"url": url, **({"event_types": RESPONSES} if endpoint is CREATE else {})}

        response = await endpoint.send(world, world.admin.headers, body=body)

        assert_problem(response, 422, "webhook_url_refused")
    await unchanged.check()


async def test_refusals_of_state_change_nothing(
    world: World, unchanged: Unchanged, connection: AsyncConnection
) -> None:
    """A ping of a disabled webhook and a recovery outside its window leave no trace."""
    webhook_id = world.webhook["id"]
    ok(await world.admin.patch(f"/v1/webhooks/{webhook_id}", json={"enabled": False}))
    disabled = await Unchanged(connection, world.admin.tenant_id).take()

    ping = await world.admin.post(f"/v1/webhooks/{webhook_id}/ping")
    recover = await world.admin.post(
        f"/v1/webhooks/{webhook_id}/recover",
        json={"since": (datetime.now(UTC) - timedelta(days=40)).isoformat()},
    )

    assert_problem(ping, 409, "webhook_disabled")
    assert_problem(recover, 422, "invalid_recovery_window")
    await disabled.check()
