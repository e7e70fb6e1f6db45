"""Answering one occurrence of a series: its booking, the diary, resets, errors, the inbox."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import Booking, Event, OccurrenceAnswer, Response
from tests.fixtures.factories import Caller, bearer
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized
from tests.fixtures.responses import ok
from tests.followups.support import Body, book, etag_of, participant, respond, tenant_rows

START = datetime(2026, 5, 4, 8, tzinfo=UTC)
WEEK = timedelta(days=7)
STARTS = [START + n * WEEK for n in range(4)]
SECOND = STARTS[1]


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Series:
    organizer: Caller
    colleague: Caller
    other: Caller
    follow_up_id: str
    invitation: str

    @property
    def answer_url(self) -> str:
        return f"/v1/invitations/{self.invitation}/response"

    async def answer(
        self, status: str, occurrence: datetime | None = None, **fields: Any
    ) -> httpx.Response:
        body: Body = {"status": status, **fields}
        if occurrence is not None:
            body["occurrence"] = occurrence.isoformat()
        return await self.colleague.post(self.answer_url, json=body)


async def _weekly(admin: Caller, start: datetime = START, count: int = 4) -> Series:
    organizer = await admin.new_member(name="Olga Organizer")
    colleague = await admin.new_member(name="Carl Colleague")
    other = await admin.new_member(name="Otto Other")
    created = await organizer.create(
        "/v1/follow-ups",
        {
            "title": "Weekly",
            "start_at": start.isoformat(),
            "end_at": (start + timedelta(hours=1)).isoformat(),
            "recurrence": {"rrule": f"FREQ=WEEKLY;COUNT={count}"},
            "participants": [{"associate_id": colleague.subject}, {"associate_id": other.subject}],
        },
    )
    invitation = participant(created, associate_id=colleague.subject)["id"]
    return Series(organizer, colleague, other, created["id"], invitation)


@pytest.fixture
async def series(admin: Caller) -> Series:
    return await _weekly(admin)


async def _busy(series: Series) -> dict[str, str]:
    """The colleague's free/busy over the series: each occurrence's start and busy status."""
    found = ok(
        await series.organizer.get(
            "/v1/availability",
            params={
                "associate_ids": series.colleague.subject,
                "start": _iso(START),
                "end": _iso(STARTS[-1] + WEEK),
            },
        )
    )
    (calendar,) = found["calendars"]
    return {busy["start_at"]: busy["status"] for busy in calendar["busy"]}


async def _diary(series: Series) -> dict[str, str]:
    """The colleague's diary over the series: each occurrence's original start and my_status."""
    page = ok(
        await series.colleague.get(
            "/v1/follow-ups", params={"start": _iso(START), "end": _iso(STARTS[-1] + WEEK)}
        )
    )
    return {entry["occurrence_start"]: entry["my_status"] for entry in page["items"]}


def _all(status: str, **but: str) -> dict[str, str]:
    """Every occurrence (by its start) with `status`, except those given by index `at<n>`."""
    shown = {_iso(start): status for start in STARTS}
    for key, value in but.items():
        shown[_iso(STARTS[int(key[2:])])] = value
    return {start: value for start, value in shown.items() if value != "free"}


async def _rows(connection: AsyncConnection, tenant: uuid.UUID) -> dict[str, Any]:
    """The tenant's rows, bookings and occurrence answers too: what "nothing changed" compares."""
    rows: dict[str, Any] = dict(await tenant_rows(connection, tenant))
    for model in (Booking, OccurrenceAnswer):
        query = (
            select(model).where(model.tenant_id == tenant).order_by(*model.__table__.primary_key)
        )
        rows[model.__tablename__] = list((await connection.execute(query)).all())
    return rows


# One occurrence's answer ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "busy"), [("accepted", "busy"), ("declined", "free"), ("tentative", "tentative")]
)
async def test_an_occurrence_answer_changes_that_occurrence_alone(
    series: Series, answer: str, busy: str
) -> None:
    assert await _busy(series) == _all("tentative")

    answered = ok(await series.answer(answer, SECOND, comment="That week"))

    assert answered["occurrence_answer"] == {
        "occurrence_start": _iso(SECOND),
        "status": answer,
        "comment": "That week",
        "responded_at": answered["occurrence_answer"]["responded_at"],
        "rescheduled": False,
    }
    assert answered["occurrence_answer"]["responded_at"] is not None
    # The invitation itself is only marked seen: the other occurrences keep their status.
    assert (answered["status"], answered["comment"], answered["responded_at"]) == (
        "seen",
        None,
        None,
    )
    assert answered["seen_at"] is not None
    assert await _busy(series) == _all("tentative", at1=busy)
    assert await _diary(series) == _all("seen", at1=answer)


