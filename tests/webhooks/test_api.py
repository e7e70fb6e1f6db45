"""The webhook management API: endpoints, secrets, pings, the delivery log, recovery, the feed."""

import asyncio
import base64
import contextlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Row, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principals import ADMIN_SCOPE, Principal
from app.config import Settings
from app.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks import service
from app.webhooks.address_guard import AddressPolicy
from app.webhooks.schemas import WebhookCreate
from tests.fixtures.committed import committed_app, until_lock_waiters
from tests.fixtures.factories import TEST_SECRET, Caller, follow_up_body
from tests.fixtures.problems import assert_errors_at, assert_invalid, assert_problem
from tests.fixtures.responses import ok

Body = dict[str, Any]

PUBLIC = "https://93.184.215.14/hook"
PUBLIC_V6 = "https://[2606:4700::1]/x"
RESPONSES = ["invitation.accepted", "invitation.declined", "invitation.tentative"]
WEBHOOK_FIELDS = {
    "id",
    "created_at",
    "updated_at",
    "url",
    "description",
    "event_types",
    "enabled",
    "disabled_reason",
    "failing_since",
    "previous_secret_expires_at",
}
DELIVERY_FIELDS = {
    "id",
    "event_id",
    "event_type",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
    "delivered_at",
    "last_status_code",
    "last_error",
    "attempt_log",
}
EVENT_FIELDS = {"id", "type", "timestamp", "follow_up_id", "seq", "data"}

ENDPOINTS = WebhookEndpoint.__table__
DELIVERIES = WebhookDelivery.__table__
ATTEMPTS = WebhookAttempt.__table__
EVENTS = Event.__table__


# Helpers ------------------------------------------------------------------------------------


def at(value: str) -> datetime:
    """An ISO 8601 time that carries its offset."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, value
    return parsed


def close_to(value: datetime, expected: datetime, within: timedelta = timedelta(minutes=1)) -> bool:
    return abs(value - expected) <= within


async def subscribe(
    admin: Caller, event_types: list[str] | None = None, url: str = PUBLIC, **fields: Any
) -> Body:
    """Register a webhook; the answer carries its secret."""
    return await admin.create(
        "/v1/webhooks", {"url": url, "event_types": event_types or RESPONSES, **fields}
    )


async def webhook(admin: Caller, webhook_id: str) -> Body:
    found: Body = ok(await admin.get(f"/v1/webhooks/{webhook_id}"))
    return found


async def invite(organizer: Caller, invitee: Caller) -> tuple[str, str]:
    """A follow-up of the organizer inviting the invitee: its id and the invitation's."""
    created = await organizer.create(
        "/v1/follow-ups", follow_up_body(participants=[{"associate_id": invitee.subject}])
    )
    (invitation,) = [p for p in created["participants"] if p["associate_id"] == invitee.subject]
    return created["id"], invitation["id"]


async def respond(invitee: Caller, participant_id: str, status: str) -> None:
    response = await invitee.post(
        f"/v1/invitations/{participant_id}/response", json={"status": status}
    )
    assert response.status_code == 200, response.text


async def answered(admin: Caller, status: str = "accepted") -> tuple[str, str, Caller]:
    """A follow-up whose invitee answered: the follow-up, the invitation and the invitee."""
    organizer = await admin.new_member(name="Olga Organizer")
    invitee = await admin.new_member(name="Ivan Invitee")
    follow_up_id, participant_id = await invite(organizer, invitee)
    await respond(invitee, participant_id, status)
    return follow_up_id, participant_id, invitee


async def deliveries(admin: Caller, webhook_id: str, **params: Any) -> list[Body]:
    """Every delivery of the webhook (one page), newest first."""
    page = ok(await admin.get(f"/v1/webhooks/{webhook_id}/deliveries", params=params))
    assert page["next_cursor"] is None
    found: list[Body] = page["items"]
    return found


async def feed(admin: Caller, **params: Any) -> Body:
    page: Body = ok(await admin.get("/v1/events", params=params))
    return page


async def endpoint_row(connection: AsyncConnection, webhook_id: str) -> Row[Any]:
    query = select(ENDPOINTS).where(ENDPOINTS.c.id == uuid.UUID(webhook_id))
    return (await connection.execute(query)).one()


async def delivery_rows(connection: AsyncConnection, **where: Any) -> list[Row[Any]]:
    """Delivery rows matching column = value (uuid strings allowed), oldest first."""
    query = select(DELIVERIES).order_by(DELIVERIES.c.created_at)
    for column, value in where.items():
        value = uuid.UUID(value) if isinstance(value, str) and column.endswith("_id") else value
        query = query.where(DELIVERIES.c[column] == value)
    return list((await connection.execute(query)).all())


async def endpoint_count(connection: AsyncConnection, tenant: uuid.UUID) -> int:
    query = select(func.count()).select_from(ENDPOINTS).where(ENDPOINTS.c.tenant_id == tenant)
    return int(await connection.scalar(query) or 0)


async def event_rows(connection: AsyncConnection, tenant: uuid.UUID) -> list[Row[Any]]:
    query = select(EVENTS).where(EVENTS.c.tenant_id == tenant).order_by(EVENTS.c.id)
    return list((await connection.execute(query)).all())


async def execute(connection: AsyncConnection, sql: str, **params: Any) -> None:
    await connection.execute(text(sql), params)


def loopback_settings(data_dir: Path) -> Settings:
    """The test settings with http to 127.0.0.0/8 allowed, as for a local receiver."""
    return Settings(
        jwt_secret=TEST_SECRET,
        data_dir=data_dir,
        database_url=None,
        webhook_allow_http=True,
        webhook_allowed_networks=[IPv4Network("127.0.0.0/8")],
    )


# Create -------------------------------------------------------------------------------------


