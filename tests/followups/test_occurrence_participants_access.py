"""An occurrence's own participants against each caller and bad input: 401, 404, 403, 422, 409.

Every refusal changes nothing; a write sent twice with one key is replayed; each costs a
pinned number of statements.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.models import Booking, Occurrence, OccurrenceExclusion
from tests.fixtures.factories import Caller, bearer, create_resource
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized
from tests.fixtures.responses import ok
from tests.fixtures.statements import statements
from tests.followups.support import etag_of, participant, tenant_rows
from tests.followups.test_occurrence_participants import (
    FOURTH,
    SECOND,
    START,
    THIRD,
    occurrence_url,
)
from tests.idempotency.support import assert_replayed, every_row, key


@dataclass(frozen=True)
class Series:
    organizer: Caller
    colleague: Caller
    guest: Caller
    stranger: Caller
    admin: Caller
    follow_up_id: str
    invitation: str

    def add_url(self, original_start: str = SECOND.isoformat(), follow_up_id: str = "") -> str:
        url = occurrence_url(follow_up_id or self.follow_up_id, START)
        return url.replace(START.isoformat(), original_start) + "/participants"

    def remove_url(self, original_start: str = SECOND.isoformat(), participant_id: str = "") -> str:
        return f"{self.add_url(original_start)}/{participant_id or self.invitation}"


@pytest.fixture
async def series(admin: Caller) -> Series:
    organizer = await admin.new_member(name="Olga Organizer")
    colleague = await admin.new_member(name="Carl Colleague")
    guest = await admin.new_member(name="Gina Guest")
    stranger = await admin.new_member(name="Sten Stranger")
    created = await organizer.create(
        "/v1/follow-ups",
        {
            "title": "Weekly",
            "start_at": START.isoformat(),
            "end_at": (START + timedelta(hours=1)).isoformat(),
            "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4"},
            "participants": [{"associate_id": colleague.subject}],
        },
    )
    invitation = participant(created, associate_id=colleague.subject)["id"]
    return Series(organizer, colleague, guest, stranger, admin, created["id"], invitation)


async def _rows(connection: AsyncConnection, tenant: uuid.UUID) -> dict[str, Any]:
    """The tenant's rows with occurrences, bookings and exclusions: what "unchanged" compares."""
    rows: dict[str, Any] = dict(await tenant_rows(connection, tenant))
    for model in (Occurrence, Booking, OccurrenceExclusion):
        query = (
            select(model).where(model.tenant_id == tenant).order_by(*model.__table__.primary_key)
        )
        rows[model.__tablename__] = list((await connection.execute(query)).all())
    return rows


async def _both(series: Series, headers: dict[str, str], **urls: str) -> list[httpx.Response]:
    """Add the guest to the second occurrence and take the colleague off it, with these headers."""
    client = series.organizer.client
    etag = await etag_of(series.organizer, series.follow_up_id)
    headers = {"If-Match": etag, **headers}
    return [
        await client.post(
            urls.get("add", series.add_url()),
            json={"associate_id": series.guest.subject},
            headers=headers,
        ),
        await client.delete(urls.get("remove", series.remove_url()), headers=headers),
    ]


async def test_the_organizer_may_add_and_take_off(series: Series) -> None:
    added, removed = await _both(series, {**series.organizer.headers, "If-Match": "*"})

    assert ok(added, 201)["associate_id"] == series.guest.subject
    assert removed.status_code == 204, removed.text


