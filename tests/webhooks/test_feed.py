"""The event feed: a tenant's events oldest first, filtered by type and paged with `after`."""

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_invalid, assert_problem
from tests.fixtures.responses import ok
from tests.webhooks.management import (
    EVENT_FIELDS,
    Body,
    answered,
    at,
    event_rows,
    feed,
    respond,
    subscribe,
)


async def test_feed_lists_the_tenants_events_oldest_first(
    connection: AsyncConnection, tenant: uuid.UUID, admin: Caller, other_admin: Caller
) -> None:
    created = await subscribe(admin)
    follow_up_id, participant_id, invitee = await answered(admin, "accepted")
    ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)
    await respond(invitee, participant_id, "declined")
    await answered(other_admin, "tentative")

    page = await feed(admin)

    assert page["next_cursor"] is None
    items = page["items"]
    assert [e["type"] for e in items] == [
        "follow_up.created",
        "invitation.accepted",
        "invitation.declined",
    ]
    rows = [e for e in await event_rows(connection, tenant) if e.type != "webhook.ping"]
    assert [e["id"] for e in items] == [str(e.id) for e in rows]
    for item, row in zip(items, rows, strict=True):
        assert set(item) == EVENT_FIELDS
        assert item["follow_up_id"] == follow_up_id
        assert item["seq"] == row.seq
        assert item["data"]["seq"] == item["seq"]
        assert item["data"] == row.data
        assert item["data"]["tenant_id"] == str(tenant)
        assert at(item["timestamp"]) == row.created_at
    assert [e["seq"] for e in items] == sorted(e["seq"] for e in items)
    assert items[1]["data"]["participant_id"] == participant_id
    assert items[2]["data"]["previous_status"] == "accepted"


async def test_feed_never_shows_another_tenants_events(admin: Caller, other_admin: Caller) -> None:
    await answered(other_admin, "accepted")
    theirs = (await feed(other_admin))["items"]

    assert (await feed(admin))["items"] == []
    assert len(theirs) == 2
    response = await admin.get("/v1/events", params={"after": theirs[0]["id"]})
    assert_problem(response, 404, "not_found")


async def test_feed_type_filter(admin: Caller) -> None:
    _, participant_id, invitee = await answered(admin, "accepted")
    await respond(invitee, participant_id, "declined")
    await respond(invitee, participant_id, "accepted")

    accepted = (await feed(admin, type="invitation.accepted"))["items"]
    created = (await feed(admin, type="follow_up.created"))["items"]
    cancelled = (await feed(admin, type="follow_up.cancelled"))["items"]

    assert [e["type"] for e in accepted] == ["invitation.accepted"] * 2
    assert accepted[0]["seq"] < accepted[1]["seq"]
    assert [e["type"] for e in created] == ["follow_up.created"]
    assert cancelled == []


async def test_feed_pages_with_after(admin: Caller) -> None:
    _, participant_id, invitee = await answered(admin, "accepted")
    for status in ("declined", "tentative", "accepted"):
        await respond(invitee, participant_id, status)
    everything = (await feed(admin))["items"]
    assert len(everything) == 5

    seen: list[Body] = []
    after: str | None = None
    for _ in range(10):  # bounded: a cursor that never ends must fail, not hang
        page = await feed(admin, limit=2, **({"after": after} if after else {}))
        seen.extend(page["items"])
        after = page["next_cursor"]
        if after is None:
            break
        assert after == page["items"][-1]["id"]
        assert len(page["items"]) == 2
    else:
        pytest.fail("the pages never ended")

    assert seen == everything
    # after the last event: nothing more, and no cursor.
    assert await feed(admin, after=everything[-1]["id"]) == {"items": [], "next_cursor": None}
    # a full last page has no cursor either
    assert (await feed(admin, limit=5))["next_cursor"] is None
    # after combines with type
    accepted = await feed(admin, type="invitation.accepted", after=everything[1]["id"])
    assert [e["id"] for e in accepted["items"]] == [everything[4]["id"]]


async def test_feed_after_a_ping_event(admin: Caller) -> None:
    created = await subscribe(admin)
    ping = ok(await admin.post(f"/v1/webhooks/{created['id']}/ping"), 202)["event_id"]
    await answered(admin, "accepted")

    page = await feed(admin, after=ping)

    assert [e["type"] for e in page["items"]] == ["follow_up.created", "invitation.accepted"]


@pytest.mark.parametrize(
    ("params", "status", "loc"),
    [
        ({"after": str(uuid.uuid4())}, 404, None),
        ({"after": "not-a-uuid"}, 422, ("query", "after")),
        ({"type": "webhook.ping"}, 422, ("query", "type")),
        ({"type": "invitation.maybe"}, 422, ("query", "type")),
        ({"limit": 0}, 422, ("query", "limit")),
        ({"limit": 201}, 422, ("query", "limit")),
        ({"cursor": "A" * 22}, 422, ("query", "cursor")),
    ],
    ids=[
        "unknown after",
        "after not a uuid",
        "type ping",
        "unknown type",
        "limit 0",
        "limit 201",
        "cursor is not a parameter",
    ],
)
async def test_feed_refuses_bad_parameters(
    admin: Caller, params: Body, status: int, loc: tuple[str, ...] | None
) -> None:
    await answered(admin, "accepted")

    response = await admin.get("/v1/events", params=params)

    if loc is None:
        assert_problem(response, status, "not_found")
    else:
        assert_invalid(response, *loc)
