"""Subscribing a URL: the new webhook, the URLs, types and descriptions taken, the limit."""

import asyncio
import base64
import contextlib
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.principals import ADMIN_SCOPE, Principal
from app.config import Settings
from app.webhooks import service
from app.webhooks.address_guard import AddressPolicy
from app.webhooks.schemas import WebhookCreate
from tests.fixtures.committed import committed_app, until_lock_waiters
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_errors_at, assert_invalid, assert_problem
from tests.webhooks.management import (
    ENDPOINTS,
    PUBLIC,
    PUBLIC_V6,
    Body,
    endpoint_count,
    execute,
    loopback_settings,
    subscribe,
    webhook,
)
from tests.webhooks.support import RESPONSES

# Create -------------------------------------------------------------------------------------


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
    ("more than there are types", [*RESPONSES] * 6, ("body", "event_types")),
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
    created = await subscribe(admin, description=" " + "d" * 498 + " ")

    assert created["description"] == "d" * 498


async def test_description_over_500_characters_with_its_spaces_is_422(admin: Caller) -> None:
    # The document says maxLength 500 of what is sent; spaces are trimmed after the check.
    response = await admin.post(
        "/v1/webhooks",
        json={"url": PUBLIC, "event_types": RESPONSES, "description": " " + "d" * 500 + " "},
    )

    assert_problem(response, 422, "validation_failed")


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
                keyring = committed.app.state.settings.secret_keyring
                await service.create(held, principal, body, AddressPolicy(False, []), keyring)
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