async def test_create_returns_the_secret_once(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    response = await admin.post(
        "/v1/webhooks",
        json={"url": PUBLIC, "event_types": RESPONSES, "description": "CRM sync"},
    )

    created = ok(response, 201)
    assert set(created) == WEBHOOK_FIELDS | {"secret"}
    assert created["url"] == PUBLIC
    assert created["event_types"] == RESPONSES
    assert created["description"] == "CRM sync"
    assert created["enabled"] is True
    assert created["disabled_reason"] is None
    assert created["failing_since"] is None
    assert created["previous_secret_expires_at"] is None
    assert at(created["created_at"]) == at(created["updated_at"])
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32

    row = await endpoint_row(connection, created["id"])
    assert row.tenant_id == tenant
    assert row.secret == secret
    assert row.previous_secret is None

    shown = {key: value for key, value in created.items() if key != "secret"}
    assert await webhook(admin, created["id"]) == shown
    listed = ok(await admin.get("/v1/webhooks"))
    assert listed == {"items": [shown], "next_cursor": None}
    assert secret not in response.text.replace(secret, "", 1)


async def test_every_webhook_gets_its_own_secret(admin: Caller) -> None:
    first = await subscribe(admin)
    second = await subscribe(admin)

    assert first["secret"] != second["secret"]
    assert first["id"] != second["id"]


async def test_secret_never_appears_after_creation(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)
    secret = created["secret"]
    rotated = ok(await admin.post(f"/v1/webhooks/{created['id']}/rotate-secret"))

    responses = [
        await admin.get("/v1/webhooks"),
        await admin.get(f"/v1/webhooks/{created['id']}"),
        await admin.patch(f"/v1/webhooks/{created['id']}", json={"description": "x"}),
        await admin.patch(f"/v1/webhooks/{created['id']}", json={}),
        await admin.post(f"/v1/webhooks/{created['id']}/ping"),
        await admin.get(f"/v1/webhooks/{created['id']}/deliveries"),
        await admin.get("/v1/events"),
    ]

    for response in responses:
        assert response.status_code < 300, response.text
        assert secret not in response.text
        assert rotated["secret"] not in response.text
        assert '"secret"' not in response.text
        assert 'previous_secret"' not in response.text


async def test_create_without_description(admin: Caller) -> None:
    created = await subscribe(admin, ["follow_up.created"])

    assert created["description"] is None
    assert created["event_types"] == ["follow_up.created"]


@pytest.mark.parametrize(
    "event_types",
    [
        ["invitation.accepted"],
        [
            "invitation.accepted",
            "invitation.declined",
            "invitation.tentative",
            "invitation.seen",
            "invitation.acknowledged",
            "follow_up.created",
            "follow_up.updated",
            "follow_up.rescheduled",
            "follow_up.cancelled",
            "follow_up.assigned",
            "participant.added",
            "participant.removed",
        ],
        ["participant.removed", "follow_up.assigned"],
    ],
    ids=["one", "all twelve", "any order"],
)
async def test_event_types_accepted(admin: Caller, event_types: list[str]) -> None:
    created = await subscribe(admin, event_types)

    assert created["event_types"] == event_types
    assert (await webhook(admin, created["id"]))["event_types"] == event_types


@pytest.mark.parametrize("url", [PUBLIC, PUBLIC_V6, "https://93.184.215.14:8443/a?b=c#d"])
async def test_public_ip_literals_are_accepted(admin: Caller, url: str) -> None:
    created = await subscribe(admin, url=url)

    assert created["url"] == url


async def test_surrounding_whitespace_is_trimmed(admin: Caller) -> None:
    created = await subscribe(admin, url=f"  {PUBLIC}\n")

    assert created["url"] == PUBLIC


async def test_url_of_2000_characters_is_accepted(admin: Caller) -> None:
    url = PUBLIC + "/" + "a" * (2000 - len(PUBLIC) - 1)
    assert len(url) == 2000

    created = await subscribe(admin, url=url)

    assert created["url"] == url


async def test_loopback_over_http_when_the_settings_allow_it(
    app: FastAPI, settings: Settings, admin: Caller
) -> None:
    app.state.settings = loopback_settings(settings.data_dir)

    created = await subscribe(admin, url="http://127.0.0.1:8080/hook")
    refused = await admin.post(
        "/v1/webhooks", json={"url": "http://10.0.0.1/hook", "event_types": RESPONSES}
    )

    assert created["url"] == "http://127.0.0.1:8080/hook"
    assert_problem(refused, 422, "webhook_url_refused")


NO_TYPES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("empty list", [], ("body", "event_types")),
    ("unknown type", ["invitation.accepted", "invitation.exploded"], ("body", "event_types")),
    ("webhook.ping", ["webhook.ping"], ("body", "event_types")),
    (
        "webhook.ping beside others",
        ["invitation.accepted", "webhook.ping"],
        ("body", "event_types"),
    ),
    ("repeated type", ["invitation.accepted", "invitation.accepted"], ("body",)),
    ("a string", "invitation.accepted", ("body", "event_types")),
    ("null", None, ("body", "event_types")),
    ("a number in the list", [1], ("body", "event_types")),
    ("wrong case", ["Invitation.Accepted"], ("body", "event_types")),
    ("thirteen", [*RESPONSES] * 4 + ["follow_up.created"], ("body", "event_types")),
]


@pytest.mark.parametrize(
    ("event_types", "loc"), [(v, loc) for _, v, loc in NO_TYPES], ids=[n for n, _, _ in NO_TYPES]
)
async def test_bad_event_types_are_422(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, event_types: Any, loc: Any
) -> None:
    response = await admin.post("/v1/webhooks", json={"url": PUBLIC, "event_types": event_types})

    assert_invalid(response, *loc)
    assert await endpoint_count(connection, tenant) == 0


async def test_missing_event_types_is_422(admin: Caller) -> None:
    response = await admin.post("/v1/webhooks", json={"url": PUBLIC})

    assert_invalid(response, "body", "event_types")


BAD_URLS: list[tuple[str, Any]] = [
    ("2001 characters", PUBLIC + "/" + "a" * (2001 - len(PUBLIC) - 1)),
    ("ftp", "ftp://93.184.215.14/hook"),
    ("no scheme", "93.184.215.14/hook"),
    ("scheme only", "https://"),
    ("javascript", "javascript:alert(1)"),
    ("file", "file:///etc/passwd"),
    ("upper-case scheme", "HTTPS://93.184.215.14/hook"),
    ("space inside", "https://93.184.215.14/a b"),
    ("tab inside", "https://93.184.215.14/a\tb"),
    ("newline inside", "https://93.184.215.14/a\nb"),
    ("NUL inside", "https://93.184.215.14/a\x00b"),
    ("DEL inside", "https://93.184.215.14/a\x7fb"),
    ("empty", ""),
    ("blank", "   "),
    ("null", None),
    ("a number", 42),
    ("a list", [PUBLIC]),
]


@pytest.mark.parametrize("url", [u for _, u in BAD_URLS], ids=[n for n, _ in BAD_URLS])
async def test_malformed_urls_are_422(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, url: Any
) -> None:
    response = await admin.post("/v1/webhooks", json={"url": url, "event_types": RESPONSES})

    assert_invalid(response, "body", "url")
    assert await endpoint_count(connection, tenant) == 0


