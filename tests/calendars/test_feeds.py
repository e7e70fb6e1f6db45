"""Calendar feeds: create, list, revoke, and the secret URL a calendar app polls."""

import uuid
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.calendars.feeds import token_hash
from app.models import CalendarFeed, IdempotencyKey
from tests.calendars.support import book_at, events_of, new_feed
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized
from tests.fixtures.responses import ok
from tests.followups.support import participant, respond

# A feed id no row has (fixed, so parallel workers collect the same test ids).
NO_FEED = uuid.UUID("99799311-ce78-4164-8f95-cf287f7209e9")


async def test_create_shows_the_url_once_and_stores_only_a_hash(
    member: Caller, connection: AsyncConnection
) -> None:
    created, path = await new_feed(member, name="Work", past_days=7, future_days=60)

    assert created["url"].startswith("http://convene.test/v1/feeds/cvf_")
    assert created["url"].endswith(".ics")
    assert (created["name"], created["past_days"], created["future_days"]) == ("Work", 7, 60)
    token = path.removeprefix("/v1/feeds/").removesuffix(".ics")
    query = select(CalendarFeed.__table__).where(CalendarFeed.id == created["id"])
    stored = (await connection.execute(query)).one()
    assert stored.token_hash == token_hash(token)
    assert token not in repr(stored)
    assert token[-43:] not in repr(stored)  # the secret part, in no column
    listed = ok(await member.get("/v1/feeds"))
    assert [f["id"] for f in listed["items"]] == [created["id"]]
    assert "url" not in listed["items"][0]


async def test_a_retried_create_keeps_its_answer_sealed(
    member: Caller, connection: AsyncConnection
) -> None:
    """The replay shows the same URL; the kept answer does not hold the secret in clear."""
    headers = {"Idempotency-Key": f"test-{uuid.uuid4()}"}
    first = await member.post("/v1/feeds", json={}, headers=headers)
    again = await member.post("/v1/feeds", json={}, headers=headers)

    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["url"] == first.json()["url"]
    secret = first.json()["url"].removesuffix(".ics")[-43:]
    kept = (await connection.execute(select(IdempotencyKey.body))).scalars().all()
    assert kept
    assert not [body for body in kept if secret.encode() in body]


async def test_defaults(member: Caller) -> None:
    created, _ = await new_feed(member)

    assert (created["name"], created["past_days"], created["future_days"]) == (None, 30, 365)


async def test_the_feed_shows_the_diary_in_its_window(
    admin: Caller, member: Caller, client: httpx.AsyncClient
) -> None:
    colleague = await admin.new_member(name="Carl Colleague")
    own = await book_at(member, 2, title="Own")
    invited = await book_at(colleague, 3, member, title="Invited")
    declined = await book_at(colleague, 4, member, title="Declined")
    await respond(member, participant(declined, associate_id=member.subject)["id"], "declined")
    past = await book_at(member, -5, title="Last week")
    too_old = await book_at(member, -20, title="Too old")
    too_far = await book_at(member, 70, title="Too far")
    await book_at(colleague, 2, title="Not theirs")
    _, path = await new_feed(member, name="Work", past_days=10, future_days=60)

    response = await client.get(path)

    events = events_of(response)
    assert set(events) == {own["id"], invited["id"], declined["id"], past["id"]}
    assert not {too_old["id"], too_far["id"]} & set(events)
    assert events[invited["id"]]["ORGANIZER"].params["CN"] == "Carl Colleague"
    assert events[declined["id"]]["TRANSP"] == "TRANSPARENT"
    assert events[own["id"]]["TRANSP"] == "OPAQUE"
    assert b"X-WR-CALNAME:Work" in response.content
    assert response.headers["Cache-Control"] == "private, no-cache"


async def test_an_empty_diary_is_an_empty_calendar(
    member: Caller, client: httpx.AsyncClient
) -> None:
    _, path = await new_feed(member)

    assert events_of(await client.get(path)) == {}


async def test_etag_and_last_modified_answer_304_until_something_changes(
    member: Caller, client: httpx.AsyncClient, connection: AsyncConnection
) -> None:
    created = await book_at(member, 1, title="Before")
    feed, path = await new_feed(member)
    first = await client.get(path)
    assert first.status_code == 200
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]

    again = await client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert (again.headers["ETag"], again.headers["Last-Modified"]) == (etag, modified)
    assert (await client.get(path, headers={"If-Modified-Since": modified})).status_code == 304
    assert (await client.get(path)).headers["ETag"] == etag

    # A change: the body, its tag and its date move on, and the old tag gets the new body.
    await connection.execute(
        update(CalendarFeed)
        .where(CalendarFeed.id == feed["id"])
        .values(changed_at=datetime.now(UTC) - timedelta(hours=1))
    )
    earlier = format_datetime(datetime.now(UTC) - timedelta(minutes=30), usegmt=True)
    await member.post(f"/v1/follow-ups/{created['id']}/cancel")
    changed = await client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert events_of(changed)[created["id"]]["STATUS"] == "CANCELLED"
    assert (await client.get(path, headers={"If-Modified-Since": earlier})).status_code == 200
    assert (
        await client.get(path, headers={"If-None-Match": changed.headers["ETag"]})
    ).status_code == 304


