"""Commands on a whole follow-up: create, change (and move), cancel, assign.

Services flush, never commit; each command writes its bookings, notifications and event in
the same transaction as the change itself.
"""

import uuid
from typing import Any

from pydantic import MISSING
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor
from app.availability import bookings
from app.db.base import new_id, utc_now
from app.followups import rules, schemas, series
from app.followups.create_repository import CreateRepository, Directory, Notified
from app.followups.reads import owned
from app.followups.repository import FollowUpRepository, ParticipantRepository
from app.followups.rows import ShownFollowUp
from app.followups.series_repository import ExclusionRepository
from app.imip.outbox import mails_persons, tell_persons
from app.kit.etags import check_if_match
from app.models import FollowUp, Participant
from app.models.states import (
    EventType,
    FollowUpStatus,
    NotificationKind,
    ParticipantKind,
    ParticipantRole,
    ParticipantStatus,
)
from app.notifications.service import addressed, message_of, notify
from app.webhooks import payloads
from app.webhooks.events import event_data, record_event

# The changes (other than a move) that e-mailed persons hear of: what their calendar shows.
EMAILED_FIELDS = frozenset({"title", "location", "description", "all_day", "time_zone"})


async def create(
    session: AsyncSession, actor: Actor, body: schemas.FollowUpCreate
) -> ShownFollowUp:
    """Book a follow-up owned by the caller, with every participant, all or nothing.

    A single follow-up is one statement after the checks (`create_repository.py`); a series,
    one whose persons are e-mailed, or one whose strict resource is taken goes through the
    ORM (`_book`), which books the occurrences, queues the e-mails, or answers 409.
    """
    repository = CreateRepository(session, actor.tenant_id)
    by_kind = rules.ids_by_kind(body.participants)
    if _owner_alone(body):
        # Nothing to look up: the owner is the caller, and without a time zone in the body
        # (unused for a timed span) CREATE_SINGLE takes the owner's. One round trip less.
        directory = Directory(time_zone="", found={kind: {} for kind in ParticipantKind})
    else:
        directory = await repository.directory(actor.associate_id, by_kind, body.contact_id)
    time_zone = body.time_zone or directory.time_zone
    span = rules.span_given(body.model_dump(include=rules.SPAN_FIELDS), body.all_day, time_zone)
    start_at, end_at = span["start_at"], span["end_at"]
    rules.check_span(start_at, end_at, body.all_day, time_zone)
    if body.contact_id is not None and not directory.contact:
        raise rules.unknown_contact(body.contact_id)
    owner_id = actor.associate_id
    invited = rules.invitee_rows(actor.tenant_id, body.participants, owner_id, directory.found)
    planned = None
    if body.recurrence is not None:
        planned = series.plan(body.recurrence.rrule, start_at, end_at, time_zone, utc_now())

    follow_up_id = new_id()
    fields: dict[str, Any] = {
        "tenant_id": actor.tenant_id,
        "id": follow_up_id,
        "owner_id": owner_id,
        "title": body.title,
        "description": body.description,
        "location": body.location,
        "kind": body.kind,
        "start_at": start_at,
        "end_at": end_at,
        "time_zone": time_zone or None,
        "all_day": body.all_day,
        "contact_id": body.contact_id,
        "recurrence_rule": planned.rule if planned else None,
        "booked_until": planned.booked_until if planned else None,
    }
    participants = [{**rules.organizer_row(owner_id), "id": new_id()}, *invited]
    for participant in invited:
        participant["id"] = new_id()
    facts = _created(fields, [p["id"] for p in participants])
    if planned is None and not (by_kind[ParticipantKind.PERSON] and mails_persons(session)):
        notified = Notified(
            NotificationKind.INVITED,
            actor.name,
            message_of(NotificationKind.INVITED, body.title),
            addressed(
                ((p["associate_id"], p["id"]) for p in invited if "associate_id" in p), actor.name
            ),
        )
        data = event_data(actor.tenant_id, follow_up_id, EventType.FOLLOW_UP_CREATED, facts)
        row = await repository.create_single(fields, participants, directory.strict, notified, data)
        if row is not None:
            return row
    follow_up = FollowUp(**fields, participants=[Participant(**p) for p in participants])
    return await _book(session, actor, follow_up, planned, facts)


