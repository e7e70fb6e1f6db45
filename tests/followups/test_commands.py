"""The follow-up commands called directly, as a service: `update` and `assign`.

The API tests drive them over HTTP; these check what each leaves in the database, in a
session of the test's own transaction, and that a refused command changes nothing.
"""

import uuid
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.auth.principals import Actor
from app.followups import commands, schemas
from app.followups.errors import FollowUpCancelled, InactiveReference, InvalidSpan, NotOrganizer
from app.kit.errors import PreconditionFailed, UnknownReference
from app.models import Booking, Event, Notification, Participant
from app.models.states import (
    EventType,
    NotificationKind,
    ParticipantRole,
    ParticipantStatus,
)
from tests.fixtures.factories import Caller, create_resource
from tests.followups.support import at, book, participant, respond, tenant_rows


@pytest.fixture
async def session(app: FastAPI) -> AsyncIterator[AsyncSession]:
    """A session inside the test's transaction, as a request would get."""
    async with app.state.database.sessionmaker() as session:
        yield session


def actor(caller: Caller) -> Actor:
    return Actor(caller.tenant_id, uuid.UUID(caller.subject))


async def bookings_of(session: AsyncSession, follow_up_id: str) -> dict[uuid.UUID, Booking]:
    rows = await session.scalars(select(Booking).where(Booking.follow_up_id == follow_up_id))
    return {row.calendar_id: row for row in rows.all()}


async def events_of(session: AsyncSession, follow_up_id: str) -> list[Event]:
    query = select(Event).where(Event.follow_up_id == follow_up_id).order_by(Event.seq)
    return list((await session.scalars(query)).all())


async def participant_row(session: AsyncSession, follow_up_id: str, associate: str) -> Participant:
    query = select(Participant).where(
        Participant.follow_up_id == follow_up_id, Participant.associate_id == associate
    )
    found = (await session.scalars(query.execution_options(populate_existing=True))).one()
    return found


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


# update -------------------------------------------------------------------------------------


async def test_a_move_resets_answers_rebooks_notifies_and_records_once(
    admin: Caller, session: AsyncSession
) -> None:
    organizer, bo, cy = [await admin.new_member() for _ in range(3)]
    room = await create_resource(admin)
    created = await book(organizer, bo, cy, participants=[{"resource_id": room["id"]}])
    await respond(bo, participant(created, associate_id=bo.subject)["id"], "accepted")
    seq_before = (await events_of(session, created["id"]))[-1].seq

    body = schemas.FollowUpUpdate(start_at=instant(at(13)), end_at=instant(at(14)))
    moved = await commands.update(
        session, actor(organizer), uuid.UUID(created["id"]), body, f'"{seq_before}"'
    )

    assert (moved.start_at, moved.end_at) == (instant(at(13)), instant(at(14)))
    for colleague in (bo, cy):
        row = await participant_row(session, created["id"], colleague.subject)
        assert (row.status, row.rescheduled, row.responded_at) == (
            ParticipantStatus.NOT_READ,
            True,
            None,
        )
    owner_row = await participant_row(session, created["id"], organizer.subject)
    assert (owner_row.status, owner_row.rescheduled) == (ParticipantStatus.ACCEPTED, False)
    booked = await bookings_of(session, created["id"])
    assert set(booked) == {uuid.UUID(x) for x in (organizer.subject, bo.subject, cy.subject)} | {
        uuid.UUID(room["id"])
    }
    assert all(b.during.lower == instant(at(13)) for b in booked.values())
    assert booked[uuid.UUID(bo.subject)].tentative  # answered again: not yet
    assert not booked[uuid.UUID(organizer.subject)].tentative
    events = await events_of(session, created["id"])
    assert [e.type for e in events if e.seq > seq_before] == [EventType.FOLLOW_UP_RESCHEDULED]
    assert events[-1].data["previous_start_at"] == instant(created["start_at"]).isoformat()
    assert sorted(events[-1].data["reset_associate_ids"]) == sorted([bo.subject, cy.subject])
    told = await session.scalars(
        select(Notification.associate_id).where(
            Notification.follow_up_id == created["id"],
            Notification.kind == NotificationKind.RESCHEDULED,
        )
    )
    assert sorted(map(str, told.all())) == sorted([bo.subject, cy.subject])


async def test_a_change_without_a_move_keeps_answers_and_names_its_fields(
    admin: Caller, session: AsyncSession
) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    created = await book(organizer, bo)
    await respond(bo, participant(created, associate_id=bo.subject)["id"], "accepted")
    (*_, last) = await events_of(session, created["id"])

    body = schemas.FollowUpUpdate(title="Renamed", location="Room 4")
    await commands.update(
        session, actor(organizer), uuid.UUID(created["id"]), body, f'"{last.seq}"'
    )

    row = await participant_row(session, created["id"], bo.subject)
    assert row.status == ParticipantStatus.ACCEPTED
    (*_, event) = await events_of(session, created["id"])
    assert event.type == EventType.FOLLOW_UP_UPDATED
    assert event.data["fields"] == ["location", "title"]


async def test_an_update_that_changes_nothing_records_nothing(
    admin: Caller, session: AsyncSession
) -> None:
    organizer = await admin.new_member()
    created = await book(organizer)
    before = await events_of(session, created["id"])

    body = schemas.FollowUpUpdate(title=created["title"])
    await commands.update(
        session, actor(organizer), uuid.UUID(created["id"]), body, f'"{before[-1].seq}"'
    )

    assert len(await events_of(session, created["id"])) == len(before)


