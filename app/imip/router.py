"""HTTP route of e-mailed invitations: an integration posts the replies that come back."""

from fastapi import APIRouter, Request

from app.auth.dependencies import AdminPrincipal
from app.db.session import SessionDep
from app.followups import schemas as followup_schemas
from app.followups.errors import (
    FollowUpCancelled,
    NotASeries,
    OccurrenceCancelled,
    UnknownOccurrence,
)
from app.idempotency.route import IdempotentRoute
from app.imip import answers
from app.imip.errors import (
    MAX_REPLY_BYTES,
    InvalidReply,
    NotAReply,
    StaleReply,
    UnknownAttendee,
    UnknownEvent,
    UnsupportedMediaType,
)
from app.imip.replies import CALENDAR, EMAIL, parse_reply
from app.kit.errors import PayloadTooLarge
from app.kit.openapi import ADMIN_WRITE, problems

router = APIRouter(prefix="/v1", tags=["invitations"], route_class=IdempotentRoute)

_REPLY = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Mail//EN\r\nMETHOD:REPLY\r\n"
    "BEGIN:VEVENT\r\nUID:0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@convene\r\nSEQUENCE:1\r\n"
    "DTSTAMP:20261201T080000Z\r\n"
    "ATTENDEE;PARTSTAT=ACCEPTED;CN=Petra Person:mailto:petra@customer.example\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)
# The answer to one occurrence of a series (RFC 5546 3.2.3): its original start as RECURRENCE-ID.
_OCCURRENCE_REPLY = _REPLY.replace(
    "SEQUENCE:1\r\n", "SEQUENCE:1\r\nRECURRENCE-ID;TZID=Europe/Copenhagen:20261207T090000\r\n"
).replace("PARTSTAT=ACCEPTED", "PARTSTAT=DECLINED")
_EMAIL = (
    "From: Petra Person <petra@customer.example>\r\nTo: convene@example.com\r\n"
    "Subject: Accepted: Kick-off\r\nMIME-Version: 1.0\r\n"
    'Content-Type: text/calendar; method=REPLY; charset="utf-8"\r\n\r\n' + _REPLY
)
REQUEST_BODY = {
    "required": True,
    "description": f"At most {MAX_REPLY_BYTES // 1024} KiB.",
    "content": {
        CALENDAR: {
            "schema": {"type": "string", "format": "binary", "maxLength": MAX_REPLY_BYTES},
            "examples": {
                "accepted": {"summary": "A METHOD:REPLY object", "value": _REPLY},
                "occurrence": {
                    "summary": "A reply to one occurrence of a series",
                    "value": _OCCURRENCE_REPLY,
                },
            },
        },
        EMAIL: {
            "schema": {"type": "string", "format": "binary", "maxLength": MAX_REPLY_BYTES},
            "examples": {"email": {"summary": "The whole e-mail", "value": _EMAIL}},
        },
    },
}


@router.post(
    "/imip/replies",
    response_model=followup_schemas.Participant,
    responses=problems(
        *ADMIN_WRITE,
        InvalidReply,
        NotAReply,
        UnknownAttendee,
        UnknownEvent,
        FollowUpCancelled,
        StaleReply,
        NotASeries,
        UnknownOccurrence,
        OccurrenceCancelled,
        UnsupportedMediaType,
    ),
    openapi_extra={"requestBody": REQUEST_BODY},
)
async def post_imip_reply(
    request: Request, session: SessionDep, principal: AdminPrincipal
) -> followup_schemas.Participant:
    """An external person's e-mailed answer (admin: the integration reading the mailbox).

    The body is the METHOD:REPLY calendar object (`text/calendar`) or the whole e-mail
    (`message/rfc822`). The follow-up is found by the UID, the person by the ATTENDEE's
    address, the answer by its PARTSTAT; it is recorded like a colleague's answer: status,
    response history, a note to the organizer, and the `invitation.*` event. A VEVENT with a
    RECURRENCE-ID (and no series' VEVENT beside it) answers that one occurrence of a series,
    like a colleague's answer with `occurrence`.
    """
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_REPLY_BYTES:
        raise PayloadTooLarge(f"an e-mailed reply is at most {MAX_REPLY_BYTES} bytes")
    body = await request.body()
    if len(body) > MAX_REPLY_BYTES:
        raise PayloadTooLarge(f"an e-mailed reply is at most {MAX_REPLY_BYTES} bytes")
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    reply = parse_reply(body, media_type)
    return await answers.record_reply(session, principal, reply)
