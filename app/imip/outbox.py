"""Queue e-mailed invitations (iMIP) for a follow-up's external persons, with the change itself.

Every command that changes what a person was told calls `tell_persons` after recording its
event (so the calendar part's SEQUENCE is the follow-up's new seq). The messages are rows in
`mail_messages`, written in the request's transaction; the worker sends them after the commit.
Without an SMTP server configured nothing is written and persons stay `not_applicable`.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from app.calendars import ical
from app.calendars.repository import CalendarRepository
from app.config import Settings
from app.db.session import SETTINGS_KEY
from app.imip.messages import invitation_message
from app.imip.repository import ImipRepository, Queued
from app.models import FollowUp, Participant
from app.models.mail import ImipMethod
from app.models.states import (
    FollowUpStatus,
    ParticipantKind,
    ParticipantRole,
    ParticipantStatus,
)


def _mail_settings(session: AsyncSession) -> Settings | None:
    """The settings when e-mail is on, else None (also for sessions made outside a request)."""
    settings = session.info.get(SETTINGS_KEY)
    return settings if isinstance(settings, Settings) and settings.mail_enabled else None


def mails_persons(session: AsyncSession) -> bool:
    """Whether persons are e-mailed in this session's requests (e-mail is configured)."""
    return _mail_settings(session) is not None


def _may_have_persons(follow_up: FollowUp) -> bool:
    """False when the participants are loaded and none is a person: no statement to ask."""
    if "participants" in inspect(follow_up).unloaded:
        return True
    return any(p.kind == ParticipantKind.PERSON for p in follow_up.participants)


async def tell_persons(
    session: AsyncSession,
    follow_up: FollowUp,
    *,
    moved: bool = False,
    removed: Participant | None = None,
    occurrence: datetime | None = None,
) -> int:
    """Queue the e-mails this change owes the follow-up's persons who have an address.

    A cancelled follow-up sends METHOD:CANCEL to each; `removed` (a person just taken off,
    or off the `occurrence` alone) sends CANCEL to that person only (for that occurrence);
    anything else sends METHOD:REQUEST to each, and marks them `invited` (after a move, even
    those who had answered). A person invited to one occurrence alone is sent that
    occurrence's VEVENT alone. Returns the messages queued.
    """
    settings = _mail_settings(session)
    if settings is None or (removed is not None and removed.kind != ParticipantKind.PERSON):
        return 0
    if removed is None and not _may_have_persons(follow_up):
        return 0
    # Imported here: the series commands call this module, and this one imports them.
    from app.calendars.service import attendees_by_follow_up

    repository = ImipRepository(session, follow_up.tenant_id)
    rows = await CalendarRepository(session, follow_up.tenant_id).attendees([follow_up.id])
    attendees = attendees_by_follow_up(rows).get(follow_up.id, [])
    if removed is not None:
        recipients = await _removed(repository, removed)
        # The cancel names the organizer and that person only.
        attendees = [a for a in attendees if a.role == ParticipantRole.ORGANIZER] + recipients
        method = ImipMethod.CANCEL
    else:
        recipients = [a for a in attendees if a.kind == ParticipantKind.PERSON and a.email]
        cancelled = follow_up.status == FollowUpStatus.CANCELLED
        method = ImipMethod.CANCEL if cancelled else ImipMethod.REQUEST
    if not recipients:
        return 0
    if method == ImipMethod.REQUEST:
        asked = {a.id for a in recipients}
        await repository.mark_invited(follow_up.id, list(asked), moved=moved)
        attendees = [
            replace(a, status=ParticipantStatus.INVITED)
            if a.id in asked and (moved or a.status == ParticipantStatus.NOT_APPLICABLE)
            else a
            for a in attendees
        ]
    if settings.mail_replies_to_sender:
        attendees = [_sender_as_organizer(a, settings) for a in attendees]
    row = await repository.follow_up_view(follow_up.id)
    views = await _views(session, follow_up, row, attendees, cancelled=removed is not None)
    assert settings.mail_from is not None
    messages = [
        Queued(
            person_id=recipient.id,
            recipient=recipient.email,
            message=invitation_message(
                views(occurrence if removed is not None else recipient.only),
                method,
                recipient,
                row.owner_name,
                settings.mail_from,
                updated=recipient.status != ParticipantStatus.NOT_APPLICABLE,
            ),
        )
        for recipient in recipients
        if recipient.email
    ]
    await repository.queue(follow_up.id, method, row.seq, messages)
    return len(messages)


async def _removed(repository: ImipRepository, removed: Participant) -> list[ical.Attendee]:
    """The person just taken off, as the one attendee to cancel for (none without an address)."""
    person = await repository.person(removed.person_id) if removed.person_id else None
    if person is None or not person.email:
        return []
    return [
        ical.Attendee(
            id=person.id,
            kind=ParticipantKind.PERSON,
            role=removed.role,
            status=removed.status,
            name=person.name,
            email=person.email,
        )
    ]


def _sender_as_organizer(attendee: ical.Attendee, settings: Settings) -> ical.Attendee:
    """The organizer at the sender's address, so that mail clients reply to that mailbox."""
    if attendee.role != ParticipantRole.ORGANIZER:
        return attendee
    return replace(attendee, email=settings.mail_from)


async def _views(
    session: AsyncSession,
    follow_up: FollowUp,
    row: Any,
    attendees: list[ical.Attendee],
    *,
    cancelled: bool,
) -> Callable[[datetime | None], ical.EventView]:
    """The calendar part's event: the follow-up (a series with its exceptions), these attendees.

    By occurrence: None gives the whole follow-up, an original start that occurrence alone.
    """
    # Imported here, as in tell_persons: both modules import the follow-up commands' modules.
    from app.calendars.service import event_view, one_occurrence, with_series
    from app.followups.series import series_of

    view = event_view(row, attendees)
    if cancelled:
        view = replace(view, status=FollowUpStatus.CANCELLED)
    found = await series_of(session, follow_up)
    whole = with_series(view, found)

    def of(occurrence: datetime | None) -> ical.EventView:
        if occurrence is None or found is None:
            return whole
        return one_occurrence(view, found, occurrence)

    return of
