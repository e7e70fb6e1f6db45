"""HTTP routes of the on-screen inbox."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from app.auth.dependencies import CurrentAssociate, NotAnAssociate
from app.db.session import SessionDep
from app.idempotency.route import IdempotentRoute
from app.kit.errors import NotFound
from app.kit.openapi import AUTHENTICATED, problems
from app.kit.pagination import Page, Paged, PageDep
from app.kit.zones import AnswerZone, in_zone
from app.models import Notification
from app.notifications import schemas, service

router = APIRouter(prefix="/v1", tags=["notifications"], route_class=IdempotentRoute)


@router.get(
    "/notifications",
    response_model=Page[schemas.Notification],
    responses=problems(*AUTHENTICATED, NotAnAssociate),
)
async def list_notifications(
    session: SessionDep,
    actor: CurrentAssociate,
    page: PageDep,
    zone: AnswerZone,
    unread: Annotated[bool | None, Query(description="true: unread only; false: read only")] = None,
) -> Paged[Any]:
    """The caller's notifications, newest first."""
    found = await service.inbox(session, actor.tenant_id, actor.associate_id, page, unread)
    return in_zone(found, zone, schemas.Notification)


@router.post(
    "/notifications/{notification_id}/read",
    response_model=schemas.Notification,
    responses=problems(*AUTHENTICATED, NotAnAssociate, NotFound),
)
async def mark_notification_read(
    notification_id: uuid.UUID, session: SessionDep, actor: CurrentAssociate
) -> Notification:
    """Mark one of the caller's notifications read (idempotent)."""
    return await service.mark_read(session, actor.tenant_id, actor.associate_id, notification_id)