REFUSED_URLS = [
    ("credentials", "https://user:password@93.184.215.14/hook"),
    ("user name only", "https://user@93.184.215.14/hook"),
    ("empty credentials", "https://:@93.184.215.14/hook"),
    ("no host", "https:///hook"),
    ("http by default", "http://93.184.215.14/hook"),
    ("loopback by default", "https://127.0.0.1/hook"),
    ("private by default", "https://10.0.0.1/hook"),
]


@pytest.mark.parametrize("url", [u for _, u in REFUSED_URLS], ids=[n for n, _ in REFUSED_URLS])
async def test_unsafe_urls_are_refused(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, url: str
) -> None:
    response = await admin.post("/v1/webhooks", json={"url": url, "event_types": RESPONSES})

    problem = assert_problem(response, 422, "webhook_url_refused")
    assert_errors_at(problem, "body", "url")
    assert await endpoint_count(connection, tenant) == 0


@pytest.mark.parametrize(
    ("description", "loc"),
    [
        ("two\nlines", ("body", "description")),
        ("x" * 501, ("body", "description")),
        ("   ", ("body", "description")),
        (7, ("body", "description")),
    ],
    ids=["multi-line", "501 characters", "blank", "a number"],
)
async def test_bad_descriptions_are_422(admin: Caller, description: Any, loc: Any) -> None:
    response = await admin.post(
        "/v1/webhooks", json={"url": PUBLIC, "event_types": RESPONSES, "description": description}
    )

    assert_invalid(response, *loc)


async def test_description_of_500_characters_is_trimmed_and_kept(admin: Caller) -> None:
    created = await subscribe(admin, description=" " + "d" * 500 + " ")

    assert created["description"] == "d" * 500


@pytest.mark.parametrize(
    "field",
    [
        {"secret": "whsec_" + base64.b64encode(b"k" * 32).decode()},
        {"enabled": False},
        {"id": str(uuid.uuid4())},
        {"disabled_reason": "manual"},
        {"colour": "red"},
    ],
    ids=["secret", "enabled", "id", "disabled_reason", "unknown"],
)
async def test_create_refuses_fields_it_does_not_take(admin: Caller, field: Body) -> None:
    response = await admin.post(
        "/v1/webhooks", json={"url": PUBLIC, "event_types": RESPONSES, **field}
    )

    assert_invalid(response, "body", *field)


async def insert_endpoints(connection: AsyncConnection, tenant: uuid.UUID, count: int) -> None:
    """`count` endpoints of the tenant straight into the table."""
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant,
            "url": f"https://93.184.215.14/{n}",
            "event_types": RESPONSES,
            "enabled": True,
            "secret": "whsec_" + base64.b64encode(b"s" * 32).decode(),
        }
        for n in range(count)
    ]
    await connection.execute(insert(ENDPOINTS), rows)


async def test_a_tenant_has_at_most_50_webhooks(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, other_admin: Caller
) -> None:
    await insert_endpoints(connection, tenant, 49)

    fiftieth = await admin.post("/v1/webhooks", json={"url": PUBLIC, "event_types": RESPONSES})
    fifty_first = await admin.post("/v1/webhooks", json={"url": PUBLIC, "event_types": RESPONSES})

    assert fiftieth.status_code == 201, fiftieth.text
    assert_problem(fifty_first, 422, "too_many_webhooks")
    assert await endpoint_count(connection, tenant) == 50
    # The limit is the tenant's: another tenant still registers.
    await subscribe(other_admin)
    # Deleting one makes room again.
    assert (await admin.delete(f"/v1/webhooks/{fiftieth.json()['id']}")).status_code == 204
    await subscribe(admin)
    assert await endpoint_count(connection, tenant) == 50


async def test_disabled_webhooks_count_towards_the_limit(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    await insert_endpoints(connection, tenant, 50)
    await execute(
        connection,
        "UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'manual' "
        "WHERE tenant_id = :tenant",
        tenant=tenant,
    )

    response = await admin.post("/v1/webhooks", json={"url": PUBLIC, "event_types": RESPONSES})

    assert_problem(response, 422, "too_many_webhooks")


# List and get -------------------------------------------------------------------------------


async def test_list_is_empty_for_a_new_tenant(admin: Caller) -> None:
    assert ok(await admin.get("/v1/webhooks")) == {"items": [], "next_cursor": None}


async def test_list_pages_oldest_first(admin: Caller, other_admin: Caller) -> None:
    created = [await subscribe(admin, description=f"hook {n}") for n in range(5)]
    await subscribe(other_admin)

    seen: list[Body] = []
    cursor: str | None = None
    pages = 0
    for _ in range(10):  # bounded: a cursor that never ends must fail, not hang
        params: Body = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(await admin.get("/v1/webhooks", params=params))
        pages += 1
        assert len(page["items"]) <= 2
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 2
    else:
        pytest.fail("the pages never ended")

    assert pages == 3
    assert [w["id"] for w in seen] == [w["id"] for w in created]
    assert all(set(w) == WEBHOOK_FIELDS for w in seen)
    whole = ok(await admin.get("/v1/webhooks", params={"limit": 5}))
    assert whole["next_cursor"] is None
    assert whole["items"] == seen


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"limit": 0}, ("query", "limit")),
        ({"limit": 201}, ("query", "limit")),
        ({"limit": "many"}, ("query", "limit")),
        ({"cursor": "not-a-cursor"}, ("query", "cursor")),
        ({"cursor": "A" * 32}, ("query", "cursor")),
    ],
    ids=["limit 0", "limit 201", "limit not a number", "bad cursor", "timed cursor"],
)
async def test_list_refuses_bad_paging(admin: Caller, params: Body, loc: Any) -> None:
    assert_invalid(await admin.get("/v1/webhooks", params=params), *loc)


async def test_get_unknown_webhook_is_404(admin: Caller) -> None:
    response = await admin.get(f"/v1/webhooks/{uuid.uuid4()}")

    assert_problem(response, 404, "not_found")


# Update -------------------------------------------------------------------------------------


async def test_patch_changes_the_url_after_checking_it(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)

    moved = ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"url": PUBLIC_V6}))

    assert moved["url"] == PUBLIC_V6
    assert at(moved["updated_at"]) > at(created["updated_at"])
    assert await webhook(admin, created["id"]) == moved
    assert (await endpoint_row(connection, created["id"])).url == PUBLIC_V6


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://localhost/hook",
        "http://93.184.215.14/hook",
        "https://user:pw@93.184.215.14/hook",
    ],
)
async def test_patch_refuses_an_unsafe_url(
    connection: AsyncConnection, admin: Caller, url: str
) -> None:
    created = await subscribe(admin)
    before = await endpoint_row(connection, created["id"])

    response = await admin.patch(f"/v1/webhooks/{created['id']}", json={"url": url})

    problem = assert_problem(response, 422, "webhook_url_refused")
    assert_errors_at(problem, "body", "url")
    assert await endpoint_row(connection, created["id"]) == before


