"""Reading an iMIP reply (RFC 6047): the calendar object, or the e-mail that carries it."""

import email
import email.policy
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event

from app.calendars.ical import UID_DOMAIN
from app.imip.errors import InvalidReply, NotAReply, UnknownEvent, UnsupportedMediaType
from app.models.states import Answer

CALENDAR = "text/calendar"
EMAIL = "message/rfc822"
MEDIA_TYPES = (CALENDAR, EMAIL)
_UID = re.compile(rf"^([0-9a-fA-F-]{{36}})@{re.escape(UID_DOMAIN)}$")
# As long as a colleague's comment may be (the response history's column).
_MAX_COMMENT = 1000
_PARTSTAT = {
    "ACCEPTED": Answer.ACCEPTED,
    "DECLINED": Answer.DECLINED,
    "TENTATIVE": Answer.TENTATIVE,
}


@dataclass(frozen=True)
class Reply:
    """What a reply says: which follow-up, who answers, their answer and comment.

    `occurrence` is the RECURRENCE-ID of the one occurrence it answers (None: the whole
    follow-up) as written: a date-time with its zone, a floating one, or a date (all-day).
    """

    follow_up_id: uuid.UUID
    email: str
    status: Answer
    comment: str | None
    sequence: int | None
    occurrence: datetime | date | None = None

    def occurrence_start(self, time_zone: str) -> datetime | None:
        """The answered occurrence's original start; floating times and dates in `time_zone`."""
        given = self.occurrence
        if given is None:
            return None
        if not isinstance(given, datetime):
            # An all-day occurrence starts at midnight in its follow-up's zone.
            return datetime.combine(given, time(0), ZoneInfo(time_zone)).astimezone(UTC)
        if given.tzinfo is None:
            return given.replace(tzinfo=ZoneInfo(time_zone)).astimezone(UTC)
        return given.astimezone(UTC)


def _calendar_text(body: bytes, media_type: str) -> str:
    """The text of the calendar object, taken from the e-mail when one was sent."""
    if media_type == CALENDAR:
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidReply("the calendar object is not UTF-8") from None
    if media_type != EMAIL:
        raise UnsupportedMediaType(
            f"{media_type or 'no media type'} is not {' or '.join(MEDIA_TYPES)}"
        )
    message = email.message_from_bytes(body, policy=email.policy.default)
    for part in message.walk():
        if part.get_content_type() == CALENDAR and isinstance(part, EmailMessage):
            try:
                content: Any = part.get_content()
            except (LookupError, ValueError):
                raise InvalidReply("the e-mail's text/calendar part cannot be decoded") from None
            return content.decode("utf-8") if isinstance(content, bytes) else str(content)
    raise InvalidReply("the e-mail has no text/calendar part")


def _event(text: str) -> tuple[Calendar, Event]:
    """The calendar and the VEVENT that answers: the series' own, else the one occurrence's."""
    try:
        calendar = Calendar.from_ical(text)
    except (ValueError, IndexError, KeyError) as exc:
        raise InvalidReply(f"not an iCalendar object: {exc}") from None
    if not isinstance(calendar, Calendar):
        raise InvalidReply("not a VCALENDAR")
    events = [e for e in calendar.walk("VEVENT") if isinstance(e, Event)]
    if not events:
        raise InvalidReply("the calendar holds no VEVENT")
    # A series' reply may add a VEVENT per occurrence (RECURRENCE-ID): the series' one answers.
    whole = [e for e in events if "RECURRENCE-ID" not in e]
    if whole:
        return calendar, whole[0]
    if len(events) > 1:
        raise InvalidReply(
            f"a reply without the series' VEVENT answers one occurrence, not {len(events)}"
        )
    return calendar, events[0]


def _occurrence(event: Event) -> datetime | date | None:
    """The RECURRENCE-ID of the VEVENT, if it answers one occurrence of a series."""
    if "RECURRENCE-ID" not in event:
        return None
    recurrence_id = event["RECURRENCE-ID"]
    if str(recurrence_id.params.get("RANGE", "")).upper() == "THISANDFUTURE":
        raise InvalidReply("a reply answers one occurrence: RANGE=THISANDFUTURE is not supported")
    try:
        given = event.decoded("RECURRENCE-ID")
    except (ValueError, TypeError, KeyError):
        raise InvalidReply("the RECURRENCE-ID is not a date or date-time") from None
    if not isinstance(given, date):
        raise InvalidReply("the RECURRENCE-ID is not a date or date-time")
    return given


def parse_reply(body: bytes, media_type: str) -> Reply:
    """The reply in `body`; raises a problem saying what is wrong with it."""
    calendar, event = _event(_calendar_text(body, media_type))
    method = str(calendar.get("METHOD", "")).upper()
    if method != "REPLY":
        raise NotAReply(f"METHOD is {method or 'missing'}, not REPLY")
    uid = str(event.get("UID", ""))
    matched = _UID.match(uid)
    if matched is None:
        raise UnknownEvent(f"UID {uid[:200]!r} is not one of ours")
    try:
        follow_up_id = uuid.UUID(matched.group(1))
    except ValueError:
        raise UnknownEvent(f"UID {uid[:200]!r} is not one of ours") from None
    attendees = event.get("ATTENDEE")
    if attendees is None or (isinstance(attendees, list) and len(attendees) != 1):
        raise InvalidReply("a reply names exactly one ATTENDEE")
    attendee = attendees[0] if isinstance(attendees, list) else attendees
    address = str(attendee)
    if not address.lower().startswith("mailto:") or "@" not in address:
        raise InvalidReply("the ATTENDEE is not a mailto: address")
    partstat = str(attendee.params.get("PARTSTAT", "")).upper()
    if partstat not in _PARTSTAT:
        raise InvalidReply(
            f"PARTSTAT {partstat or 'missing'} is not ACCEPTED, DECLINED or TENTATIVE"
        )
    comment = event.get("COMMENT")
    if isinstance(comment, list):
        comment = comment[0] if comment else None
    sequence = event.get("SEQUENCE")
    return Reply(
        follow_up_id=follow_up_id,
        email=address[len("mailto:") :].strip(),
        status=_PARTSTAT[partstat],
        comment=str(comment).replace("\x00", "")[:_MAX_COMMENT] if comment else None,
        sequence=int(sequence) if sequence is not None else None,
        occurrence=_occurrence(event),
    )
