"""E-mailed invitations' test helpers: a real SMTP server on loopback, and reading messages."""

import email
import email.policy
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from icalendar import Calendar, Event

from tests.fixtures.factories import Caller, create_person, follow_up_body
from tests.fixtures.servers import free_port

MAIL_FROM = "convene@convene.test"


@dataclass(frozen=True)
class Delivered:
    """One message as the SMTP server accepted it: envelope and parsed content."""

    sender: str
    recipients: list[str]
    message: EmailMessage


class Mailbox:
    """The SMTP handler: keeps every message it accepts; `refuse()` scripts refusals."""

    def __init__(self) -> None:
        self.delivered: list[Delivered] = []
        self.refused = 0
        self._script: deque[str] = deque()
        self._lock = threading.Lock()

    def refuse(self, *replies: str) -> None:
        """Answer the next DATA commands with these replies (e.g. `451 4.3.0 Busy`)."""
        with self._lock:
            self._script.extend(replies)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self._lock:
            if self._script:
                self.refused += 1
                return self._script.popleft()
            content = envelope.content
            assert isinstance(content, bytes)
            parsed = email.message_from_bytes(content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.delivered.append(
                Delivered(str(envelope.mail_from), list(envelope.rcpt_tos), parsed)
            )
        return "250 OK"


@contextmanager
def smtp_server() -> Iterator[tuple[str, Mailbox]]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 until the block ends; its URL and mailbox."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}", mailbox
    finally:
        controller.stop()


def mail_settings(smtp_url: str = "smtp://127.0.0.1:1") -> dict[str, Any]:
    """Settings that turn e-mailed invitations on (the URL need not answer when nothing sends)."""
    return {
        "smtp_url": smtp_url,
        "mail_from": MAIL_FROM,
        "smtp_starttls": "off",
        "mail_retry_delays": [0.0, 0.0],
        "smtp_timeout_seconds": 5.0,
    }


def calendar_part(message: EmailMessage) -> tuple[EmailMessage, Calendar]:
    """The message's text/calendar part and the calendar it holds (parsed by icalendar)."""
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in message.walk()]
    part = parts[0]
    assert isinstance(part, EmailMessage)
    calendar = Calendar.from_ical(part.get_content())
    assert isinstance(calendar, Calendar)
    return part, calendar


def vevent(calendar: Calendar) -> Event:
    """The calendar's one VEVENT without RECURRENCE-ID (a series' master)."""
    events = [e for e in calendar.walk("VEVENT") if "RECURRENCE-ID" not in e]
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, Event)
    return event


def attendees(event: Event) -> dict[str, Any]:
    """The event's ATTENDEEs by address (lower case)."""
    found = event.get("attendee", [])
    return {str(a).lower(): a for a in (found if isinstance(found, list) else [found])}


def reply(
    uid: str,
    address: str,
    partstat: str,
    *,
    method: str = "REPLY",
    sequence: int = 1,
    **extra: str,
) -> bytes:
    """A METHOD:REPLY calendar object as a mail client sends it."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Test//Mail client//EN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20261201T080000Z",
        f"SEQUENCE:{sequence}",
        f"ATTENDEE;PARTSTAT={partstat};CN=Bo Holm:mailto:{address}",
        *(f"{key.upper()}:{value}" for key, value in extra.items()),
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


async def invite_person(
    admin: Caller, organizer: Caller, email_address: str | None = "bo@customer.test", **fields: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A person (with that address) invited to a new follow-up of the organizer's."""
    person = await create_person(admin, email=email_address)
    created = await organizer.create(
        "/v1/follow-ups", follow_up_body(participants=[{"person_id": person["id"]}], **fields)
    )
    return person, created


def person_participant(follow_up: dict[str, Any]) -> dict[str, Any]:
    """The follow-up's one person participant."""
    (found,) = [p for p in follow_up["participants"] if p["kind"] == "person"]
    return found
