"""The inbox page the database writes is byte for byte the one pydantic wrote from its rows."""

import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pydantic_core
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.base import utc_now
from app.followups.repository import FOLLOW_UP_PREFIX, NEXT_PREFIX, invitations_page
from app.followups.schemas import FollowUpSummary
from app.invitations.schemas import Invitation, NextOccurrence
from app.kit.pagination import Page, PageParams, decode_cursor, paged
from app.kit.zones import in_zone, local_date
from app.models.states import ParticipantStatus
from tests.fixtures.factories import Caller, create_person, create_resource
from tests.fixtures.responses import ok
from tests.followups.support import book, participant, patch, respond

ZONES = [
    None,
    "UTC",
    "Europe/London",  # offset zero in winter: still `Z`
    "Europe/Copenhagen",  # DST: +01:00 and +02:00
    "Asia/Kolkata",  # half an hour, and +05:21:10 in 1900 (shown +05:21)
    "America/St_Johns",  # negative, half an hour, DST
]
# Names and text as they may stand in the database (imports, older versions), not only as
# the API takes them today: quotes, backslashes, control characters, non-ASCII, U+2028.
ODD = 'Ø\'s "quoted" \\ back\x01\x1f\x7f tab\there\nline é 😀 \u2028 </script>'

# The old builder, kept as the reference: rows → dicts (all-day dates in Python) → in_zone
# → pydantic-core.
_READ = [name for name in FollowUpSummary.model_fields if name not in ("start_date", "end_date")]
_NEXT = list(NextOccurrence.model_fields)


def _invitation(row: Any) -> dict[str, Any]:
    invitation: dict[str, Any] = row._asdict()
    follow_up = {name: invitation.pop(FOLLOW_UP_PREFIX + name) for name in _READ}
    all_day, time_zone = follow_up["all_day"], follow_up["time_zone"]
    follow_up["start_date"] = local_date(follow_up["start_at"], time_zone) if all_day else None
    follow_up["end_date"] = local_date(follow_up["end_at"], time_zone) if all_day else None
    invitation["follow_up"] = follow_up
    next_ = {name: invitation.pop(NEXT_PREFIX + name) for name in _NEXT}
    invitation["next_occurrence"] = None if next_["occurrence_start"] is None else next_
    return invitation


async def _reference(connection: AsyncConnection, caller: Caller, params: dict[str, Any]) -> bytes:
    """The page as the pydantic builder wrote it, checked against `Page[Invitation]` too."""
    status = ParticipantStatus(params["status"]) if "status" in params else None
    page = PageParams(
        params.get("limit", 50), decode_cursor(params["cursor"]) if "cursor" in params else None
    )
    zone = ZoneInfo(params["time_zone"]) if "time_zone" in params else None
    query = invitations_page(by_status=status is not None, after=page.after is not None)
    rows = (
        await connection.execute(
            query,
            {
                "tenant_id": caller.tenant_id,
                "associate_id": uuid.UUID(caller.subject),
                "status": status,
                "after_id": page.after.id if page.after else None,
                "now": utc_now(),
                "fetch": page.limit + 1,
            },
        )
    ).all()
    cut = paged(rows, page)
    body = in_zone(
        {"items": [_invitation(row) for row in cut.items], "next_cursor": cut.next_cursor}, zone
    )
    built = pydantic_core.to_json(body)
    assert Page[Invitation].model_validate(body).model_dump_json().encode() == built
    return built


async def _same(connection: AsyncConnection, caller: Caller, **params: Any) -> dict[str, Any]:
    """The inbox page with these parameters, checked byte for byte against the reference."""
    response = await caller.get("/v1/invitations", params=params)
    assert response.status_code == 200, response.text
    assert response.content == await _reference(connection, caller, params), params
    page: dict[str, Any] = response.json()
    return page


