"""Every read that returns instants, with and without `?time_zone=`: the same answer, zoned.

One world (a follow-up with a colleague who declined, a room, a person, a webhook that got a
delivery); each read is called plain and with a zone, and the two answers must match value
for value, every instant the same moment shown at the zone's offset for it.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_invalid, assert_problem, assert_unauthorized
from tests.fixtures.responses import ok
from tests.fixtures.statements import statements
from tests.followups.support import DAY, World, book, make_world
from tests.webhooks.management import subscribe

INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
ZONES = ("Europe/Copenhagen", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "UTC")


@dataclass(frozen=True)
class Read:
    """One read endpoint: who calls it, its path (with the world's ids) and its parameters."""

    caller: str
    path: str
    params: dict[str, Any]

    def __str__(self) -> str:
        return self.path


READS = [
    Read("organizer", "/v1/follow-ups", DAY),
    Read("organizer", "/v1/follow-ups/{follow_up}", {}),
    Read("organizer", "/v1/follow-ups/{follow_up}/participants", {}),
    Read("organizer", "/v1/follow-ups/{follow_up}/responses", {}),
    Read("organizer", "/v1/contacts/{contact}/activities", {}),
    Read("colleague", "/v1/invitations", {}),
    Read("colleague", "/v1/notifications", {}),
    Read(
        "organizer",
        "/v1/availability",
        {"associate_ids": "{organizer}", "resource_ids": "{room}", **DAY},
    ),
    Read(
        "organizer",
        "/v1/availability/first-free",
        {
            "resource_ids": "{room}",
            "duration": "PT1H",
            "after": DAY["start"],
            "before": DAY["end"],
            "count": 3,
        },
    ),
    Read("admin", "/v1/events", {}),
    Read("admin", "/v1/associates", {}),
    Read("admin", "/v1/associates/{organizer}", {}),
    Read("admin", "/v1/resources", {}),
    Read("admin", "/v1/resources/{room}", {}),
    Read("admin", "/v1/contacts", {}),
    Read("admin", "/v1/contacts/{contact}", {}),
    Read("admin", "/v1/persons", {}),
    Read("admin", "/v1/persons/{person}", {}),
    Read("admin", "/v1/webhooks", {}),
    Read("admin", "/v1/webhooks/{webhook}", {}),
    Read("admin", "/v1/webhooks/{webhook}/deliveries", {}),
]


@dataclass(frozen=True)
class Scene:
    world: World
    webhook: str

    def caller(self, read: Read) -> Caller:
        found: Caller = getattr(self.world, read.caller)
        return found

    def ids(self) -> dict[str, str]:
        world = self.world
        return {
            "follow_up": world.follow_up["id"],
            "contact": world.contact["id"],
            "organizer": world.organizer.subject,
            "room": world.room["id"],
            "person": world.person["id"],
            "webhook": self.webhook,
        }

    async def get(self, read: Read, **extra: str) -> Any:
        ids = self.ids()
        params = {
            key: value.format(**ids) if isinstance(value, str) else value
            for key, value in read.params.items()
        }
        return await self.caller(read).get(read.path.format(**ids), params={**params, **extra})


@pytest.fixture
async def scene(admin: Caller) -> Scene:
    webhook = await subscribe(admin)
    return Scene(await make_world(admin), webhook["id"])


def compare(plain: Any, zoned: Any, zone: ZoneInfo) -> int:
    """Check `zoned` is `plain` with each instant shown in `zone`; how many instants there were."""
    if isinstance(plain, dict):
        assert isinstance(zoned, dict)
        assert list(plain) == list(zoned)
        return sum(compare(plain[key], zoned[key], zone) for key in plain)
    if isinstance(plain, list):
        assert isinstance(zoned, list)
        assert len(plain) == len(zoned)
        return sum(compare(a, b, zone) for a, b in zip(plain, zoned, strict=True))
    # Answers write instants in UTC as `Z`; an event's `data` is the payload as recorded
    # (`+00:00`), delivered as it is, so it stays as it is.
    if isinstance(plain, str) and INSTANT.match(plain) and plain.endswith("Z"):
        moment, shown = datetime.fromisoformat(plain), datetime.fromisoformat(zoned)
        assert shown == moment
        offset = moment.astimezone(zone).utcoffset()
        assert shown.utcoffset() == offset, (plain, zoned)
        assert zoned.endswith("Z") == (offset == timedelta(0)), zoned
        return 1
    assert plain == zoned
    return 0


@pytest.mark.parametrize("read", READS, ids=str)
async def test_a_read_shows_its_instants_in_the_zone_asked(scene: Scene, read: Read) -> None:
    plain = await scene.get(read)
    assert plain.status_code == 200, plain.text
    # UTC asked for is what the default always was, byte for byte.
    assert (await scene.get(read, time_zone="UTC")).content == plain.content
    for name in ZONES:
        zoned = await scene.get(read, time_zone=name)
        assert zoned.status_code == 200, zoned.text
        assert zoned.headers.get("etag") == plain.headers.get("etag")
        assert compare(plain.json(), zoned.json(), ZoneInfo(name)) > 0, read


@pytest.mark.parametrize("read", READS, ids=str)
async def test_a_zone_costs_no_statement(scene: Scene, read: Read, engine: AsyncEngine) -> None:
    with statements(engine) as plain:
        assert (await scene.get(read)).status_code == 200
    with statements(engine) as zoned:
        assert (await scene.get(read, time_zone="Pacific/Chatham")).status_code == 200
    assert zoned == plain


@pytest.mark.parametrize("read", READS, ids=str)
async def test_a_read_refuses_a_zone_that_is_not_iana(scene: Scene, read: Read) -> None:
    for bad in ("Mars/Olympus", "Europe/copenhagen", "+01:00", "x" * 65):
        problem = assert_invalid(await scene.get(read, time_zone=bad), "query", "time_zone")
        assert "time zone" in problem["detail"] or "64" in str(problem["errors"]), problem


async def test_the_zone_may_not_be_given_twice(scene: Scene) -> None:
    response = await scene.world.organizer.get(
        "/v1/invitations", params=[("time_zone", "UTC"), ("time_zone", "Europe/Copenhagen")]
    )
    assert_invalid(response, "query", "time_zone")


async def test_summer_and_winter_show_their_own_offsets(admin: Caller) -> None:
    organizer = await admin.new_member(time_zone="Europe/Copenhagen")
    july = await book(
        organizer, start_at="2026-07-10T09:00:00+02:00", end_at="2026-07-10T10:00:00+02:00"
    )
    december = await book(
        organizer, start_at="2026-12-10T09:00:00+01:00", end_at="2026-12-10T10:00:00+01:00"
    )
    assert july["start_at"] == "2026-07-10T07:00:00Z"
    assert december["start_at"] == "2026-12-10T08:00:00Z"
    zone = {"time_zone": "Europe/Copenhagen"}

    shown = ok(await organizer.get(f"/v1/follow-ups/{july['id']}", params=zone))
    assert (shown["start_at"], shown["end_at"]) == (
        "2026-07-10T09:00:00+02:00",
        "2026-07-10T10:00:00+02:00",
    )
    shown = ok(await organizer.get(f"/v1/follow-ups/{december['id']}", params=zone))
    assert (shown["start_at"], shown["end_at"]) == (
        "2026-12-10T09:00:00+01:00",
        "2026-12-10T10:00:00+01:00",
    )
    diary = ok(
        await organizer.get(
            "/v1/follow-ups",
            params={"start": "2026-07-01T00:00:00Z", "end": "2027-01-01T00:00:00Z", **zone},
        )
    )
    assert [item["start_at"] for item in diary["items"]] == [
        "2026-07-10T09:00:00+02:00",
        "2026-12-10T09:00:00+01:00",
    ]
    new_york = ok(
        await organizer.get(
            f"/v1/follow-ups/{july['id']}", params={"time_zone": "America/New_York"}
        )
    )
    assert new_york["start_at"] == "2026-07-10T03:00:00-04:00"
    free = ok(
        await organizer.get(
            "/v1/availability",
            params={
                "associate_ids": organizer.subject,
                "start": "2026-12-10T00:00:00+01:00",
                "end": "2026-12-11T00:00:00+01:00",
                **zone,
            },
        )
    )
    assert free["calendars"][0]["busy"][0]["start_at"] == "2026-12-10T09:00:00+01:00"
    assert free["free"][0] == {
        "start_at": "2026-12-10T00:00:00+01:00",
        "end_at": "2026-12-10T09:00:00+01:00",
    }


@pytest.mark.parametrize("read", READS, ids=str)
async def test_a_zone_changes_no_access_rule(scene: Scene, read: Read, admin: Caller) -> None:
    ids = scene.ids()
    url = read.path.format(**ids)
    anonymous = await admin.client.get(url, params={"time_zone": "Mars/Olympus"})
    assert_unauthorized(anonymous, "unauthorized")
    if "{" in read.path:
        # Another tenant's caller of the same kind finds nothing there, zone or not.
        other = Caller(admin.client, uuid.uuid4(), "provisioning", admin=True)
        if read.caller != "admin":
            other = await other.new_member()
        response = await other.get(url, params={"time_zone": "Europe/Copenhagen"})
        assert_problem(response, 404, "not_found")
