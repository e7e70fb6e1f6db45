"""HTTP routes of webhook subscriptions and the event feed (admin scope only)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status

from app.auth.dependencies import AdminPrincipal
from app.db.session import SessionDep
from app.idempotency.route import SealingIdempotentRoute
from app.kit.errors import NotFound
from app.kit.keyring import Keyring
from app.kit.openapi import ADMIN_WRITE, problems
from app.kit.pagination import Limit, Page, Paged, PageDep, TimedPageDep
from app.kit.zones import AnswerZone, in_zone
from app.models import WebhookEndpoint
from app.models.states import DeliveryStatus, EventType
from app.ratelimits.dependencies import RESPONSES as RATE_LIMITED
from app.webhooks import schemas, service
from app.webhooks.address_guard import AddressPolicy, address_policy

router = APIRouter(prefix="/v1", tags=["webhooks"], route_class=SealingIdempotentRoute)

ADMIN_ONE = (*ADMIN_WRITE, NotFound)
PING_RESPONSES = problems(*ADMIN_ONE, service.WebhookDisabled, service.PingRateLimited)
# Both 429s in one entry: the ping limit's, and the per-token and per-tenant limits' (whose
# RESPONSES the router's own would otherwise replace).
_limited = RATE_LIMITED[status.HTTP_429_TOO_MANY_REQUESTS]
PING_RESPONSES[status.HTTP_429_TOO_MANY_REQUESTS] = {
    **_limited,
    "description": PING_RESPONSES[status.HTTP_429_TOO_MANY_REQUESTS]["description"]
    + " / "
    + _limited["description"],
    "headers": {
        **_limited["headers"],
        "Retry-After": {
            "description": "Seconds until this endpoint may be pinged again, or the quota refills",
            "schema": {"type": "integer", "minimum": 1},
        },
    },
}


def _policy(request: Request) -> AddressPolicy:
    return address_policy(request.app.state.settings)


PolicyDep = Annotated[AddressPolicy, Depends(_policy)]


def _keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.settings.secret_keyring
    return keyring


KeyringDep = Annotated[Keyring, Depends(_keyring)]


@router.post(
    "/webhooks",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.WebhookWithSecret,
    responses=problems(*ADMIN_WRITE, service.WebhookUrlRefused, service.TooManyWebhooks),
)
async def create_webhook(
    body: schemas.WebhookCreate,
    session: SessionDep,
    principal: AdminPrincipal,
    policy: PolicyDep,
    keyring: KeyringDep,
) -> schemas.WebhookWithSecret:
    """Subscribe a URL to event types; the answer holds its signing secret, shown only once."""
    endpoint, secret = await service.create(session, principal, body, policy, keyring)
    return schemas.WebhookWithSecret.model_validate(
        {**schemas.Webhook.model_validate(endpoint).model_dump(), "secret": secret}
    )


@router.get("/webhooks", response_model=Page[schemas.Webhook], responses=problems(*ADMIN_WRITE))
async def list_webhooks(
    session: SessionDep, principal: AdminPrincipal, page: PageDep, zone: AnswerZone
) -> Paged[Any]:
    """The tenant's webhook endpoints, oldest first (secrets are never listed)."""
    return in_zone(await service.list_(session, principal, page), zone, schemas.Webhook)


@router.get(
    "/webhooks/{webhook_id}", response_model=schemas.Webhook, responses=problems(*ADMIN_ONE)
)
async def get_webhook(
    webhook_id: uuid.UUID, session: SessionDep, principal: AdminPrincipal, zone: AnswerZone
) -> Any:
    """One endpoint: its URL, event types, state and failing streak."""
    return in_zone(await service.get(session, principal, webhook_id), zone, schemas.Webhook)


@router.patch(
    "/webhooks/{webhook_id}",
    response_model=schemas.Webhook,
    responses=problems(*ADMIN_ONE, service.WebhookUrlRefused),
)
async def update_webhook(
    webhook_id: uuid.UUID,
    body: schemas.WebhookUpdate,
    session: SessionDep,
    principal: AdminPrincipal,
    policy: PolicyDep,
) -> WebhookEndpoint:
    """Change the URL, event types or description; `enabled` turns delivery off and on."""
    return await service.update(session, principal, webhook_id, body, policy)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*ADMIN_ONE),
)
async def delete_webhook(
    webhook_id: uuid.UUID, session: SessionDep, principal: AdminPrincipal
) -> None:
    """Delete the endpoint: nothing more is sent to it; its delivery log is purged soon after."""
    await service.delete(session, principal, webhook_id)


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response_model=schemas.RotatedSecret,
    responses=problems(*ADMIN_ONE),
)
async def rotate_webhook_secret(
    webhook_id: uuid.UUID, session: SessionDep, principal: AdminPrincipal, keyring: KeyringDep
) -> schemas.RotatedSecret:
    """Issue a new secret; for 24 hours deliveries carry signatures by the old and the new."""
    return await service.rotate_secret(session, principal, webhook_id, keyring)


@router.post(
    "/webhooks/{webhook_id}/ping",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.Ping,
    responses=PING_RESPONSES,
)
async def ping_webhook(
    webhook_id: uuid.UUID, request: Request, session: SessionDep, principal: AdminPrincipal
) -> schemas.Ping:
    """Queue a signed `webhook.ping` to this endpoint; follow it in the delivery log.

    At most `CONVENE_WEBHOOK_PINGS_PER_MINUTE` (5) a minute per endpoint; past that, 429 with
    `Retry-After`.
    """
    per_minute = request.app.state.settings.webhook_pings_per_minute
    return await service.ping(session, principal, webhook_id, per_minute)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=Page[schemas.Delivery],
    responses=problems(*ADMIN_ONE),
)
async def list_webhook_deliveries(
    webhook_id: uuid.UUID,
    session: SessionDep,
    principal: AdminPrincipal,
    page: TimedPageDep,
    zone: AnswerZone,
    status: Annotated[
        DeliveryStatus | None, Query(description="Only deliveries in this state")
    ] = None,
) -> Paged[schemas.Delivery]:
    """The endpoint's deliveries, newest first, each with every attempt's status and error."""
    return in_zone(await service.deliveries(session, principal, webhook_id, status, page), zone)


@router.post(
    "/webhooks/{webhook_id}/recover",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.Recovered,
    responses=problems(*ADMIN_ONE, service.InvalidRecoveryWindow),
)
async def recover_webhook(
    webhook_id: uuid.UUID,
    body: schemas.RecoverRequest,
    session: SessionDep,
    principal: AdminPrincipal,
) -> schemas.Recovered:
    """Send again every failed delivery since a time, and what was missed while disabled."""
    return await service.recover(session, principal, webhook_id, body.since)


@router.get(
    "/events",
    tags=["events"],
    response_model=Page[schemas.Event],
    responses=problems(*ADMIN_ONE),
)
async def list_events(
    session: SessionDep,
    principal: AdminPrincipal,
    zone: AnswerZone,
    limit: Limit = 50,
    after: Annotated[
        uuid.UUID | None,
        Query(description="The id of the last event you have; `next_cursor` of the page before"),
    ] = None,
    type: Annotated[EventType | None, Query(description="Only events of this type")] = None,
) -> Page[schemas.Event]:
    """Every event of the tenant, oldest first, for catching up on what webhooks carried."""
    events, next_after = await service.events(session, principal, after, type, limit)
    page: Page[schemas.Event] = Page(
        items=[schemas.Event.model_validate(event) for event in events],
        next_cursor=str(next_after) if next_after else None,
    )
    return in_zone(page, zone)
