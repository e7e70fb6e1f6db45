"""Follow-up rules: who may act, what a move resets, what every change records and notifies.

Services flush, never commit; each change writes its event (and notifications) in the same
transaction as the change itself.
"""

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.principals import Actor, Principal
from app.availability import bookings
from app.directory.repository import (
    AssociateRepository,
    ContactRepository,
    PersonRepository,
    ResourceRepository,
)
from app.followups import schemas
from app.followups.repository import (
    FollowUpRepository,
    ParticipantRepository,
    ResponseRepository,
)
from app.kit.errors import Conflict, Forbidden, NotFound, UnknownReference, ValidationFailed
from app.kit.etags import check_if_match
from app.kit.pagination import Paged, PageParams
from app.models import Associate, FollowUp, Participant, Response
from app.notifications.service import Recipient, notify
from app.webhooks.events import record_event


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
    description = f"A follow-up has at most {schemas.MAX_PARTICIPANTS} participants."


def _now() -> datetime:
    return datetime.now(UTC)


def _check_span(start_at: datetime, end_at: datetime, all_day: bool, time_zone: str) -> None:
    try:
        schemas.check_span(start_at, end_at)
    except ValueError as exc:
        raise InvalidSpan(str(exc)) from exc
    if all_day:
        zone = ZoneInfo(time_zone)
        for instant in (start_at, end_at):
            if instant.astimezone(zone).timetz().replace(tzinfo=None) != time(0):
                raise InvalidSpan(
                    f"an all-day follow-up starts and ends at midnight in {time_zone}"
                )


# Reading ------------------------------------------------------------------------------------


async def with_participants(session: AsyncSession, follow_up: FollowUp) -> FollowUp:
    """Load the follow-up's participants (fresh from the database) onto it."""
    query = (
        select(Participant)
        .where(Participant.follow_up_id == follow_up.id)
        .order_by(Participant.role != "organizer", Participant.id)
        .execution_options(populate_existing=True)
    )
    set_committed_value(follow_up, "participants", list((await session.scalars(query)).all()))
    return follow_up


async def visible(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, *, for_update: bool = False
) -> FollowUp:
    """The follow-up if the caller owns or takes part in it; 404 otherwise."""
    follow_up = await FollowUpRepository(session, actor.tenant_id).get_visible(
        follow_up_id, actor.associate_id, for_update=for_update
    )
    if follow_up is None:
        raise NotFound(f"follow-up {follow_up_id} not found")
    return follow_up


async def owned(session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID) -> FollowUp:
    """The follow-up, locked for change, if the caller organizes it and it is not cancelled."""
    follow_up = await visible(session, actor, follow_up_id, for_update=True)
    if follow_up.owner_id != actor.associate_id:
        raise NotOrganizer("only the organizer may do this")
    if follow_up.status == "cancelled":
        raise FollowUpCancelled(f"follow-up {follow_up_id} is cancelled")
    return follow_up


async def diary(
    session: AsyncSession,
    actor: Actor,
    start: datetime,
    end: datetime,
    status: str | None,
    page: PageParams,
) -> Paged[dict[str, Any]]:
    """The caller's follow-ups overlapping the window, each with the caller's role and answer."""
    rows = await FollowUpRepository(session, actor.tenant_id).diary(
        actor.associate_id, start, end, status, page
    )
    return Paged(
        [_with_mine(follow_up, role, status) for follow_up, role, status in rows.items],
        rows.next_cursor,
    )


def _with_mine(follow_up: FollowUp, role: str, status: str) -> dict[str, Any]:
    fields = schemas.FollowUpFields.model_validate(follow_up).model_dump()
    return {**fields, "my_role": role, "my_status": status}


async def responses(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, page: PageParams
) -> Paged[Response]:
    """The follow-up's answers, oldest first."""
    await visible(session, actor, follow_up_id)
    return await ResponseRepository(session, actor.tenant_id).page(
        page, Response.follow_up_id == follow_up_id
    )


