"""The delta sync of a member's diary: the first sync, each kind of change once, removals, pages."""

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.config import Settings
from app.db.base import utc_now
from app.db.engine import Database
from app.followups.sync_cursors import decode, encode, owner_tag
from app.main import create_app
from tests.fixtures.factories import Caller, create_resource
from tests.fixtures.problems import assert_invalid, assert_problem
from tests.fixtures.responses import ok
from tests.fixtures.statements import statements
from tests.followups.support import at, book, participant, patch, respond
from tests.followups.sync_support import SYNC, WINDOW, Body, as_got, by_id, sync

MOVED_IN_WINDOW = {"start_at": at(14), "end_at": at(15)}
MOVED_OUT = {"start_at": "2026-07-01T09:00:00+02:00", "end_at": "2026-07-01T10:00:00+02:00"}


async def _got(caller: Caller, follow_up_id: str) -> Body:
    found: Body = ok(await caller.get(f"/v1/follow-ups/{follow_up_id}"))
    return found


async def test_first_sync_is_the_diary_in_the_window_as_get_shows_it(admin: Caller) -> None:
    ada, bo, cy = [await admin.new_member() for _ in range(3)]
    room = await create_resource(admin)
    organized = await book(ada, bo, participants=[{"resource_id": room["id"]}])
    invited = await book(bo, ada, title="Bo's review")
    await book(ada, start_at=MOVED_OUT["start_at"], end_at=MOVED_OUT["end_at"])  # outside
    await book(bo, cy)  # not Ada's
    cancelled = await book(ada, title="Called off")
    ok(await ada.post(f"/v1/follow-ups/{cancelled['id']}/cancel", json={}))

    entries, cursor = await sync(ada)

    got = by_id(entries)
    assert set(got) == {organized["id"], invited["id"], cancelled["id"]}
    for follow_up_id, entry in got.items():
        assert entry["removed"] is False
        assert as_got(entry) == await _got(ada, follow_up_id)
    assert (got[organized["id"]]["my_role"], got[organized["id"]]["my_status"]) == (
        "organizer",
        "accepted",
    )
    assert (got[invited["id"]]["my_role"], got[invited["id"]]["my_status"]) == (
        "required",
        "not_read",
    )
    assert got[cancelled["id"]]["status"] == "cancelled"
    # Nothing happened since: the delta is empty (and gives a cursor again).
    assert (await sync(ada, cursor))[0] == []


async def test_nothing_for_an_empty_diary(admin: Caller) -> None:
    loner = await admin.new_member()

    entries, cursor = await sync(loner)

    assert entries == []
    assert (await sync(loner, cursor))[0] == []


# Each change, made by Bo (the organizer), Cy (another invitee) or Ada (who syncs); Dan is new.
Change = Callable[[dict[str, Caller], Body], Awaitable[object]]
FU = "/v1/follow-ups/{}"


def _of(fu: Body, who: Caller) -> str:
    return str(participant(fu, associate_id=who.subject)["id"])


CHANGES: dict[str, Change] = {
    "created": lambda c, fu: book(c["bo"], c["ada"], title="New one"),
    "moved": lambda c, fu: patch(c["bo"], fu["id"], MOVED_IN_WINDOW),
    "changed": lambda c, fu: patch(c["bo"], fu["id"], {"title": "Renamed"}),
    "cancelled": lambda c, fu: c["bo"].post(FU.format(fu["id"]) + "/cancel", json={}),
    "participant added": lambda c, fu: c["bo"].post(
        FU.format(fu["id"]) + "/participants", json={"associate_id": c["dan"].subject}
    ),
    "participant removed": lambda c, fu: c["bo"].delete(
        FU.format(fu["id"]) + f"/participants/{_of(fu, c['cy'])}"
    ),
    "answered by another": lambda c, fu: respond(c["cy"], _of(fu, c["cy"]), "accepted"),
    "answered by the caller": lambda c, fu: respond(c["ada"], _of(fu, c["ada"]), "tentative"),
    "assigned": lambda c, fu: c["bo"].post(
        FU.format(fu["id"]) + "/assign", json={"associate_id": c["cy"].subject}
    ),
}