async def test_patch_to_loopback_when_the_settings_allow_it(
    app: FastAPI, settings: Settings, admin: Caller
) -> None:
    created = await subscribe(admin)
    app.state.settings = loopback_settings(settings.data_dir)

    moved = ok(
        await admin.patch(f"/v1/webhooks/{created['id']}", json={"url": "http://127.0.0.1:9/h"})
    )

    assert moved["url"] == "http://127.0.0.1:9/h"


async def test_patch_changes_event_types_and_description(admin: Caller) -> None:
    created = await subscribe(admin, description="before")

    changed = ok(
        await admin.patch(
            f"/v1/webhooks/{created['id']}",
            json={"event_types": ["follow_up.cancelled"], "description": "after"},
        )
    )

    assert changed["event_types"] == ["follow_up.cancelled"]
    assert changed["description"] == "after"
    assert changed["url"] == created["url"]
    assert changed["enabled"] is True


async def test_patch_description_null_clears_it(admin: Caller) -> None:
    created = await subscribe(admin, description="CRM sync")

    cleared = ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"description": None}))

    assert cleared["description"] is None
    assert (await webhook(admin, created["id"]))["description"] is None


async def test_disabling_is_manual(connection: AsyncConnection, admin: Caller) -> None:
    created = await subscribe(admin)

    disabled = ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": False}))

    assert disabled["enabled"] is False
    assert disabled["disabled_reason"] == "manual"
    assert await webhook(admin, created["id"]) == disabled
    row = await endpoint_row(connection, created["id"])
    assert (row.enabled, row.disabled_reason) == (False, "manual")


async def test_enabling_clears_the_reason_and_the_failing_streak(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)
    await execute(
        connection,
        "UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'failing', "
        "failing_since = now() - interval '5 days' WHERE id = :id",
        id=uuid.UUID(created["id"]),
    )
    failing = await webhook(admin, created["id"])
    assert failing["disabled_reason"] == "failing"
    assert failing["failing_since"] is not None

    enabled = ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": True}))

    assert enabled["enabled"] is True
    assert enabled["disabled_reason"] is None
    assert enabled["failing_since"] is None
    assert await webhook(admin, created["id"]) == enabled
    row = await endpoint_row(connection, created["id"])
    assert (row.enabled, row.disabled_reason, row.failing_since) == (True, None, None)


async def test_enabling_an_endpoint_disabled_as_gone(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)
    await execute(
        connection,
        "UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'gone' WHERE id = :id",
        id=uuid.UUID(created["id"]),
    )

    still = ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": False}))
    enabled = ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": True}))

    assert (still["enabled"], still["disabled_reason"]) == (False, "gone")
    assert (enabled["enabled"], enabled["disabled_reason"]) == (True, None)


async def test_empty_patch_changes_nothing(connection: AsyncConnection, admin: Caller) -> None:
    created = await subscribe(admin, description="CRM sync")
    before_row = await endpoint_row(connection, created["id"])
    before = await webhook(admin, created["id"])

    response = await admin.patch(f"/v1/webhooks/{created['id']}", json={})

    assert ok(response) == before
    assert await webhook(admin, created["id"]) == before
    assert await endpoint_row(connection, created["id"]) == before_row


async def test_patch_with_the_same_values_changes_nothing(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin, description="CRM sync")
    before_row = await endpoint_row(connection, created["id"])
    same = {
        "url": created["url"],
        "event_types": created["event_types"],
        "description": created["description"],
        "enabled": True,
    }

    response = await admin.patch(f"/v1/webhooks/{created['id']}", json=same)

    assert ok(response)["updated_at"] == created["updated_at"]
    assert await endpoint_row(connection, created["id"]) == before_row


BAD_PATCHES: list[tuple[str, Any, tuple[str, ...]]] = [
    ("url null", {"url": None}, ("body", "url")),
    ("url not http(s)", {"url": "ftp://93.184.215.14/"}, ("body", "url")),
    ("url too long", {"url": PUBLIC + "/" + "a" * 2000}, ("body", "url")),
    ("url with a space", {"url": "https://93.184.215.14/a b"}, ("body", "url")),
    ("event_types null", {"event_types": None}, ("body", "event_types")),
    ("event_types empty", {"event_types": []}, ("body", "event_types")),
    ("event_types unknown", {"event_types": ["invitation.maybe"]}, ("body", "event_types")),
    ("event_types ping", {"event_types": ["webhook.ping"]}, ("body", "event_types")),
    ("event_types repeated", {"event_types": ["follow_up.created"] * 2}, ("body",)),
    ("enabled null", {"enabled": None}, ("body", "enabled")),
    ("enabled a string", {"enabled": "false"}, ("body", "enabled")),
    ("enabled a number", {"enabled": 0}, ("body", "enabled")),
    ("description multi-line", {"description": "a\nb"}, ("body", "description")),
    ("secret", {"secret": "whsec_AAAA"}, ("body", "secret")),
    ("disabled_reason", {"disabled_reason": None}, ("body", "disabled_reason")),
    ("failing_since", {"failing_since": None}, ("body", "failing_since")),
    ("array body", [{"enabled": False}], ("body",)),
]


@pytest.mark.parametrize(
    ("body", "loc"), [(b, loc) for _, b, loc in BAD_PATCHES], ids=[n for n, _, _ in BAD_PATCHES]
)
async def test_bad_patches_are_422_and_change_nothing(
    connection: AsyncConnection, admin: Caller, body: Any, loc: Any
) -> None:
    created = await subscribe(admin)
    before = await endpoint_row(connection, created["id"])

    response = await admin.patch(f"/v1/webhooks/{created['id']}", json=body)

    assert_invalid(response, *loc)
    assert await endpoint_row(connection, created["id"]) == before


# Delete -------------------------------------------------------------------------------------


