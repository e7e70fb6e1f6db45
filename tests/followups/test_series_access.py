"""The occurrence endpoints against each caller and bad input: 401, 404, 403, 422, unchanged."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import Booking, Occurrence
from tests.fixtures.factories import Caller, bearer
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized
from tests.fixtures.responses import ok
from tests.followups.support import etag_of, participant, tenant_rows
from tests.idempotency.support import assert_replayed, every_row, key

START = datetime(2026, 5, 4, 8, tzinfo=UTC)
SECOND = START + timedelta(days=7)
MOVE = {"start_at": "2026-05-11T12:00:00Z", "end_at": "2026-05-11T13:00:00Z"}


@dataclass(frozen=True)
class Series:
    organizer: Caller
    colleague: Caller
    stranger: Caller
    admin: Caller
    follow_up_id: str

    def url(self, original_start: str = SECOND.isoformat(), follow_up_id: str = "") -> str:
        return f"/v1/follow-ups/{follow_up_id or self.follow_up_id}/occurrences/{original_start}"


@pytest.fixture
async def series(admin: Caller) -> Series:
    organizer = await admin.new_member(name="Olga Organizer")
    colleague = await admin.new_member(name="Carl Colleague")
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
    assert participant(created, associate_id=colleague.subject)["status"] == "not_read"
    return Series(organizer, colleague, stranger, admin, created["id"])


async def _rows(connection: AsyncConnection, tenant: uuid.UUID) -> dict[str, Any]:
    """The tenant's rows, occurrences and bookings too: what "nothing changed" compares."""
    rows: dict[str, Any] = dict(await tenant_rows(connection, tenant))
    for model in (Occurrence, Booking):
        query = (
            select(model).where(model.tenant_id == tenant).order_by(*model.__table__.primary_key)
        )
        rows[model.__tablename__] = list((await connection.execute(query)).all())
    return rows


async def _both(series: Series, headers: dict[str, str], **kwargs: Any) -> list[httpx.Response]:
    """PATCH the second occurrence, split the series there and cancel it, with these headers."""
    client = series.organizer.client
    etag = await etag_of(series.organizer, series.follow_up_id)
    url = kwargs.pop("url", series.url())
    return [
        await client.patch(url, json=MOVE, headers={**headers, "If-Match": etag}),
        await client.post(f"{url}/split", json={}, headers={**headers, "If-Match": "*"}),
        await client.post(f"{url}/cancel", headers=headers),
    ]


async def test_the_organizer_may_move_split_and_cancel(series: Series) -> None:
    moved, split, cancelled = await _both(series, series.organizer.headers)

    assert ok(moved)["start_at"] == "2026-05-11T12:00:00Z"
    assert split.status_code == 201, split.text
    assert split.json()["split_from"] == series.follow_up_id
    # The occurrence is the new series' now: the original has it no more.
    assert_problem(cancelled, 404, "not_found")


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
    unknown = series.url(follow_up_id=str(uuid.uuid4()))
    for response in await _both(series, series.organizer.headers, url=unknown):
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
    "original_start", ["not-a-time", "2026-05-11T08:00:00", "2026-13-11T08:00:00Z"]
)
async def test_a_malformed_occurrence_is_422(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID, original_start: str
) -> None:
    before = await _rows(connection, tenant)

    for response in await _both(series, series.organizer.headers, url=series.url(original_start)):
        assert_invalid(response, "path", "original_start")
    assert await _rows(connection, tenant) == before


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"start_at": "2026-05-11T12:00:00Z"}, ("body", "end_at")),
        ({**MOVE, "title": "x"}, ("body", "title")),
        ({**MOVE, "end_at": "2026-05-11T12:00:00"}, ("body", "end_at")),
        ([], ("body",)),
    ],
)
async def test_a_malformed_move_is_422(
    series: Series,
    connection: AsyncConnection,
    tenant: uuid.UUID,
    body: Any,
    loc: tuple[str, ...],
) -> None:
    before = await _rows(connection, tenant)
    etag = await etag_of(series.organizer, series.follow_up_id)

    response = await series.organizer.patch(series.url(), json=body, headers={"If-Match": etag})

    assert_invalid(response, *loc)
    backwards = {"start_at": MOVE["end_at"], "end_at": MOVE["start_at"]}
    response = await series.organizer.patch(
        series.url(), json=backwards, headers={"If-Match": etag}
    )
    assert_problem(response, 422, "invalid_span")
    assert await _rows(connection, tenant) == before


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"start_at": None}, ("body", "start_at")),
        ({"end_at": "2026-05-11T12:00:00"}, ("body", "end_at")),
        ({"recurrence": {"rrule": "FREQ=HOURLY"}}, ("body", "recurrence", "rrule")),
        ({"title": "x"}, ("body", "title")),
        ([], ("body",)),
    ],
)
async def test_a_malformed_split_is_422(
    series: Series,
    connection: AsyncConnection,
    tenant: uuid.UUID,
    body: Any,
    loc: tuple[str, ...],
) -> None:
    before = await _rows(connection, tenant)
    etag = await etag_of(series.organizer, series.follow_up_id)

    response = await series.organizer.post(
        f"{series.url()}/split", json=body, headers={"If-Match": etag}
    )

    assert_invalid(response, *loc)
    assert await _rows(connection, tenant) == before


