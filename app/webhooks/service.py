"""Webhook rules: safe URLs, a bounded number per tenant, secrets shown once, rotation."""

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Principal
from app.db.base import new_id, utc_now
from app.kit.errors import Conflict, NotFound, ProblemError, ValidationFailed
from app.kit.keyring import Keyring
from app.kit.pagination import Paged, PageParams
from app.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.models.states import DeliveryStatus, EventType, WebhookDisabledReason
from app.webhooks import schemas, sealed_secrets
from app.webhooks.address_guard import AddressPolicy, RefusedAddress
from app.webhooks.events import record_ping
from app.webhooks.ping_limit import take_ping
from app.webhooks.repository import WebhookRepository
from app.webhooks.signing import generate_secret

MAX_WEBHOOKS_PER_TENANT = 50
ROTATION_OVERLAP = timedelta(hours=24)
RECOVERY_WINDOW = timedelta(days=31)


class WebhookUrlRefused(ValidationFailed):
    code = "webhook_url_refused"
    title = "Webhook URL refused"
    description = (
        "The URL is not https, carries credentials, does not resolve, or reaches a loopback, "
        "private, link-local, CGNAT, multicast or reserved address."
    )


class TooManyWebhooks(ValidationFailed):
    code = "too_many_webhooks"
    title = "Too many webhooks"
    description = f"A tenant has at most {MAX_WEBHOOKS_PER_TENANT} webhook endpoints."


class WebhookDisabled(Conflict):
    code = "webhook_disabled"
    title = "Webhook disabled"
    description = "The endpoint is disabled: enable it first."


class PingRateLimited(ProblemError):
    status = 429
    code = "ping_rate_limited"
    title = "Too many pings"
    description = (
        "This endpoint was pinged as often as its limit allows "
        "(`CONVENE_WEBHOOK_PINGS_PER_MINUTE`, 5 a minute by default); `Retry-After` says how "
        "many seconds until the next ping is allowed."
    )

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    def response_headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class InvalidRecoveryWindow(ValidationFailed):
    code = "invalid_recovery_window"
    title = "Invalid recovery window"
    description = "`since` must lie in the past, at most 31 days ago."


def _invalid_url(message: str) -> WebhookUrlRefused:
    return WebhookUrlRefused.at(("body", "url"), message, msg=message, type="webhook_url_refused")


async def _check_url(policy: AddressPolicy, url: str) -> None:
    try:
        await policy.check_url(url)
    except RefusedAddress as exc:
        raise _invalid_url(str(exc)) from exc


async def get(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID
) -> WebhookEndpoint:
    """The tenant's endpoint, or NotFound."""
    endpoint = await WebhookRepository(session, principal.tenant_id).get(endpoint_id)
    if endpoint is None:
        raise NotFound(f"webhook {endpoint_id} not found")
    return endpoint


