"""Request and response bodies of follow-ups and participants."""

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated

from pydantic import MISSING, AfterValidator, Field, StrictBool

from app.followups.recurrence import MAX_OCCURRENCES, MAX_RULE_LENGTH, parse_rule
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
    OccurrenceStatus,
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

    model_config = {
        "json_schema_extra": {
            "examples": [{"associate_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b"}]
        }
    }


class ResourceRef(InputModel):
    """Book a room or piece of equipment: accepted at once."""

    resource_id: uuid.UUID
    role: InviteeRole = InviteeRole.REQUIRED

    model_config = {
        "json_schema_extra": {"examples": [{"resource_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6c"}]}
    }


class PersonRef(InputModel):
    """Invite a person of a contact: no diary, the follow-up shows in the contact's archive."""

    person_id: uuid.UUID
    role: InviteeRole = InviteeRole.REQUIRED

    model_config = {
        "json_schema_extra": {
            "examples": [{"person_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6d", "role": "optional"}]
        }
    }


ParticipantRef = AssociateRef | ResourceRef | PersonRef


def _valid_rule(rule: str) -> str:
    parse_rule(rule)  # a RecurrenceError is a ValueError: a 422 that says why
    return rule


# NAME=VALUE parts joined by `;`, an optional `RRULE:` before them; the parts are checked after.
RULE_SHAPE = r"^([Rr][Rr][Uu][Ll][Ee]:)?[A-Za-z]+=[A-Za-z0-9,+-]+(;[A-Za-z]+=[A-Za-z0-9,+-]+)*$"
RULE_DESCRIPTION = (
    "An RFC 5545 RRULE, expanded in the follow-up's time zone from start_at (its first "
    "occurrence): FREQ=DAILY|WEEKLY|MONTHLY|YEARLY with INTERVAL, BYDAY (ordinals like 2TU or "
    "-1FR with MONTHLY and YEARLY), BYMONTHDAY, BYMONTH, and COUNT or UNTIL (a UTC time, or a "
    f"date: the end of that day). At most {MAX_OCCURRENCES} occurrences; a series without "
    "COUNT or UNTIL is booked about 18 months ahead, and further as time passes"
)


class Recurrence(InputModel):
    """How a follow-up repeats."""

    rrule: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_RULE_LENGTH,
            pattern=RULE_SHAPE,
            description=RULE_DESCRIPTION,
        ),
        AfterValidator(_valid_rule),
    ]

    model_config = {
        "json_schema_extra": {"examples": [{"rrule": "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10"}]}
    }


class RecurrenceShown(OutputModel):
    """How a series repeats, its rule in the canonical form it is stored in."""

    rrule: str = Field(description="Upper case, parts in a fixed order, UNTIL in UTC")


def check_span(start_at: datetime, end_at: datetime) -> None:
    """End after start, and not longer than MAX_SPAN."""
    if end_at <= start_at:
        raise ValueError("end_at must be after start_at")
    if end_at - start_at > MAX_SPAN:
        raise ValueError(f"a follow-up may last at most {MAX_SPAN.days} days")