async def test_without_a_token_is_401(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    before = await _rows(connection, tenant)

    for headers, code in (({}, "unauthorized"), (bearer("not-a-jwt"), "invalid_token")):
        for response in await _both(series, headers):
            assert_unauthorized(response, code)
    assert await _rows(connection, tenant) == before


async def test_another_tenant_and_a_stranger_get_404(
    series: Series, other_admin: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    foreigner = await other_admin.new_member(name="Frida Foreign")
    before = await _rows(connection, tenant)

    for caller in (foreigner, series.stranger):
        for response in await _both(series, caller.headers):
            assert_problem(response, 404, "not_found")
    unknown = series.add_url(follow_up_id=str(uuid.uuid4()))
    urls = {"add": unknown, "remove": f"{unknown}/{series.invitation}"}
    for response in await _both(series, series.organizer.headers, **urls):
        assert_problem(response, 404, "not_found")
    assert await _rows(connection, tenant) == before


async def test_a_participant_who_is_not_the_organizer_gets_403(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    before = await _rows(connection, tenant)

    for response in await _both(series, series.colleague.headers):
        assert_problem(response, 403, "not_organizer")
    for response in await _both(series, series.admin.headers):
        assert_problem(response, 403, "not_an_associate")
    assert await _rows(connection, tenant) == before


@pytest.mark.parametrize(
    "original_start", ["not-a-time", "2027-05-10T08:00:00", "2027-13-10T08:00:00Z"]
)
async def test_a_malformed_occurrence_is_422(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID, original_start: str
) -> None:
    before = await _rows(connection, tenant)
    urls = {"add": series.add_url(original_start), "remove": series.remove_url(original_start)}

    for response in await _both(series, series.organizer.headers, **urls):
        assert_invalid(response, "path", "original_start")
    assert await _rows(connection, tenant) == before


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"associate_id": "not-a-uuid"}, ("body",)),
        ({"resource_id": str(uuid.uuid4()), "title": "x"}, ("body",)),
        ({}, ("body",)),
        ([], ("body",)),
    ],
)
async def test_a_malformed_body_or_participant_id_is_422(
    series: Series,
    connection: AsyncConnection,
    tenant: uuid.UUID,
    body: Any,
    loc: tuple[str, ...],
) -> None:
    before = await _rows(connection, tenant)
    etag = await etag_of(series.organizer, series.follow_up_id)

    response = await series.organizer.post(series.add_url(), json=body, headers={"If-Match": etag})
    assert_invalid(response, *loc)
    response = await series.organizer.delete(
        series.remove_url(participant_id="not-a-uuid"), headers={"If-Match": etag}
    )
    assert_invalid(response, "path", "participant_id")
    assert await _rows(connection, tenant) == before