async def test_delete_removes_the_webhook_and_its_deliveries(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    doomed = await subscribe(admin)
    kept = await subscribe(admin)
    await answered(admin)
    ok(await admin.post(f"/v1/webhooks/{doomed['id']}/ping"), 202)
    (delivery, _) = await delivery_rows(connection, endpoint_id=doomed["id"])
    await connection.execute(
        insert(ATTEMPTS),
        [
            {
                "delivery_id": delivery.id,
                "attempt": 1,
                "started_at": datetime.now(UTC),
                "duration_ms": 12,
                "status_code": 500,
                "outcome": "http_error",
                "error": "HTTP 500",
            }
        ],
    )
    events_before = await event_rows(connection, tenant)
    kept_before = await delivery_rows(connection, endpoint_id=kept["id"])

    response = await admin.delete(f"/v1/webhooks/{doomed['id']}")

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_problem(await admin.get(f"/v1/webhooks/{doomed['id']}"), 404, "not_found")
    assert_problem(await admin.delete(f"/v1/webhooks/{doomed['id']}"), 404, "not_found")
    assert_problem(await admin.get(f"/v1/webhooks/{doomed['id']}/deliveries"), 404, "not_found")
    assert [w["id"] for w in ok(await admin.get("/v1/webhooks"))["items"]] == [kept["id"]]
    assert await delivery_rows(connection, endpoint_id=doomed["id"]) == []
    attempts = await connection.scalar(
        select(func.count()).select_from(ATTEMPTS).where(ATTEMPTS.c.delivery_id == delivery.id)
    )
    assert attempts == 0
    # The events stay (the feed still lists them), and so do other endpoints' deliveries.
    assert await event_rows(connection, tenant) == events_before
    assert await delivery_rows(connection, endpoint_id=kept["id"]) == kept_before
    assert len(kept_before) == 1


# Rotate the secret --------------------------------------------------------------------------


async def test_rotation_keeps_the_old_secret_for_24_hours(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)

    rotated = ok(await admin.post(f"/v1/webhooks/{created['id']}/rotate-secret"))

    assert set(rotated) == {"secret", "previous_secret_expires_at"}
    assert rotated["secret"].startswith("whsec_")
    assert len(base64.b64decode(rotated["secret"].removeprefix("whsec_"))) == 32
    assert rotated["secret"] != created["secret"]
    expires = at(rotated["previous_secret_expires_at"])
    assert close_to(expires, datetime.now(UTC) + timedelta(hours=24))
    shown = await webhook(admin, created["id"])
    assert at(shown["previous_secret_expires_at"]) == expires
    assert "secret" not in shown
    row = await endpoint_row(connection, created["id"])
    assert row.secret == rotated["secret"]
    assert row.previous_secret == created["secret"]
    assert row.previous_secret_expires_at == expires


async def test_second_rotation_keeps_the_secret_before_it(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)

    first = ok(await admin.post(f"/v1/webhooks/{created['id']}/rotate-secret"))
    second = ok(await admin.post(f"/v1/webhooks/{created['id']}/rotate-secret"))

    assert len({created["secret"], first["secret"], second["secret"]}) == 3
    row = await endpoint_row(connection, created["id"])
    assert (row.secret, row.previous_secret) == (second["secret"], first["secret"])
    assert at(second["previous_secret_expires_at"]) >= at(first["previous_secret_expires_at"])


async def test_rotate_unknown_webhook_is_404(admin: Caller) -> None:
    response = await admin.post(f"/v1/webhooks/{uuid.uuid4()}/rotate-secret")

    assert_problem(response, 404, "not_found")


# Ping ---------------------------------------------------------------------------------------


async def test_ping_queues_one_delivery_for_that_endpoint_only(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    pinged = await subscribe(admin)
    other = await subscribe(admin, ["invitation.accepted", "follow_up.created"])

    response = await admin.post(f"/v1/webhooks/{pinged['id']}/ping")

    body = ok(response, 202)
    assert set(body) == {"event_id"}
    event_id = uuid.UUID(body["event_id"])
    (event,) = [e for e in await event_rows(connection, tenant) if e.id == event_id]
    assert event.type == "webhook.ping"
    assert event.follow_up_id is None
    assert event.data == {"tenant_id": str(tenant), "endpoint_id": pinged["id"]}
    (row,) = await delivery_rows(connection, event_id=str(event_id))
    assert row.endpoint_id == uuid.UUID(pinged["id"])
    assert row.tenant_id == tenant
    assert row.status == "pending"
    assert await delivery_rows(connection, endpoint_id=other["id"]) == []
    (logged,) = await deliveries(admin, pinged["id"])
    assert logged["event_id"] == str(event_id)
    assert logged["event_type"] == "webhook.ping"
    assert await deliveries(admin, other["id"]) == []
    # Pings are not events of the feed.
    assert ok(await admin.get("/v1/events"))["items"] == []


async def test_ping_on_a_disabled_webhook_is_409(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    created = await subscribe(admin)
    ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": False}))

    response = await admin.post(f"/v1/webhooks/{created['id']}/ping")

    assert_problem(response, 409, "webhook_disabled")
    assert await event_rows(connection, tenant) == []
    assert await delivery_rows(connection, endpoint_id=created["id"]) == []


async def test_ping_unknown_webhook_is_404(admin: Caller) -> None:
    assert_problem(await admin.post(f"/v1/webhooks/{uuid.uuid4()}/ping"), 404, "not_found")


# The delivery log ---------------------------------------------------------------------------


async def test_an_answer_is_queued_for_subscribers_only(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, other_admin: Caller
) -> None:
    subscribed = await subscribe(admin, ["invitation.accepted"])
    unsubscribed = await subscribe(admin, ["invitation.declined", "follow_up.cancelled"])
    disabled = await subscribe(admin, ["invitation.accepted"])
    ok(await admin.patch(f"/v1/webhooks/{disabled['id']}", json={"enabled": False}))
    foreign = await subscribe(other_admin, ["invitation.accepted"])

    follow_up_id, participant_id, _ = await answered(admin, "accepted")

    (event,) = [e for e in await event_rows(connection, tenant) if e.type.startswith("invitation")]
    (delivery,) = await deliveries(admin, subscribed["id"])
    assert set(delivery) == DELIVERY_FIELDS
    assert delivery["event_id"] == str(event.id)
    assert delivery["event_type"] == "invitation.accepted"
    assert delivery["status"] == "pending"
    assert delivery["attempts"] == 0
    assert delivery["next_attempt_at"] is not None
    assert delivery["delivered_at"] is None
    assert delivery["last_status_code"] is None
    assert delivery["last_error"] is None
    assert delivery["attempt_log"] == []
    at(delivery["created_at"])
    (row,) = await delivery_rows(connection, endpoint_id=subscribed["id"])
    assert row.follow_up_id == uuid.UUID(follow_up_id)
    assert row.seq == event.seq
    assert event.data["participant_id"] == participant_id

    assert await deliveries(admin, unsubscribed["id"]) == []
    assert await deliveries(admin, disabled["id"]) == []
    assert await deliveries(other_admin, foreign["id"]) == []
    assert await delivery_rows(connection, endpoint_id=foreign["id"]) == []


async def test_each_subscribed_change_is_queued(admin: Caller) -> None:
    created = await subscribe(admin, ["follow_up.created", "invitation.accepted"])

    await answered(admin, "accepted")

    logged = await deliveries(admin, created["id"])
    assert [d["event_type"] for d in logged] == ["invitation.accepted", "follow_up.created"]


async def test_delivery_log_shows_attempts_and_outcomes(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)
    event_id = ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)["event_id"]
    (row,) = await delivery_rows(connection, event_id=event_id)
    started = datetime.now(UTC) - timedelta(minutes=5)
    await connection.execute(
        insert(ATTEMPTS),
        [
            {
                "delivery_id": row.id,
                "attempt": 2,
                "started_at": started + timedelta(minutes=1),
                "duration_ms": 5000,
                "status_code": None,
                "outcome": "timeout",
                "error": "no complete answer in time",
                "response_body": None,
            },
            {
                "delivery_id": row.id,
                "attempt": 1,
                "started_at": started,
                "duration_ms": 31,
                "status_code": 503,
                "outcome": "http_error",
                "error": "HTTP 503",
                "response_body": "down for maintenance",
            },
        ],
    )
    await execute(
        connection,
        "UPDATE webhook_deliveries SET status = 'failed', attempts = 2, "
        "last_status_code = 503, last_error = 'no complete answer in time' WHERE id = :id",
        id=row.id,
    )

    (delivery,) = await deliveries(admin, created["id"])

    assert delivery["status"] == "failed"
    assert delivery["attempts"] == 2
    assert delivery["next_attempt_at"] is None
    assert delivery["last_status_code"] == 503
    assert delivery["last_error"] == "no complete answer in time"
    first, second = delivery["attempt_log"]
    assert first == {
        "attempt": 1,
        "started_at": first["started_at"],
        "duration_ms": 31,
        "status_code": 503,
        "outcome": "http_error",
        "error": "HTTP 503",
        "response_body": "down for maintenance",
    }
    assert at(first["started_at"]) == started
    assert (second["attempt"], second["outcome"], second["status_code"]) == (2, "timeout", None)


async def test_delivery_log_status_filter(connection: AsyncConnection, admin: Caller) -> None:
    created = await subscribe(admin)
    pings = [
        ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)["event_id"]
        for _ in range(4)
    ]
    for event_id, status in zip(pings, ["succeeded", "failed", "delivering"], strict=False):
        await execute(
            connection,
            "UPDATE webhook_deliveries SET status = :status WHERE event_id = :event_id",
            status=status,
            event_id=uuid.UUID(event_id),
        )
    await execute(
        connection,
        "UPDATE webhook_deliveries SET delivered_at = now() WHERE event_id = :event_id",
        event_id=uuid.UUID(pings[0]),
    )

    by_status = {
        status: [d["event_id"] for d in await deliveries(admin, created["id"], status=status)]
        for status in ("pending", "delivering", "succeeded", "failed")
    }

    assert by_status == {
        "pending": [pings[3]],
        "delivering": [pings[2]],
        "succeeded": [pings[0]],
        "failed": [pings[1]],
    }
    (succeeded,) = await deliveries(admin, created["id"], status="succeeded")
    assert succeeded["delivered_at"] is not None
    assert succeeded["next_attempt_at"] is None
    assert len(await deliveries(admin, created["id"])) == 4
    assert_invalid(
        await admin.get(f"/v1/webhooks/{created['id']}/deliveries", params={"status": "lost"}),
        "query",
        "status",
    )


async def test_delivery_log_pages_newest_first(admin: Caller) -> None:
    created = await subscribe(admin)
    pings = [
        ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)["event_id"]
        for _ in range(5)
    ]
    path = f"/v1/webhooks/{created['id']}/deliveries"

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(10):  # bounded: a cursor that never ends must fail, not hang
        params: Body = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(await admin.get(path, params=params))
        seen.extend(d["event_id"] for d in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(cursor) == 32
        assert len(page["items"]) == 2
    else:
        pytest.fail("the pages never ended")

    assert seen == pings[::-1]
    assert_invalid(await admin.get(path, params={"cursor": "A" * 22}), "query", "cursor")
    assert_invalid(await admin.get(path, params={"limit": 0}), "query", "limit")


async def test_delivery_log_pages_with_status_filter(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)
    pings = [
        ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)["event_id"]
        for _ in range(5)
    ]
    await execute(
        connection,
        "UPDATE webhook_deliveries SET status = 'failed' WHERE event_id = :event_id",
        event_id=uuid.UUID(pings[2]),
    )
    path = f"/v1/webhooks/{created['id']}/deliveries"

    first = ok(await admin.get(path, params={"limit": 2, "status": "pending"}))
    second = ok(
        await admin.get(
            path, params={"limit": 2, "status": "pending", "cursor": first["next_cursor"]}
        )
    )

    assert [d["event_id"] for d in first["items"]] == [pings[4], pings[3]]
    assert [d["event_id"] for d in second["items"]] == [pings[1], pings[0]]
    assert second["next_cursor"] is None


