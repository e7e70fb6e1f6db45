"""Follow-ups from the organizer's side: create, the diary, read, PATCH, cancel and assign."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fixtures.factories import (
    Caller,
    create_contact,
    create_person,
    create_resource,
    follow_up_body,
)
from tests.fixtures.problems import assert_invalid, assert_problem
from tests.fixtures.responses import ok
from tests.followups.support import (
    DAY,
    Body,
    as_seen_by,
    at,
    book,
    etag_of,
    fetch,
    ids,
    new_target,
    participant,
    patch,
    respond,
    tenant_rows,
)


def instant(value: str) -> datetime:
    """Parse an API time, which must carry an offset."""
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() is not None, value
    return parsed


def answers(follow_up: Body) -> dict[str, Body]:
    """The participants by id: what an edit that does not move the time must keep."""
    return {p["id"]: p for p in follow_up["participants"]}


# Create -------------------------------------------------------------------------------------


async def test_create_returns_every_participant_with_its_kind_role_and_status(
    admin: Caller,
) -> None:
    owner = await admin.new_member(time_zone="America/New_York")
    colleague = await admin.new_member()
    room = await create_resource(admin)
    person = await create_person(admin)
    body = follow_up_body(
        participants=[
            {"person_id": person["id"], "role": "optional"},
            {"resource_id": room["id"]},
            {"associate_id": colleague.subject, "role": "optional"},
        ]
    )

    response = await owner.post("/v1/follow-ups", json=body)

    created = ok(response, 201)
    organizer, *others = created["participants"]
    assert (organizer["kind"], organizer["associate_id"]) == ("associate", owner.subject)
    assert (organizer["role"], organizer["status"]) == ("organizer", "accepted")
    by_kind = {p["kind"]: p for p in others}
    assert len(by_kind) == len(others) == 3
    assert (by_kind["associate"]["associate_id"], by_kind["associate"]["role"]) == (
        colleague.subject,
        "optional",
    )
    assert by_kind["associate"]["status"] == "not_read"
    assert by_kind["associate"]["responded_at"] is None
    assert by_kind["associate"]["seen_at"] is None
    assert (by_kind["resource"]["resource_id"], by_kind["resource"]["role"]) == (
        room["id"],
        "required",
    )
    assert by_kind["resource"]["status"] == "accepted"
    assert instant(by_kind["resource"]["responded_at"])
    assert (by_kind["person"]["person_id"], by_kind["person"]["role"]) == (person["id"], "optional")
    assert by_kind["person"]["status"] == "not_applicable"
    for p in created["participants"]:
        assert (p["rescheduled"], p["acknowledged_at"], p["comment"]) == (False, None, None)
    assert created["owner_id"] == owner.subject
    assert created["time_zone"] == "America/New_York"  # the owner's
    assert instant(created["start_at"]) == datetime(2026, 3, 30, 7, tzinfo=UTC)
    assert instant(created["end_at"]) == datetime(2026, 3, 30, 8, tzinfo=UTC)
    assert (created["status"], created["kind"], created["all_day"]) == (
        "scheduled",
        "meeting",
        False,
    )
    assert [created[k] for k in ("location", "description", "contact_id")] == [None] * 3
    assert [created[k] for k in ("cancel_reason", "cancelled_at")] == [None, None]
    etag = response.headers["ETag"]
    assert etag.startswith('"')
    assert etag.endswith('"')
    again = await owner.get(f"/v1/follow-ups/{created['id']}")
    assert (ok(again), again.headers["ETag"]) == (created, etag)


async def test_create_keeps_the_given_fields(admin: Caller, member: Caller) -> None:
    contact = await create_contact(admin)
    fields = {
        "time_zone": "Europe/London",
        "kind": "call",
        "location": "Phone",
        "description": "Agenda:\n- numbers",
        "contact_id": contact["id"],
    }

    created = await member.create("/v1/follow-ups", follow_up_body(**fields))

    assert {key: created[key] for key in fields} == fields
    assert [p["role"] for p in created["participants"]] == ["organizer"]


SPANS_REFUSED: dict[str, Body] = {
    "end equals start": {"start_at": at(9), "end_at": at(9)},
    "end before start": {"start_at": at(10), "end_at": at(9)},
    "longer than 31 days": {"start_at": at(9), "end_at": "2026-04-30T09:00:01+02:00"},
    "all-day at 9 o'clock": {"all_day": True, "start_at": at(9), "end_at": at(9, day=31)},
    "all-day on UTC midnights": {
        "all_day": True,
        "start_at": "2026-03-30T00:00:00Z",
        "end_at": "2026-03-31T00:00:00Z",
    },
    "all-day on Copenhagen midnights in New York": {
        "all_day": True,
        "time_zone": "America/New_York",
        "start_at": at(0),
        "end_at": at(0, day=31),
    },
}
SPANS_ALLOWED: dict[str, Body] = {
    "one minute": {"start_at": at(9), "end_at": at(9, 1)},
    "exactly 31 days": {"start_at": at(9), "end_at": "2026-04-30T09:00:00+02:00"},
    "all-day in the owner's zone": {"all_day": True, "start_at": at(0), "end_at": at(0, day=31)},
    "all-day over the DST change": {
        "all_day": True,
        "start_at": "2026-03-29T00:00:00+01:00",
        "end_at": "2026-03-30T00:00:00+02:00",
    },
    "all-day in New York": {
        "all_day": True,
        "time_zone": "America/New_York",
        "start_at": "2026-03-30T00:00:00-04:00",
        "end_at": "2026-04-01T00:00:00-04:00",
    },
}


@pytest.mark.parametrize("span", SPANS_REFUSED, ids=str)
async def test_create_refuses_an_invalid_span(
    member: Caller, connection: AsyncConnection, tenant: uuid.UUID, span: str
) -> None:
    before = await tenant_rows(connection, tenant)

    response = await member.post("/v1/follow-ups", json=follow_up_body(**SPANS_REFUSED[span]))

    assert_problem(response, 422, "invalid_span")
    assert await tenant_rows(connection, tenant) == before


@pytest.mark.parametrize("span", SPANS_ALLOWED, ids=str)
async def test_create_allows_a_valid_span(member: Caller, span: str) -> None:
    fields = SPANS_ALLOWED[span]

    created = await member.create("/v1/follow-ups", follow_up_body(**fields))

    assert instant(created["start_at"]) == instant(fields["start_at"])
    assert instant(created["end_at"]) == instant(fields["end_at"])
    assert created["all_day"] is fields.get("all_day", False)


@pytest.mark.parametrize("kind", ["associate", "resource", "person", "contact"])
async def test_create_with_an_unknown_reference_is_404(
    member: Caller, connection: AsyncConnection, tenant: uuid.UUID, kind: str
) -> None:
    unknown = str(uuid.uuid4())
    fields = (
        {"contact_id": unknown}
        if kind == "contact"
        else {"participants": [{f"{kind}_id": unknown}]}
    )
    before = await tenant_rows(connection, tenant)

    response = await member.post("/v1/follow-ups", json=follow_up_body(**fields))

    assert unknown in assert_problem(response, 404, "unknown_reference")["detail"]
    assert await tenant_rows(connection, tenant) == before


@pytest.mark.parametrize("kind", ["associate", "resource"])
async def test_create_with_a_deactivated_participant_is_409(
    admin: Caller, member: Caller, connection: AsyncConnection, tenant: uuid.UUID, kind: str
) -> None:
    target = await new_target(admin, kind)
    assert (await admin.delete(f"/v1/{kind}s/{target}")).status_code == 204
    before = await tenant_rows(connection, tenant)

    response = await member.post(
        "/v1/follow-ups", json=follow_up_body(participants=[{f"{kind}_id": target}])
    )

    assert_problem(response, 409, "inactive_reference")
    assert await tenant_rows(connection, tenant) == before


@pytest.mark.parametrize("kind", ["associate", "resource", "person", "owner"])
async def test_create_refuses_a_participant_listed_twice_or_the_owner(
    admin: Caller, member: Caller, connection: AsyncConnection, tenant: uuid.UUID, kind: str
) -> None:
    if kind == "owner":
        refs = [{"associate_id": member.subject}]
    else:
        target = await new_target(admin, kind)
        refs = [{f"{kind}_id": target}, {f"{kind}_id": target, "role": "optional"}]
    before = await tenant_rows(connection, tenant)

    response = await member.post("/v1/follow-ups", json=follow_up_body(participants=refs))

    assert_problem(response, 422, "validation_failed")
    assert await tenant_rows(connection, tenant) == before


@pytest.mark.parametrize(
    ("listed", "status", "code"), [(499, 404, "unknown_reference"), (500, 422, "validation_failed")]
)
async def test_create_takes_at_most_499_besides_the_owner(
    member: Caller, listed: int, status: int, code: str
) -> None:
    refs = [{"person_id": str(uuid.uuid4())} for _ in range(listed)]

    response = await member.post("/v1/follow-ups", json=follow_up_body(participants=refs))

    assert_problem(response, status, code)
    if status == 422:
        assert_invalid(response, "body", "participants")


# The diary ----------------------------------------------------------------------------------


async def diary(
    caller: Caller, start: str = DAY["start"], end: str = DAY["end"], **params: Any
) -> list[Body]:
    """The caller's diary over a window that fits on one page."""
    page = ok(await caller.get("/v1/follow-ups", params={"start": start, "end": end, **params}))
    assert page["next_cursor"] is None
    entries: list[Body] = page["items"]
    return entries


