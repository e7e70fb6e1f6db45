"""The problems an e-mailed reply (iMIP) can meet, each with its stable code."""

from app.kit.errors import Conflict, NotFound, ProblemError, ValidationFailed

# The largest reply accepted: a calendar object, or a whole e-mail with its calendar part.
MAX_REPLY_BYTES = 256 * 1024


class InvalidReply(ValidationFailed):
    code = "invalid_reply"
    title = "Unreadable reply"
    description = (
        "The body is not an iCalendar object (or an e-mail with a text/calendar part) with one "
        "VEVENT, a UID, one mailto: ATTENDEE and a PARTSTAT of ACCEPTED, DECLINED or TENTATIVE."
    )


class NotAReply(ValidationFailed):
    code = "not_a_reply"
    title = "Not a reply"
    description = "The calendar object's METHOD is not REPLY (RFC 5546): it answers nothing."


class UnknownAttendee(ValidationFailed):
    code = "unknown_attendee"
    title = "Not an invited person"
    description = "No external person of the follow-up has the ATTENDEE's e-mail address."


class UnknownEvent(NotFound):
    code = "unknown_event"
    title = "Unknown event"
    description = "The UID names no follow-up of this tenant (ours look like `<uuid>@convene`)."


class UnsupportedMediaType(ProblemError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"
    description = "Send the reply as `text/calendar` or as the whole e-mail (`message/rfc822`)."


class StaleReply(Conflict):
    code = "stale_reply"
    title = "Reply to an older invitation"
    description = (
        "The reply's SEQUENCE is below that of the last invitation sent to the person (the "
        "follow-up changed since): it answers what no longer holds; their answer to the new "
        "invitation will come."
    )