async def _world(admin: Caller, connection: AsyncConnection) -> Caller:
    """A colleague with invitations of every kind; returns them."""
    organizer, bo, eve = (
        await admin.new_member(name="Ada"),
        await admin.new_member(name="Bo"),
        await admin.new_member(name="Eve"),
    )
    room = await create_resource(admin, name="Fjord room")
    dina = await create_person(admin)
    others = [{"resource_id": room["id"]}, {"person_id": dina["id"]}]
    declined = ""
    # Timed, winter and summer, with a room and a person; answered in each way, with comments.
    answers = [
        ("accepted", None),
        ("declined", 'Private: "dentist" \\ é'),
        ("tentative", "Maybe\tlater\n"),
        ("seen", None),
        ("not_read", None),
    ]
    for n, (status, comment) in enumerate(answers):
        month = 1 if n % 2 else 7
        created = await book(
            organizer,
            bo,
            eve,
            participants=others,
            title=f"Meeting {n} «{status}»",
            location=None if n % 2 else 'Room 1 "Nord" — 2nd floor',
            start_at=f"2027-{month:02d}-1{n}T09:00:00.{n}12345+01:00",
            end_at=f"2027-{month:02d}-1{n}T10:30:00+01:00",
        )
        invitation = participant(created, associate_id=bo.subject)["id"]
        if status == "seen":
            ok(await bo.post(f"/v1/invitations/{invitation}/seen"))
        elif status != "not_read":
            await respond(bo, invitation, status, comment=comment)
        if status == "declined":
            declined = invitation
            acknowledged = await organizer.post(
                f"/v1/follow-ups/{created['id']}/participants/{invitation}/acknowledge"
            )
            ok(acknowledged)
    # Moved after an answer (rescheduled), then cancelled.
    moved = await book(organizer, bo, title="Moved", time_zone="America/St_Johns")
    await respond(bo, participant(moved, associate_id=bo.subject)["id"], "accepted")
    ok(
        await patch(
            organizer,
            moved["id"],
            {"start_at": "2027-03-14T12:00:00Z", "end_at": "2027-03-14T13:00:00Z"},
        )
    )
    ok(await organizer.post(f"/v1/follow-ups/{moved['id']}/cancel", json={"reason": "No"}))
    # All-day, in a half-hour zone and across Copenhagen's DST change.
    for zone, start, end in [
        ("Asia/Kolkata", "2027-02-01", "2027-02-03"),
        ("Europe/Copenhagen", "2027-03-27", "2027-03-30"),
        ("America/St_Johns", "2027-11-06", "2027-11-08"),
    ]:
        await organizer.create(
            "/v1/follow-ups",
            {
                "title": f"Away {zone}",
                "all_day": True,
                "time_zone": zone,
                "start_date": start,
                "end_date": end,
                "participants": [{"associate_id": bo.subject}],
            },
        )
    # A series over Copenhagen's DST change: its first occurrence cancelled, the second moved.
    series = await book(
        organizer,
        bo,
        title="Weekly",
        start_at="2027-03-15T08:00:00Z",
        end_at="2027-03-15T09:00:00Z",
        time_zone="Europe/Copenhagen",
        recurrence={"rrule": "FREQ=WEEKLY;COUNT=4"},
    )
    occurrences = f"/v1/follow-ups/{series['id']}/occurrences"
    ok(await organizer.post(f"{occurrences}/2027-03-15T08:00:00Z/cancel"))
    etag = (await organizer.get(f"/v1/follow-ups/{series['id']}")).headers["ETag"]
    moved_occurrence = await organizer.patch(
        f"{occurrences}/2027-03-22T08:00:00Z",
        json={"start_at": "2027-03-21T10:30:00.5Z", "end_at": "2027-03-21T11:00:00Z"},
        headers={"If-Match": etag},
    )
    ok(moved_occurrence)
    # A series that is over (no next occurrence), and a follow-up long ago (1900).
    await book(
        organizer,
        bo,
        title="Over",
        start_at="2020-01-06T08:00:00Z",
        end_at="2020-01-06T09:00:00Z",
        recurrence={"rrule": "FREQ=DAILY;COUNT=2"},
    )
    await book(
        organizer, bo, title="Old", start_at="1900-06-01T00:00:00Z", end_at="1900-06-01T01:00:00Z"
    )
    # Names the API would refuse today, straight into the directory.
    for caller in (organizer, bo):
        await connection.execute(
            text("UPDATE associates SET name = :name WHERE id = :id"),
            {"name": ODD, "id": uuid.UUID(caller.subject)},
        )
    await connection.execute(
        text("UPDATE participants SET comment = :comment WHERE id = :id"),
        {"comment": ODD, "id": uuid.UUID(declined)},
    )
    return bo


async def test_every_kind_of_invitation_in_every_zone(
    admin: Caller, connection: AsyncConnection
) -> None:
    bo = await _world(admin, connection)

    for zone in ZONES:
        params = {} if zone is None else {"time_zone": zone}
        page = await _same(connection, bo, **params)
        assert len(page["items"]) == 12
        assert page["next_cursor"] is None

    page = await _same(connection, bo, time_zone="Asia/Kolkata")
    body = str(page)
    assert "+05:21" in body  # 1900's Madras time, its seconds cut as pydantic cuts them
    assert "'start_date': '2027-03-27'" in body
    assert ".500000+05:30" in body
    assert any(item["next_occurrence"] for item in page["items"])


@pytest.mark.parametrize("status", [None, *ParticipantStatus])
async def test_each_status_filter_and_every_page(
    admin: Caller, connection: AsyncConnection, status: ParticipantStatus | None
) -> None:
    bo = await _world(admin, connection)
    filters = {} if status is None else {"status": status.value}

    seen = 0
    cursor = None
    for zone in ("Europe/Copenhagen", None):
        seen, cursor = 0, None
        while True:
            params = {**filters, "limit": 2, **({"time_zone": zone} if zone else {})}
            page = await _same(connection, bo, **params, **({"cursor": cursor} if cursor else {}))
            seen += len(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    listed = await _same(connection, bo, **filters)
    assert seen == len(listed["items"])


async def test_an_empty_inbox_and_a_full_last_page(
    admin: Caller, connection: AsyncConnection
) -> None:
    nobody = await admin.new_member()
    assert (await _same(connection, nobody)) == {"items": [], "next_cursor": None}
    assert (await _same(connection, nobody, time_zone="Asia/Kolkata"))["items"] == []

    organizer, bo = await admin.new_member(), await admin.new_member()
    for _ in range(4):
        await book(organizer, bo)
    first = await _same(connection, bo, limit=2)
    last = await _same(connection, bo, limit=2, cursor=first["next_cursor"])
    assert len(last["items"]) == 2
    assert last["next_cursor"] is None  # exactly full: no further page
    whole = await _same(connection, bo, limit=4)
    assert whole["next_cursor"] is None
    cut = await _same(connection, bo, limit=3)
    assert cut["next_cursor"] is not None