async def test_a_split_that_cannot_be_is_refused_and_changes_nothing(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    organizer = series.organizer
    single = await organizer.create(
        "/v1/follow-ups",
        {"title": "Once", "start_at": MOVE["start_at"], "end_at": MOVE["end_at"]},
    )
    await organizer.post(f"{series.url((SECOND + timedelta(days=7)).isoformat())}/cancel")
    before = await _rows(connection, tenant)
    etag = await etag_of(organizer, series.follow_up_id)
    backwards = {"start_at": MOVE["end_at"], "end_at": MOVE["start_at"]}
    third = (SECOND + timedelta(days=7)).isoformat()
    cases = [
        (series.url(START.isoformat()), {"If-Match": etag}, {}, 422, "split_at_first_occurrence"),
        (series.url(follow_up_id=single["id"]), {"If-Match": "*"}, {}, 422, "not_a_series"),
        (series.url(), {"If-Match": etag}, backwards, 422, "invalid_span"),
        (series.url(third), {"If-Match": etag}, {}, 409, "occurrence_cancelled"),
        (series.url("2026-05-11T08:01:00Z"), {"If-Match": etag}, {}, 404, "not_found"),
        (series.url(), {}, {}, 428, "precondition_required"),
        (series.url(), {"If-Match": '"0"'}, {}, 412, "precondition_failed"),
    ]
    for url, headers, body, status, code in cases:
        response = await organizer.post(f"{url}/split", json=body, headers=headers)
        assert_problem(response, status, code)
    assert await _rows(connection, tenant) == before


# The occurrence writes, for the idempotency tests' census of every write of the document.
OCCURRENCE = "/v1/follow-ups/{follow_up_id}/occurrences/{original_start}"
WRITES = {
    ("PATCH", OCCURRENCE),
    ("POST", f"{OCCURRENCE}/cancel"),
    ("POST", f"{OCCURRENCE}/split"),
}


@pytest.mark.parametrize("write", ["move", "cancel", "split"])
async def test_an_occurrence_write_sent_twice_with_one_key_is_replayed(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID, write: str
) -> None:
    organizer = series.organizer
    etag = await etag_of(organizer, series.follow_up_id)

    async def send(headers: dict[str, str]) -> httpx.Response:
        if write == "cancel":
            return await organizer.post(f"{series.url()}/cancel", headers=headers)
        if write == "split":
            url = f"{series.url()}/split"
            return await organizer.post(url, json=MOVE, headers={**headers, "If-Match": etag})
        return await organizer.patch(series.url(), json=MOVE, headers={**headers, "If-Match": etag})

    headers = key()
    first = await send(headers)
    assert first.status_code in (200, 201), first.text
    before = await every_row(connection, tenant)

    again = await send(headers)

    assert_replayed(first, again)
    assert await every_row(connection, tenant) == before
