"""A contact's activity archive: follow-ups linked to it or with its persons, latest first."""

import uuid
from dataclasses import dataclass

from tests.fixtures.factories import Caller, create_contact, create_person
from tests.fixtures.problems import assert_problem
from tests.fixtures.responses import ok
from tests.followups.support import Body, at, book, ids


@dataclass(frozen=True)
class Archive:
    """Follow-ups around contact `nordlys`, and the ids the admin and each member should see."""

    contact: Body
    member: Caller
    colleague: Caller
    stranger: Caller
    for_admin: list[str]
    for_member: list[str]
    for_colleague: list[str]

    @property
    def url(self) -> str:
        return f"/v1/contacts/{self.contact['id']}/activities"


async def make_archive(admin: Caller, member: Caller) -> Archive:
    colleague = await admin.new_member()
    stranger = await admin.new_member()
    nordlys = await create_contact(admin, name="Nordlys")
    fjord = await create_contact(admin, name="Fjord")
    bo = {"person_id": (await create_person(admin, nordlys["id"]))["id"]}
    cai = {"person_id": (await create_person(admin, nordlys["id"]))["id"]}
    dan = {"person_id": (await create_person(admin, fjord["id"]))["id"]}

    linked = await book(member, contact_id=nordlys["id"], start_at=at(9), end_at=at(10))
    with_bo = await book(member, participants=[bo], start_at=at(9, day=32), end_at=at(10, day=32))
    fjords_with_cai = await book(
        member, contact_id=fjord["id"], participants=[dan, cai], start_at=at(8), end_at=at(9)
    )
    colleagues = await book(
        colleague, contact_id=nordlys["id"], start_at=at(11, day=31), end_at=at(12, day=31)
    )
    colleagues_with_member = await book(
        colleague, member, participants=[bo, cai], start_at=at(14), end_at=at(15)
    )
    await book(member, contact_id=fjord["id"], participants=[dan])  # not Nordlys'
    await book(member)  # no contact at all

    def latest_first(*follow_ups: Body) -> list[str]:
        return [f["id"] for f in sorted(follow_ups, key=lambda f: f["start_at"], reverse=True)]

    return Archive(
        contact=nordlys,
        member=member,
        colleague=colleague,
        stranger=stranger,
        for_admin=latest_first(
            linked, with_bo, fjords_with_cai, colleagues, colleagues_with_member
        ),
        for_member=latest_first(linked, with_bo, fjords_with_cai, colleagues_with_member),
        for_colleague=latest_first(colleagues, colleagues_with_member),
    )


async def test_admin_sees_every_follow_up_of_the_contact_latest_first(
    admin: Caller, member: Caller
) -> None:
    archive = await make_archive(admin, member)

    found = await ids(admin, archive.url)

    assert found == archive.for_admin
    assert len(found) == 5


async def test_members_see_the_ones_they_own_or_take_part_in(admin: Caller, member: Caller) -> None:
    archive = await make_archive(admin, member)

    assert await ids(member, archive.url) == archive.for_member
    assert await ids(archive.colleague, archive.url) == archive.for_colleague
    assert await ids(archive.stranger, archive.url) == []


async def test_pages_walk_the_archive_once(admin: Caller, member: Caller) -> None:
    archive = await make_archive(admin, member)

    walked: list[str] = []
    cursor = None
    for _ in archive.for_admin:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(await admin.get(archive.url, params=params))
        walked += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert walked == archive.for_admin


async def test_an_entry_carries_the_follow_up_fields(admin: Caller, member: Caller) -> None:
    contact = await create_contact(admin)
    created = await book(member, contact_id=contact["id"], location="Their office")

    (entry,) = ok(await member.get(f"/v1/contacts/{contact['id']}/activities"))["items"]

    assert entry == {
        key: value for key, value in created.items() if key not in ("participants", "has_conflict")
    }


async def test_unknown_or_foreign_contact_is_404(
    admin: Caller, other_admin: Caller, member: Caller
) -> None:
    contact = await create_contact(admin)
    await book(member, contact_id=contact["id"])
    foreign_member = await other_admin.new_member()
    url = f"/v1/contacts/{contact['id']}/activities"

    assert_problem(await member.get(f"/v1/contacts/{uuid.uuid4()}/activities"), 404, "not_found")
    assert_problem(await other_admin.get(url), 404, "not_found")
    assert_problem(await foreign_member.get(url), 404, "not_found")