# Recover ------------------------------------------------------------------------------------


def since(delta: timedelta) -> str:
    return (datetime.now(UTC) - delta).isoformat()


@pytest.mark.parametrize(
    "when",
    [timedelta(minutes=-5), timedelta(days=-1), timedelta(days=32), timedelta(days=365)],
    ids=["in five minutes", "tomorrow", "32 days ago", "a year ago"],
)
async def test_recover_window_is_the_last_31_days(
    connection: AsyncConnection, admin: Caller, when: timedelta
) -> None:
    created = await subscribe(admin)
    before = await endpoint_row(connection, created["id"])

    response = await admin.post(
        f"/v1/webhooks/{created['id']}/recover", json={"since": since(when)}
    )

    problem = assert_problem(response, 422, "invalid_recovery_window")
    assert_errors_at(problem, "body", "since")
    assert await endpoint_row(connection, created["id"]) == before


@pytest.mark.parametrize(
    "body",
    [{}, {"since": None}, {"since": "2026-11-20T00:00:00"}, {"since": "yesterday"}, None],
    ids=["no since", "null", "naive", "not a time", "no body"],
)
async def test_recover_needs_an_aware_since(admin: Caller, body: Any) -> None:
    created = await subscribe(admin)

    response = await admin.post(f"/v1/webhooks/{created['id']}/recover", json=body)

    assert_invalid(response, "body")


