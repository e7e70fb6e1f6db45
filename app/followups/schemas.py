"""Request and response bodies of follow-ups and participants."""

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated

from pydantic import MISSING, Field, StrictBool

from app.kit.schemas import (
    TRIMMED,
    InputModel,
    Instant,
    Name,
    OutputModel,
    Stored,
    TimeZone,
    multi_line,
    single_line,
)
from app.models.states import (
    Answer,
    FollowUpKind,
    FollowUpStatus,
    InviteeRole,
    ParticipantKind,
    ParticipantRole,
    ParticipantStatus,
)

MAX_PARTICIPANTS = 500
MAX_SPAN = timedelta(days=31)


Location = Annotated[str, single_line(200), TRIMMED]
Description = Annotated[str, multi_line(10_000)]
Comment = Annotated[str, multi_line(1000)]
Reason = Annotated[str, multi_line(1000)]
COMMENT_SHOWN = (
    "The invitee's comment on their answer, shown to the organizer and to the invitee only: "
    "null for anyone else, as when there is none"
)


class AssociateRef(InputModel):
    """Invite a colleague: the invitation lands in their diary."""

    associate_id: uuid.UUID
    role: InviteeRole = InviteeRole.REQUIRED


class ResourceRef(InputModel):
    """Book a room or piece of equipment: accepted at once."""

    resource_id: uuid.UUID
    role: InviteeRole = InviteeRole.REQUIRED


class PersonRef(InputModel):
    """Invite a person of a contact: no diary, the follow-up shows in the contact's archive."""

    person_id: uuid.UUID
    role: InviteeRole = InviteeRole.REQUIRED


ParticipantRef = AssociateRef | ResourceRef | PersonRef


def check_span(start_at: datetime, end_at: datetime) -> None:
    """End after start, and not longer than MAX_SPAN."""
    if end_at <= start_at:
        raise ValueError("end_at must be after start_at")
    if end_at - start_at > MAX_SPAN:
        raise ValueError(f"a follow-up may last at most {MAX_SPAN.days} days")


START_AT = "Required, unless an all-day follow-up gives `start_date` instead"
END_AT = "Required, unless an all-day follow-up gives `end_date` instead"
START_DATE = (
    "All-day only, instead of `start_at`: the first day, in the follow-up's time zone "
    "(whose midnight becomes `start_at`)"
)
END_DATE = (
    "All-day only, instead of `end_at`: the day after the last, as in iCalendar (exclusive; "
    "after `start_date`), whose midnight becomes `end_at`"
)


class FollowUpCreate(InputModel):
    title: Name
    start_at: Instant | MISSING = Field(default=MISSING, description=START_AT)
    end_at: Instant | MISSING = Field(default=MISSING, description=END_AT)
    start_date: date | MISSING = Field(default=MISSING, description=START_DATE)
    end_date: date | MISSING = Field(default=MISSING, description=END_DATE)
    time_zone: TimeZone | None = Field(
        default=None, description="Where it takes place; defaults to the owner's time zone"
    )
    all_day: StrictBool = Field(
        default=False,
        description="Whole days: start and end must be midnights in time_zone (or give "
        "start_date and end_date)",
    )
    kind: FollowUpKind = FollowUpKind.MEETING
    location: Location | None = None
    description: Description | None = None
    contact_id: uuid.UUID | None = Field(
        default=None, description="The contact whose activity archive it belongs to"
    )
    participants: list[ParticipantRef] = Field(
        default_factory=list,
        max_length=MAX_PARTICIPANTS - 1,
        description="Besides the owner, who takes part as organizer",
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "title": "Quarterly review with Nordlys",
                    "start_at": "2026-03-30T09:00:00+02:00",
                    "end_at": "2026-03-30T10:00:00+02:00",
                    "time_zone": "Europe/Copenhagen",
                    "participants": [
                        {"associate_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b"},
                        {"resource_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6c"},
                        {"person_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6d", "role": "optional"},
                    ],
                }
            ]
        }
    }


class FollowUpUpdate(InputModel):
    title: Name | MISSING = MISSING
    start_at: Instant | MISSING = MISSING
    end_at: Instant | MISSING = MISSING
    start_date: date | MISSING = Field(default=MISSING, description=START_DATE)
    end_date: date | MISSING = Field(default=MISSING, description=END_DATE)
    time_zone: TimeZone | MISSING = MISSING
    all_day: StrictBool | MISSING = MISSING
    kind: FollowUpKind | MISSING = MISSING
    location: Location | None | MISSING = MISSING
    description: Description | None | MISSING = MISSING
    contact_id: uuid.UUID | None | MISSING = MISSING

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"start_at": "2026-03-31T13:00:00+02:00", "end_at": "2026-03-31T14:00:00+02:00"}
            ]
        }
    }


class CancelRequest(InputModel):
    reason: Reason | None = None

    model_config = {"json_schema_extra": {"examples": [{"reason": "The customer postponed"}]}}


class AssignRequest(InputModel):
    associate_id: uuid.UUID = Field(description="The new owner")


class ParticipantFields(OutputModel):
    id: uuid.UUID
    kind: ParticipantKind
    associate_id: uuid.UUID | None
    resource_id: uuid.UUID | None
    person_id: uuid.UUID | None
    role: ParticipantRole
    status: ParticipantStatus
    comment: str | None = Field(description=COMMENT_SHOWN)
    responded_at: datetime | None
    seen_at: datetime | None
    rescheduled: bool = Field(description="The time moved since this invitee last answered")
    acknowledged_at: datetime | None = Field(description="When the organizer saw the decline")


class Participant(ParticipantFields):
    conflict: bool = Field(
        description="Their calendar is also booked by another follow-up at this time"
    )
    first_free_at: datetime | None = Field(
        description=(
            "For a conflicted resource: the first start, at or after this one, when everyone "
            "this follow-up blocks is free for its duration"
        )
    )


class FollowUpSummary(OutputModel):
    """What an invitation shows of its follow-up."""

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
    start_date: date | None = Field(
        description="All-day only: the first day, in the follow-up's time zone; null when timed"
    )
    end_date: date | None = Field(
        description="All-day only: the day after the last (exclusive, as in iCalendar); "
        "null when timed"
    )


class FollowUpFields(FollowUpSummary, Stored):
    description: str | None
    contact_id: uuid.UUID | None
    cancel_reason: str | None
    cancelled_at: datetime | None


class FollowUp(FollowUpFields):
    has_conflict: bool = Field(description="Some participant is double-booked")
    participants: list[Participant]


class DiaryEntry(FollowUpFields):
    my_role: ParticipantRole = Field(description="The caller's role in it")
    my_status: ParticipantStatus = Field(description="The caller's answer")


class ResponseRecord(OutputModel):
    id: uuid.UUID
    participant_id: uuid.UUID | None = Field(description="Null once the participant was removed")
    associate_id: uuid.UUID
    status: Answer
    previous_status: ParticipantStatus
    comment: str | None = Field(description=COMMENT_SHOWN)
    responded_at: datetime = Field(validation_alias="created_at")