@pytest.mark.parametrize(
    ("start", "end", "included"),
    [
        (at(8), at(9), False),  # ends as it starts
        (at(10), at(11), False),  # starts as it ends
        (at(8), at(9, 1), True),
        (at(9, 59), at(11), True),
        (at(9, 15), at(9, 30), True),  # inside
        (at(0), at(0, day=31), True),  # around
        ("2026-03-30T07:00:00Z", "2026-03-30T07:00:01Z", True),  # another offset
    ],
)
async def test_diary_shows_follow_ups_overlapping_the_window(
    member: Caller, start: str, end: str, included: bool
) -> None:
    created = await book(member, start_at=at(9), end_at=at(10))

    found = [entry["id"] for entry in await diary(member, start, end)]

    assert found == ([created["id"]] if included else [])


async def test_diary_window_is_at_most_366_days(member: Caller) -> None:
    created = await book(member)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    longest = await diary(member, start.isoformat(), (start + timedelta(days=366)).isoformat())
    too_long = await member.get(
        "/v1/follow-ups",
        params={
            "start": start.isoformat(),
            "end": (start + timedelta(days=366, microseconds=1)).isoformat(),
        },
    )

    assert [entry["id"] for entry in longest] == [created["id"]]
    assert_invalid(too_long, "query", "end")


