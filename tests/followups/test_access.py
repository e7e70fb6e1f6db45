"""Every follow-up, invitation and notification endpoint against each caller and bad input."""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncConnection

from app.followups.router import router as followups_router
from app.invitations.router import router as invitations_router
from app.notifications.router import router as notifications_router
from tests.fixtures.access import KEEP, Operation
from tests.fixtures.factories import Caller, bearer, follow_up_body
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized
from tests.fixtures.responses import ok
from tests.followups.support import DAY, World, as_seen_by, make_world, tenant_rows

Role = Literal["organizer", "colleague"]

# The path parameter each placeholder of an endpoint's path stands for.
PARAMS = {
    "follow_up": "follow_up_id",
    "invitation": "participant_id",
    "notification": "notification_id",
    "contact": "contact_id",
}


@dataclass(frozen=True)
class Endpoint(Operation[World]):
    """One operation, and a valid call to it in a World by the caller who may make it."""

    PATH_PARAMS = PARAMS

    actor: Role = "organizer"
    if_match: bool = False

    def caller(self, world: World) -> Caller:
        return world.organizer if self.actor == "organizer" else world.colleague

    def client(self, world: World) -> httpx.AsyncClient:
        return world.organizer.client

    def headers(self, world: World) -> dict[str, str]:
        return {"If-Match": world.etag} if self.if_match else {}


def endpoint(method: str, path: str, *tags: str, **fields: Any) -> Endpoint:
    return Endpoint(method, path, tags=frozenset(tags), **fields)


FOLLOW_UP = "/v1/follow-ups/{follow_up}"
ENDPOINTS = [
    endpoint(
        "POST",
        "/v1/follow-ups",
        body=lambda w: follow_up_body(participants=[{"associate_id": w.colleague.subject}]),
        success=201,
    ),
    endpoint("GET", "/v1/follow-ups", "list", params=lambda w: DAY),
    endpoint("GET", "/v1/follow-ups/delta", "list", params=lambda w: DAY),
    endpoint("GET", FOLLOW_UP, "read"),
    endpoint("PATCH", FOLLOW_UP, "organize", body=lambda w: {"title": "Renamed"}, if_match=True),
    endpoint("POST", f"{FOLLOW_UP}/cancel", "organize", body=lambda w: {"reason": "Postponed"}),
    endpoint(
        "POST", f"{FOLLOW_UP}/assign", "organize", body=lambda w: {"associate_id": w.guest.subject}
    ),
    endpoint("GET", f"{FOLLOW_UP}/participants", "read"),
    endpoint(
        "POST",
        f"{FOLLOW_UP}/participants",
        "organize",
        body=lambda w: {"associate_id": w.stranger.subject},
        success=201,
    ),
    endpoint("DELETE", f"{FOLLOW_UP}/participants/{{invitation}}", "organize", success=204),
    endpoint("POST", f"{FOLLOW_UP}/participants/{{invitation}}/acknowledge", "organize"),
    endpoint("GET", f"{FOLLOW_UP}/responses", "read"),
    endpoint("GET", "/v1/contacts/{contact}/activities", "admin-ok"),
    endpoint("GET", "/v1/invitations", "list", actor="colleague"),
    endpoint("POST", "/v1/invitations/{invitation}/seen", "answer", actor="colleague"),
    endpoint(
        "POST",
        "/v1/invitations/{invitation}/response",
        "answer",
        actor="colleague",
        body=lambda w: {"status": "accepted", "comment": "Back after all"},
    ),
    endpoint("GET", "/v1/notifications", "list", actor="colleague"),
    endpoint("POST", "/v1/notifications/{notification}/read", actor="colleague"),
]


def select(predicate: Callable[[Endpoint], bool]) -> list[Endpoint]:
    return [e for e in ENDPOINTS if predicate(e)]


ON_ONE = select(lambda e: bool(e.placeholders))
ORGANIZE = select(lambda e: "organize" in e.tags)
READ = select(lambda e: "read" in e.tags)
ANSWER = select(lambda e: "answer" in e.tags)
LISTS = select(lambda e: "list" in e.tags)
AS_ASSOCIATE = select(lambda e: "admin-ok" not in e.tags)
HIDDEN_FROM_STRANGERS = select(
    lambda e: bool({"follow_up", "invitation", "notification"} & set(e.placeholders))
)