async def test_revoked_is_404(member: Caller, client: httpx.AsyncClient) -> None:
    feed, path = await new_feed(member)

    response = await member.delete(f"/v1/feeds/{feed['id']}")

    assert response.status_code == 204
    assert_problem(await client.get(path), 404, "not_found")
    assert ok(await member.get("/v1/feeds"))["items"] == []


async def test_an_inactive_colleagues_feed_is_404(
    admin: Caller, member: Caller, client: httpx.AsyncClient
) -> None:
    _, path = await new_feed(member)

    assert (await admin.delete(f"/v1/associates/{member.subject}")).status_code == 204

    assert_problem(await client.get(path), 404, "not_found")


async def test_a_wrong_secret_is_404(member: Caller, client: httpx.AsyncClient) -> None:
    _, path = await new_feed(member)
    token = path.removeprefix("/v1/feeds/").removesuffix(".ics")
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")

    assert_problem(await client.get(f"/v1/feeds/{flipped}.ics"), 404, "not_found")


async def test_a_feed_named_in_another_tenant_is_404(
    member: Caller, other_admin: Caller, client: httpx.AsyncClient
) -> None:
    """The same feed id and secret under another tenant's id open nothing."""
    _, path = await new_feed(member)
    token = path.removeprefix("/v1/feeds/cvf_").removesuffix(".ics")
    moved = f"/v1/feeds/cvf_{other_admin.tenant_id.hex}{token[32:]}.ics"

    assert_problem(await client.get(moved), 404, "not_found")


@pytest.mark.parametrize(
    "token", ["abc", "cvf_" + "0" * 64 + "x" * 42, "cvf_" + "g" * 64 + "x" * 43]
)
async def test_a_malformed_token_is_422(client: httpx.AsyncClient, token: str) -> None:
    assert_invalid(await client.get(f"/v1/feeds/{token}.ics"), "path", "token")


# Access to the management routes ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/feeds"), ("GET", "/v1/feeds"), ("DELETE", f"/v1/feeds/{NO_FEED}")],
)
async def test_without_a_token_is_401(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path, json={} if method == "POST" else None)

    assert_unauthorized(response, "unauthorized")


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/feeds"), ("GET", "/v1/feeds"), ("DELETE", f"/v1/feeds/{NO_FEED}")],
)
async def test_an_admin_token_is_not_an_associate(admin: Caller, method: str, path: str) -> None:
    response = await admin.request(method, path, json={} if method == "POST" else None)

    assert_problem(response, 403, "not_an_associate")


async def test_a_colleague_cannot_see_or_revoke_anothers_feed(
    admin: Caller, member: Caller, client: httpx.AsyncClient
) -> None:
    feed, path = await new_feed(member)
    colleague = await admin.new_member()

    assert ok(await colleague.get("/v1/feeds"))["items"] == []
    assert_problem(await colleague.delete(f"/v1/feeds/{feed['id']}"), 404, "not_found")
    assert (await client.get(path)).status_code == 200


async def test_another_tenant_cannot_see_or_revoke_it(
    member: Caller, other_admin: Caller, client: httpx.AsyncClient
) -> None:
    feed, path = await new_feed(member)
    foreigner = await other_admin.new_member()

    assert ok(await foreigner.get("/v1/feeds"))["items"] == []
    assert_problem(await foreigner.delete(f"/v1/feeds/{feed['id']}"), 404, "not_found")
    assert (await client.get(path)).status_code == 200


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"past_days": -1}, ("body", "past_days")),
        ({"future_days": 0}, ("body", "future_days")),
        ({"future_days": 367}, ("body", "future_days")),
        ({"past_days": "3"}, ("body", "past_days")),
        ({"name": "two\nlines"}, ("body", "name")),
        ({"token": "mine"}, ("body", "token")),
    ],
)
async def test_malformed_input_is_422_and_makes_nothing(
    member: Caller, body: dict[str, object], loc: tuple[str, str]
) -> None:
    assert_invalid(await member.post("/v1/feeds", json=body), *loc)

    assert ok(await member.get("/v1/feeds"))["items"] == []


async def test_a_malformed_feed_id_is_422(member: Caller) -> None:
    assert_invalid(await member.delete("/v1/feeds/nope"), "path", "feed_id")
