"""Shared helpers of the follow-up, invitation and notification tests: a small world and checks."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Row, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import Event, FollowUp, Notification, Participant, Person, Response
from tests.fixtures.factories import (
    Caller,
    create_contact,
    create_person,
    create_resource,
    follow_up_body,
)
from tests.fixtures.responses import ok

__all__ = [
    "DAY",
    "Body",
    "World",
    "as_seen_by",
    "at",
    "book",
    "etag_of",
    "fetch",
    "ids",
    "insert_persons",
    "items",
    "make_world",
    "new_target",
    "notifications",
    "participant",
    "patch",
    "respond",
    "tenant_rows",
]

Body = dict[str, Any]

# The day of follow_up_body(): Monday 30 March 2026, in Copenhagen (UTC+2 since the 29th).
DAY = {"start": "2026-03-30T00:00:00+02:00", "end": "2026-03-31T00:00:00+02:00"}


def at(hour: int, minute: int = 0, day: int = 30) -> str:
    """A time on a day of March/April 2026 in Copenhagen summer time (day > 31 is in April)."""
    month, day = (3, day) if day <= 31 else (4, day - 31)
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00+02:00"


# Reading ------------------------------------------------------------------------------------


async def items(caller: Caller, path: str, **params: Any) -> list[Body]:
    """The items of a list that fits on one page."""
    page = ok(await caller.get(path, params=params))
    assert page["next_cursor"] is None
    found: list[Body] = page["items"]
    return found


async def ids(caller: Caller, path: str, **params: Any) -> list[str]:
    return [item["id"] for item in await items(caller, path, **params)]


async def fetch(caller: Caller, follow_up_id: str) -> Body:
    found: Body = ok(await caller.get(f"/v1/follow-ups/{follow_up_id}"))
    return found


async def etag_of(caller: Caller, follow_up_id: str) -> str:
    response = await caller.get(f"/v1/follow-ups/{follow_up_id}")
    assert response.status_code == 200, response.text
    return response.headers["ETag"]


async def notifications(caller: Caller, **params: Any) -> list[Body]:
    return await items(caller, "/v1/notifications", **params)


def participant(follow_up: Body, **target: str) -> Body:
    """The one participant of the follow-up with this associate_id, resource_id or person_id.

    As a participant's own responses (add, seen, answer) show it: without the follow-up's
    lists of their answers to single occurrences (`occurrence_answers`) and of those they
    were taken off (`excluded_occurrences`).
    """
    ((key, value),) = target.items()
    (found,) = [p for p in follow_up["participants"] if p[key] == value]
    assert isinstance(found, dict)
    lists = ("occurrence_answers", "excluded_occurrences")
    assert all(isinstance(found[name], list) for name in lists)
    return {name: field for name, field in found.items() if name not in lists}


def as_seen_by(body: Any, associate_id: str | None) -> Any:
    """What the organizer was shown, as another participant sees it: others' comments null."""
    if isinstance(body, list):
        return [as_seen_by(item, associate_id) for item in body]
    if not isinstance(body, dict):
        return body
    seen = {key: as_seen_by(value, associate_id) for key, value in body.items()}
    if "comment" in seen and seen.get("associate_id") != associate_id:
        seen["comment"] = None
    return seen


# Writing ------------------------------------------------------------------------------------


async def book(caller: Caller, *invited: Caller, **fields: Any) -> Body:
    """Create a follow-up owned by `caller`, inviting these colleagues (and `participants`)."""
    refs = [{"associate_id": colleague.subject} for colleague in invited]
    body = follow_up_body(participants=[*refs, *fields.pop("participants", [])], **fields)
    return await caller.create("/v1/follow-ups", body)


async def patch(caller: Caller, follow_up_id: str, body: Body) -> httpx.Response:
    """PATCH with the current ETag."""
    etag = await etag_of(caller, follow_up_id)
    return await caller.patch(
        f"/v1/follow-ups/{follow_up_id}", json=body, headers={"If-Match": etag}
    )