@pytest.mark.parametrize("kind", list(CHANGES))
async def test_each_kind_of_change_appears_once_as_it_is_now(admin: Caller, kind: str) -> None:
    cast = {name: await admin.new_member() for name in ("ada", "bo", "cy", "dan")}
    ada, bo, cy = cast["ada"], cast["bo"], cast["cy"]
    follow_up = await book(bo, ada, cy, title="Planning")
    untouched = await book(bo, ada, title="Untouched")
    first, cursor = await sync(ada)
    assert set(by_id(first)) == {follow_up["id"], untouched["id"]}

    result = await CHANGES[kind](cast, follow_up)
    if isinstance(result, httpx.Response):
        assert result.status_code in (200, 201, 204), result.text

    entries, next_cursor = await sync(ada, cursor)
    (entry,) = entries
    changed_id = result["id"] if isinstance(result, dict) and kind == "created" else follow_up["id"]
    assert entry["id"] == changed_id
    assert as_got(entry) == await _got(ada, changed_id)
    assert entry["id"] != untouched["id"]
    # Once: the next delta has nothing more.
    assert (await sync(ada, next_cursor))[0] == []


async def test_several_changes_of_one_follow_up_make_one_entry(admin: Caller) -> None:
    ada, bo = await admin.new_member(), await admin.new_member()
    follow_up = await book(bo, ada)
    _, cursor = await sync(ada)

    ok(await patch(bo, follow_up["id"], {"title": "First"}))
    ok(await patch(bo, follow_up["id"], {"title": "Second"}))
    await respond(ada, participant(follow_up, associate_id=ada.subject)["id"], "accepted")

    (entry,), _ = await sync(ada, cursor)
    assert (entry["title"], entry["my_status"]) == ("Second", "accepted")


async def test_the_caller_taken_off_a_follow_up_gets_a_removal(admin: Caller) -> None:
    ada, bo = await admin.new_member(), await admin.new_member()
    follow_up = await book(bo, ada)
    _, cursor = await sync(ada)

    mine = participant(follow_up, associate_id=ada.subject)["id"]
    response = await bo.delete(f"/v1/follow-ups/{follow_up['id']}/participants/{mine}")
    assert response.status_code == 204, response.text

    entries, cursor = await sync(ada, cursor)
    assert entries == [{"id": follow_up["id"], "removed": True, "reason": "participant_removed"}]
    # Later changes of a follow-up no longer theirs do not reach them.
    ok(await patch(bo, follow_up["id"], {"title": "Without Ada"}))
    assert (await sync(ada, cursor))[0] == []


async def test_moving_out_of_the_window_is_a_removal_and_back_in_an_entry(admin: Caller) -> None:
    ada, bo = await admin.new_member(), await admin.new_member()
    follow_up = await book(bo, ada)
    _, cursor = await sync(ada)

    ok(await patch(bo, follow_up["id"], MOVED_OUT))
    entries, cursor = await sync(ada, cursor)
    assert entries == [{"id": follow_up["id"], "removed": True, "reason": "outside_window"}]

    # Outside the window, other changes are not the diary's business.
    ok(await patch(bo, follow_up["id"], {"title": "Still outside"}))
    assert (await sync(ada, cursor))[0] == []

    ok(await patch(bo, follow_up["id"], MOVED_IN_WINDOW))
    (entry,), _ = await sync(ada, cursor)
    assert as_got(entry) == await _got(ada, follow_up["id"])