def _owner_alone(body: schemas.FollowUpCreate) -> bool:
    """Whether the body names nothing to look up: a timed, single follow-up of its owner alone.

    Such a follow-up is always written by CREATE_SINGLE (no series, no e-mailed persons, no
    strict resource), so its time zone may be left for that statement to fill in.
    """
    return (
        not body.participants
        and body.contact_id is None
        and body.recurrence is None
        and not body.all_day
    )


def _created(fields: dict[str, Any], participant_ids: list[uuid.UUID]) -> payloads.FollowUpCreated:
    """The facts of a new follow-up's `follow_up.created` event, from its columns."""
    rule = fields["recurrence_rule"]
    return payloads.FollowUpCreated(
        owner_id=fields["owner_id"],
        start_at=fields["start_at"],
        end_at=fields["end_at"],
        participant_ids=participant_ids,
        recurrence=None if rule is None else payloads.SeriesRule(rrule=rule),
        split_from=None,
    )


async def _book(
    session: AsyncSession,
    actor: Actor,
    follow_up: FollowUp,
    planned: series.Plan | None,
    facts: payloads.FollowUpCreated,
) -> FollowUp:
    """Write the new follow-up through the ORM: a series' occurrences, e-mails, or the 409."""
    await FollowUpRepository(session, actor.tenant_id).add(follow_up)
    if planned is not None:
        await series.book(session, follow_up, planned)
    await bookings.book_new(session, follow_up)
    await notify(
        session,
        follow_up,
        NotificationKind.INVITED,
        rules.invited_associates(follow_up.participants),
        actor=actor.name,
    )
    await record_event(session, follow_up, EventType.FOLLOW_UP_CREATED, facts)
    await tell_persons(session, follow_up)
    return follow_up


async def update(
    session: AsyncSession,
    actor: Actor,
    follow_up_id: uuid.UUID,
    body: schemas.FollowUpUpdate,
    if_match: str | None,
) -> FollowUp:
    """Change the fields given; a new time (or rule) puts every invited colleague back to not_read.

    A series whose time, zone or rule changes is booked again from its rule: its exceptions
    go, and every occurrence is booked anew.
    """
    follow_up = await owned(session, actor, follow_up_id)
    check_if_match(if_match, follow_up.seq)
    given = body.model_dump()
    recurrence = given.pop("recurrence", MISSING)
    all_day = given.get("all_day", follow_up.all_day)
    time_zone = given.get("time_zone", follow_up.time_zone)
    given |= rules.span_given(given, all_day, time_zone, current=follow_up)
    changes = {
        key: value
        for key, value in given.items()
        if key not in rules.DATES and getattr(follow_up, key) != value
    }
    merged = {
        key: changes.get(key, getattr(follow_up, key))
        for key in ("start_at", "end_at", "all_day", "time_zone")
    }
    rule = follow_up.recurrence_rule
    if recurrence is not MISSING:
        rule = None if recurrence is None else series.canonical(recurrence["rrule"], merged)
    if rule != follow_up.recurrence_rule:
        changes["recurrence_rule"] = rule
    if not changes:
        return follow_up
    rules.check_span(merged["start_at"], merged["end_at"], merged["all_day"], merged["time_zone"])
    if changes.get("contact_id") is not None:
        await rules.check_contact(session, actor.tenant_id, changes["contact_id"])
    moved = bool({"start_at", "end_at", "recurrence_rule"} & changes.keys()) or (
        rule is not None and "time_zone" in changes
    )
    planned = None
    if moved and rule is not None:
        planned = series.plan(
            rule, merged["start_at"], merged["end_at"], merged["time_zone"], utc_now()
        )
    was_series = follow_up.recurrence_rule is not None
    if moved:
        changes["booked_until"] = planned.booked_until if planned else None
    previous = {"start_at": follow_up.start_at, "end_at": follow_up.end_at}
    await FollowUpRepository(session, actor.tenant_id).update(follow_up, changes)
    if not moved:
        await record_event(
            session,
            follow_up,
            EventType.FOLLOW_UP_UPDATED,
            payloads.FollowUpUpdated(fields=sorted(changes)),
        )
        if changes.keys() & EMAILED_FIELDS:
            await tell_persons(session, follow_up)
        return follow_up
    reset = await ParticipantRepository(session, actor.tenant_id).reset_answers(follow_up.id)
    if was_series or planned is not None:
        await series.book(session, follow_up, planned)
    await bookings.rebook_moved(session, follow_up)
    await notify(session, follow_up, NotificationKind.RESCHEDULED, reset, actor=actor.name)
    await record_event(
        session,
        follow_up,
        EventType.FOLLOW_UP_RESCHEDULED,
        payloads.FollowUpRescheduled(
            start_at=follow_up.start_at,
            end_at=follow_up.end_at,
            previous_start_at=previous["start_at"],
            previous_end_at=previous["end_at"],
            reset_associate_ids=[associate_id for associate_id, _ in reset],
            recurrence=None
            if follow_up.recurrence is None
            else payloads.SeriesRule(**follow_up.recurrence),
        ),
    )
    await tell_persons(session, follow_up, moved=True)
    return follow_up


