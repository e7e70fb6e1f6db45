"""An iMIP message (RFC 6047): a text/plain part and the text/calendar part, as alternatives."""

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, make_msgid
from zoneinfo import ZoneInfo

from app.calendars import ical
from app.models.mail import ImipMethod

_SUBJECT = {ImipMethod.REQUEST: "Invitation", ImipMethod.CANCEL: "Cancelled"}


def _when(view: ical.EventView) -> str:
    """The span in the follow-up's own zone, as a person reads it."""
    zone = ZoneInfo(view.time_zone)
    start, end = view.start_at.astimezone(zone), view.end_at.astimezone(zone)
    if view.all_day:
        return f"{start:%A %d %B %Y} (all day)"
    same_day = start.date() == end.date()
    until = f"{end:%H:%M}" if same_day else f"{end:%A %d %B %Y %H:%M}"
    return f"{start:%A %d %B %Y %H:%M} - {until} ({view.time_zone})"


def plain_text(view: ical.EventView, method: ImipMethod, organizer: str) -> str:
    """The text/plain alternative: what the calendar part says, for a reader without one."""
    if method == ImipMethod.CANCEL:
        lines = [f'{organizer} has cancelled "{view.title}".', "", f"When: {_when(view)}"]
    else:
        lines = [f'{organizer} invites you to "{view.title}".', "", f"When: {_when(view)}"]
    if view.rule:
        lines.append(f"Repeats: {view.rule}")
    if view.location:
        lines.append(f"Where: {view.location}")
    if view.description:
        lines += ["", view.description]
    if method == ImipMethod.REQUEST:
        lines += ["", "Accept or decline in your calendar program to answer."]
    return "\n".join(lines) + "\n"


def invitation_message(
    view: ical.EventView,
    method: ImipMethod,
    recipient: ical.Attendee,
    organizer: str,
    sender: str,
    *,
    updated: bool = False,
) -> str:
    """The whole e-mail to one person as RFC 5322 text (CRLF lines), ready for SMTP.

    `view` lists the attendees the calendar part names (for a cancel to one person: the
    organizer and that person); `organizer` is the organizer's name, shown as the sender's;
    `updated` says the person was asked before (the subject says so).
    """
    assert recipient.email is not None
    message = EmailMessage(policy=SMTP)
    subject = "Updated invitation" if updated and method == ImipMethod.REQUEST else _SUBJECT[method]
    message["Subject"] = f"{subject}: {view.title}"
    message["From"] = formataddr((organizer, sender))
    message["To"] = formataddr((recipient.name, recipient.email))
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message.set_content(plain_text(view, method, organizer))
    calendar = ical.scheduling_calendar(view, method.value, recipient.address)
    message.add_alternative(
        ical.ics(calendar).decode(), subtype="calendar", params={"method": method.value}
    )
    return message.as_string()
