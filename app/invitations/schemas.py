"""Request and response bodies of invitations."""

from pydantic import Field

from app.followups.schemas import Comment, FollowUpSummary, ParticipantFields
from app.kit.schemas import InputModel
from app.models.states import Answer


class Invitation(ParticipantFields):
    follow_up: FollowUpSummary


class ResponseRequest(InputModel):
    status: Answer
    comment: Comment | None = Field(
        default=None,
        description="For the organizer: shown to them and to you only; events and webhooks "
        "say only whether there is one (`has_comment`)",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [{"status": "declined", "comment": "I am travelling that week"}]
        }
    }