async def test_recover_nothing_to_do(admin: Caller) -> None:
    created = await subscribe(admin)

    response = await admin.post(
        f"/v1/webhooks/{created['id']}/recover", json={"since": since(timedelta(days=30))}
    )

    assert ok(response, 202) == {"recovered": 0}


async def test_recover_requeues_failed_deliveries(
    connection: AsyncConnection, admin: Caller
) -> None:
    created = await subscribe(admin)
    await answered(admin, "accepted")
    (row,) = await delivery_rows(connection, endpoint_id=created["id"])
    await execute(
        connection,
        "UPDATE webhook_deliveries SET status = 'failed', attempts = 8, "
        "next_attempt_at = now() - interval '1 day', last_status_code = 500, "
        "last_error = 'HTTP 500' WHERE id = :id",
        id=row.id,
    )

    response = await admin.post(
        f"/v1/webhooks/{created['id']}/recover", json={"since": since(timedelta(hours=1))}
    )

    assert ok(response, 202)["recovered"] >= 1
    (requeued,) = await delivery_rows(connection, endpoint_id=created["id"])
    assert requeued.id == row.id
    assert requeued.status == "pending"
    assert requeued.attempts == 0
    assert close_to(requeued.next_attempt_at, datetime.now(UTC))
    (logged,) = await deliveries(admin, created["id"])
    assert (logged["status"], logged["attempts"]) == ("pending", 0)


