"""Request and response bodies of invitations."""

from datetime import datetime

from pydantic import Field

from app.followups.schemas import (
    Comment,
    FollowUpSummary,
    OccurrenceAnswer,
    Participant,
    ParticipantFields,
)
from app.kit.schemas import InputModel, Instant, OutputModel
from app.models.states import Answer


class NextOccurrence(OutputModel):
    """The occurrence of a series that is on now or comes next."""

    occurrence_start: datetime = Field(description="Its original start: its key")
    start_at: datetime
    end_at: datetime


class Invitation(ParticipantFields):
    follow_up: FollowUpSummary
    next_occurrence: NextOccurrence | None = Field(
        description="For a series: its first live occurrence that has not ended yet (a "
        "series is listed once); null for a single follow-up or a series that is over"
    )


class AnsweredInvitation(Participant):
    occurrence_answer: OccurrenceAnswer | None = Field(
        description="The answer to the one occurrence this request answered; null when it "
        "answered the whole follow-up"
    )


class ResponseRequest(InputModel):
    status: Answer
    comment: Comment | None = Field(
        default=None,
        description="For the organizer: shown to them and to you only; events and webhooks "
        "say only whether there is one (`has_comment`)",
    )
    occurrence: Instant | None = Field(
        default=None,
        description="Answer only this occurrence of a series (its original start, "
        "`occurrence_start` in the diary); the invitation's status for the others stays. "
        "Without it the answer is the whole series', and drops answers to single occurrences",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"status": "declined", "comment": "I am travelling that week"},
                {"status": "declined", "occurrence": "2026-12-14T09:00:00+01:00"},
            ]
        }
    }