async def activities(
    session: AsyncSession, principal: Principal, contact_id: uuid.UUID, page: PageParams
) -> Paged[FollowUp]:
    """A contact's activity archive; members see the follow-ups they own or take part in."""
    if not await ContactRepository(session, principal.tenant_id).exists(contact_id):
        raise NotFound(f"contact {contact_id} not found")
    visible_to = None if principal.is_admin else principal.associate_id
    return await FollowUpRepository(session, principal.tenant_id).activities(
        contact_id, visible_to, page
    )


# Creating and changing ----------------------------------------------------------------------


async def create(session: AsyncSession, actor: Actor, body: schemas.FollowUpCreate) -> FollowUp:
    """Book a follow-up owned by the caller, with every participant, all or nothing."""
    owner = await AssociateRepository(session, actor.tenant_id).get(actor.associate_id)
    assert owner is not None  # the caller was checked to be an active associate
    time_zone = body.time_zone or owner.time_zone
    _check_span(body.start_at, body.end_at, body.all_day, time_zone)
    if body.contact_id is not None:
        await _check_contact(session, actor.tenant_id, body.contact_id)
    invited = await _resolve(session, actor.tenant_id, body.participants, owner.id)

    follow_up = FollowUp(
        owner_id=owner.id,
        title=body.title,
        description=body.description,
        location=body.location,
        kind=body.kind,
        start_at=body.start_at,
        end_at=body.end_at,
        time_zone=time_zone,
        all_day=body.all_day,
        contact_id=body.contact_id,
        participants=[_organizer(owner.id), *invited],
    )
    await FollowUpRepository(session, actor.tenant_id).add(follow_up)
    await bookings.sync(session, follow_up, check_strict=True)
    await notify(session, follow_up, "invited", _associates(invited), actor=actor.name)
    await record_event(
        session,
        follow_up,
        "follow_up.created",
        owner_id=owner.id,
        start_at=follow_up.start_at,
        end_at=follow_up.end_at,
        participant_ids=[str(p.id) for p in follow_up.participants],
    )
    return follow_up


async def update(
    session: AsyncSession,
    actor: Actor,
    follow_up_id: uuid.UUID,
    body: schemas.FollowUpUpdate,
    if_match: str | None,
) -> FollowUp:
    """Change the fields given; a new time puts every invited colleague back to not_read."""
    follow_up = await owned(session, actor, follow_up_id)
    check_if_match(if_match, follow_up.seq)
    changes = {
        key: value for key, value in body.model_dump().items() if getattr(follow_up, key) != value
    }
    if not changes:
        return follow_up
    merged = {
        key: changes.get(key, getattr(follow_up, key))
        for key in ("start_at", "end_at", "all_day", "time_zone")
    }
    _check_span(merged["start_at"], merged["end_at"], merged["all_day"], merged["time_zone"])
    if changes.get("contact_id") is not None:
        await _check_contact(session, actor.tenant_id, changes["contact_id"])
    moved = "start_at" in changes or "end_at" in changes
    previous = {"start_at": follow_up.start_at, "end_at": follow_up.end_at}
    await FollowUpRepository(session, actor.tenant_id).update(follow_up, changes)
    if moved:
        reset = await ParticipantRepository(session, actor.tenant_id).reset_answers(follow_up.id)
        await bookings.sync(session, follow_up, check_strict=True)
        await notify(session, follow_up, "rescheduled", reset, actor=actor.name)
        await record_event(
            session,
            follow_up,
            "follow_up.rescheduled",
            start_at=follow_up.start_at,
            end_at=follow_up.end_at,
            previous_start_at=previous["start_at"],
            previous_end_at=previous["end_at"],
            reset_associate_ids=[str(associate_id) for associate_id, _ in reset],
        )
    else:
        await record_event(session, follow_up, "follow_up.updated", fields=sorted(changes))
    return follow_up


async def cancel(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, reason: str | None
) -> FollowUp:
    """Cancel: it blocks no time any more, answers are frozen, participants are told."""
    follow_up = await owned(session, actor, follow_up_id)
    await FollowUpRepository(session, actor.tenant_id).update(
        follow_up,
        {
            "status": "cancelled",
            "cancel_reason": reason,
            "cancelled_at": _now(),
        },
    )
    await bookings.sync(session, follow_up)
    await with_participants(session, follow_up)
    await notify(
        session, follow_up, "cancelled", _associates(follow_up.participants), actor=actor.name
    )
    await record_event(session, follow_up, "follow_up.cancelled", reason=reason)
    return follow_up