async def test_what_cannot_be_done_is_refused_and_changes_nothing(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    organizer = series.organizer
    single = await organizer.create(
        "/v1/follow-ups",
        {"title": "Once", "start_at": SECOND.isoformat(), "end_at": THIRD.isoformat()},
    )
    await organizer.post(f"{series.add_url(THIRD.isoformat())[: -len('/participants')]}/cancel")
    guest = {"associate_id": series.guest.subject}
    ok(
        await organizer.post(
            series.add_url(FOURTH.isoformat()),
            json=guest,
            headers={"If-Match": await etag_of(organizer, series.follow_up_id)},
        ),
        201,
    )
    organizer_id = participant(
        ok(await organizer.get(f"/v1/follow-ups/{series.follow_up_id}")),
        associate_id=organizer.subject,
    )["id"]
    before = await _rows(connection, tenant)
    etag = await etag_of(organizer, series.follow_up_id)
    colleague = {"associate_id": series.colleague.subject}
    single_url = series.add_url(follow_up_id=single["id"])
    adds = [
        (single_url, {"If-Match": "*"}, guest, 422, "not_a_series"),
        (series.add_url("2027-05-10T08:01:00Z"), {"If-Match": etag}, guest, 404, "not_found"),
        (series.add_url(THIRD.isoformat()), {"If-Match": etag}, guest, 409, "occurrence_cancelled"),
        (series.add_url(), {"If-Match": etag}, colleague, 409, "duplicate_participant"),
        (series.add_url(), {"If-Match": etag}, guest, 409, "duplicate_participant"),
        (
            series.add_url(),
            {"If-Match": etag},
            {"resource_id": str(uuid.uuid4())},
            404,
            "unknown_reference",
        ),
        (series.add_url(), {}, guest, 428, "precondition_required"),
        (series.add_url(), {"If-Match": '"0"'}, guest, 412, "precondition_failed"),
    ]
    for url, headers, body, status, code in adds:
        response = await organizer.post(url, json=body, headers=headers)
        assert_problem(response, status, code)
    removes = [
        (
            series.remove_url(participant_id=organizer_id),
            {"If-Match": etag},
            409,
            "organizer_participant",
        ),
        (series.remove_url(participant_id=str(uuid.uuid4())), {"If-Match": etag}, 404, "not_found"),
        (series.remove_url(THIRD.isoformat()), {"If-Match": etag}, 409, "occurrence_cancelled"),
        (series.remove_url("2027-05-10T08:01:00Z"), {"If-Match": etag}, 404, "not_found"),
        (series.remove_url(), {}, 428, "precondition_required"),
        (series.remove_url(), {"If-Match": '"0"'}, 412, "precondition_failed"),
    ]
    for url, headers, status, code in removes:
        response = await organizer.delete(url, headers=headers)
        assert_problem(response, status, code)
    # The guest takes part in the fourth occurrence alone: not in the second.
    guest_id = participant(
        ok(await organizer.get(f"/v1/follow-ups/{series.follow_up_id}")),
        associate_id=series.guest.subject,
    )["id"]
    response = await organizer.delete(
        series.remove_url(participant_id=guest_id), headers={"If-Match": etag}
    )
    assert_problem(response, 404, "not_found")
    assert await _rows(connection, tenant) == before


async def test_a_strict_room_taken_at_the_occurrence_is_409_naming_it(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    organizer = series.organizer
    room = await create_resource(series.admin, allow_double_booking=False)
    taken = await organizer.create(
        "/v1/follow-ups",
        {
            "title": "Board",
            "start_at": (SECOND + timedelta(minutes=30)).isoformat(),
            "end_at": (SECOND + timedelta(hours=2)).isoformat(),
            "participants": [{"resource_id": room["id"]}],
        },
    )
    before = await _rows(connection, tenant)
    etag = await etag_of(organizer, series.follow_up_id)

    response = await organizer.post(
        series.add_url(), json={"resource_id": room["id"]}, headers={"If-Match": etag}
    )

    problem = assert_problem(response, 409, "resource_taken")
    (conflict,) = problem["conflicts"]
    assert conflict["follow_up_id"] == taken["id"]
    assert datetime.fromisoformat(conflict["occurrence_start"]) == SECOND
    assert await _rows(connection, tenant) == before
    # Free at another occurrence: booked there alone.
    response = await organizer.post(
        series.add_url(THIRD.isoformat()),
        json={"resource_id": room["id"]},
        headers={"If-Match": etag},
    )
    assert ok(response, 201)["status"] == "accepted"


# The occurrence participants' writes, for the idempotency tests' census of every write.
PARTICIPANTS = "/v1/follow-ups/{follow_up_id}/occurrences/{original_start}/participants"
WRITES = {("POST", PARTICIPANTS), ("DELETE", f"{PARTICIPANTS}/{{participant_id}}")}


@pytest.mark.parametrize("write", ["add", "remove"])
async def test_a_write_sent_twice_with_one_key_is_replayed(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID, write: str
) -> None:
    organizer = series.organizer
    etag = await etag_of(organizer, series.follow_up_id)

    async def send(headers: dict[str, str]) -> httpx.Response:
        headers = {**headers, "If-Match": etag}
        if write == "add":
            body = {"associate_id": series.guest.subject}
            return await organizer.post(series.add_url(), json=body, headers=headers)
        return await organizer.delete(series.remove_url(), headers=headers)

    headers = key()
    first = await send(headers)
    assert first.status_code in (201, 204), first.text
    before = await every_row(connection, tenant)

    again = await send(headers)

    assert_replayed(first, again)
    assert await every_row(connection, tenant) == before


async def test_statements_of_adding_and_taking_off(series: Series, engine: AsyncEngine) -> None:
    organizer = series.organizer
    etag = await etag_of(organizer, series.follow_up_id)

    with statements(engine) as sent:
        added = await organizer.post(
            series.add_url(),
            json={"associate_id": series.guest.subject},
            headers={"If-Match": etag},
        )
    assert added.status_code == 201, added.text
    # The token check, the follow-up locked, the occurrence, the participant count, the
    # participants, the colleague, the participant, the bookings, the notification, the
    # event, the view's conflict flag and name.
    assert len(sent) == 11, "\n".join(sent)

    with statements(engine) as sent:
        removed = await organizer.delete(
            series.remove_url(), headers={"If-Match": added.headers["ETag"]}
        )
    assert removed.status_code == 204, removed.text
    # The token check, the follow-up locked, the occurrence, the participant, whether it was
    # taken off already, the exclusion, the bookings released, the notification, the event.
    assert len(sent) == 9, "\n".join(sent)
