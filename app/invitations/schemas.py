"""Request and response bodies of invitations."""

import uuid
from datetime import datetime

from pydantic import Field

from app.followups.schemas import Answer, Comment, FollowUpKind, FollowUpStatus, Participant
from app.kit.schemas import InputModel, OutputModel


class FollowUpSummary(OutputModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    kind: FollowUpKind
    status: FollowUpStatus
    start_at: datetime
    end_at: datetime
    time_zone: str
    all_day: bool
    location: str | None


class Invitation(Participant):
    follow_up: FollowUpSummary


class ResponseRequest(InputModel):
    status: Answer
    comment: Comment | None = Field(default=None, description="Shown to the organizer")

    model_config = {
        "json_schema_extra": {
            "examples": [{"status": "declined", "comment": "I am travelling that week"}]
        }
    }
