"""Rules every follow-up command shares: valid spans, who may take part and how they start."""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utc_now
from app.directory.repository import (
    AssociateRepository,
    ContactRepository,
    PersonRepository,
    ResourceRepository,
)
from app.followups import schemas
from app.followups.errors import InactiveReference, InvalidSpan
from app.followups.repository import ParticipantRepository
from app.kit.errors import NotFound, UnknownReference, ValidationFailed
from app.kit.zones import local_midnight
from app.models import Associate, FollowUp, Participant
from app.models.states import ParticipantKind, ParticipantRole, ParticipantStatus
from app.notifications.service import Recipient
from app.webhooks.payloads import PARTICIPANT_FACTS, ParticipantFacts

Target = tuple[ParticipantKind, uuid.UUID | None]


def check_span(start_at: datetime, end_at: datetime, all_day: bool, time_zone: str) -> None:
    """422 unless the span is valid; an all-day span runs midnight to midnight in its zone."""
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


INSTANTS = ("start_at", "end_at")
DATES = ("start_date", "end_date")
SPAN_FIELDS = {*INSTANTS, *DATES}


def span_given(
    given: Mapping[str, Any],
    all_day: bool,
    time_zone: str,
    *,
    current: FollowUp | None = None,
) -> dict[str, datetime]:
    """The `start_at`/`end_at` a body sets: its instants, or an all-day span's dates.

    `given` holds the fields the body sent; `current` is the follow-up a PATCH changes
    (None on create, where one form, complete, is required). A date becomes its midnight in
    `time_zone`. 422 for both forms at once, dates on a timed follow-up, or an `end_date`
    not after the `start_date`.
    """
    instants = [name for name in INSTANTS if name in given]
    dates = [name for name in DATES if name in given]
    if instants and dates:
        raise _span_form(
            dates[0],
            "give start_at and end_at, or start_date and end_date (all-day), not both forms",
        )
    if dates and not all_day:
        raise _span_form(
            dates[0],
            "start_date and end_date are for all-day follow-ups: set all_day to true, "
            "or give start_at and end_at",
        )
    if current is None:
        missing = [name for name in (DATES if dates else INSTANTS) if name not in given]
        if missing:
            raise ValidationFailed.at(
                ("body", missing[0]),
                "give start_at and end_at, or start_date and end_date for an all-day follow-up",
                msg="Field required",
                type="missing",
            )
    if not dates:
        return {name: given[name] for name in instants}
    days: dict[str, date | None] = {
        name: given[name] if name in given else getattr(current, name, None) for name in DATES
    }
    start_date, end_date = days["start_date"], days["end_date"]
    if start_date is not None and end_date is not None and end_date <= start_date:
        raise ValidationFailed.at(
            ("body", "end_date"),
            "end_date is exclusive, as in iCalendar: it must be after start_date "
            "(one day, 10 December 2026, is start_date 2026-12-10 and end_date 2026-12-11)",
            msg="end_date not after start_date",
            type="date_order",
        )
    return {
        instant: local_midnight(given[day], time_zone)
        for instant, day in zip(INSTANTS, DATES, strict=True)
        if day in given
    }


def _span_form(field: str, detail: str) -> ValidationFailed:
    return ValidationFailed.at(("body", field), detail, msg="span form", type="span_form")


def organizer(associate_id: uuid.UUID, follow_up_id: uuid.UUID | None = None) -> Participant:
    """The organizer's own participation: accepted, never invited."""
    return Participant(follow_up_id=follow_up_id, **organizer_row(associate_id))


def organizer_row(associate_id: uuid.UUID) -> dict[str, Any]:
    """The organizer's participation as the columns a `Participant` is made of."""
    return {
        "kind": ParticipantKind.ASSOCIATE,
        "associate_id": associate_id,
        "role": ParticipantRole.ORGANIZER,
        "status": ParticipantStatus.ACCEPTED,
        "rescheduled": False,
    }


def invited_associates(participants: Iterable[Participant]) -> list[Recipient]:
    """The invited associates among the participants (the organizer left out), to notify."""
    return [
        (p.associate_id, p.id)
        for p in participants
        if p.associate_id is not None and p.role != ParticipantRole.ORGANIZER
    ]


def target(participant: Participant) -> Target:
    """What the participant is: its kind and the associate, resource or person id."""
    return participant.kind, (
        participant.associate_id or participant.resource_id or participant.person_id
    )


def ref_target(ref: schemas.ParticipantRef) -> tuple[ParticipantKind, uuid.UUID]:
    """What a reference in a request names: its kind and id."""
    if isinstance(ref, schemas.AssociateRef):
        return ParticipantKind.ASSOCIATE, ref.associate_id
    if isinstance(ref, schemas.ResourceRef):
        return ParticipantKind.RESOURCE, ref.resource_id
    return ParticipantKind.PERSON, ref.person_id


def participant_facts(
    participant: Participant, occurrence_start: datetime | None = None
) -> ParticipantFacts:
    """The participant as an event names it: its id, kind and `<kind>_id` (and occurrence)."""
    kind, target_id = target(participant)
    return PARTICIPANT_FACTS.validate_python(
        {
            "participant_id": participant.id,
            "kind": kind,
            f"{kind}_id": target_id,
            "occurrence_start": occurrence_start,
        }
    )


