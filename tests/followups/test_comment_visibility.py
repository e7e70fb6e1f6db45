"""Who sees an answer's comment: every cell of the README's visibility matrix, tested.

The matrix is read from the README, so the table and the behaviour cannot drift apart. Each
cell asks, as one viewer, what one surface shows of the author's comment.
"""

import json
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.factories import Caller, create_contact
from tests.followups.support import Body, book, participant, respond
from tests.webhooks.management import PUBLIC
from tests.webhooks.support import world as webhook_world

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "Private: hospital appointment"
THEIRS = "Fine by me"
VIEWERS = ("organizer", "invitee (author)", "other participant", "other member", "admin")


def _matrix() -> dict[str, dict[str, str]]:
    """The README's matrix: surface -> viewer -> what they get."""
    text = README.read_text()
    block = re.search(
        r"<!-- comment-matrix:start -->\n(.*?)<!-- comment-matrix:end -->", text, re.S
    )
    assert block is not None, "the README lost its comment matrix"
    header, _, *rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in block.group(1).strip().splitlines()
    ]
    assert tuple(header[1:]) == VIEWERS
    return {row[0]: dict(zip(VIEWERS, row[1:], strict=True)) for row in rows}


@dataclass(frozen=True)
class World:
    """An organizer's follow-up, linked to a contact, with two invitees who answered."""

    admin: Caller
    organizer: Caller
    author: Caller
    other: Caller
    member: Caller
    follow_up: Body
    contact: Body
    invitation: str

    def viewer(self, name: str) -> Caller:
        return {
            "organizer": self.organizer,
            "invitee (author)": self.author,
            "other participant": self.other,
            "other member": self.member,
            "admin": self.admin,
        }[name]


async def _world(admin: Caller) -> World:
    organizer = await admin.new_member(name="Olga Organizer")
    author = await admin.new_member(name="Ada Author")
    other = await admin.new_member(name="Otto Other")
    member = await admin.new_member(name="Mia Member")
    contact = await create_contact(admin)
    follow_up = await book(organizer, author, other, contact_id=contact["id"])
    invitation = participant(follow_up, associate_id=author.subject)["id"]
    theirs = participant(follow_up, associate_id=other.subject)["id"]
    await respond(author, invitation, "declined", comment=SECRET)
    await respond(other, theirs, "accepted", comment=THEIRS)
    return World(admin, organizer, author, other, member, follow_up, contact, invitation)


def _comment(item: Body) -> str:
    assert item["comment"] in (SECRET, None), item
    return "shown" if item["comment"] == SECRET else "null"


Read = Callable[[World, Caller], Awaitable[str]]


async def _follow_up(w: World, viewer: Caller) -> str:
    response = await viewer.get(f"/v1/follow-ups/{w.follow_up['id']}")
    if response.status_code != 200:
        return str(response.status_code)
    return _comment(participant(response.json(), associate_id=w.author.subject))


async def _participants(w: World, viewer: Caller) -> str:
    response = await viewer.get(f"/v1/follow-ups/{w.follow_up['id']}/participants")
    if response.status_code != 200:
        return str(response.status_code)
    (mine,) = [p for p in response.json() if p["id"] == w.invitation]
    return _comment(mine)


async def _responses(w: World, viewer: Caller) -> str:
    response = await viewer.get(f"/v1/follow-ups/{w.follow_up['id']}/responses")
    if response.status_code != 200:
        return str(response.status_code)
    (decline,) = [r for r in response.json()["items"] if r["participant_id"] == w.invitation]
    return _comment(decline)


async def _etag(w: World, viewer: Caller) -> str:
    response = await viewer.get(f"/v1/follow-ups/{w.follow_up['id']}")
    if response.status_code != 200:
        return str(response.status_code)
    tag = response.headers["ETag"]
    if re.fullmatch(r'"\d+"', tag):
        return "shared"
    assert viewer.subject is not None
    assert re.fullmatch(rf'"\d+-{viewer.subject.replace("-", "")}"', tag), tag
    return "own"


async def _invitations(w: World, viewer: Caller) -> str:
    response = await viewer.get("/v1/invitations")
    if response.status_code != 200:
        return str(response.status_code)
    found = [i for i in response.json()["items"] if i["id"] == w.invitation]
    return _comment(found[0]) if found else "not listed"


async def _notifications(w: World, viewer: Caller) -> str:
    response = await viewer.get("/v1/notifications")
    if response.status_code != 200:
        return str(response.status_code)
    found = [
        n
        for n in response.json()["items"]
        if n["participant_id"] == w.invitation and n["kind"] == "responded"
    ]
    if not found:
        return "not listed"
    return "shown" if SECRET in json.dumps(found) else "no comment"


async def _activities(w: World, viewer: Caller) -> str:
    response = await viewer.get(f"/v1/contacts/{w.contact['id']}/activities")
    if response.status_code != 200:
        return str(response.status_code)
    found = [a for a in response.json()["items"] if a["id"] == w.follow_up["id"]]
    if not found:
        return "not listed"
    return "shown" if SECRET in json.dumps(found) else "no comment"


def _flag_only(data: Body) -> str:
    if "comment" in data or SECRET in json.dumps(data):
        return "shown"
    assert data["has_comment"] is True
    return "has_comment only"


