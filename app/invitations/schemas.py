"""Request and response bodies of invitations."""

from pydantic import Field

from app.followups.schemas import Comment, FollowUpSummary, ParticipantFields
from app.kit.schemas import InputModel
from app.models.states import Answer


class Invitation(ParticipantFields):
    follow_up: FollowUpSummary


class ResponseRequest(InputModel):
    status: Answer
    comment: Comment | None = Field(default=None, description="Shown to the organizer")

    model_config = {
        "json_schema_extra": {
            "examples": [{"status": "declined", "comment": "I am travelling that week"}]
        }
    }
