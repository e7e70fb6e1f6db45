"""A webhook subscription once made: listing and reading it, changing, disabling and deleting it."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.retention.job import purge
from app.retention.purges import PURGES
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_errors_at, assert_invalid, assert_problem
from tests.fixtures.responses import ok
from tests.webhooks.management import (
    ATTEMPTS,
    ENDPOINTS,
    PUBLIC,
    PUBLIC_V6,
    WEBHOOK_FIELDS,
    Body,
    answered,
    at,
    delivery_rows,
    endpoint_row,
    event_rows,
    execute,
    loopback_settings,
    subscribe,
    webhook,
)

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


async def test_delete_removes_the_webhook_and_the_retention_job_its_deliveries(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, settings: Settings
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
                "tenant_id": tenant,
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
    assert_problem(await admin.post(f"/v1/webhooks/{doomed['id']}/ping"), 404, "not_found")
    assert_problem(await admin.post(f"/v1/webhooks/{doomed['id']}/rotate-secret"), 404, "not_found")
    assert [w["id"] for w in ok(await admin.get("/v1/webhooks"))["items"]] == [kept["id"]]
    # The request only marked it: the log waits for the retention job.
    row = await endpoint_row(connection, doomed["id"])
    assert row.deleted_at is not None
    assert row.enabled is False
    assert len(await delivery_rows(connection, endpoint_id=doomed["id"])) == 2

    await purge(connection, settings, PURGES[1:4])

    assert await delivery_rows(connection, endpoint_id=doomed["id"]) == []
    attempts = await connection.scalar(
        select(func.count()).select_from(ATTEMPTS).where(ATTEMPTS.c.delivery_id == delivery.id)
    )
    assert attempts == 0
    gone = await connection.scalar(
        select(func.count()).select_from(ENDPOINTS).where(ENDPOINTS.c.id == uuid.UUID(doomed["id"]))
    )
    assert gone == 0
    # The events stay (the feed still lists them), and so do other endpoints' deliveries.
    assert await event_rows(connection, tenant) == events_before
    assert await delivery_rows(connection, endpoint_id=kept["id"]) == kept_before
    assert len(kept_before) == 1