async def _events(w: World, viewer: Caller) -> str:
    response = await viewer.get("/v1/events", params={"type": "invitation.declined"})
    if response.status_code != 200:
        return str(response.status_code)
    (event,) = [e for e in response.json()["items"] if e["data"]["participant_id"] == w.invitation]
    return _flag_only(event["data"])


async def _webhook(w: World, viewer: Caller) -> str:
    # Receiving a webhook starts with subscribing an endpoint: only admins may. The admin's
    # delivery itself is `test_a_webhook_carries_whether_there_is_a_comment_not_the_text`.
    response = await viewer.post(
        "/v1/webhooks", json={"url": PUBLIC, "event_types": ["invitation.declined"]}
    )
    if response.status_code != 201:
        return str(response.status_code)
    return "subscribed"


READERS: dict[str, Read] = {
    "`GET /v1/follow-ups/{id}` `participants[].comment` (also in the answers of create, `PATCH`, "
    "cancel and assign)": _follow_up,
    "`GET /v1/follow-ups/{id}/participants` `[].comment`": _participants,
    "`GET /v1/follow-ups/{id}/responses` `items[].comment`": _responses,
    "`ETag` of `GET /v1/follow-ups/{id}`": _etag,
    "`GET /v1/invitations` `items[].comment`": _invitations,
    "`GET /v1/notifications` (`responded`, to the organizer)": _notifications,
    "`GET /v1/contacts/{id}/activities`": _activities,
    "`GET /v1/events` `data` of `invitation.*`": _events,
    "webhook payload `data` of `invitation.*`": _webhook,
}
MATRIX = _matrix()
WEBHOOK = "webhook payload `data` of `invitation.*`"


def _cells() -> Iterator[Any]:
    for surface, row in MATRIX.items():
        for viewer, expected in row.items():
            if (surface, viewer) == (WEBHOOK, "admin"):
                continue  # a real delivery: the test below
            yield pytest.param(surface, viewer, expected, id=f"{viewer} | {surface}")


def test_the_matrix_names_every_surface_tested() -> None:
    assert set(MATRIX) == set(READERS)


@pytest.mark.parametrize(("surface", "viewer", "expected"), list(_cells()))
async def test_matrix_cell(admin: Caller, surface: str, viewer: str, expected: str) -> None:
    w = await _world(admin)

    assert await READERS[surface](w, w.viewer(viewer)) == expected


async def test_a_webhook_carries_whether_there_is_a_comment_not_the_text(
    committed_url: str, tmp_path: Path
) -> None:
    assert MATRIX[WEBHOOK]["admin"] == "has_comment only"
    async with webhook_world(committed_url, tmp_path) as w:
        webhook = await w.subscribe()
        organizer, author = await w.admin.new_member(), await w.admin.new_member()
        follow_up_id, ids = await w.invite(organizer, author)
        await respond(author, ids[author.subject], "declined", comment=SECRET)
        await respond(author, ids[author.subject], "accepted")

        declined, accepted = await w.receiver.wait_for(2)

        assert SECRET.encode() not in declined.body
        assert _flag_only(declined.verified_by(webhook["secret"])["data"]) == "has_comment only"
        assert accepted.verified_by(webhook["secret"])["data"]["has_comment"] is False
        assert follow_up_id == json.loads(declined.body)["data"]["follow_up_id"]


@pytest.fixture(scope="module")
def committed_url(make_database: Callable[..., str]) -> str:
    return make_database()


async def test_comments_follow_the_organizer_role_through_an_assignment(admin: Caller) -> None:
    w = await _world(admin)
    url = f"/v1/follow-ups/{w.follow_up['id']}"

    response = await w.organizer.post(f"{url}/assign", json={"associate_id": w.other.subject})

    # The previous organizer is now a participant: the answer they get already hides it.
    assert response.status_code == 200, response.text
    assert _comment(participant(response.json(), associate_id=w.author.subject)) == "null"
    assert await _follow_up(w, w.organizer) == "null"
    assert await _follow_up(w, w.other) == "shown"
    assert await _etag(w, w.other) == "shared"


async def test_the_organizers_change_answers_show_every_comment(admin: Caller) -> None:
    w = await _world(admin)
    url = f"/v1/follow-ups/{w.follow_up['id']}"
    etag = (await w.organizer.get(url)).headers["ETag"]

    patched = await w.organizer.patch(url, json={"title": "Renamed"}, headers={"If-Match": etag})
    cancelled = await w.organizer.post(f"{url}/cancel", json={"reason": "Postponed"})

    for response in (patched, cancelled):
        assert response.status_code == 200, response.text
        assert _comment(participant(response.json(), associate_id=w.author.subject)) == "shown"
        assert re.fullmatch(r'"\d+"', response.headers["ETag"])


async def test_an_etag_of_a_participants_form_does_not_satisfy_if_match(admin: Caller) -> None:
    w = await _world(admin)
    url = f"/v1/follow-ups/{w.follow_up['id']}"
    theirs = (await w.author.get(url)).headers["ETag"]

    response = await w.organizer.patch(url, json={"title": "x"}, headers={"If-Match": theirs})

    assert response.status_code == 412, response.text