def endpoints(selected: list[Endpoint]) -> pytest.MarkDecorator:
    return pytest.mark.parametrize("endpoint", selected, ids=str)


@pytest.fixture
async def world(admin: Caller) -> World:
    return await make_world(admin)


@dataclass
class Unchanged:
    """Takes the tenant's rows now; `check()` asserts they are the same later."""

    connection: AsyncConnection
    tenant: uuid.UUID
    before: dict[str, Any] = field(default_factory=dict)

    async def take(self) -> "Unchanged":
        self.before = await tenant_rows(self.connection, self.tenant)
        return self

    async def check(self) -> None:
        assert await tenant_rows(self.connection, self.tenant) == self.before


@pytest.fixture
async def unchanged(connection: AsyncConnection, tenant: uuid.UUID, world: World) -> Unchanged:
    return await Unchanged(connection, tenant).take()


def test_matrix_covers_every_route() -> None:
    routers = (followups_router, invitations_router, notifications_router)
    declared = {
        (method, route.path)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert {e.route for e in ENDPOINTS} == declared


@endpoints(ENDPOINTS)
async def test_the_right_caller_succeeds(world: World, endpoint: Endpoint) -> None:
    caller = endpoint.caller(world)

    response = await endpoint.send(world, caller.headers)

    assert response.status_code == endpoint.success, response.text


# Tokens -------------------------------------------------------------------------------------

NO_CREDENTIALS: dict[str, tuple[dict[str, str], str]] = {
    "no token": ({}, "unauthorized"),
    "not a JWT": (bearer("not-a-jwt"), "invalid_token"),
}


@endpoints(ENDPOINTS)
async def test_without_a_token_is_401(
    world: World, unchanged: Unchanged, endpoint: Endpoint
) -> None:
    for headers, code in NO_CREDENTIALS.values():
        response = await endpoint.send(world, headers)

        assert_unauthorized(response, code)
    await unchanged.check()


@endpoints(AS_ASSOCIATE)
async def test_service_account_is_not_an_associate(
    world: World, unchanged: Unchanged, endpoint: Endpoint
) -> None:
    response = await endpoint.send(world, world.admin.headers)

    assert_problem(response, 403, "not_an_associate")
    await unchanged.check()


async def test_admin_token_with_an_associates_sub_does_not_act_as_them(world: World) -> None:
    """An admin token is a service account's, even when its subject is an associate's id."""
    organizer = world.organizer
    as_admin = Caller(organizer.client, organizer.tenant_id, organizer.subject, admin=True)

    assert_problem(await as_admin.get(world.url), 403, "not_an_associate")


# Tenants ------------------------------------------------------------------------------------


@pytest.fixture
async def foreigner(other_admin: Caller) -> Caller:
    """An associate of another tenant."""
    return await other_admin.new_member(name="Frida Foreign")


@endpoints(ON_ONE)
async def test_associate_of_another_tenant_gets_404(
    world: World, unchanged: Unchanged, foreigner: Caller, endpoint: Endpoint
) -> None:
    response = await endpoint.send(world, foreigner.headers)

    assert_problem(response, 404, "not_found")
    await unchanged.check()


@endpoints(LISTS)
async def test_associate_of_another_tenant_lists_nothing_of_ours(
    world: World, foreigner: Caller, endpoint: Endpoint
) -> None:
    response = await endpoint.send(world, foreigner.headers)

    assert ok(response)["items"] == []


@pytest.mark.parametrize("target", ["associate", "resource", "person", "contact"])
async def test_associate_of_another_tenant_cannot_reference_ours(
    world: World, unchanged: Unchanged, foreigner: Caller, target: str
) -> None:
    refs = {
        "associate": {"participants": [{"associate_id": world.colleague.subject}]},
        "resource": {"participants": [{"resource_id": world.room["id"]}]},
        "person": {"participants": [{"person_id": world.person["id"]}]},
        "contact": {"contact_id": world.contact["id"]},
    }

    response = await foreigner.post("/v1/follow-ups", json=follow_up_body(**refs[target]))

    assert_problem(response, 404, "unknown_reference")
    await unchanged.check()
    assert ok(await foreigner.get("/v1/follow-ups", params=DAY))["items"] == []


# Callers of the tenant who may not act ------------------------------------------------------


@endpoints(HIDDEN_FROM_STRANGERS)
async def test_colleague_not_in_the_follow_up_gets_404(
    world: World, unchanged: Unchanged, endpoint: Endpoint
) -> None:
    response = await endpoint.send(world, world.stranger.headers)

    assert_problem(response, 404, "not_found")
    await unchanged.check()


@endpoints(ORGANIZE)
@pytest.mark.parametrize("who", ["guest", "colleague"])
async def test_participant_who_is_not_the_organizer_gets_403(
    world: World, unchanged: Unchanged, endpoint: Endpoint, who: str
) -> None:
    caller: Caller = getattr(world, who)

    response = await endpoint.send(world, caller.headers)

    assert_problem(response, 403, "not_organizer")
    await unchanged.check()


@endpoints(READ)
async def test_participant_who_is_not_the_organizer_may_read(
    world: World, endpoint: Endpoint
) -> None:
    as_guest = await endpoint.send(world, world.guest.headers)
    as_organizer = await endpoint.send(world, world.organizer.headers)

    # The same, but for the colleague's comment, which is the organizer's to read.
    assert ok(as_guest) == as_seen_by(ok(as_organizer), world.guest.subject)
    assert ok(as_guest) != ok(as_organizer)


@endpoints(ANSWER)
@pytest.mark.parametrize("who", ["organizer", "guest"])
async def test_someone_elses_invitation_is_403_not_invitee(
    world: World, unchanged: Unchanged, endpoint: Endpoint, who: str
) -> None:
    caller: Caller = getattr(world, who)

    response = await endpoint.send(world, caller.headers)

    assert_problem(response, 403, "not_invitee")
    await unchanged.check()


@pytest.mark.parametrize("who", ["organizer", "guest", "stranger"])
async def test_someone_elses_notification_is_404(
    world: World, unchanged: Unchanged, who: str
) -> None:
    caller: Caller = getattr(world, who)

    response = await caller.post(f"/v1/notifications/{world.notification}/read")

    assert_problem(response, 404, "not_found")
    await unchanged.check()


@endpoints(ON_ONE)
async def test_unknown_ids_are_404(world: World, unchanged: Unchanged, endpoint: Endpoint) -> None:
    for name in endpoint.placeholders:
        url = endpoint.url(world, **{name: str(uuid.uuid4())})

        response = await endpoint.send(world, endpoint.caller(world).headers, url=url)

        assert_problem(response, 404, "not_found")
    await unchanged.check()


# Malformed input ----------------------------------------------------------------------------

Spoil = Callable[[Any], Any]


@dataclass(frozen=True)
class Malformed:
    """The valid call of an endpoint with one thing spoiled; the error lies at `loc`."""

    endpoint: Endpoint
    label: str
    loc: tuple[str | int, ...]
    path: dict[str, str] = field(default_factory=dict)
    body: Spoil | None = None
    params: Spoil | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.endpoint} {self.label}"


