"""Signing secrets: shown once at creation, never again, and rotated with a 24-hour overlap."""

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.config import Settings
from app.kit.keyring import SealError, is_sealed, kid_of
from app.retention.job import purge
from app.retention.purges import PURGES
from app.webhooks import sealed_secrets
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_problem
from tests.fixtures.responses import ok
from tests.webhooks.management import (
    PUBLIC,
    WEBHOOK_FIELDS,
    at,
    close_to,
    endpoint_row,
    subscribe,
    webhook,
)
from tests.webhooks.support import RESPONSES

# Shown only at creation ---------------------------------------------------------------------


def opened(settings: Settings, row: Any, sealed: str) -> str:
    """A secret as the dispatcher reads it: opened with the app's keys, for its row."""
    return sealed_secrets.open_(settings.secret_keyring, row.tenant_id, row.id, sealed)


async def test_create_returns_the_secret_once(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, settings: Settings
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
    assert is_sealed(row.secret)
    assert secret not in row.secret
    assert opened(settings, row, row.secret) == secret
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


# Rotate the secret --------------------------------------------------------------------------


async def test_rotation_keeps_the_old_secret_for_24_hours(
    connection: AsyncConnection, admin: Caller, settings: Settings
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
    assert opened(settings, row, row.secret) == rotated["secret"]
    assert opened(settings, row, row.previous_secret) == created["secret"]
    assert rotated["secret"] not in row.secret
    assert created["secret"] not in row.previous_secret
    assert row.previous_secret_expires_at == expires


async def test_second_rotation_keeps_the_secret_before_it(
    connection: AsyncConnection, admin: Caller, settings: Settings
) -> None:
    created = await subscribe(admin)

    first = ok(await admin.post(f"/v1/webhooks/{created['id']}/rotate-secret"))
    second = ok(await admin.post(f"/v1/webhooks/{created['id']}/rotate-secret"))

    assert len({created["secret"], first["secret"], second["secret"]}) == 3
    row = await endpoint_row(connection, created["id"])
    assert opened(settings, row, row.secret) == second["secret"]
    assert opened(settings, row, row.previous_secret) == first["secret"]
    assert at(second["previous_secret_expires_at"]) >= at(first["previous_secret_expires_at"])


async def test_rotate_unknown_webhook_is_404(admin: Caller) -> None:
    response = await admin.post(f"/v1/webhooks/{uuid.uuid4()}/rotate-secret")

    assert_problem(response, 404, "not_found")


# At rest ------------------------------------------------------------------------------------


async def test_a_secret_copied_to_another_endpoint_does_not_open(
    connection: AsyncConnection, admin: Caller, other_admin: Caller, settings: Settings
) -> None:
    source = await endpoint_row(connection, (await subscribe(admin))["id"])
    for target in (await subscribe(admin), await subscribe(other_admin)):
        row = await endpoint_row(connection, target["id"])

        with pytest.raises(SealError):
            opened(settings, row, source.secret)


async def test_secrets_are_sealed_under_the_configured_key_id(
    connection: AsyncConnection, admin: Caller, settings: Settings
) -> None:
    # The fixture configures no keys: development's key, kept in the data dir.
    created = await subscribe(admin)

    row = await endpoint_row(connection, created["id"])

    assert kid_of(row.secret) == settings.secret_keyring.current == "local"
    assert (settings.data_dir / "secret-key").exists()


# The previous secret goes when its 24 hours do --------------------------------------------


async def test_the_previous_secret_is_cleared_when_its_24_hours_are_over(
    connection: AsyncConnection, admin: Caller, settings: Settings
) -> None:
    expired = await subscribe(admin)
    current = await subscribe(admin)
    for endpoint in (expired, current):
        ok(await admin.post(f"/v1/webhooks/{endpoint['id']}/rotate-secret"))
    await connection.execute(
        text(
            "UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second'"
            " WHERE id = :id"
        ),
        {"id": uuid.UUID(expired["id"])},
    )
    kept = await endpoint_row(connection, current["id"])

    removed = await purge(connection, settings, PURGES[:1])

    assert removed == {"expired previous secrets": 1}
    row = await endpoint_row(connection, expired["id"])
    assert (row.previous_secret, row.previous_secret_expires_at) == (None, None)
    assert (await webhook(admin, expired["id"]))["previous_secret_expires_at"] is None
    assert await endpoint_row(connection, current["id"]) == kept
    assert kept.previous_secret is not None