async def assign(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, new_owner_id: uuid.UUID
) -> FollowUp:
    """Hand the follow-up to another associate, who becomes its organizer."""
    follow_up = await owned(session, actor, follow_up_id)
    if new_owner_id == follow_up.owner_id:
        return follow_up
    await _active_associates(session, actor.tenant_id, [new_owner_id])
    participants = ParticipantRepository(session, actor.tenant_id)
    previous_owner = await participants.of_associate(follow_up.id, follow_up.owner_id)
    if previous_owner is not None:
        await participants.update(previous_owner, {"role": "required"})
    joining = await participants.of_associate(follow_up.id, new_owner_id)
    organizer = {"role": "organizer", "status": "accepted", "rescheduled": False}
    if joining is None:
        await participants.add(_organizer(new_owner_id, follow_up.id))
    else:
        await participants.update(joining, {**organizer, "acknowledged_at": None})
    previous_owner_id = follow_up.owner_id
    await FollowUpRepository(session, actor.tenant_id).update(follow_up, {"owner_id": new_owner_id})
    await bookings.sync(session, follow_up, ["associate"])
    await notify(session, follow_up, "assigned", [(new_owner_id, None)], actor=actor.name)
    await record_event(
        session,
        follow_up,
        "follow_up.assigned",
        owner_id=new_owner_id,
        previous_owner_id=previous_owner_id,
    )
    return follow_up


async def add_participant(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, ref: schemas.ParticipantRef
) -> Participant:
    """Invite one more colleague, resource or person."""
    follow_up = await owned(session, actor, follow_up_id)
    participants = ParticipantRepository(session, actor.tenant_id)
    if await participants.count(follow_up.id) >= schemas.MAX_PARTICIPANTS:
        raise TooManyParticipants(f"at most {schemas.MAX_PARTICIPANTS} participants")
    existing = {_target(p) for p in await participants.of(follow_up.id)}
    if _ref_target(ref) in existing:
        raise DuplicateParticipant("already a participant of this follow-up")
    (participant,) = await _resolve(session, actor.tenant_id, [ref], owner_id=None)
    participant.follow_up_id = follow_up.id
    await participants.add(participant)
    if participant.kind != "person":
        await bookings.sync(
            session, follow_up, [participant.kind], check_strict=participant.kind == "resource"
        )
    await notify(
        session,
        follow_up,
        "invited",
        _associates([participant]),
        actor=actor.name,
    )
    await record_event(session, follow_up, "participant.added", **_participant_data(participant))
    return participant


async def remove_participant(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, participant_id: uuid.UUID
) -> None:
    """Take a participant off the follow-up; their answers stay in the history."""
    follow_up = await owned(session, actor, follow_up_id)
    participant = await _participant_of(session, follow_up, participant_id)
    if participant.role == "organizer":
        raise OrganizerParticipant("the organizer cannot be removed; assign the follow-up instead")
    data = _participant_data(participant)
    await session.delete(participant)
    await session.flush()
    await notify(
        session,
        follow_up,
        "removed",
        _associates([participant]),
        actor=actor.name,
    )
    await record_event(session, follow_up, "participant.removed", **data)


async def acknowledge(
    session: AsyncSession, actor: Actor, follow_up_id: uuid.UUID, participant_id: uuid.UUID
) -> Participant:
    """The organizer's "Understood" on a declined invitation."""
    follow_up = await owned(session, actor, follow_up_id)
    participant = await _participant_of(session, follow_up, participant_id)
    if participant.status != "declined":
        raise NotDeclined(f"participant {participant_id} has not declined")
    if participant.acknowledged_at is None:
        await ParticipantRepository(session, actor.tenant_id).update(
            participant, {"acknowledged_at": _now()}
        )
        await record_event(
            session,
            follow_up,
            "invitation.acknowledged",
            participant_id=participant.id,
            associate_id=participant.associate_id,
            acknowledged_at=participant.acknowledged_at,
        )
    return participant