def merge(**fields: Any) -> Spoil:
    return lambda valid: {**valid, **fields}


def without(name: str) -> Spoil:
    return lambda valid: {key: value for key, value in valid.items() if key != name}


def replace(value: Any) -> Spoil:
    return lambda valid: value


def find(method: str, path: str) -> Endpoint:
    (found,) = [e for e in ENDPOINTS if (e.method, e.path) == (method, path)]
    return found


CREATE = find("POST", "/v1/follow-ups")
DIARY = find("GET", "/v1/follow-ups")
SYNC = find("GET", "/v1/follow-ups/delta")
PATCH = find("PATCH", FOLLOW_UP)
CANCEL = find("POST", f"{FOLLOW_UP}/cancel")
ASSIGN = find("POST", f"{FOLLOW_UP}/assign")
ADD = find("POST", f"{FOLLOW_UP}/participants")
RESPOND = find("POST", "/v1/invitations/{invitation}/response")
INBOX = find("GET", "/v1/invitations")
NOTIFICATIONS = find("GET", "/v1/notifications")
ACTIVITIES = find("GET", "/v1/contacts/{contact}/activities")

NAIVE = "2026-03-30T09:00:00"
ONE_ID = str(uuid.uuid4())


def participants(*refs: Any) -> Spoil:
    return merge(participants=list(refs))


