"""Every stored value set as a `StrEnum`: models, schemas and services share these names."""

from enum import StrEnum


class FollowUpKind(StrEnum):
    MEETING = "meeting"
    APPOINTMENT = "appointment"
    CALL = "call"
    TASK = "task"


class FollowUpStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class ParticipantKind(StrEnum):
    ASSOCIATE = "associate"
    RESOURCE = "resource"
    PERSON = "person"


class ParticipantRole(StrEnum):
    ORGANIZER = "organizer"
    REQUIRED = "required"
    OPTIONAL = "optional"


class InviteeRole(StrEnum):
    """The roles a caller may give an invitee (the organizer's is given by ownership)."""

    REQUIRED = "required"
    OPTIONAL = "optional"


class ParticipantStatus(StrEnum):
    NOT_READ = "not_read"
    SEEN = "seen"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"
    NOT_APPLICABLE = "not_applicable"
    # An external person e-mailed an iMIP invitation who has not replied (yet).
    INVITED = "invited"


class Answer(StrEnum):
    """What an invitee may answer."""

    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"


class OccurrenceStatus(StrEnum):
    """An invitee's status for one occurrence: their answer, or `not_read` once it moved."""

    NOT_READ = "not_read"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TENTATIVE = "tentative"


class CalendarKind(StrEnum):
    """Whose time a booking blocks: a colleague's diary or a resource's."""

    ASSOCIATE = "associate"
    RESOURCE = "resource"


class BusyStatus(StrEnum):
    BUSY = "busy"
    TENTATIVE = "tentative"


class ResourceKind(StrEnum):
    ROOM = "room"
    EQUIPMENT = "equipment"


class NotificationKind(StrEnum):
    INVITED = "invited"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    RESPONDED = "responded"
    ASSIGNED = "assigned"
    REMOVED = "removed"
    RESOURCE_TAKEN = "resource_taken"


class EventType(StrEnum):
    """The events a webhook endpoint can subscribe to."""

    INVITATION_ACCEPTED = "invitation.accepted"
    INVITATION_DECLINED = "invitation.declined"
    INVITATION_TENTATIVE = "invitation.tentative"
    INVITATION_SEEN = "invitation.seen"
    INVITATION_ACKNOWLEDGED = "invitation.acknowledged"
    FOLLOW_UP_CREATED = "follow_up.created"
    FOLLOW_UP_UPDATED = "follow_up.updated"
    FOLLOW_UP_RESCHEDULED = "follow_up.rescheduled"
    FOLLOW_UP_CANCELLED = "follow_up.cancelled"
    FOLLOW_UP_ASSIGNED = "follow_up.assigned"
    FOLLOW_UP_SPLIT = "follow_up.split"
    PARTICIPANT_ADDED = "participant.added"
    PARTICIPANT_REMOVED = "participant.removed"
    OCCURRENCE_RESCHEDULED = "occurrence.rescheduled"
    OCCURRENCE_CANCELLED = "occurrence.cancelled"
    OCCURRENCE_RESOURCE_TAKEN = "occurrence.resource_taken"


# Sent by an admin's ping to one endpoint: not subscribable, so not an EventType.
PING = "webhook.ping"


class WebhookDisabledReason(StrEnum):
    """Why an endpoint is disabled: by an admin, 410 Gone, or 5 days of failures."""

    MANUAL = "manual"
    GONE = "gone"
    FAILING = "failing"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERING = "delivering"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class AttemptOutcome(StrEnum):
    SUCCESS = "success"
    HTTP_ERROR = "http_error"
    REDIRECT = "redirect"
    GONE = "gone"
    TIMEOUT = "timeout"
    CONNECTION_ERROR = "connection_error"
    REFUSED = "refused"
    ERROR = "error"


class Liveness(StrEnum):
    """What /healthz answers while the process is alive."""

    OK = "ok"


class ReadinessStatus(StrEnum):
    READY = "ready"
    UNAVAILABLE = "unavailable"


class DatabaseState(StrEnum):
    """The database as /readyz found it."""

    OK = "ok"
    UNREACHABLE = "unreachable"
    NOT_MIGRATED = "not_migrated"


class RemovalReason(StrEnum):
    """Why a delta sync reports a follow-up as gone from the caller's diary."""

    PARTICIPANT_REMOVED = "participant_removed"
    OUTSIDE_WINDOW = "outside_window"
