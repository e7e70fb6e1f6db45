"""`convene demo`: a demo tenant with colleagues in two time zones, rooms, a contact and a week."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Actor, Principal
from app.directory import schemas as directory
from app.directory import service as directory_service
from app.directory.repository import AssociateRepository
from app.followups import commands as followup_commands
from app.followups import schemas as followups
from app.followups.repository import ParticipantRepository
from app.invitations import service as invitation_service
from app.invitations.schemas import ResponseRequest
from app.kit.pagination import PageParams
from app.models import Associate
from app.models.states import ParticipantStatus

CPH, NY = "Europe/Copenhagen", "America/New_York"
PEOPLE = [("ada", "Ada Jensen", CPH), ("bo", "Bo Holm", CPH), ("cleo", "Cleo Park", NY)]


@dataclass(frozen=True)
class Booking:
    """One follow-up of the demo week, in its owner's local time."""

    owner: str
    title: str
    weekday: int
    start: tuple[int, int]
    end: tuple[int, int]
    invited: list[str]
    rooms: list[str] = field(default_factory=list)
    persons: list[str] = field(default_factory=list)
    for_contact: bool = False
    answers: dict[str, ParticipantStatus] = field(default_factory=dict)


WEEK = [
    Booking("ada", "Weekly planning", 0, (9, 0), (10, 0), ["bo", "cleo"], ["fjord"],
            answers={"bo": ParticipantStatus.ACCEPTED}),
    Booking("bo", "Nordlys kickoff", 1, (13, 0), (14, 0), ["ada"], ["boardroom"], ["dina"],
            for_contact=True, answers={"ada": ParticipantStatus.DECLINED}),
    Booking("cleo", "Sync with Copenhagen", 2, (9, 0), (9, 30), ["ada", "bo"],
            answers={"ada": ParticipantStatus.TENTATIVE, "bo": ParticipantStatus.SEEN}),
    Booking("ada", "Nordlys contract review", 3, (10, 0), (11, 30), ["bo"], ["boardroom"],
            ["erik"], for_contact=True, answers={"bo": ParticipantStatus.ACCEPTED}),
    Booking("bo", "Retro", 4, (14, 0), (15, 0), ["ada", "cleo"], ["fjord"]),
]  # fmt: skip


@dataclass(frozen=True)
class Demo:
    """The demo's associates by name, and whether this run loaded them."""

    associates: dict[str, uuid.UUID]
    created: bool


async def load_demo(session: AsyncSession, tenant_id: uuid.UUID, today: date) -> Demo:
    """Load the demo into the tenant once; a later run finds it and changes nothing."""
    found = await AssociateRepository(session, tenant_id).page(
        PageParams(limit=len(PEOPLE), after=None), Associate.external_id.like("demo-%")
    )
    if found.items:
        return Demo({a.name: a.id for a in found.items}, created=False)

    admin = Principal(tenant_id=tenant_id, subject="convene-demo", scopes=frozenset({"admin"}))
    people = {
        key: await directory_service.associates.create(
            session,
            admin,
            directory.AssociateCreate(
                name=name, email=f"{key}@convene.example", time_zone=zone, external_id=f"demo-{key}"
            ),
        )
        for key, name, zone in PEOPLE
    }
    rooms = {
        key: (
            await directory_service.resources.create(
                session,
                admin,
                directory.ResourceCreate(
                    name=name,
                    kind="room",
                    capacity=capacity,
                    allow_double_booking=shared,
                    external_id=f"demo-{key}",
                ),
            )
        ).id
        for key, name, capacity, shared in [
            ("fjord", "Fjord room", 8, True),
            ("boardroom", "Boardroom", 14, False),
        ]
    }
    nordlys = await directory_service.contacts.create(
        session, admin, directory.ContactCreate(name="Nordlys A/S", external_id="demo-nordlys")
    )
    persons = {
        key: (
            await directory_service.persons.create(
                session,
                admin,
                directory.PersonCreate(
                    contact_id=nordlys.id,
                    name=name,
                    email=f"{key}@nordlys.example",
                    external_id=f"demo-{key}",
                ),
            )
        ).id
        for key, name in [("dina", "Dina Lund"), ("erik", "Erik Sø")]
    }

    monday = today + timedelta(days=7 - today.weekday())
    for booking in WEEK:
        owner = people[booking.owner]
        day = monday + timedelta(days=booking.weekday)
        zone = ZoneInfo(owner.time_zone)
        refs: list[followups.ParticipantRef] = [
            *(followups.AssociateRef(associate_id=people[k].id) for k in booking.invited),
            *(followups.ResourceRef(resource_id=rooms[k]) for k in booking.rooms),
            *(followups.PersonRef(person_id=persons[k]) for k in booking.persons),
        ]
        follow_up = await followup_commands.create(
            session,
            Actor(tenant_id, owner.id),
            followups.FollowUpCreate(
                title=booking.title,
                start_at=datetime.combine(day, time(*booking.start), zone).astimezone(UTC),
                end_at=datetime.combine(day, time(*booking.end), zone).astimezone(UTC),
                contact_id=nordlys.id if booking.for_contact else None,
                participants=refs,
            ),
        )
        invitations = {
            p.associate_id: p.id
            for p in await ParticipantRepository(session, tenant_id).of(follow_up.id)
        }
        for key, answer in booking.answers.items():
            actor = Actor(tenant_id, people[key].id)
            invitation = invitations[people[key].id]
            if answer == ParticipantStatus.SEEN:
                await invitation_service.mark_seen(session, actor, invitation)
                continue
            comment = "Travelling that day" if answer == ParticipantStatus.DECLINED else None
            request = ResponseRequest.model_validate({"status": answer, "comment": comment})
            await invitation_service.respond(session, actor, invitation, request)
    return Demo({a.name: a.id for a in people.values()}, created=True)