# Helpers ------------------------------------------------------------------------------------


def _organizer(associate_id: uuid.UUID, follow_up_id: uuid.UUID | None = None) -> Participant:
    return Participant(
        follow_up_id=follow_up_id,
        kind="associate",
        associate_id=associate_id,
        role="organizer",
        status="accepted",
        rescheduled=False,
    )


def _associates(participants: Iterable[Participant]) -> list[Recipient]:
    """The invited associates among the participants (the organizer left out), to notify."""
    return [
        (p.associate_id, p.id)
        for p in participants
        if p.associate_id is not None and p.role != "organizer"
    ]


def _target(participant: Participant) -> tuple[str, uuid.UUID | None]:
    return participant.kind, (
        participant.associate_id or participant.resource_id or participant.person_id
    )


def _ref_target(ref: schemas.ParticipantRef) -> tuple[str, uuid.UUID]:
    if isinstance(ref, schemas.AssociateRef):
        return "associate", ref.associate_id
    if isinstance(ref, schemas.ResourceRef):
        return "resource", ref.resource_id
    return "person", ref.person_id


def _participant_data(participant: Participant) -> dict[str, Any]:
    kind, target = _target(participant)
    return {"participant_id": participant.id, "kind": kind, f"{kind}_id": target}


async def _participant_of(
    session: AsyncSession, follow_up: FollowUp, participant_id: uuid.UUID
) -> Participant:
    participant = await ParticipantRepository(session, follow_up.tenant_id).get(participant_id)
    if participant is None or participant.follow_up_id != follow_up.id:
        raise NotFound(f"participant {participant_id} not found in this follow-up")
    return participant


async def _check_contact(
    session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID
) -> None:
    if not await ContactRepository(session, tenant_id).exists(contact_id):
        raise UnknownReference(f"contact {contact_id} not found")


async def _active_associates(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Associate]:
    found = await AssociateRepository(session, tenant_id).get_many(ids)
    _require_all(found, ids, "associate")
    return found


def _require_all(found: dict[uuid.UUID, Any], ids: Iterable[uuid.UUID], noun: str) -> None:
    """404 for ids the tenant does not have, 409 for deactivated ones."""
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise UnknownReference(f"{noun} not found: {', '.join(missing)}")
    inactive = [str(i) for i, obj in found.items() if not getattr(obj, "active", True)]
    if inactive:
        raise InactiveReference(f"{noun} deactivated: {', '.join(inactive)}")


async def _resolve(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    refs: Sequence[schemas.ParticipantRef],
    owner_id: uuid.UUID | None,
) -> list[Participant]:
    """New participants for these references, after checking each exists and may take part."""
    targets = [_ref_target(ref) for ref in refs]
    if len(set(targets)) != len(targets):
        raise ValidationFailed("a participant is listed more than once")
    if owner_id is not None and ("associate", owner_id) in targets:
        raise ValidationFailed("the owner takes part as organizer; do not list them")
    by_kind: dict[str, list[uuid.UUID]] = {"associate": [], "resource": [], "person": []}
    for kind, target in targets:
        by_kind[kind].append(target)
    await _active_associates(session, tenant_id, by_kind["associate"])
    resources = await ResourceRepository(session, tenant_id).get_many(by_kind["resource"])
    _require_all(resources, by_kind["resource"], "resource")
    persons = await PersonRepository(session, tenant_id).get_many(by_kind["person"])
    _require_all(persons, by_kind["person"], "person")

    now = _now()
    initial: dict[str, dict[str, Any]] = {
        "associate": {"status": "not_read"},
        "resource": {"status": "accepted", "responded_at": now},
        "person": {"status": "not_applicable"},
    }
    return [
        Participant(
            tenant_id=tenant_id,
            kind=kind,
            role=ref.role,
            rescheduled=False,
            **{f"{kind}_id": target},
            **initial[kind],
        )
        for ref, (kind, target) in zip(refs, targets, strict=True)
    ]