async def test_an_occurrence_answer_over_a_series_answer_keeps_the_rest(series: Series) -> None:
    accepted = ok(await series.answer("accepted"))
    assert accepted["occurrence_answer"] is None

    declined = ok(await series.answer("declined", STARTS[2], comment="Dentist"))

    assert (declined["status"], declined["occurrence_answer"]["status"]) == (
        "accepted",
        "declined",
    )
    assert await _busy(series) == _all("busy", at2="free")
    assert await _diary(series) == _all("accepted", at2="declined")
    # Answering it again changes its answer (upsert), not the series'.
    ok(await series.answer("tentative", STARTS[2]))
    assert await _busy(series) == _all("busy", at2="tentative")
    history = ok(await series.organizer.get(f"/v1/follow-ups/{series.follow_up_id}/responses"))
    assert [
        (r["status"], r["previous_status"], r["occurrence_start"], r["comment"])
        for r in history["items"]
    ] == [
        ("accepted", "not_read", None, None),
        ("declined", "accepted", _iso(STARTS[2]), "Dentist"),
        ("tentative", "declined", _iso(STARTS[2]), None),
    ]


async def test_a_series_answer_drops_the_occurrence_answers(
    series: Series, connection: AsyncConnection
) -> None:
    ok(await series.answer("declined", STARTS[0]))
    ok(await series.answer("tentative", STARTS[3]))
    assert await _busy(series) == _all("tentative", at0="free")

    answered = ok(await series.answer("accepted"))

    assert answered["status"] == "accepted"
    assert await _busy(series) == _all("busy")
    assert await _diary(series) == _all("accepted")
    left = await connection.scalars(
        select(OccurrenceAnswer).where(
            OccurrenceAnswer.participant_id == uuid.UUID(series.invitation)
        )
    )
    assert left.all() == []
    # A series-wide decline frees every occurrence, and a later occurrence accept books one.
    ok(await series.answer("declined"))
    assert await _busy(series) == {}
    ok(await series.answer("accepted", SECOND))
    assert await _busy(series) == {_iso(SECOND): "busy"}
    assert await _diary(series) == _all("declined", at1="accepted")


async def test_the_event_names_the_occurrence(series: Series, connection: AsyncConnection) -> None:
    ok(await series.answer("accepted"))
    ok(await series.answer("declined", SECOND))

    rows = await connection.execute(
        select(Event.type, Event.data)
        .where(Event.follow_up_id == uuid.UUID(series.follow_up_id), Event.seq.is_not(None))
        .order_by(Event.seq)
    )
    answers = [(type_, data) for type_, data in rows.all() if type_.startswith("invitation.")]
    assert [(t, d["occurrence_start"], d["previous_status"]) for t, d in answers] == [
        ("invitation.accepted", None, "not_read"),
        ("invitation.declined", SECOND.isoformat(), "accepted"),
    ]


# Moves reset answers ----------------------------------------------------------------------


async def test_moving_one_occurrence_resets_its_answers(series: Series) -> None:
    ok(await series.answer("accepted"))
    ok(await series.answer("declined", STARTS[2]))
    other = participant(
        ok(await series.organizer.get(f"/v1/follow-ups/{series.follow_up_id}")),
        associate_id=series.other.subject,
    )
    await respond(series.other, other["id"], "accepted")
    moved = {"start_at": _iso(STARTS[2] + timedelta(hours=4)), "end_at": ""}
    moved["end_at"] = _iso(STARTS[2] + timedelta(hours=5))

    ok(
        await series.organizer.patch(
            f"/v1/follow-ups/{series.follow_up_id}/occurrences/{_iso(STARTS[2])}",
            json=moved,
            headers={"If-Match": await etag_of(series.organizer, series.follow_up_id)},
        )
    )

    # The moved occurrence is to be answered again: tentative at its new time.
    busy = _all("busy", at2="free")
    busy[moved["start_at"]] = "tentative"
    assert await _busy(series) == busy
    assert await _diary(series) == _all("accepted", at2="not_read")
    answered = ok(await series.answer("accepted", STARTS[2]))
    assert answered["occurrence_answer"]["rescheduled"] is False
    busy[moved["start_at"]] = "busy"
    assert await _busy(series) == busy