async def create(
    session: AsyncSession,
    principal: Principal,
    body: schemas.WebhookCreate,
    policy: AddressPolicy,
    keyring: Keyring,
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; return it with its secret (the only time the secret is shown).

    The row holds the secret sealed, bound to the tenant and the endpoint's id.
    """
    repository = WebhookRepository(session, principal.tenant_id)
    await _check_url(policy, body.url)
    await repository.lock_tenant()
    if await repository.count() >= MAX_WEBHOOKS_PER_TENANT:
        raise TooManyWebhooks(f"the tenant already has {MAX_WEBHOOKS_PER_TENANT} webhooks")
    secret = generate_secret()
    endpoint_id = new_id()
    endpoint = WebhookEndpoint(
        id=endpoint_id,
        url=body.url,
        description=body.description,
        event_types=list(body.event_types),
        enabled=True,
        secret=sealed_secrets.seal(keyring, principal.tenant_id, endpoint_id, secret),
    )
    return await repository.add(endpoint), secret


async def list_(
    session: AsyncSession, principal: Principal, page: PageParams
) -> Paged[WebhookEndpoint]:
    """The tenant's endpoints, oldest first."""
    return await WebhookRepository(session, principal.tenant_id).page(page)


async def update(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: uuid.UUID,
    body: schemas.WebhookUpdate,
    policy: AddressPolicy,
) -> WebhookEndpoint:
    """Change the fields given. Enabling clears the failing streak; disabling is 'manual'."""
    endpoint = await get(session, principal, endpoint_id)
    changes: dict[str, Any] = body.model_dump()
    if "url" in changes and changes["url"] != endpoint.url:
        await _check_url(policy, changes["url"])
    if changes.get("enabled") is True and not endpoint.enabled:
        changes.update(disabled_reason=None, failing_since=None)
    elif changes.get("enabled") is False and endpoint.enabled:
        changes["disabled_reason"] = WebhookDisabledReason.MANUAL
    return await WebhookRepository(session, principal.tenant_id).update(endpoint, changes)


async def delete(session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID) -> None:
    """Mark the endpoint deleted; the retention job purges its delivery log in batches.

    Nothing more is queued or sent to it and the API no longer shows it; an attempt in flight
    still closes normally. One row is written, however long the log.
    """
    endpoint = await get(session, principal, endpoint_id)
    await WebhookRepository(session, principal.tenant_id).mark_deleted(endpoint)


async def rotate_secret(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, keyring: Keyring
) -> schemas.RotatedSecret:
    """A new secret; the current one keeps signing beside it for 24 hours.

    The current secret moves to `previous_secret` still sealed (it is bound to the endpoint,
    not to the column); the retention job clears it once its 24 hours are over.
    """
    repository = WebhookRepository(session, principal.tenant_id)
    endpoint = await repository.get_for_update(endpoint_id)
    if endpoint is None:
        raise NotFound(f"webhook {endpoint_id} not found")
    secret = generate_secret()
    expires = utc_now() + ROTATION_OVERLAP
    await repository.update(
        endpoint,
        {
            "secret": sealed_secrets.seal(keyring, principal.tenant_id, endpoint.id, secret),
            "previous_secret": endpoint.secret,
            "previous_secret_expires_at": expires,
        },
    )
    return schemas.RotatedSecret(secret=secret, previous_secret_expires_at=expires)


async def ping(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, per_minute: int
) -> schemas.Ping:
    """Queue a signed `webhook.ping` for this endpoint alone, at most `per_minute` a minute."""
    repository = WebhookRepository(session, principal.tenant_id)
    # Row-locked: concurrent pings of one endpoint, from any API process, take turns.
    endpoint = await repository.get_for_update(endpoint_id)
    if endpoint is None:
        raise NotFound(f"webhook {endpoint_id} not found")
    if not endpoint.enabled:
        raise WebhookDisabled(f"webhook {endpoint_id} is disabled")
    turn = take_ping(endpoint.pings_refilled_at, utc_now(), per_minute)
    if turn.refilled_at is None:
        raise PingRateLimited(
            f"webhook {endpoint_id} was pinged {per_minute} times in the last minute; "
            f"try again in {turn.retry_after} s",
            turn.retry_after,
        )
    await repository.spend_ping(endpoint, turn.refilled_at)
    event = await record_ping(session, principal.tenant_id, endpoint.id)
    return schemas.Ping(event_id=event.id)


async def deliveries(
    session: AsyncSession,
    principal: Principal,
    endpoint_id: uuid.UUID,
    status: DeliveryStatus | None,
    page: PageParams,
) -> Paged[schemas.Delivery]:
    """The endpoint's deliveries, newest first, each with its attempts."""
    await get(session, principal, endpoint_id)
    rows, attempts = await WebhookRepository(session, principal.tenant_id).deliveries(
        endpoint_id, status, page
    )
    return Paged([_delivery(row, attempts[row[0].id]) for row in rows.items], rows.next_cursor)


def _delivery(row: Row[WebhookDelivery, str], attempts: list[WebhookAttempt]) -> schemas.Delivery:
    delivery, event_type = row
    pending = delivery.status == DeliveryStatus.PENDING
    return schemas.Delivery(
        id=delivery.id,
        event_id=delivery.event_id,
        event_type=event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        created_at=delivery.created_at,
        next_attempt_at=delivery.next_attempt_at if pending else None,
        delivered_at=delivery.delivered_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        attempt_log=[schemas.Attempt.model_validate(a) for a in attempts],
    )


async def recover(
    session: AsyncSession, principal: Principal, endpoint_id: uuid.UUID, since: datetime
) -> schemas.Recovered:
    """Queue again every failed delivery since `since`, and what was missed while disabled."""
    now = utc_now()
    if since > now or since < now - RECOVERY_WINDOW:
        raise InvalidRecoveryWindow.at(
            ("body", "since"),
            "since must be in the past and at most 31 days ago",
            msg="out of range",
            type="recovery_window",
        )
    await get(session, principal, endpoint_id)
    count = await WebhookRepository(session, principal.tenant_id).recover(endpoint_id, since)
    return schemas.Recovered(recovered=count)


async def events(
    session: AsyncSession,
    principal: Principal,
    after: uuid.UUID | None,
    event_type: EventType | None,
    limit: int,
) -> tuple[list[Event], uuid.UUID | None]:
    """The tenant's events after `after`, oldest first; and the `after` of the next page."""
    repository = WebhookRepository(session, principal.tenant_id)
    start = None
    if after is not None:
        start = await repository.event(after)
        if start is None:
            raise NotFound(f"event {after} not found")
    rows = list(await repository.events(start, event_type, limit + 1))
    if len(rows) <= limit:
        return rows, None
    return rows[:limit], rows[limit - 1].id
