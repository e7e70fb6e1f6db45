"""Response bodies of notifications."""

import uuid
from datetime import datetime

from pydantic import Field

from app.kit.schemas import OutputModel
from app.models.states import NotificationKind


class Notification(OutputModel):
    id: uuid.UUID
    kind: NotificationKind
    follow_up_id: uuid.UUID
    participant_id: uuid.UUID | None
    actor_id: str | None = Field(description="Who caused it (an associate id, or a service name)")
    message: str
    read_at: datetime | None
    created_at: datetime