async def respond(
    caller: Caller, participant_id: str, status: str, comment: str | None = None
) -> Body:
    body: Body = {"status": status}
    if comment is not None:
        body["comment"] = comment
    answered: Body = ok(await caller.post(f"/v1/invitations/{participant_id}/response", json=body))
    # An answer to the whole follow-up answers no single occurrence: the rest is the participant.
    assert answered.pop("occurrence_answer") is None, answered
    return answered


async def new_target(admin: Caller, kind: str) -> str:
    """The id of a new associate, resource or person (`kind`), made by the admin."""
    if kind == "associate":
        return (await admin.new_member()).subject
    made = await (create_resource(admin) if kind == "resource" else create_person(admin))
    target: str = made["id"]
    return target


# The state of the database ------------------------------------------------------------------

TABLES = (FollowUp, Participant, Response, Notification, Event)


async def tenant_rows(
    connection: AsyncConnection, tenant_id: uuid.UUID
) -> dict[str, list[Row[Any]]]:
    """Every follow-up, participant, response, notification and event row of the tenant.

    Read on the test's connection, inside its transaction: what "nothing changed" compares.
    """
    rows: dict[str, list[Row[Any]]] = {}
    for model in TABLES:
        query = select(model).where(model.tenant_id == tenant_id).order_by(model.id)
        rows[model.__tablename__] = list((await connection.execute(query)).all())
    return rows


async def insert_persons(
    connection: AsyncConnection, tenant_id: uuid.UUID, contact_id: str, count: int
) -> list[str]:
    """Many persons of a contact at once, straight into the table (the API makes one a call)."""
    rows = [
        {"id": uuid.uuid4(), "tenant_id": tenant_id, "contact_id": contact_id, "name": f"P{n}"}
        for n in range(count)
    ]
    await connection.execute(insert(Person), rows)
    return [str(row["id"]) for row in rows]


# A small world ------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """A follow-up with everything the access matrix needs around it.

    The organizer invited `colleague` (who declined, with a comment), `guest` (not read yet),
    a room and a person of `contact`, and linked it to `contact`. `stranger` is a colleague in
    the same tenant who takes no part.
    """

    admin: Caller
    organizer: Caller
    colleague: Caller
    guest: Caller
    stranger: Caller
    room: Body
    contact: Body
    person: Body
    follow_up: Body
    etag: str
    invitation: str
    notification: str

    @property
    def url(self) -> str:
        return f"/v1/follow-ups/{self.follow_up['id']}"

    @property
    def path_ids(self) -> dict[str, str]:
        """The objects an endpoint's path may name."""
        return {
            "follow_up": self.follow_up["id"],
            "invitation": self.invitation,
            "notification": self.notification,
            "contact": self.contact["id"],
        }


async def make_world(admin: Caller) -> World:
    organizer = await admin.new_member(name="Olga Organizer")
    colleague = await admin.new_member(name="Carl Colleague")
    guest = await admin.new_member(name="Gina Guest")
    stranger = await admin.new_member(name="Sten Stranger")
    room = await create_resource(admin, name="Boardroom")
    contact = await create_contact(admin)
    person = await create_person(admin, contact["id"])
    created = await book(
        organizer,
        colleague,
        guest,
        contact_id=contact["id"],
        participants=[{"resource_id": room["id"]}, {"person_id": person["id"]}],
    )
    invitation = participant(created, associate_id=colleague.subject)["id"]
    await respond(colleague, invitation, "declined", "Away that week")
    (invited,) = await notifications(colleague)
    response = await organizer.get(f"/v1/follow-ups/{created['id']}")
    return World(
        admin=admin,
        organizer=organizer,
        colleague=colleague,
        guest=guest,
        stranger=stranger,
        room=room,
        contact=contact,
        person=person,
        follow_up=ok(response),
        etag=response.headers["ETag"],
        invitation=invitation,
        notification=invited["id"],
    )