START_AT = (
    "ISO 8601 with an offset, between 1900-01-01 and 2199-12-31 UTC; required, unless an "
    "all-day follow-up gives `start_date` instead"
)
END_AT = (
    "ISO 8601 with an offset, between 1900-01-01 and 2199-12-31 UTC; required, unless an "
    "all-day follow-up gives `end_date` instead"
)
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
    recurrence: Recurrence | None = Field(
        default=None, description="Makes it a series; start_at and end_at are its first occurrence"
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
    recurrence: Recurrence | None | MISSING = Field(
        default=MISSING,
        description=(
            "A new rule, or null for a single follow-up: the series is booked again from its "
            "rule (exceptions are dropped) and every invited colleague answers again"
        ),
    )

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

    model_config = {
        "json_schema_extra": {
            "examples": [{"associate_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b"}]
        }
    }


class ParticipantFields(OutputModel):
    id: uuid.UUID
    kind: ParticipantKind
    associate_id: uuid.UUID | None
    resource_id: uuid.UUID | None
    person_id: uuid.UUID | None
    display_name: str = Field(
        description=(
            "Who or what takes part: the colleague's, the resource's or the external person's "
            "name, as the directory holds it now (deactivated ones included)"
        ),
        examples=["Fjord room"],
    )
    role: ParticipantRole
    status: ParticipantStatus
    comment: str | None = Field(description=COMMENT_SHOWN)
    responded_at: datetime | None
    seen_at: datetime | None
    rescheduled: bool = Field(description="The time moved since this invitee last answered")
    acknowledged_at: datetime | None = Field(description="When the organizer saw the decline")
    only_occurrence: datetime | None = Field(
        description="Added to this occurrence of the series alone (its original start): it "
        "takes part in no other; null for a participant of the whole follow-up"
    )


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


class OccurrenceAnswer(OutputModel):
    """An invitee's answer to one occurrence of a series, apart from their series answer."""

    occurrence_start: datetime = Field(description="The occurrence's original start: its key")
    status: OccurrenceStatus = Field(
        description="Their answer to it; `not_read` once the organizer moved it (rescheduled)"
    )
    comment: str | None = Field(description=COMMENT_SHOWN)
    responded_at: datetime | None = Field(description="Null once the occurrence moved")
    rescheduled: bool = Field(description="The occurrence moved since they last answered it")


class FollowUpParticipant(Participant):
    """A participant as their follow-up lists them: with their answers to single occurrences."""

    occurrence_answers: list[OccurrenceAnswer] = Field(
        description="A series' invitee's own answers to single occurrences, by occurrence "
        "(the other occurrences follow `status`); empty when there are none"
    )
    excluded_occurrences: list[datetime] = Field(
        description="The occurrences of the series this participant was taken off (their "
        "original starts): they block no time and show in no diary there; empty when none"
    )


class FollowUpSummary(OutputModel):
    """What an invitation shows of its follow-up."""

    id: uuid.UUID
    owner_id: uuid.UUID
    owner_name: str = Field(
        description="The organizer's name, as the directory holds it now", examples=["Ada Lovelace"]
    )
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
    recurrence: RecurrenceShown | None = Field(description="Null for a single follow-up")
    split_from: uuid.UUID | None = Field(
        description=(
            "The series this one continues, when it was split off it "
            "(`POST …/occurrences/{original_start}/split`); else null"
        )
    )


class FollowUp(FollowUpFields):
    has_conflict: bool = Field(description="Some participant is double-booked")
    participants: list[FollowUpParticipant]


class DiaryEntry(FollowUpFields):
    """A follow-up in the diary; for a series, one of its occurrences in the window."""

    occurrence_start: datetime | None = Field(
        description=(
            "For an occurrence of a series (whose id is `id`): its start as the rule gave it, "
            "the key of `/occurrences/{original_start}`; start_at/end_at are its own span"
        )
    )
    my_role: ParticipantRole = Field(description="The caller's role in it")
    my_status: ParticipantStatus = Field(
        description="The caller's answer: for an occurrence, their answer to it if they gave "
        "one (or `not_read` once it moved since), else their answer to the series"
    )


class OccurrenceUpdate(InputModel):
    start_at: Instant
    end_at: Instant

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"start_at": "2026-12-09T13:00:00+01:00", "end_at": "2026-12-09T14:00:00+01:00"}
            ]
        }
    }


class SeriesSplit(InputModel):
    """What changes from the occurrence a series is split at on; nothing given: the same."""

    start_at: Instant | MISSING = Field(
        default=MISSING,
        description="The new series' first start; default the occurrence's start by the rule",
    )
    end_at: Instant | MISSING = Field(
        default=MISSING,
        description="Its first end; default the start plus the occurrence's length by the rule",
    )
    recurrence: Recurrence | MISSING = Field(
        default=MISSING,
        description=(
            "The new series' rule, from its start; default the rule continued (a COUNT "
            "keeps the occurrences left)"
        ),
    )

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"start_at": "2026-12-14T10:00:00+01:00", "end_at": "2026-12-14T11:00:00+01:00"}
            ]
        }
    }


class OccurrenceShown(OutputModel):
    """One occurrence of a series."""

    follow_up_id: uuid.UUID = Field(description="The series")
    original_start: datetime = Field(description="Its start as the rule gave it: its key")
    start_at: datetime
    end_at: datetime
    overridden: bool = Field(description="Moved on its own, apart from the series")
    cancelled: bool


class ResponseRecord(OutputModel):
    id: uuid.UUID
    participant_id: uuid.UUID | None = Field(description="Null once the participant was removed")
    associate_id: uuid.UUID | None = Field(
        description="The colleague who answered; null for an external person's e-mailed reply"
    )
    person_id: uuid.UUID | None = Field(
        description="The external person who replied by e-mail (iMIP); null for a colleague"
    )
    display_name: str = Field(
        description="The answering colleague's (or person's) name, as the directory holds it now",
        examples=["Bo Berg"],
    )
    status: Answer
    previous_status: ParticipantStatus = Field(
        description="The status before this answer (for an occurrence: that occurrence's)"
    )
    comment: str | None = Field(description=COMMENT_SHOWN)
    occurrence_start: datetime | None = Field(
        description="The occurrence of a series answered on its own (its original start); "
        "null for an answer to the whole follow-up"
    )
    responded_at: datetime = Field(validation_alias="created_at")