async def participant_of(
    session: AsyncSession, follow_up: FollowUp, participant_id: uuid.UUID
) -> Participant:
    """The follow-up's participant with this id; 404 otherwise."""
    participant = await ParticipantRepository(session, follow_up.tenant_id).get(participant_id)
    if participant is None or participant.follow_up_id != follow_up.id:
        raise NotFound(f"participant {participant_id} not found in this follow-up")
    return participant


def unknown_contact(contact_id: uuid.UUID) -> UnknownReference:
    """The 404 for a contact the tenant does not have."""
    return UnknownReference(f"contact {contact_id} not found")


async def check_contact(session: AsyncSession, tenant_id: uuid.UUID, contact_id: uuid.UUID) -> None:
    """404 unless the tenant has the contact."""
    if not await ContactRepository(session, tenant_id).exists(contact_id):
        raise unknown_contact(contact_id)


async def active_associates(
    session: AsyncSession, tenant_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Associate]:
    """The associates by id: 404 for unknown ids, 409 for deactivated ones."""
    found = await AssociateRepository(session, tenant_id).get_many(ids)
    _require_all(found, ids, "associate")
    return found


def _require_all(found: Mapping[uuid.UUID, Any], ids: Iterable[uuid.UUID], noun: str) -> None:
    """404 for ids the tenant does not have, 409 for deactivated ones."""
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise UnknownReference(f"{noun} not found: {', '.join(missing)}")
    inactive = [str(i) for i, obj in found.items() if not getattr(obj, "active", True)]
    if inactive:
        raise InactiveReference(f"{noun} deactivated: {', '.join(inactive)}")


def ids_by_kind(refs: Sequence[schemas.ParticipantRef]) -> dict[ParticipantKind, list[uuid.UUID]]:
    """The ids the references name, by kind, in their order."""
    by_kind: dict[ParticipantKind, list[uuid.UUID]] = {kind: [] for kind in ParticipantKind}
    for kind, target_id in map(ref_target, refs):
        by_kind[kind].append(target_id)
    return by_kind


# The directory objects references name, by kind and id (each with `active` where it has one).
Found = Mapping[ParticipantKind, Mapping[uuid.UUID, Any]]


async def new_participants(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    refs: Sequence[schemas.ParticipantRef],
    owner_id: uuid.UUID | None,
) -> list[Participant]:
    """New participants for these references, after checking each exists and may take part."""
    by_kind = ids_by_kind(refs)
    found: dict[ParticipantKind, Mapping[uuid.UUID, Any]] = {
        ParticipantKind.ASSOCIATE: await AssociateRepository(session, tenant_id).get_many(
            by_kind[ParticipantKind.ASSOCIATE]
        ),
        ParticipantKind.RESOURCE: await ResourceRepository(session, tenant_id).get_many(
            by_kind[ParticipantKind.RESOURCE]
        ),
        ParticipantKind.PERSON: await PersonRepository(session, tenant_id).get_many(
            by_kind[ParticipantKind.PERSON]
        ),
    }
    return invitees(tenant_id, refs, owner_id, found)


def invitees(
    tenant_id: uuid.UUID,
    refs: Sequence[schemas.ParticipantRef],
    owner_id: uuid.UUID | None,
    found: Found,
) -> list[Participant]:
    """New participants for these references, given what they name: 422, 404 or 409 if unfit."""
    return [Participant(**row) for row in invitee_rows(tenant_id, refs, owner_id, found)]


def invitee_rows(
    tenant_id: uuid.UUID,
    refs: Sequence[schemas.ParticipantRef],
    owner_id: uuid.UUID | None,
    found: Found,
) -> list[dict[str, Any]]:
    """`invitees` as the columns each `Participant` is made of: no ORM objects to build."""
    targets = [ref_target(ref) for ref in refs]
    if len(set(targets)) != len(targets):
        raise ValidationFailed("a participant is listed more than once")
    if owner_id is not None and (ParticipantKind.ASSOCIATE, owner_id) in targets:
        raise ValidationFailed("the owner takes part as organizer; do not list them")
    for kind in ParticipantKind:
        named = [target_id for target_kind, target_id in targets if target_kind == kind]
        found_here = found[kind]
        _require_all({i: found_here[i] for i in named if i in found_here}, named, kind.value)

    now = utc_now()
    initial: dict[ParticipantKind, dict[str, Any]] = {
        ParticipantKind.ASSOCIATE: {"status": ParticipantStatus.NOT_READ},
        ParticipantKind.RESOURCE: {"status": ParticipantStatus.ACCEPTED, "responded_at": now},
        ParticipantKind.PERSON: {"status": ParticipantStatus.NOT_APPLICABLE},
    }
    return [
        {
            "tenant_id": tenant_id,
            "kind": kind,
            "role": ParticipantRole(ref.role.value),
            "rescheduled": False,
            f"{kind}_id": target_id,
            **initial[kind],
        }
        for ref, (kind, target_id) in zip(refs, targets, strict=True)
    ]