async def test_a_moved_occurrence_shows_rescheduled_until_answered(
    series: Series, connection: AsyncConnection
) -> None:
    ok(await series.answer("tentative", SECOND, comment="Maybe"))
    ok(
        await series.organizer.patch(
            f"/v1/follow-ups/{series.follow_up_id}/occurrences/{_iso(SECOND)}",
            json={
                "start_at": _iso(SECOND + timedelta(hours=1)),
                "end_at": _iso(SECOND + timedelta(hours=2)),
            },
            headers={"If-Match": "*"},
        )
    )

    (row,) = (
        await connection.execute(
            select(OccurrenceAnswer).where(
                OccurrenceAnswer.participant_id == uuid.UUID(series.invitation)
            )
        )
    ).all()
    assert (row.status, row.comment, row.responded_at, row.rescheduled) == (
        "not_read",
        None,
        None,
        True,
    )


async def test_moving_the_whole_series_drops_occurrence_answers(
    series: Series, connection: AsyncConnection
) -> None:
    ok(await series.answer("declined", SECOND))
    later = {
        "start_at": _iso(START + timedelta(hours=2)),
        "end_at": _iso(START + timedelta(hours=3)),
    }

    ok(
        await series.organizer.patch(
            f"/v1/follow-ups/{series.follow_up_id}",
            json=later,
            headers={"If-Match": await etag_of(series.organizer, series.follow_up_id)},
        )
    )

    left = await connection.scalars(
        select(OccurrenceAnswer).where(
            OccurrenceAnswer.follow_up_id == uuid.UUID(series.follow_up_id)
        )
    )
    assert left.all() == []
    moved = {_iso(start + timedelta(hours=2)): "tentative" for start in STARTS}
    assert await _busy(series) == moved


# Refusals ---------------------------------------------------------------------------------


