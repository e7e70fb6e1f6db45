"""Who is told what: the on-screen notifications of a follow-up's changes."""

import uuid
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utc_now
from app.kit.errors import NotFound
from app.kit.pagination import Paged, PageParams
from app.models import FollowUp, Notification
from app.models.states import NotificationKind
from app.notifications.repository import NotificationRepository

_MESSAGES: dict[NotificationKind, str] = {
    NotificationKind.INVITED: "You are invited to {title}",
    NotificationKind.RESCHEDULED: "{title} has moved; please answer again",
    NotificationKind.CANCELLED: "{title} is cancelled",
    NotificationKind.RESPONDED: "{who} answered {status} to {title}",
    NotificationKind.ASSIGNED: "{title} is now yours",
    NotificationKind.REMOVED: "You were removed from {title}",
    NotificationKind.RESOURCE_TAKEN: (
        "{resource} is taken by another follow-up on {when}: {title} is booked there without it"
    ),
}


MAX_MESSAGE = 500
_TITLE = "\x00"


def message_parts(kind: NotificationKind, **details: str) -> tuple[str, str]:
    """The message of a kind with its details filled in: the text before and after the title.

    For statements that write the notification themselves, reading the title as they go.
    """
    before, _, after = _MESSAGES[kind].format(title=_TITLE, **details).partition(_TITLE)
    return before, after


# Who to tell, and the participant the notification is about (if any).
Recipient = tuple[uuid.UUID, uuid.UUID | None]


async def notify(
    session: AsyncSession,
    follow_up: FollowUp,
    kind: NotificationKind,
    recipients: Iterable[Recipient],
    *,
    actor: str | None,
    **details: str,
) -> None:
    """Put one notification in each recipient's inbox (never the actor's own)."""
    message = message_of(kind, follow_up.title, **details)
    await NotificationRepository(session, follow_up.tenant_id).add_many(
        {
            "associate_id": associate_id,
            "kind": kind,
            "follow_up_id": follow_up.id,
            "participant_id": participant_id,
            "actor_id": actor,
            "message": message,
        }
        for associate_id, participant_id in addressed(recipients, actor)
    )


def message_of(kind: NotificationKind, title: str, **details: str) -> str:
    """The message of a kind about the follow-up with this title, cut to its column's size."""
    before, after = message_parts(kind, **details)
    return (before + title + after)[:MAX_MESSAGE]


def addressed(recipients: Iterable[Recipient], actor: str | None) -> list[Recipient]:
    """Who is told: each recipient once, never the actor."""
    return [
        (associate_id, participant_id)
        for associate_id, participant_id in dict(recipients).items()
        if str(associate_id) != actor
    ]


async def inbox(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    associate_id: uuid.UUID,
    page: PageParams,
    unread: bool | None,
) -> Paged[Notification]:
    """The associate's notifications, newest first."""
    where = [Notification.associate_id == associate_id]
    if unread is not None:
        where.append(Notification.read_at.is_(None) if unread else Notification.read_at.isnot(None))
    return await NotificationRepository(session, tenant_id).page(page, *where, newest_first=True)


async def mark_read(
    session: AsyncSession, tenant_id: uuid.UUID, associate_id: uuid.UUID, notification_id: uuid.UUID
) -> Notification:
    """Mark the associate's notification read (idempotent: the first read time stays)."""
    repository = NotificationRepository(session, tenant_id)
    notification = await repository.get_for(notification_id, associate_id)
    if notification is None:
        raise NotFound(f"notification {notification_id} not found")
    if notification.read_at is None:
        await repository.update(notification, {"read_at": utc_now()})
    return notification