async def test_diary_includes_invitations_with_my_role_and_status(admin: Caller) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    stranger = await admin.new_member()
    theirs = await book(
        organizer, participants=[{"associate_id": colleague.subject, "role": "optional"}]
    )
    mine = await book(colleague, start_at=at(11), end_at=at(12))
    invitation = participant(theirs, associate_id=colleague.subject)["id"]

    before = await diary(colleague)
    await respond(colleague, invitation, "tentative")
    after = await diary(colleague)

    mine_entry = {"id": mine["id"], "my_role": "organizer", "my_status": "accepted"}
    assert [{k: e[k] for k in ("id", "my_role", "my_status")} for e in before] == [
        {"id": theirs["id"], "my_role": "optional", "my_status": "not_read"},
        mine_entry,
    ]
    assert [(e["id"], e["my_status"]) for e in after] == [
        (theirs["id"], "tentative"),
        (mine["id"], "accepted"),
    ]
    entry = before[0]
    fields = {
        key: value for key, value in theirs.items() if key not in ("participants", "has_conflict")
    }
    assert {key: entry[key] for key in fields} == fields
    assert [(e["id"], e["my_role"]) for e in await diary(organizer)] == [
        (theirs["id"], "organizer")
    ]
    assert await diary(stranger) == []


async def test_diary_filters_by_status(member: Caller) -> None:
    kept = await book(member, start_at=at(9), end_at=at(10))
    cancelled = await book(member, start_at=at(11), end_at=at(12))
    ok(await member.post(f"/v1/follow-ups/{cancelled['id']}/cancel", json={}))

    def found(entries: list[Body]) -> list[tuple[str, str]]:
        return [(e["id"], e["status"]) for e in entries]

    assert found(await diary(member)) == [(kept["id"], "scheduled"), (cancelled["id"], "cancelled")]
    assert found(await diary(member, status="scheduled")) == [(kept["id"], "scheduled")]
    assert found(await diary(member, status="cancelled")) == [(cancelled["id"], "cancelled")]


