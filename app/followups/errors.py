"""The problems follow-up and participant commands raise, each with its stable code."""

from app.followups.schemas import MAX_PARTICIPANTS
from app.kit.errors import Conflict, Forbidden, ProblemError, ValidationFailed


class FollowUpCancelled(Conflict):
    code = "follow_up_cancelled"
    title = "Follow-up cancelled"
    description = "The follow-up is cancelled: it can no longer be changed or answered."


class DuplicateParticipant(Conflict):
    code = "duplicate_participant"
    title = "Already a participant"
    description = "That associate, resource or person already takes part in the follow-up."


class NotDeclined(Conflict):
    code = "not_declined"
    title = "Not declined"
    description = "Only a declined invitation can be acknowledged."


class OrganizerParticipant(Conflict):
    code = "organizer_participant"
    title = "The organizer's own participation"
    description = "The organizer is not invited: they cannot answer or be removed (assign instead)."


class InactiveReference(Conflict):
    code = "inactive_reference"
    title = "Deactivated"
    description = "The associate or resource is deactivated and cannot take part."


class NotOrganizer(Forbidden):
    code = "not_organizer"
    title = "Not the organizer"
    description = "Only the organizer may change, cancel, reassign or acknowledge."


class InvalidSpan(ValidationFailed):
    code = "invalid_span"
    title = "Invalid time span"
    description = "End before start, longer than the cap, or an all-day span not on midnights."


class TooManyParticipants(ValidationFailed):
    code = "too_many_participants"
    title = "Too many participants"
    description = f"A follow-up has at most {MAX_PARTICIPANTS} participants."


class InvalidRecurrence(ValidationFailed):
    code = "invalid_recurrence"
    title = "Invalid recurrence"
    description = (
        "The rule does not fit the follow-up: start_at is not its first occurrence, it makes "
        "too many occurrences, or its occurrences would overlap."
    )


class NotASeries(ValidationFailed):
    code = "not_a_series"
    title = "Not a series"
    description = "The follow-up does not repeat, so it has no occurrences."


class SplitAtFirstOccurrence(ValidationFailed):
    code = "split_at_first_occurrence"
    title = "Split at the first occurrence"
    description = (
        "A series is split at a later occurrence; to change it from its first on, PATCH the "
        "follow-up itself."
    )


class OccurrenceCancelled(Conflict):
    code = "occurrence_cancelled"
    title = "Occurrence cancelled"
    description = (
        "That occurrence of the series is cancelled: it can no longer be moved or answered."
    )


class UnknownOccurrence(ValidationFailed):
    code = "unknown_occurrence"
    title = "No such occurrence"
    description = (
        "The series has no occurrence that its rule started at `occurrence` (give the "
        "occurrence's original start, `occurrence_start` in the diary)."
    )


class SyncTokenExpired(ProblemError):
    status = 410
    code = "sync_token_expired"
    title = "Sync token expired"
    description = (
        "The delta cursor is older than the event log keeps, or was issued to another caller: "
        "sync again from the start, without a cursor."
    )