BODY_CASES: dict[Endpoint, list[tuple[str, tuple[str | int, ...], Spoil]]] = {
    CREATE: [
        ("no body", (), replace(None)),
        ("array body", (), lambda valid: [valid]),
        ("naive start_at", ("start_at",), merge(start_at=NAIVE)),
        ("naive end_at", ("end_at",), merge(end_at="2026-03-30T10:00:00")),
        ("start_at not a time", ("start_at",), merge(start_at="monday morning")),
        ("unknown field", ("colour",), merge(colour="red")),
        ("id in body", ("id",), merge(id=ONE_ID)),
        ("title not a string", ("title",), merge(title=42)),
        ("blank title", ("title",), merge(title="   ")),
        ("all_day not a bool", ("all_day",), merge(all_day="yes")),
        ("unknown kind", ("kind",), merge(kind="lunch")),
        ("unknown time zone", ("time_zone",), merge(time_zone="Mars/Olympus")),
        ("contact_id not a UUID", ("contact_id",), merge(contact_id="nordlys")),
        ("participants not a list", ("participants",), merge(participants={"x": 1})),
        ("participant id not a UUID", ("participants", 0), participants({"associate_id": "bo"})),
        ("participant of no kind", ("participants", 0), participants({"role": "required"})),
        (
            "participant of two kinds",
            ("participants", 0),
            participants({"associate_id": ONE_ID, "resource_id": ONE_ID}),
        ),
        (
            "participant as organizer",
            ("participants", 0),
            participants({"associate_id": ONE_ID, "role": "organizer"}),
        ),
        (
            "participant with unknown field",
            ("participants", 0),
            participants({"person_id": ONE_ID, "status": "accepted"}),
        ),
        (
            "500 participants",
            ("participants",),
            merge(participants=[{"person_id": str(uuid.uuid4())} for _ in range(500)]),
        ),
        *[(f"without {name}", (name,), without(name)) for name in ("title", "start_at", "end_at")],
    ],
    PATCH: [
        ("array body", (), lambda valid: [valid]),
        ("naive start_at", ("start_at",), replace({"start_at": NAIVE})),
        ("unknown field", ("owner_id",), replace({"owner_id": ONE_ID})),
        ("null title", ("title",), replace({"title": None})),
        ("null start_at", ("start_at",), replace({"start_at": None})),
        ("null all_day", ("all_day",), replace({"all_day": None})),
        ("null time_zone", ("time_zone",), replace({"time_zone": None})),
        ("status in body", ("status",), replace({"status": "cancelled"})),
        ("location not a string", ("location",), replace({"location": ["x"]})),
        ("multi-line location", ("location",), replace({"location": "a\nb"})),
    ],
    CANCEL: [
        ("body not an object", (), replace(["Postponed"])),
        ("unknown field", ("when",), merge(when="now")),
        ("reason not a string", ("reason",), merge(reason=7)),
        ("reason too long", ("reason",), merge(reason="x" * 1001)),
    ],
    ASSIGN: [
        ("without associate_id", ("associate_id",), replace({})),
        ("associate_id not a UUID", ("associate_id",), merge(associate_id="gina")),
        ("unknown field", ("note",), merge(note="yours")),
    ],
    ADD: [
        ("empty body", (), replace({})),
        ("id not a UUID", (), replace({"resource_id": "room-1"})),
        ("role organizer", (), merge(role="organizer")),
        ("unknown field", (), merge(status="accepted")),
    ],
    RESPOND: [
        ("no body", (), replace(None)),
        ("without status", ("status",), replace({"comment": "hi"})),
        ("status seen", ("status",), merge(status="seen")),
        ("status not_read", ("status",), merge(status="not_read")),
        ("comment not a string", ("comment",), merge(comment=1)),
        ("comment too long", ("comment",), merge(comment="x" * 1001)),
        ("unknown field", ("role",), merge(role="optional")),
    ],
}