async def test_others_changes_and_other_tenants_never_show(
    admin: Caller, other_admin: Caller
) -> None:
    ada, bo, cy = await admin.new_member(), await admin.new_member(), await admin.new_member()
    theirs = await book(bo, cy)
    _, cursor = await sync(ada)
    foreigner = await other_admin.new_member()
    _, foreign_cursor = await sync(foreigner)

    ok(await patch(bo, theirs["id"], {"title": "Not Ada's"}))
    cy_in_theirs = participant(theirs, associate_id=cy.subject)["id"]
    await bo.delete(f"/v1/follow-ups/{theirs['id']}/participants/{cy_in_theirs}")
    await book(bo, ada)

    assert len((await sync(ada, cursor))[0]) == 1
    assert (await sync(foreigner, foreign_cursor))[0] == []


async def test_others_comments_stay_hidden_in_the_sync(admin: Caller) -> None:
    ada, bo, cy = await admin.new_member(), await admin.new_member(), await admin.new_member()
    follow_up = await book(bo, ada, cy)
    _, ada_cursor = await sync(ada)
    _, bo_cursor = await sync(bo)

    mine = participant(follow_up, associate_id=cy.subject)["id"]
    await respond(cy, mine, "declined", "Private: hospital appointment")

    (as_ada,), _ = await sync(ada, ada_cursor)
    (as_bo,), _ = await sync(bo, bo_cursor)
    assert participant(as_ada, associate_id=cy.subject)["comment"] is None
    assert participant(as_bo, associate_id=cy.subject)["comment"] == (
        "Private: hospital appointment"
    )


async def test_pages_of_the_first_sync_and_of_a_delta(admin: Caller) -> None:
    ada, bo = await admin.new_member(), await admin.new_member()
    booked = [await book(bo, ada, start_at=at(8 + n), end_at=at(9 + n)) for n in range(5)]

    page = ok(await ada.get(SYNC, params={**WINDOW, "limit": 2}))
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    assert page["delta_cursor"] is None
    entries, cursor = await sync(ada, limit=2)
    assert [entry["id"] for entry in entries] == [follow_up["id"] for follow_up in booked]

    for follow_up in booked:
        ok(await patch(bo, follow_up["id"], {"title": "Renamed"}))
    page = ok(await ada.get(SYNC, params={"cursor": cursor, "limit": 2}))
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    assert page["delta_cursor"] is None
    entries, cursor = await sync(ada, cursor, limit=2)
    assert sorted(by_id(entries)) == sorted(follow_up["id"] for follow_up in booked)
    assert {entry["title"] for entry in entries} == {"Renamed"}
    assert (await sync(ada, cursor, limit=2))[0] == []


async def test_changes_during_a_paged_first_sync_come_in_the_delta(admin: Caller) -> None:
    ada, bo = await admin.new_member(), await admin.new_member()
    booked = [await book(bo, ada, start_at=at(8 + n), end_at=at(9 + n)) for n in range(3)]
    page = ok(await ada.get(SYNC, params={**WINDOW, "limit": 2}))

    ok(await patch(bo, booked[0]["id"], {"title": "Changed on page two"}))
    rest = ok(await ada.get(SYNC, params={"cursor": page["next_cursor"], "limit": 2}))

    assert [entry["id"] for entry in rest["items"]] == [booked[2]["id"]]
    (entry,), _ = await sync(ada, rest["delta_cursor"])
    assert (entry["id"], entry["title"]) == (booked[0]["id"], "Changed on page two")


async def test_a_cursor_older_than_the_event_log_is_410(admin: Caller, settings: Settings) -> None:
    ada = await admin.new_member()
    _, cursor = await sync(ada)
    owner = owner_tag(ada.tenant_id, uuid.UUID(ada.subject))
    fresh = decode(cursor, owner, utc_now(), timedelta(days=30))
    kept = timedelta(days=settings.retention_events_days)

    stale = encode(replace(fresh, issued_at=utc_now() - kept), owner)
    problem = assert_problem(
        await ada.get(SYNC, params={"cursor": stale}), 410, "sync_token_expired"
    )
    assert "without a cursor" in problem["detail"]
    nearly = encode(replace(fresh, issued_at=utc_now() - kept + timedelta(hours=2)), owner)
    assert ok(await ada.get(SYNC, params={"cursor": nearly}))["items"] == []


