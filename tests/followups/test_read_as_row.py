"""A follow-up read as a row (`GET /v1/follow-ups/{id}`) answers the same bytes as one loaded."""

import uuid
from typing import Any

from fastapi import FastAPI

from app.auth.principals import Actor
from app.followups import reads
from app.followups.router import shown
from tests.fixtures.factories import Caller, create_resource
from tests.followups.support import book, respond


async def _loaded(app: FastAPI, caller: Caller, follow_up_id: str) -> bytes:
    """The answer built from the follow-up loaded into the ORM, as the writes build theirs."""
    actor = Actor(caller.tenant_id, uuid.UUID(caller.subject))
    async with app.state.database.sessionmaker() as session:
        follow_up = await reads.visible(session, actor, uuid.UUID(follow_up_id))
        return bytes((await shown(session, follow_up, actor)).body)


async def _same(app: FastAPI, caller: Caller, follow_up_id: str, **params: Any) -> bytes:
    response = await caller.get(f"/v1/follow-ups/{follow_up_id}", params=params)
    assert response.status_code == 200, response.text
    assert response.content == await _loaded(app, caller, follow_up_id)
    return response.content


async def test_timed_with_a_double_booked_room_and_comments(admin: Caller, app: FastAPI) -> None:
    organizer, bo, eve = (
        await admin.new_member(),
        await admin.new_member(),
        await admin.new_member(),
    )
    room = await create_resource(admin)  # double booking allowed
    created = await book(organizer, bo, eve, participants=[{"resource_id": room["id"]}])
    await book(organizer, participants=[{"resource_id": room["id"]}], title="Clash")
    invitation = next(p for p in created["participants"] if p["associate_id"] == bo.subject)
    await respond(bo, invitation["id"], "declined", comment="Private: dentist")

    body = await _same(app, organizer, created["id"])
    await _same(app, eve, created["id"])  # without Bo's comment

    assert b'"has_conflict":true' in body
    assert b"Private: dentist" in body
    assert b'"first_free_at":"' in body


async def test_all_day_and_a_series(admin: Caller, app: FastAPI) -> None:
    organizer = await admin.new_member()
    away = await organizer.create(
        "/v1/follow-ups",
        {
            "title": "Away day",
            "all_day": True,
            "time_zone": "Europe/Copenhagen",
            "start_date": "2026-12-10",
            "end_date": "2026-12-11",
        },
    )
    series = await book(
        organizer, time_zone="Europe/Copenhagen", recurrence={"rrule": "FREQ=WEEKLY;COUNT=3"}
    )

    assert b'"start_date":"2026-12-10"' in await _same(app, organizer, away["id"])
    assert b'"rrule":"FREQ=WEEKLY;COUNT=3"' in await _same(app, organizer, series["id"])