PARAM_CASES: dict[Endpoint, list[tuple[str, tuple[str, ...], Spoil]]] = {
    DIARY: [
        ("without start", ("start",), without("start")),
        ("without end", ("end",), without("end")),
        ("naive start", ("start",), merge(start=NAIVE)),
        ("naive end", ("end",), merge(end="2026-03-31T00:00:00")),
        ("end not a time", ("end",), merge(end="tomorrow")),
        ("start a number (Unix time)", ("start",), merge(start="0.0")),
        ("unknown status", ("status",), merge(status="done")),
        ("unknown parameter", ("owner_id",), merge(owner_id=ONE_ID)),
        ("limit 0", ("limit",), merge(limit=0)),
        ("limit 201", ("limit",), merge(limit=201)),
        ("bad cursor", ("cursor",), merge(cursor="not-a-cursor")),
        ("end before start", ("end",), merge(end=DAY["start"], start=DAY["end"])),
        ("end equals start", ("end",), merge(end=DAY["start"])),
        ("window over 366 days", ("end",), merge(end="2027-03-31T00:00:01+02:00")),
    ],
    SYNC: [
        ("naive start", ("start",), merge(start=NAIVE)),
        ("end not a time", ("end",), merge(end="tomorrow")),
        ("end a number (Unix time)", ("end",), merge(end="10")),
        ("end before start", ("end",), merge(end=DAY["start"], start=DAY["end"])),
        ("window over 366 days", ("end",), merge(end="2027-03-31T00:00:01+02:00")),
        ("unknown parameter", ("status",), merge(status="scheduled")),
        ("limit 0", ("limit",), merge(limit=0)),
        ("limit 201", ("limit",), merge(limit=201)),
        ("cursor not ours", ("cursor",), replace({"cursor": "not-a-cursor"})),
        ("cursor not base64url", ("cursor",), replace({"cursor": "a+b/c="})),
        ("empty cursor", ("cursor",), replace({"cursor": ""})),
    ],
    INBOX: [
        ("unknown status", ("status",), replace({"status": "maybe"})),
        ("unknown parameter", ("follow_up_id",), replace({"follow_up_id": ONE_ID})),
        ("bad cursor", ("cursor",), replace({"cursor": "x"})),
    ],
    NOTIFICATIONS: [
        ("unread not a bool", ("unread",), replace({"unread": "perhaps"})),
        ("limit 201", ("limit",), replace({"limit": 201})),
        ("unknown parameter", ("kind",), replace({"kind": "invited"})),
    ],
    ACTIVITIES: [
        ("limit 0", ("limit",), replace({"limit": 0})),
        ("id cursor on a timed list", ("cursor",), replace({"cursor": "A" * 22})),
    ],
}


def malformed_cases() -> Iterator[Malformed]:
    for e in ON_ONE:
        for name in e.placeholders:
            for bad in ("not-a-uuid", "12345", f"{ONE_ID}0"):
                yield Malformed(e, f"{name} {bad}", ("path", PARAMS[name]), path={name: bad})
    for e, body_cases in BODY_CASES.items():
        for label, loc, spoil in body_cases:
            yield Malformed(e, label, ("body", *loc), body=spoil)
    for e, param_cases in PARAM_CASES.items():
        for label, loc, spoil in param_cases:
            yield Malformed(e, label, ("query", *loc), params=spoil)
    yield Malformed(PATCH, "If-Match too long", ("header",), headers={"If-Match": "x" * 513})


MALFORMED: dict[Endpoint, list[Malformed]] = {}
for _case in malformed_cases():
    MALFORMED.setdefault(_case.endpoint, []).append(_case)


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
            {**endpoint.caller(world).headers, **case.headers},
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
