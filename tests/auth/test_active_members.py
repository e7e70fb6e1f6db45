"""Active colleagues remembered for seconds: one round trip fewer, changes still count."""

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth import members as members_module
from app.auth.members import ActiveMembers
from app.config import Settings
from tests.fixtures.committed import acting_through, committed_app
from tests.fixtures.factories import TEST_SECRET, Caller, follow_up_body
from tests.fixtures.problems import assert_unauthorized
from tests.fixtures.statements import statements

LOOKUP = "SELECT associates.name"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The suite looks members up on every request; here they are remembered, as by default."""
    return Settings(
        jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None, member_cache_seconds=5
    )


def _lookups(sent: list[str]) -> int:
    return sum(" ".join(statement.split()[:2]) == LOOKUP for statement in sent)


async def test_a_colleague_found_active_is_not_looked_up_again(
    member: Caller, engine: AsyncEngine
) -> None:
    with statements(engine) as first:
        assert (await member.get("/v1/contacts")).status_code == 200
    with statements(engine) as second:
        assert (await member.get("/v1/contacts")).status_code == 200

    assert _lookups(first) == 1, first
    assert _lookups(second) == 0, second
    assert len(second) == len(first) - 1


async def test_a_deactivation_counts_at_once(admin: Caller, member: Caller) -> None:
    assert (await member.get("/v1/contacts")).status_code == 200

    assert (await admin.delete(f"/v1/associates/{member.subject}")).status_code == 204

    assert_unauthorized(await member.get("/v1/contacts"))


async def test_a_patch_that_deactivates_counts_at_once_and_so_does_reactivating(
    admin: Caller, member: Caller
) -> None:
    url = f"/v1/associates/{member.subject}"
    assert (await member.get("/v1/contacts")).status_code == 200

    assert (await admin.patch(url, json={"active": False})).status_code == 200
    assert_unauthorized(await member.get("/v1/contacts"))

    assert (await admin.patch(url, json={"active": True})).status_code == 200
    assert (await member.get("/v1/contacts")).status_code == 200


async def test_a_renamed_colleague_is_looked_up_afresh(admin: Caller, engine: AsyncEngine) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    bo = await admin.new_member(name="Bo Before")
    created = await organizer.create(
        "/v1/follow-ups", follow_up_body(participants=[{"associate_id": bo.subject}])
    )
    (invitation,) = [p["id"] for p in created["participants"] if p["role"] != "organizer"]
    assert (await bo.get("/v1/invitations")).status_code == 200  # remembered as "Bo Before"

    renamed = await admin.patch(f"/v1/associates/{bo.subject}", json={"name": "Bo After"})
    assert renamed.status_code == 200
    with statements(engine) as sent:
        answered = await bo.post(
            f"/v1/invitations/{invitation}/response", json={"status": "accepted"}
        )

    assert answered.status_code == 200, answered.text
    assert _lookups(sent) == 1, sent
    notes = (await organizer.get("/v1/notifications")).json()["items"]
    assert "Bo After" in notes[0]["message"], notes


async def test_a_write_with_an_idempotency_key_looks_the_colleague_up(
    member: Caller, engine: AsyncEngine
) -> None:
    assert (await member.get("/v1/contacts")).status_code == 200

    with statements(engine) as sent:
        created = await member.post(
            "/v1/follow-ups", json=follow_up_body(), headers={"Idempotency-Key": "k-1"}
        )

    assert created.status_code == 201, created.text
    # The lookup and the key's claim share the first round trip.
    assert sent[0].split()[:2] == ["SELECT", "(SELECT"], sent[0]


@pytest.fixture
def url(make_database: Callable[..., str]) -> str:
    return make_database()


# Long enough that a stalled machine (a CI run once took over 2 s to serve a request) still
# reaches the "still remembers" check within it.
WINDOW = 3.0


async def test_another_process_stops_accepting_within_the_window(url: str, tmp_path: Path) -> None:
    async with (
        committed_app(url, tmp_path / "a", member_cache_seconds=WINDOW) as first,
        committed_app(url, tmp_path / "b", member_cache_seconds=WINDOW) as second,
        first.client() as first_client,
        second.client() as second_client,
    ):
        admin = Caller(first_client, uuid.uuid4(), subject="provisioning", admin=True)
        member = await admin.new_member()
        elsewhere = acting_through(member, second_client)
        assert (await elsewhere.get("/v1/contacts")).status_code == 200

        assert (await admin.delete(f"/v1/associates/{member.subject}")).status_code == 204

        # The process that deactivated refuses at once; the other still remembers, briefly.
        assert_unauthorized(await member.get("/v1/contacts"))
        assert (await elsewhere.get("/v1/contacts")).status_code == 200
        await asyncio.sleep(WINDOW + 0.1)
        assert_unauthorized(await elsewhere.get("/v1/contacts"))


# The cache on its own -----------------------------------------------------------------------

TENANT, BO = uuid.uuid4(), uuid.uuid4()


def test_a_forgotten_colleague_is_not_remembered_again_until_the_window_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(members_module.time, "monotonic", lambda: now[0])
    members = ActiveMembers(5)

    members.remember(TENANT, BO, "Bo")
    assert members.name(TENANT, BO) == "Bo"
    members.forget(TENANT, BO)
    members.remember(TENANT, BO, "Bo")  # read before the change committed
    assert members.name(TENANT, BO) is None

    now[0] += 5
    members.remember(TENANT, BO, "Bo")
    assert members.name(TENANT, BO) == "Bo"
    now[0] += 5
    assert members.name(TENANT, BO) is None


def test_nothing_is_remembered_with_zero_seconds() -> None:
    members = ActiveMembers(0)
    members.remember(TENANT, BO, "Bo")
    members.forget(TENANT, BO)

    assert members.name(TENANT, BO) is None


def test_the_oldest_colleague_goes_first_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(members_module, "MEMBERS_KEPT", 2)
    members = ActiveMembers(5)
    ids = [uuid.uuid4() for _ in range(3)]
    for n, associate_id in enumerate(ids):
        members.remember(TENANT, associate_id, f"C{n}")

    assert [members.name(TENANT, i) for i in ids] == [None, "C1", "C2"]
