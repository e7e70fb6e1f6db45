"""Queries over notifications, always for one tenant."""

import uuid
from collections.abc import Iterable

from sqlalchemy import insert

from app.db.repository import TenantRepository
from app.models import Notification


class NotificationRepository(TenantRepository[Notification]):
    model = Notification
    noun = "notification"

    async def add_many(self, rows: Iterable[dict[str, object]]) -> None:
        """Insert notifications in one statement."""
        values = [{"tenant_id": self.tenant_id, **row} for row in rows]
        if values:
            await self.session.execute(insert(Notification), values)

    async def get_for(
        self, notification_id: uuid.UUID, associate_id: uuid.UUID
    ) -> Notification | None:
        """The associate's own notification, or None."""
        notification = await self.get(notification_id)
        if notification is None or notification.associate_id != associate_id:
            return None
        return notification