async def test_an_occurrence_of_a_single_follow_up_is_422(
    admin: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    organizer, colleague = await admin.new_member(), await admin.new_member()
    created = await book(organizer, colleague)
    invitation = participant(created, associate_id=colleague.subject)["id"]
    before = await _rows(connection, tenant)

    response = await colleague.post(
        f"/v1/invitations/{invitation}/response",
        json={"status": "accepted", "occurrence": created["start_at"]},
    )

    assert_problem(response, 422, "not_a_series")
    assert await _rows(connection, tenant) == before


async def test_an_unknown_or_cancelled_occurrence_is_refused(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    ok(
        await series.organizer.post(
            f"/v1/follow-ups/{series.follow_up_id}/occurrences/{_iso(STARTS[3])}/cancel"
        )
    )
    before = await _rows(connection, tenant)

    unknown = await series.answer("accepted", SECOND + timedelta(minutes=1))
    beyond = await series.answer("accepted", STARTS[3] + WEEK)
    cancelled = await series.answer("declined", STARTS[3])

    assert "no occurrence" in assert_problem(unknown, 422, "unknown_occurrence")["detail"]
    assert_problem(beyond, 422, "unknown_occurrence")
    assert_problem(cancelled, 409, "occurrence_cancelled")
    assert await _rows(connection, tenant) == before


async def test_a_malformed_occurrence_is_422(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    before = await _rows(connection, tenant)

    for occurrence in ("2026-05-11T08:00:00", "next week", 12):
        response = await series.colleague.post(
            series.answer_url, json={"status": "accepted", "occurrence": occurrence}
        )
        assert_invalid(response, "body", "occurrence")
    assert await _rows(connection, tenant) == before


async def test_an_occurrence_answer_needs_a_token(
    series: Series, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    before = await _rows(connection, tenant)
    body = {"status": "accepted", "occurrence": SECOND.isoformat()}

    anonymous = await series.colleague.client.post(series.answer_url, json=body)
    forged = await series.colleague.client.post(
        series.answer_url, json=body, headers=bearer("not-a-jwt")
    )

    assert_unauthorized(anonymous, "unauthorized")
    assert_unauthorized(forged, "invalid_token")
    assert await _rows(connection, tenant) == before


async def test_another_tenant_gets_404_and_another_invitee_403(
    series: Series,
    admin: Caller,
    other_admin: Caller,
    connection: AsyncConnection,
    tenant: uuid.UUID,
) -> None:
    foreigner = await other_admin.new_member()
    stranger = await admin.new_member()
    before = await _rows(connection, tenant)
    body = {"status": "declined", "occurrence": SECOND.isoformat()}

    for caller in (foreigner, stranger):
        assert_problem(await caller.post(series.answer_url, json=body), 404, "not_found")
    assert_problem(await series.other.post(series.answer_url, json=body), 403, "not_invitee")
    assert_problem(await admin.post(series.answer_url, json=body), 403, "not_an_associate")
    assert await _rows(connection, tenant) == before


async def test_a_cancelled_series_freezes_occurrence_answers(series: Series) -> None:
    ok(await series.organizer.post(f"/v1/follow-ups/{series.follow_up_id}/cancel"))

    assert_problem(await series.answer("accepted", SECOND), 409, "follow_up_cancelled")


# The inbox --------------------------------------------------------------------------------


def _next_monday(weeks: int) -> datetime:
    """A Monday at 08:00 UTC, `weeks` weeks after the coming one."""
    today = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    return today + timedelta(days=7 - today.weekday() + 7 * weeks)


async def test_the_inbox_lists_a_series_once_with_its_next_occurrence(admin: Caller) -> None:
    future = await _weekly(admin, _next_monday(1), count=3)
    first = _next_monday(1)
    past = await _weekly(admin, START)
    colleague = future.colleague
    single = await book(future.organizer, colleague)

    inbox = {i["follow_up"]["id"]: i for i in ok(await colleague.get("/v1/invitations"))["items"]}

    assert set(inbox) == {future.follow_up_id, single["id"]}
    assert inbox[future.follow_up_id]["next_occurrence"] == {
        "occurrence_start": _iso(first),
        "start_at": _iso(first),
        "end_at": _iso(first + timedelta(hours=1)),
    }
    assert inbox[single["id"]]["next_occurrence"] is None
    over = ok(await past.colleague.get("/v1/invitations"))["items"]
    assert [(i["follow_up"]["id"], i["next_occurrence"]) for i in over] == [
        (past.follow_up_id, None)
    ]


async def test_the_inbox_skips_a_cancelled_next_occurrence_and_shows_a_moved_one(
    admin: Caller,
) -> None:
    first = _next_monday(2)
    series = await _weekly(admin, first, count=3)
    ok(
        await series.organizer.post(
            f"/v1/follow-ups/{series.follow_up_id}/occurrences/{_iso(first)}/cancel"
        )
    )
    second = first + WEEK
    moved = {"start_at": _iso(second + timedelta(hours=3)), "end_at": ""}
    moved["end_at"] = _iso(second + timedelta(hours=4))
    ok(
        await series.organizer.patch(
            f"/v1/follow-ups/{series.follow_up_id}/occurrences/{_iso(second)}",
            json=moved,
            headers={"If-Match": "*"},
        )
    )

    (invitation,) = ok(await series.colleague.get("/v1/invitations"))["items"]

    assert invitation["next_occurrence"] == {"occurrence_start": _iso(second), **moved}


async def test_the_history_records_the_occurrence(
    series: Series, connection: AsyncConnection
) -> None:
    ok(await series.answer("declined", SECOND, comment="Away"))

    (row,) = (
        await connection.execute(
            select(Response).where(Response.follow_up_id == uuid.UUID(series.follow_up_id))
        )
    ).all()
    assert (row.status, row.previous_status, row.occurrence_start) == (
        "declined",
        "not_read",
        SECOND,
    )


async def test_the_participants_list_shows_occurrence_answers_comments_to_organizer_and_author(
    series: Series,
) -> None:
    ok(await series.answer("accepted"))
    ok(await series.answer("declined", STARTS[2], comment="Dentist"))
    ok(await series.answer("tentative", SECOND))
    url = f"/v1/follow-ups/{series.follow_up_id}/participants"

    def answers(caller_view: list[Body]) -> list[tuple[str, str, str | None]]:
        (mine,) = [p for p in caller_view if p["id"] == series.invitation]
        return [
            (a["occurrence_start"], a["status"], a["comment"]) for a in mine["occurrence_answers"]
        ]

    shown = [(_iso(SECOND), "tentative", None), (_iso(STARTS[2]), "declined", "Dentist")]
    assert answers(ok(await series.organizer.get(url))) == shown
    assert answers(ok(await series.colleague.get(url))) == shown
    assert answers(ok(await series.other.get(url))) == [
        (start, status, None) for start, status, _ in shown
    ]
    others = [p for p in ok(await series.organizer.get(url)) if p["id"] != series.invitation]
    assert [p["occurrence_answers"] for p in others] == [[], []]
    # The follow-up's read lists them the same way.
    follow_up = ok(await series.organizer.get(f"/v1/follow-ups/{series.follow_up_id}"))
    assert answers(follow_up["participants"]) == shown
