"""Each event type's `data` as pydantic models: what the code records and the document states.

The code that records an event passes one of the `*Facts` models below (validated, so nothing
else can be written); the statement that records it adds `tenant_id`, `follow_up_id` and
`seq` (and an answer's `previous_status`). The `*Data` models are the facts with those added:
the document's schemas (`app/webhooks/document.py`) are built from them.
"""

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app.models.states import PING, Answer, EventType, ParticipantKind, ParticipantStatus


class EventFacts(BaseModel):
    """What the code recording an event states about it: no unknown field, nothing missing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def as_json(self) -> str:
        """The JSON the event row's `data` starts from (ids as text, instants as ISO 8601)."""
        return json.dumps(self.model_dump(), default=jsonable)


def jsonable(value: Any) -> str:
    """The JSON form of the ids and instants that event data and queue records carry."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class SeriesRule(EventFacts):
    """A series' repeat rule, as the follow-up's `recurrence` shows it."""

    rrule: str = Field(description="The RFC 5545 RRULE, canonical form")


class FollowUpCreated(EventFacts):
    owner_id: uuid.UUID = Field(description="The organizer")
    start_at: datetime
    end_at: datetime
    participant_ids: list[uuid.UUID] = Field(description="Every participant, organizer included")
    recurrence: SeriesRule | None = Field(description="The repeat rule of a series, else null")
    split_from: uuid.UUID | None = Field(
        description="The series it continues, when split off one (`follow_up.split`); else null"
    )


class FollowUpUpdated(EventFacts):
    fields: list[str] = Field(
        description="The names of the fields that changed (not the time: that is rescheduled)",
        examples=[["title", "location"]],
    )


class FollowUpRescheduled(EventFacts):
    start_at: datetime
    end_at: datetime
    previous_start_at: datetime
    previous_end_at: datetime
    recurrence: SeriesRule | None = Field(description="The repeat rule of a series, else null")
    reset_associate_ids: list[uuid.UUID] = Field(
        description="The invited colleagues put back to `not_read` by the move"
    )


class OccurrenceRescheduled(EventFacts):
    occurrence_start: datetime = Field(description="The occurrence's original start: its key")
    start_at: datetime
    end_at: datetime
    previous_start_at: datetime
    previous_end_at: datetime


class FollowUpSplit(EventFacts):
    occurrence_start: datetime = Field(
        description="The original start of the occurrence the series was split at: it and "
        "those after it are now the new follow-up's"
    )
    new_follow_up_id: uuid.UUID = Field(description="The new series, from that occurrence on")
    recurrence: SeriesRule = Field(description="This series' rule now, ending before it")
    previous_recurrence: SeriesRule = Field(description="Its rule before the split")


class OccurrenceResourceTaken(EventFacts):
    occurrence_start: datetime = Field(description="The occurrence's original start: its key")
    start_at: datetime
    end_at: datetime
    participant_id: uuid.UUID = Field(description="The resource's participation")
    resource_id: uuid.UUID = Field(
        description="The resource that refuses double booking and was not booked"
    )


class OccurrenceCancelled(EventFacts):
    occurrence_start: datetime = Field(description="The occurrence's original start: its key")
    start_at: datetime
    end_at: datetime
    reason: str | None = Field(description="The organizer's reason, if they gave one")


class FollowUpCancelled(EventFacts):
    reason: str | None = Field(description="The organizer's reason, if they gave one")


class FollowUpAssigned(EventFacts):
    owner_id: uuid.UUID = Field(description="The new organizer")
    previous_owner_id: uuid.UUID


class InvitationSeen(EventFacts):
    participant_id: uuid.UUID
    associate_id: uuid.UUID
    seen_at: datetime


class InvitationAnswered(EventFacts):
    participant_id: uuid.UUID
    associate_id: uuid.UUID | None = Field(
        description="The colleague who answered; null when an external person replied by e-mail"
    )
    person_id: uuid.UUID | None = Field(
        default=None,
        description="The external person whose e-mailed reply (iMIP) this is; null for a colleague",
    )
    status: Answer
    occurrence_start: datetime | None = Field(
        default=None,
        description="The occurrence of a series answered on its own (its original start); "
        "null for an answer to the whole follow-up (absent from events recorded before "
        "single occurrences could be answered)",
    )
    has_comment: bool = Field(
        description="Whether the invitee wrote a comment; its text is for the organizer alone"
    )
    responded_at: datetime


class EmailedAnswer(InvitationAnswered):
    """An external person's reply: recorded by `record_event`, which adds no previous status."""

    previous_status: ParticipantStatus