async def test_diary_pages_walk_everything_once_in_start_then_id_order(
    admin: Caller, member: Caller
) -> None:
    organizer = await admin.new_member()
    starts = [at(15), at(9), at(12), at(9), at(9), at(23), at(0), at(12)]
    made = [await book(member, start_at=s, end_at=at(23, 59)) for s in starts[:5]]
    made += [await book(organizer, member, start_at=s, end_at=at(23, 59)) for s in starts[5:]]
    expected = [
        f["id"] for f in sorted(made, key=lambda f: (instant(f["start_at"]), uuid.UUID(f["id"])))
    ]

    seen: list[str] = []
    cursor = None
    for _ in range(len(made)):
        params = {**DAY, "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = ok(await member.get("/v1/follow-ups", params=params))
        seen += [entry["id"] for entry in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == expected
    assert cursor is None


# Reading one --------------------------------------------------------------------------------


async def test_organizer_and_participants_read_the_same_follow_up(admin: Caller) -> None:
    organizer = await admin.new_member()
    colleague = await admin.new_member()
    stranger = await admin.new_member()
    created = await book(organizer, colleague)
    url = f"/v1/follow-ups/{created['id']}"

    as_organizer = await organizer.get(url)
    as_colleague = await colleague.get(url)

    assert ok(as_organizer) == ok(as_colleague) == created
    # A participant's form may leave out others' comments: its tag is theirs.
    version = as_organizer.headers["ETag"].strip('"')
    assert as_colleague.headers["ETag"] == f'"{version}-{uuid.UUID(colleague.subject).hex}"'
    assert ok(await colleague.get(f"{url}/participants")) == created["participants"]
    assert_problem(await stranger.get(url), 404, "not_found")


# PATCH --------------------------------------------------------------------------------------


async def test_patch_needs_if_match(
    member: Caller, connection: AsyncConnection, tenant: uuid.UUID
) -> None:
    created = await book(member)
    before = await tenant_rows(connection, tenant)

    response = await member.patch(f"/v1/follow-ups/{created['id']}", json={"title": "New"})

    assert_problem(response, 428, "precondition_required")
    assert await tenant_rows(connection, tenant) == before


async def test_patch_with_a_stale_etag_is_412_and_star_matches(member: Caller) -> None:
    created = await book(member)
    url = f"/v1/follow-ups/{created['id']}"
    first = await etag_of(member, created["id"])

    changed = await member.patch(url, json={"title": "Second"}, headers={"If-Match": first})
    second = changed.headers["ETag"]
    stale = await member.patch(url, json={"title": "Third"}, headers={"If-Match": first})
    weak = await member.patch(url, json={"title": "Third"}, headers={"If-Match": f"W/{second}"})
    listed = await member.patch(
        url, json={"title": "Third"}, headers={"If-Match": f"{first}, {second}"}
    )
    star = await member.patch(url, json={"title": "Fourth"}, headers={"If-Match": "*"})

    assert ok(changed)["title"] == "Second"
    assert second != first
    assert_problem(stale, 412, "precondition_failed")
    assert_problem(weak, 412, "precondition_failed")
    assert ok(listed)["title"] == "Third"
    assert ok(star)["title"] == "Fourth"
    assert len({first, second, listed.headers["ETag"], star.headers["ETag"]}) == 4
    assert star.headers["ETag"] == await etag_of(member, created["id"])
    assert (await fetch(member, created["id"]))["title"] == "Fourth"


async def answered_follow_up(admin: Caller, organizer: Caller) -> tuple[Body, Caller, Caller]:
    """A follow-up whose first colleague accepted and second declined (acknowledged)."""
    accepting = await admin.new_member()
    declining = await admin.new_member()
    room = await create_resource(admin)
    person = await create_person(admin)
    created = await book(
        organizer,
        accepting,
        declining,
        participants=[{"resource_id": room["id"]}, {"person_id": person["id"]}],
    )
    yes = participant(created, associate_id=accepting.subject)["id"]
    no = participant(created, associate_id=declining.subject)["id"]
    await respond(accepting, yes, "accepted", "See you")
    await respond(declining, no, "declined", "Away")
    ok(await organizer.post(f"/v1/follow-ups/{created['id']}/participants/{no}/acknowledge"))
    return await fetch(organizer, created["id"]), accepting, declining


@pytest.mark.parametrize(
    "move",
    [
        {"start_at": at(9, day=31), "end_at": at(10, day=31)},
        {"start_at": at(8)},
        {"end_at": at(11)},
    ],
    ids=["both", "start", "end"],
)
async def test_moving_resets_colleagues_but_not_resources(
    admin: Caller, member: Caller, move: Body
) -> None:
    before, _, _ = await answered_follow_up(admin, member)
    etag = await etag_of(member, before["id"])

    response = await member.patch(
        f"/v1/follow-ups/{before['id']}", json=move, headers={"If-Match": etag}
    )

    moved = ok(response)
    for key, value in move.items():
        assert instant(moved[key]) == instant(value)
    old = answers(before)
    for p in moved["participants"]:
        if p["kind"] == "associate" and p["role"] != "organizer":
            assert p["status"] == "not_read"
            assert p["rescheduled"] is True
            assert [p[k] for k in ("comment", "responded_at", "seen_at", "acknowledged_at")] == [
                None
            ] * 4
        else:
            assert p == old[p["id"]]
    assert etag != response.headers["ETag"] == await etag_of(member, before["id"])
    assert await fetch(member, before["id"]) == moved


async def test_patch_not_moving_the_time_keeps_answers(admin: Caller, member: Caller) -> None:
    before, _, _ = await answered_follow_up(admin, member)
    etag = await etag_of(member, before["id"])
    changes = {"title": "Renamed", "location": "Room 2", "description": "New", "kind": "call"}

    response = await member.patch(
        f"/v1/follow-ups/{before['id']}", json=changes, headers={"If-Match": etag}
    )

    changed = ok(response)
    assert {key: changed[key] for key in changes} == changes
    assert answers(changed) == answers(before)
    assert response.headers["ETag"] != etag
    assert response.headers["ETag"] == await etag_of(member, before["id"])


async def test_patch_to_the_same_time_in_another_offset_changes_nothing(
    admin: Caller, member: Caller
) -> None:
    before, _, _ = await answered_follow_up(admin, member)
    etag = await etag_of(member, before["id"])

    response = await member.patch(
        f"/v1/follow-ups/{before['id']}",
        json={"start_at": "2026-03-30T07:00:00Z", "end_at": "2026-03-30T08:00:00+00:00"},
        headers={"If-Match": etag},
    )

    assert ok(response) == before
    assert response.headers["ETag"] == etag


async def test_patch_explicit_null_clears_nullable_fields(admin: Caller, member: Caller) -> None:
    contact = await create_contact(admin)
    created = await book(member, location="Room 1", description="Agenda", contact_id=contact["id"])
    cleared = {"location": None, "description": None, "contact_id": None}

    changed = ok(await patch(member, created["id"], cleared))

    assert {key: changed[key] for key in cleared} == cleared
    assert changed["title"] == created["title"]
    assert await fetch(member, created["id"]) == changed


async def test_patch_with_an_unknown_contact_is_404(member: Caller) -> None:
    created = await book(member)

    response = await patch(member, created["id"], {"contact_id": str(uuid.uuid4())})

    assert_problem(response, 404, "unknown_reference")
    assert await fetch(member, created["id"]) == created


PATCH_SPANS_REFUSED: dict[str, Body] = {
    "end before start": {"start_at": at(10), "end_at": at(9)},
    "start moved past the end": {"start_at": at(11)},
    "end moved before the start": {"end_at": at(8)},
    "longer than 31 days": {"end_at": "2026-05-01T09:00:00+02:00"},
    "all-day switched on at 9 o'clock": {"all_day": True},
    "all-day follow-up moved to New York": {"time_zone": "America/New_York"},
}


@pytest.mark.parametrize("span", PATCH_SPANS_REFUSED, ids=str)
async def test_patch_refuses_an_invalid_span(member: Caller, span: str) -> None:
    changes = PATCH_SPANS_REFUSED[span]
    fields = (
        {"all_day": True, "start_at": at(0), "end_at": at(0, day=31)}
        if "time_zone" in changes
        else {}
    )
    created = await book(member, **fields)

    response = await patch(member, created["id"], changes)

    assert_problem(response, 422, "invalid_span")
    assert await fetch(member, created["id"]) == created


async def test_patch_of_a_cancelled_follow_up_is_409(member: Caller) -> None:
    created = await book(member)
    cancelled = ok(await member.post(f"/v1/follow-ups/{created['id']}/cancel", json={}))

    response = await patch(member, created["id"], {"title": "Too late"})

    assert_problem(response, 409, "follow_up_cancelled")
    assert await fetch(member, created["id"]) == cancelled


# Cancel -------------------------------------------------------------------------------------


async def test_cancel_sets_status_reason_and_time_and_keeps_answers(
    admin: Caller, member: Caller
) -> None:
    before, accepting, _ = await answered_follow_up(admin, member)
    etag = await etag_of(member, before["id"])
    started = datetime.now(UTC)

    response = await member.post(
        f"/v1/follow-ups/{before['id']}/cancel", json={"reason": "The customer postponed"}
    )

    cancelled = ok(response)
    assert (cancelled["status"], cancelled["cancel_reason"]) == (
        "cancelled",
        "The customer postponed",
    )
    assert started <= instant(cancelled["cancelled_at"]) <= datetime.now(UTC)
    assert answers(cancelled) == answers(before)
    assert response.headers["ETag"] != etag
    assert await fetch(accepting, before["id"]) == as_seen_by(cancelled, accepting.subject)


async def test_cancel_without_a_reason_and_a_second_cancel_is_409(member: Caller) -> None:
    created = await book(member)
    url = f"/v1/follow-ups/{created['id']}/cancel"

    first = ok(await member.post(url, json={}))
    second = await member.post(url, json={"reason": "Again"})

    assert (first["status"], first["cancel_reason"]) == ("cancelled", None)
    assert_problem(second, 409, "follow_up_cancelled")
    assert await fetch(member, created["id"]) == first


@pytest.mark.parametrize("action", ["assign", "add", "remove", "acknowledge"])
async def test_a_cancelled_follow_up_is_frozen(admin: Caller, member: Caller, action: str) -> None:
    colleague = await admin.new_member()
    created = await book(member, colleague)
    invitation = participant(created, associate_id=colleague.subject)["id"]
    await respond(colleague, invitation, "declined")
    url = f"/v1/follow-ups/{created['id']}"
    cancelled = ok(await member.post(f"{url}/cancel", json={}))
    requests = {
        "assign": ("POST", f"{url}/assign", {"associate_id": colleague.subject}),
        "add": (
            "POST",
            f"{url}/participants",
            {"associate_id": (await admin.new_member()).subject},
        ),
        "remove": ("DELETE", f"{url}/participants/{invitation}", None),
        "acknowledge": ("POST", f"{url}/participants/{invitation}/acknowledge", None),
    }
    method, path, body = requests[action]

    response = await member.request(method, path, json=body)

    assert_problem(response, 409, "follow_up_cancelled")
    assert await fetch(member, created["id"]) == cancelled


# Assign -------------------------------------------------------------------------------------


async def assign(caller: Caller, follow_up_id: str, associate_id: str) -> Body:
    assigned: Body = ok(
        await caller.post(
            f"/v1/follow-ups/{follow_up_id}/assign", json={"associate_id": associate_id}
        )
    )
    return assigned


def check_handed_over(assigned: Body, old_owner: Caller, new_owner: Caller) -> None:
    assert assigned["owner_id"] == new_owner.subject
    organizer = assigned["participants"][0]
    assert (organizer["associate_id"], organizer["role"], organizer["status"]) == (
        new_owner.subject,
        "organizer",
        "accepted",
    )
    assert (organizer["rescheduled"], organizer["acknowledged_at"]) == (False, None)
    previous = participant(assigned, associate_id=old_owner.subject)
    assert (previous["role"], previous["status"]) == ("required", "accepted")
    assert [p["role"] for p in assigned["participants"]].count("organizer") == 1


async def test_assign_to_an_invited_colleague_hands_over_the_follow_up(admin: Caller) -> None:
    owner = await admin.new_member()
    successor = await admin.new_member()
    created = await book(owner, successor)
    invitation = participant(created, associate_id=successor.subject)["id"]
    await respond(successor, invitation, "declined", "Not me")
    etag = await etag_of(owner, created["id"])

    assigned = await assign(owner, created["id"], successor.subject)

    check_handed_over(assigned, owner, successor)
    assert participant(assigned, associate_id=successor.subject)["id"] == invitation
    assert await etag_of(owner, created["id"]) != etag
    assert await fetch(owner, created["id"]) == assigned
    refused = await patch(owner, created["id"], {"title": "Mine again"})
    assert_problem(refused, 403, "not_organizer")
    assert ok(await patch(successor, created["id"], {"title": "Mine now"}))["title"] == "Mine now"


async def test_assign_to_a_colleague_not_in_the_follow_up(admin: Caller) -> None:
    owner = await admin.new_member()
    successor = await admin.new_member()
    created = await book(owner)

    response = await owner.post(
        f"/v1/follow-ups/{created['id']}/assign", json={"associate_id": successor.subject}
    )

    assigned = ok(response)
    check_handed_over(assigned, owner, successor)
    assert await fetch(successor, created["id"]) == assigned
    assert_problem(await patch(owner, created["id"], {"title": "x"}), 403, "not_organizer")


async def test_assign_to_the_owner_changes_nothing(member: Caller) -> None:
    created = await book(member)
    etag = await etag_of(member, created["id"])

    assert await assign(member, created["id"], member.subject) == created
    assert await etag_of(member, created["id"]) == etag


@pytest.mark.parametrize("target", ["unknown", "other tenant", "deactivated"])
async def test_assign_to_someone_who_cannot_own_it_is_refused(
    admin: Caller, other_admin: Caller, member: Caller, target: str
) -> None:
    created = await book(member)
    if target == "unknown":
        associate_id, status, code = str(uuid.uuid4()), 404, "unknown_reference"
    elif target == "other tenant":
        associate_id = (await other_admin.new_member()).subject
        status, code = 404, "unknown_reference"
    else:
        associate_id = (await admin.new_member()).subject
        assert (await admin.delete(f"/v1/associates/{associate_id}")).status_code == 204
        status, code = 409, "inactive_reference"

    response = await member.post(
        f"/v1/follow-ups/{created['id']}/assign", json={"associate_id": associate_id}
    )

    assert_problem(response, status, code)
    assert await fetch(member, created["id"]) == created
    assert await ids(member, "/v1/follow-ups", **DAY) == [created["id"]]