@pytest.mark.parametrize(
    ("who", "change", "etag", "error"),
    [
        ("organizer", {"title": "New"}, "stale", PreconditionFailed),
        ("organizer", {"end_at": at(8)}, "current", InvalidSpan),
        ("organizer", {"all_day": True}, "current", InvalidSpan),
        ("colleague", {"title": "Mine now"}, "current", NotOrganizer),
    ],
)
async def test_a_refused_update_changes_nothing(
    admin: Caller,
    session: AsyncSession,
    connection: AsyncConnection,
    who: str,
    change: dict[str, str],
    etag: str,
    error: type[Exception],
) -> None:
    organizer, colleague = await admin.new_member(), await admin.new_member()
    created = await book(organizer, colleague)
    (*_, last) = await events_of(session, created["id"])
    before = await tenant_rows(connection, admin.tenant_id)
    caller = organizer if who == "organizer" else colleague
    if_match = f'"{last.seq}"' if etag == "current" else f'"{last.seq - 1}"'

    with pytest.raises(error):
        await commands.update(
            session,
            actor(caller),
            uuid.UUID(created["id"]),
            schemas.FollowUpUpdate.model_validate(change),
            if_match,
        )

    await session.rollback()
    assert await tenant_rows(connection, admin.tenant_id) == before


async def test_a_cancelled_follow_up_cannot_be_updated(
    admin: Caller, session: AsyncSession
) -> None:
    organizer = await admin.new_member()
    created = await book(organizer)
    follow_up_id = uuid.UUID(created["id"])
    await commands.cancel(session, actor(organizer), follow_up_id, "postponed")
    (*_, last) = await events_of(session, created["id"])

    with pytest.raises(FollowUpCancelled):
        await commands.update(
            session,
            actor(organizer),
            follow_up_id,
            schemas.FollowUpUpdate(title="Again"),
            f'"{last.seq}"',
        )


# assign -------------------------------------------------------------------------------------


async def test_assign_to_an_invitee_makes_them_organizer_and_the_old_owner_required(
    admin: Caller, session: AsyncSession
) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    created = await book(organizer, bo)
    await respond(bo, participant(created, associate_id=bo.subject)["id"], "declined")

    assigned = await commands.assign(
        session, actor(organizer), uuid.UUID(created["id"]), uuid.UUID(bo.subject)
    )

    assert str(assigned.owner_id) == bo.subject
    new_owner = await participant_row(session, created["id"], bo.subject)
    assert (new_owner.role, new_owner.status, new_owner.acknowledged_at) == (
        ParticipantRole.ORGANIZER,
        ParticipantStatus.ACCEPTED,
        None,
    )
    old_owner = await participant_row(session, created["id"], organizer.subject)
    assert (old_owner.role, old_owner.status) == (
        ParticipantRole.REQUIRED,
        ParticipantStatus.ACCEPTED,
    )
    # Bo declined, so blocked nothing; as organizer Bo is busy now.
    booked = await bookings_of(session, created["id"])
    assert not booked[uuid.UUID(bo.subject)].tentative
    (*_, event) = await events_of(session, created["id"])
    assert event.type == EventType.FOLLOW_UP_ASSIGNED
    assert (event.data["owner_id"], event.data["previous_owner_id"]) == (
        bo.subject,
        organizer.subject,
    )
    told = await session.scalars(
        select(Notification.associate_id).where(
            Notification.follow_up_id == created["id"],
            Notification.kind == NotificationKind.ASSIGNED,
        )
    )
    assert list(map(str, told.all())) == [bo.subject]


async def test_assign_to_a_newcomer_adds_them_as_organizer(
    admin: Caller, session: AsyncSession
) -> None:
    organizer, newcomer = await admin.new_member(), await admin.new_member()
    created = await book(organizer)

    await commands.assign(
        session, actor(organizer), uuid.UUID(created["id"]), uuid.UUID(newcomer.subject)
    )

    row = await participant_row(session, created["id"], newcomer.subject)
    assert (row.role, row.status) == (ParticipantRole.ORGANIZER, ParticipantStatus.ACCEPTED)
    booked = await bookings_of(session, created["id"])
    assert set(booked) == {uuid.UUID(organizer.subject), uuid.UUID(newcomer.subject)}


async def test_assign_to_the_owner_is_a_no_op(admin: Caller, session: AsyncSession) -> None:
    organizer = await admin.new_member()
    created = await book(organizer)
    before = await events_of(session, created["id"])

    await commands.assign(
        session, actor(organizer), uuid.UUID(created["id"]), uuid.UUID(organizer.subject)
    )

    assert len(await events_of(session, created["id"])) == len(before)


@pytest.mark.parametrize("target", ["unknown", "deactivated", "other_tenant"])
async def test_assign_refuses_who_cannot_organize_and_changes_nothing(
    admin: Caller,
    other_admin: Caller,
    session: AsyncSession,
    connection: AsyncConnection,
    target: str,
) -> None:
    organizer = await admin.new_member()
    created = await book(organizer)
    if target == "unknown":
        new_owner, error = uuid.uuid4(), UnknownReference
    elif target == "other_tenant":
        new_owner, error = uuid.UUID((await other_admin.new_member()).subject), UnknownReference
    else:
        leaving = await admin.new_member()
        assert (await admin.delete(f"/v1/associates/{leaving.subject}")).status_code == 204
        new_owner, error = uuid.UUID(leaving.subject), InactiveReference
    before = await tenant_rows(connection, admin.tenant_id)

    with pytest.raises(error):
        await commands.assign(session, actor(organizer), uuid.UUID(created["id"]), new_owner)

    await session.rollback()
    assert await tenant_rows(connection, admin.tenant_id) == before


async def test_only_the_organizer_may_assign(admin: Caller, session: AsyncSession) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    created = await book(organizer, bo)

    with pytest.raises(NotOrganizer):
        await commands.assign(session, actor(bo), uuid.UUID(created["id"]), uuid.UUID(bo.subject))