class InvitationAcknowledged(EventFacts):
    participant_id: uuid.UUID
    associate_id: uuid.UUID
    acknowledged_at: datetime


class _ParticipantFacts(EventFacts):
    participant_id: uuid.UUID
    occurrence_start: datetime | None = Field(
        default=None,
        description="Added to or taken off this occurrence of a series alone (its original "
        "start); null for the whole follow-up",
    )


class AssociateParticipant(_ParticipantFacts):
    kind: Literal[ParticipantKind.ASSOCIATE]
    associate_id: uuid.UUID


class ResourceParticipant(_ParticipantFacts):
    kind: Literal[ParticipantKind.RESOURCE]
    resource_id: uuid.UUID


class PersonParticipant(_ParticipantFacts):
    kind: Literal[ParticipantKind.PERSON]
    person_id: uuid.UUID


ParticipantFacts = AssociateParticipant | ResourceParticipant | PersonParticipant
# Builds a participant's facts from a dict naming its kind and `<kind>_id`.
PARTICIPANT_FACTS: TypeAdapter[ParticipantFacts] = TypeAdapter(
    Annotated[ParticipantFacts, Field(discriminator="kind")]
)


class WebhookPing(EventFacts):
    tenant_id: uuid.UUID
    endpoint_id: uuid.UUID = Field(description="The endpoint that was pinged")


# Which facts each event type is recorded with: `record_event` refuses any other.
FACTS: dict[EventType, tuple[type[EventFacts], ...]] = {
    EventType.FOLLOW_UP_CREATED: (FollowUpCreated,),
    EventType.FOLLOW_UP_UPDATED: (FollowUpUpdated,),
    EventType.FOLLOW_UP_RESCHEDULED: (FollowUpRescheduled,),
    EventType.FOLLOW_UP_CANCELLED: (FollowUpCancelled,),
    EventType.FOLLOW_UP_ASSIGNED: (FollowUpAssigned,),
    EventType.OCCURRENCE_RESCHEDULED: (OccurrenceRescheduled,),
    EventType.OCCURRENCE_CANCELLED: (OccurrenceCancelled,),
    EventType.FOLLOW_UP_SPLIT: (FollowUpSplit,),
    EventType.OCCURRENCE_RESOURCE_TAKEN: (OccurrenceResourceTaken,),
    EventType.INVITATION_SEEN: (InvitationSeen,),
    EventType.INVITATION_ACCEPTED: (InvitationAnswered,),
    EventType.INVITATION_DECLINED: (InvitationAnswered,),
    EventType.INVITATION_TENTATIVE: (InvitationAnswered,),
    EventType.INVITATION_ACKNOWLEDGED: (InvitationAcknowledged,),
    EventType.PARTICIPANT_ADDED: (AssociateParticipant, ResourceParticipant, PersonParticipant),
    EventType.PARTICIPANT_REMOVED: (AssociateParticipant, ResourceParticipant, PersonParticipant),
}


def check_facts(type_: EventType, facts: EventFacts) -> None:
    """Refuse facts of another event type's model: the document would not describe them."""
    if not isinstance(facts, FACTS[type_]):
        raise TypeError(f"{type_} is not recorded with {type(facts).__name__}")


class _Sent(BaseModel):
    # Data models describe what is sent: a subscriber should accept fields added later.
    model_config = ConfigDict(extra="ignore")


class WebhookPingData(WebhookPing, _Sent):
    """`webhook.ping`: sent to one endpoint by an admin's ping; no follow-up, no seq."""


class _FollowUpEvent(_Sent):
    """What the statement recording a follow-up's event adds to the facts."""

    tenant_id: uuid.UUID
    follow_up_id: uuid.UUID
    seq: int = Field(
        description="Rises with every change of the follow-up: drop an event whose seq is "
        "below the last one you applied"
    )


class FollowUpCreatedData(FollowUpCreated, _FollowUpEvent):
    pass