async def test_recover_leaves_failures_older_than_since(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    created = await subscribe(admin)
    await answered(admin, "accepted")
    (row,) = await delivery_rows(connection, endpoint_id=created["id"])
    await execute(
        connection,
        "UPDATE webhook_deliveries SET status = 'failed', attempts = 8 WHERE id = :id",
        id=row.id,
    )
    await execute(
        connection,
        "UPDATE events SET created_at = now() - interval '3 days' WHERE id = :id",
        id=row.event_id,
    )

    response = await admin.post(
        f"/v1/webhooks/{created['id']}/recover", json={"since": since(timedelta(days=1))}
    )

    assert ok(response, 202) == {"recovered": 0}
    (kept,) = await delivery_rows(connection, endpoint_id=created["id"])
    assert (kept.status, kept.attempts) == ("failed", 8)


async def test_recover_leaves_other_endpoints_alone(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    recovered = await subscribe(admin)
    other = await subscribe(admin)
    await answered(admin, "accepted")
    await execute(
        connection,
        "UPDATE webhook_deliveries SET status = 'failed', attempts = 8 WHERE tenant_id = :tenant",
        tenant=tenant,
    )

    response = await admin.post(
        f"/v1/webhooks/{recovered['id']}/recover", json={"since": since(timedelta(hours=1))}
    )

    assert ok(response, 202) == {"recovered": 1}
    (mine,) = await delivery_rows(connection, endpoint_id=recovered["id"])
    (theirs,) = await delivery_rows(connection, endpoint_id=other["id"])
    assert (mine.status, mine.attempts) == ("pending", 0)
    assert (theirs.status, theirs.attempts) == ("failed", 8)


async def test_recover_queues_what_a_disabled_endpoint_missed(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    invitee = await admin.new_member(name="Ivan Invitee")
    _, participant_id = await invite(organizer, invitee)
    await respond(invitee, participant_id, "accepted")  # before the endpoint existed
    created = await subscribe(admin, ["invitation.accepted", "invitation.declined"])
    # One transaction holds the whole test, so now() is one instant: spread the times out.
    (early,) = [e for e in await event_rows(connection, tenant) if e.type == "invitation.accepted"]
    await execute(
        connection,
        "UPDATE events SET created_at = now() - interval '3 hours' WHERE id = :id",
        id=early.id,
    )
    await execute(
        connection,
        "UPDATE webhook_endpoints SET created_at = now() - interval '2 hours' WHERE id = :id",
        id=uuid.UUID(created["id"]),
    )
    ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": False}))
    await respond(invitee, participant_id, "declined")  # while disabled
    await respond(invitee, participant_id, "tentative")  # a type it does not want
    assert await delivery_rows(connection, endpoint_id=created["id"]) == []

    response = await admin.post(
        f"/v1/webhooks/{created['id']}/recover", json={"since": since(timedelta(days=1))}
    )

    assert ok(response, 202) == {"recovered": 1}
    (missed,) = await delivery_rows(connection, endpoint_id=created["id"])
    (declined,) = [e for e in await event_rows(connection, tenant) if e.type.endswith("declined")]
    assert missed.event_id == declined.id
    assert missed.status == "pending"
    assert (missed.follow_up_id, missed.seq) == (declined.follow_up_id, declined.seq)
    (logged,) = await deliveries(admin, created["id"])
    assert logged["event_type"] == "invitation.declined"
    # Recovering again finds nothing new.
    again = await admin.post(
        f"/v1/webhooks/{created['id']}/recover", json={"since": since(timedelta(days=1))}
    )
    assert ok(again, 202) == {"recovered": 0}


async def test_recover_since_bounds_what_was_missed(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller
) -> None:
    created = await subscribe(admin, ["invitation.accepted", "invitation.declined"])
    await execute(
        connection,
        "UPDATE webhook_endpoints SET created_at = now() - interval '10 days' WHERE id = :id",
        id=uuid.UUID(created["id"]),
    )
    ok(await admin.patch(f"/v1/webhooks/{created['id']}", json={"enabled": False}))
    _, participant_id, invitee = await answered(admin, "accepted")
    await respond(invitee, participant_id, "declined")
    (accepted,) = [e for e in await event_rows(connection, tenant) if e.type.endswith("accepted")]
    await execute(
        connection,
        "UPDATE events SET created_at = now() - interval '5 days' WHERE id = :id",
        id=accepted.id,
    )

    response = await admin.post(
        f"/v1/webhooks/{created['id']}/recover", json={"since": since(timedelta(days=2))}
    )

    assert ok(response, 202) == {"recovered": 1}
    assert [d["event_type"] for d in await deliveries(admin, created["id"])] == [
        "invitation.declined"
    ]


async def test_recover_unknown_webhook_is_404(admin: Caller) -> None:
    response = await admin.post(
        f"/v1/webhooks/{uuid.uuid4()}/recover", json={"since": since(timedelta(hours=1))}
    )

    assert_problem(response, 404, "not_found")


# The event feed -----------------------------------------------------------------------------


async def test_feed_lists_the_tenants_events_oldest_first(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, other_admin: Caller
) -> None:
    created = await subscribe(admin)
    follow_up_id, participant_id, invitee = await answered(admin, "accepted")
    ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)
    await respond(invitee, participant_id, "declined")
    await answered(other_admin, "tentative")

    page = await feed(admin)

    assert page["next_cursor"] is None
    items = page["items"]
    assert [e["type"] for e in items] == [
        "follow_up.created",
        "invitation.accepted",
        "invitation.declined",
    ]
    rows = [e for e in await event_rows(connection, tenant) if e.type != "webhook.ping"]
    assert [e["id"] for e in items] == [str(e.id) for e in rows]
    for item, row in zip(items, rows, strict=True):
        assert set(item) == EVENT_FIELDS
        assert item["follow_up_id"] == follow_up_id
        assert item["seq"] == row.seq
        assert item["data"]["seq"] == item["seq"]
        assert item["data"] == row.data
        assert item["data"]["tenant_id"] == str(tenant)
        assert at(item["timestamp"]) == row.created_at
    assert [e["seq"] for e in items] == sorted(e["seq"] for e in items)
    assert items[1]["data"]["participant_id"] == participant_id
    assert items[2]["data"]["previous_status"] == "accepted"


async def test_feed_never_shows_another_tenants_events(admin: Caller, other_admin: Caller) -> None:
    await answered(other_admin, "accepted")
    theirs = (await feed(other_admin))["items"]

    assert (await feed(admin))["items"] == []
    assert len(theirs) == 2
    response = await admin.get("/v1/events", params={"after": theirs[0]["id"]})
    assert_problem(response, 404, "not_found")


async def test_feed_type_filter(admin: Caller) -> None:
    _, participant_id, invitee = await answered(admin, "accepted")
    await respond(invitee, participant_id, "declined")
    await respond(invitee, participant_id, "accepted")

    accepted = (await feed(admin, type="invitation.accepted"))["items"]
    created = (await feed(admin, type="follow_up.created"))["items"]
    cancelled = (await feed(admin, type="follow_up.cancelled"))["items"]

    assert [e["type"] for e in accepted] == ["invitation.accepted"] * 2
    assert accepted[0]["seq"] < accepted[1]["seq"]
    assert [e["type"] for e in created] == ["follow_up.created"]
    assert cancelled == []


async def test_feed_pages_with_after(admin: Caller) -> None:
    _, participant_id, invitee = await answered(admin, "accepted")
    for status in ("declined", "tentative", "accepted"):
        await respond(invitee, participant_id, status)
    everything = (await feed(admin))["items"]
    assert len(everything) == 5

    seen: list[Body] = []
    after: str | None = None
    for _ in range(10):  # bounded: a cursor that never ends must fail, not hang
        page = await feed(admin, limit=2, **({"after": after} if after else {}))
        seen.extend(page["items"])
        after = page["next_cursor"]
        if after is None:
            break
        assert after == page["items"][-1]["id"]
        assert len(page["items"]) == 2
    else:
        pytest.fail("the pages never ended")

    assert seen == everything
    # after the last event: nothing more, and no cursor.
    assert await feed(admin, after=everything[-1]["id"]) == {"items": [], "next_cursor": None}
    # a full last page has no cursor either
    assert (await feed(admin, limit=5))["next_cursor"] is None
    # after combines with type
    accepted = await feed(admin, type="invitation.accepted", after=everything[1]["id"])
    assert [e["id"] for e in accepted["items"]] == [everything[4]["id"]]


async def test_feed_after_a_ping_event(admin: Caller) -> None:
    created = await subscribe(admin)
    ping = ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)["event_id"]
    await answered(admin, "accepted")

    page = await feed(admin, after=ping)

    assert [e["type"] for e in page["items"]] == ["follow_up.created", "invitation.accepted"]


@pytest.mark.parametrize(
    ("params", "status", "loc"),
    [
        ({"after": str(uuid.uuid4())}, 404, None),
        ({"after": "not-a-uuid"}, 422, ("query", "after")),
        ({"type": "webhook.ping"}, 422, ("query", "type")),
        ({"type": "invitation.maybe"}, 422, ("query", "type")),
        ({"limit": 0}, 422, ("query", "limit")),
        ({"limit": 201}, 422, ("query", "limit")),
        ({"cursor": "A" * 22}, 422, ("query", "cursor")),
    ],
    ids=[
        "unknown after",
        "after not a uuid",
        "type ping",
        "unknown type",
        "limit 0",
        "limit 201",
        "cursor is not a parameter",
    ],
)
async def test_feed_refuses_bad_parameters(
    admin: Caller, params: Body, status: int, loc: tuple[str, ...] | None
) -> None:
    await answered(admin, "accepted")

    response = await admin.get("/v1/events", params=params)

    if loc is None:
        assert_problem(response, status, "not_found")
    else:
        assert_invalid(response, *loc)


# Concurrency: the limit holds when registrations race ---------------------------------------


@pytest.fixture(scope="module")
def committed_url(make_database: Callable[..., str]) -> str:
    return make_database()


async def test_limit_holds_against_a_concurrent_registration(
    committed_url: str, tmp_path: Path
) -> None:
    """Two registrations at 49 endpoints: only one may become the 50th.

    One runs through the service in a transaction held open; the other is an HTTP request.
    If the limit serialises registrations, the request waits for the open transaction (a lock
    wait the database reports) and then sees 50; if it does not, it commits a 51st.
    """
    tenant = uuid.uuid4()
    principal = Principal(tenant, "provisioning", frozenset({ADMIN_SCOPE}))
    body = WebhookCreate.model_validate({"url": PUBLIC, "event_types": RESPONSES})
    async with committed_app(committed_url, tmp_path) as committed:
        engine = committed.database.engine
        assert engine is not None
        async with engine.begin() as setup:
            await insert_endpoints(setup, tenant, 49)
        async with committed.client() as client:
            admin = Caller(client, tenant, "provisioning", admin=True)
            async with committed.database.sessionmaker() as held:
                await service.create(held, principal, body, AddressPolicy(False, []))
                racing = asyncio.create_task(
                    admin.post("/v1/webhooks", json={"url": PUBLIC, "event_types": RESPONSES})
                )
                waiting = asyncio.create_task(until_lock_waiters(committed, 1))
                await asyncio.wait({racing, waiting}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                    await waiting
                try:
                    await held.commit()
                except DBAPIError:
                    await held.rollback()
                response = await racing
        async with engine.connect() as check:
            count = await check.scalar(
                select(func.count()).select_from(ENDPOINTS).where(ENDPOINTS.c.tenant_id == tenant)
            )

    assert count == 50, f"{count} endpoints; the racing request answered {response.status_code}"
    assert response.status_code in (201, 422), response.text