async def cancel(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, reason: str | None
) -> FollowUp:
    """Cancel: it blocks no time any more, answers are frozen, participants are told."""
    follow_up = await owned(session, actor, follow_up_id)
    follow_ups = FollowUpRepository(session, actor.tenant_id)
    await follow_ups.update(
        follow_up,
        {"status": FollowUpStatus.CANCELLED, "cancel_reason": reason, "cancelled_at": utc_now()},
    )
    await bookings.release_all(session, follow_up)
    await follow_ups.load_participants(follow_up)
    await notify(
        session,
        follow_up,
        NotificationKind.CANCELLED,
        rules.invited_associates(follow_up.participants),
        actor=actor.name,
    )
    await record_event(
        session, follow_up, EventType.FOLLOW_UP_CANCELLED, payloads.FollowUpCancelled(reason=reason)
    )
    await tell_persons(session, follow_up)
    return follow_up


async def assign(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, new_owner_id: uuid.UUID
) -> FollowUp:
    """Hand the follow-up to another associate, who becomes its organizer."""
    follow_up = await owned(session, actor, follow_up_id)
    if new_owner_id == follow_up.owner_id:
        return follow_up
    await rules.active_associates(session, actor.tenant_id, [new_owner_id])
    participants = ParticipantRepository(session, actor.tenant_id)
    previous_owner = await participants.of_associate(follow_up.id, follow_up.owner_id)
    if previous_owner is not None:
        await participants.update(previous_owner, {"role": ParticipantRole.REQUIRED})
    joining = await participants.of_associate(follow_up.id, new_owner_id)
    if joining is None:
        await participants.add(rules.organizer(new_owner_id, follow_up.id))
    else:
        await participants.update(
            joining,
            {
                "role": ParticipantRole.ORGANIZER,
                "status": ParticipantStatus.ACCEPTED,
                "rescheduled": False,
                "acknowledged_at": None,
                # The organizer takes part in every occurrence.
                "only_occurrence": None,
            },
        )
        await ExclusionRepository(session, actor.tenant_id).include(joining.id)
    previous_owner_id = follow_up.owner_id
    await FollowUpRepository(session, actor.tenant_id).update(follow_up, {"owner_id": new_owner_id})
    await bookings.rebook_associates(session, follow_up)
    await notify(
        session, follow_up, NotificationKind.ASSIGNED, [(new_owner_id, None)], actor=actor.name
    )
    await record_event(
        session,
        follow_up,
        EventType.FOLLOW_UP_ASSIGNED,
        payloads.FollowUpAssigned(owner_id=new_owner_id, previous_owner_id=previous_owner_id),
    )
    await tell_persons(session, follow_up)  # the calendar part's ORGANIZER changed
    return follow_up