class FollowUpUpdatedData(FollowUpUpdated, _FollowUpEvent):
    pass


class FollowUpRescheduledData(FollowUpRescheduled, _FollowUpEvent):
    pass


class FollowUpCancelledData(FollowUpCancelled, _FollowUpEvent):
    pass


class FollowUpAssignedData(FollowUpAssigned, _FollowUpEvent):
    pass


class OccurrenceRescheduledData(OccurrenceRescheduled, _FollowUpEvent):
    pass


class OccurrenceCancelledData(OccurrenceCancelled, _FollowUpEvent):
    pass


class FollowUpSplitData(FollowUpSplit, _FollowUpEvent):
    pass


class OccurrenceResourceTakenData(OccurrenceResourceTaken, _FollowUpEvent):
    pass


class InvitationSeenData(InvitationSeen, _FollowUpEvent):
    pass


class InvitationAnsweredData(InvitationAnswered, _FollowUpEvent):
    previous_status: ParticipantStatus = Field(description="The status before this answer")


class InvitationAcknowledgedData(InvitationAcknowledged, _FollowUpEvent):
    pass


class AssociateParticipantData(AssociateParticipant, _FollowUpEvent):
    pass


class ResourceParticipantData(ResourceParticipant, _FollowUpEvent):
    pass


class PersonParticipantData(PersonParticipant, _FollowUpEvent):
    pass


ParticipantData = Annotated[
    AssociateParticipantData | ResourceParticipantData | PersonParticipantData,
    Field(discriminator="kind"),
]

# Each type's `data` as sent, and what the document says of the type.
DATA: dict[str, tuple[Any, str]] = {
    EventType.FOLLOW_UP_CREATED: (FollowUpCreatedData, "A follow-up was booked."),
    EventType.FOLLOW_UP_UPDATED: (
        FollowUpUpdatedData,
        "The organizer changed a follow-up's fields other than its time.",
    ),
    EventType.FOLLOW_UP_RESCHEDULED: (
        FollowUpRescheduledData,
        "The organizer moved a follow-up: every invited colleague is back to `not_read`.",
    ),
    EventType.FOLLOW_UP_CANCELLED: (FollowUpCancelledData, "The organizer cancelled a follow-up."),
    EventType.FOLLOW_UP_ASSIGNED: (
        FollowUpAssignedData,
        "A follow-up was handed to another organizer.",
    ),
    EventType.OCCURRENCE_RESCHEDULED: (
        OccurrenceRescheduledData,
        "The organizer moved one occurrence of a series; the others stay.",
    ),
    EventType.OCCURRENCE_CANCELLED: (
        OccurrenceCancelledData,
        "The organizer cancelled one occurrence of a series; the others stay.",
    ),
    EventType.FOLLOW_UP_SPLIT: (
        FollowUpSplitData,
        'The organizer split a series at one occurrence ("this and following"): it ends '
        "before it, and a new follow-up (`new_follow_up_id`) carries it and those after it.",
    ),
    EventType.OCCURRENCE_RESOURCE_TAKEN: (
        OccurrenceResourceTakenData,
        "Booking a series further ahead, the series job found a resource that refuses double "
        "booking taken by another follow-up at one occurrence: the occurrence is booked "
        "without it.",
    ),
    EventType.PARTICIPANT_ADDED: (ParticipantData, "A participant was added to a follow-up."),
    EventType.PARTICIPANT_REMOVED: (
        ParticipantData,
        "A participant was taken off a follow-up (their answers stay in its history).",
    ),
    EventType.INVITATION_SEEN: (InvitationSeenData, "An invitee opened their invitation."),
    EventType.INVITATION_ACCEPTED: (InvitationAnsweredData, "An invitee accepted."),
    EventType.INVITATION_DECLINED: (InvitationAnsweredData, "An invitee declined."),
    EventType.INVITATION_TENTATIVE: (InvitationAnsweredData, "An invitee answered tentative."),
    EventType.INVITATION_ACKNOWLEDGED: (
        InvitationAcknowledgedData,
        'The organizer clicked "Understood" on a decline.',
    ),
    PING: (WebhookPingData, "An admin pinged this endpoint (`POST /v1/webhooks/{id}/ping`)."),
}