async def test_a_cursor_of_another_caller_is_410(admin: Caller, other_admin: Caller) -> None:
    ada, bo = await admin.new_member(), await admin.new_member()
    foreigner = await other_admin.new_member()
    _, cursor = await sync(ada)
    for intruder in (bo, foreigner):
        response = await intruder.get(SYNC, params={"cursor": cursor})
        assert_problem(response, 410, "sync_token_expired")


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda c: c[:-4], ("query", "cursor")),
        (lambda c: c[:10] + ("A" if c[10] != "A" else "B") + c[11:], ("query", "cursor")),
        (lambda c: c + "AAAA", ("query", "cursor")),
        (lambda c: "not-a-cursor", ("query", "cursor")),
        (lambda c: c + "%", ("query", "cursor")),
    ],
    ids=["cut short", "altered", "lengthened", "not ours", "not base64url"],
)
async def test_a_malformed_cursor_is_422(
    admin: Caller, change: Callable[[str], str], loc: tuple[str, ...]
) -> None:
    ada = await admin.new_member()
    _, cursor = await sync(ada)

    assert_invalid(await ada.get(SYNC, params={"cursor": change(cursor)}), *loc)


async def test_a_cursor_carries_its_window(admin: Caller) -> None:
    ada = await admin.new_member()
    _, cursor = await sync(ada)

    response = await ada.get(SYNC, params={"cursor": cursor, "start": WINDOW["start"]})

    assert_invalid(response, "query", "start")


async def test_the_default_window_is_30_days_back_and_180_ahead(admin: Caller) -> None:
    ada = await admin.new_member()
    now = utc_now()
    inside = [now - timedelta(days=29), now + timedelta(days=179)]
    outside = [now - timedelta(days=31), now + timedelta(days=181)]
    booked = {}
    for start in inside + outside:
        body = {"start_at": start.isoformat(), "end_at": (start + timedelta(hours=1)).isoformat()}
        booked[start] = (await book(ada, **body))["id"]

    page = ok(await ada.get(SYNC))

    assert {entry["id"] for entry in page["items"]} == {booked[start] for start in inside}


async def test_a_cursor_works_on_a_new_app_instance(
    admin: Caller, settings: Settings, connection: AsyncConnection
) -> None:
    ada, bo = await admin.new_member(), await admin.new_member()
    follow_up = await book(bo, ada)
    _, cursor = await sync(ada)
    ok(await patch(bo, follow_up["id"], {"title": "After the restart"}))

    restarted: FastAPI = create_app(settings)
    restarted.state.database = Database.from_connection(connection)
    transport = httpx.ASGITransport(app=restarted, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://convene.test") as client:
        again = Caller(client, ada.tenant_id, ada.subject)
        (entry,), _ = await sync(again, cursor)

    assert entry["title"] == "After the restart"


async def test_a_delta_is_three_statements_and_one_per_entry(
    admin: Caller, engine: AsyncEngine
) -> None:
    ada, bo = await admin.new_member(), await admin.new_member()
    follow_up = await book(bo, ada)
    _, cursor = await sync(ada)

    with statements(engine) as sent:
        page = ok(await ada.get(SYNC, params={"cursor": cursor}))
    assert page["items"] == []
    # The token check, the log's settled end, the changed follow-ups.
    assert len(sent) == 3, "\n".join(sent)

    ok(await patch(bo, follow_up["id"], {"title": "Renamed"}))
    with statements(engine) as sent:
        page = ok(await ada.get(SYNC, params={"cursor": page["delta_cursor"]}))
    assert len(page["items"]) == 1
    # ... and each entry's participants with their conflicts (as GET reads them).
    assert len(sent) == 4, "\n".join(sent)
