"""Resolving the caller: no token is 401, members must be active associates, writes need admin."""

import uuid

import httpx
import pytest

from tests.fixtures.factories import Caller, create_associate, follow_up_body
from tests.fixtures.problems import assert_problem, assert_unauthorized

# No bearer token ----------------------------------------------------------------------------


async def test_no_authorization_header_is_401_with_challenge(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/contacts")

    assert_unauthorized(response, code="unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["instance"] == "/v1/contacts"
    assert body["title"]
    assert body["detail"]


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc"])
async def test_non_bearer_or_empty_header_is_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get("/v1/contacts", headers={"Authorization": header})

    assert_unauthorized(response, code="unauthorized")


# Members must be active associates of the token's tenant ------------------------------------


async def test_member_token_for_its_associate_is_accepted(member: Caller) -> None:
    response = await member.get("/v1/contacts")

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("subject", ["provisioning", "8ec80760-1ff1-4c1c-8702-57b7fba3e65b"])
async def test_non_admin_whose_sub_is_not_an_associate_is_401(
    client: httpx.AsyncClient, tenant: uuid.UUID, admin: Caller, subject: str
) -> None:
    await create_associate(admin)  # the tenant exists and has associates, just not this one
    stranger = Caller(client, tenant, subject=subject)

    response = await stranger.get("/v1/contacts")

    assert_unauthorized(response)


async def test_deactivated_associate_is_401(admin: Caller, member: Caller) -> None:
    assert (await member.get("/v1/contacts")).status_code == 200

    deleted = await admin.delete(f"/v1/associates/{member.subject}")
    assert deleted.status_code == 204, deleted.text

    assert_unauthorized(await member.get("/v1/contacts"))


async def test_associate_of_another_tenant_is_401(
    client: httpx.AsyncClient, member: Caller
) -> None:
    impostor = Caller(client, uuid.uuid4(), subject=member.subject)

    response = await impostor.get("/v1/contacts")

    assert_unauthorized(response)


async def test_admin_with_free_form_sub_reads_and_writes(admin: Caller) -> None:
    assert admin.subject == "provisioning"

    created = await admin.post("/v1/contacts", json={"name": "Nordlys A/S"})
    listed = await admin.get("/v1/contacts")

    assert created.status_code == 201, created.text
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["items"]] == [created.json()["id"]]


async def test_non_admin_writing_is_403_forbidden(member: Caller, admin: Caller) -> None:
    response = await member.post(
        "/v1/associates",
        json={"name": "Bo", "email": "bo@example.com", "time_zone": "Europe/Copenhagen"},
    )

    assert_problem(response, 403, "forbidden")
    listed = (await admin.get("/v1/associates")).json()["items"]
    assert [a["id"] for a in listed] == [member.subject]


# Admin and colleague are different identities -----------------------------------------------


async def test_admin_token_whose_sub_is_a_colleague_does_not_answer_as_them(
    admin: Caller, client: httpx.AsyncClient
) -> None:
    """The reported bug: an admin token with Bo's id as `sub` answered Bo's invitation."""
    ada = await admin.new_member(name="Ada")
    bo = await admin.new_member(name="Bo")
    follow_up = await ada.create(
        "/v1/follow-ups", follow_up_body(participants=[{"associate_id": bo.subject}])
    )
    invitations = (await bo.get("/v1/invitations")).json()["items"]
    [invitation] = [i for i in invitations if i["follow_up"]["id"] == follow_up["id"]]
    admin_as_bo = Caller(client, admin.tenant_id, subject=bo.subject, admin=True)

    answered = await admin_as_bo.post(
        f"/v1/invitations/{invitation['id']}/response", json={"status": "declined"}
    )
    inbox = await admin_as_bo.get("/v1/invitations")
    notifications = await admin_as_bo.get("/v1/notifications")

    assert_problem(answered, 403, "not_an_associate")
    assert_problem(inbox, 403, "not_an_associate")
    assert_problem(notifications, 403, "not_an_associate")
    participants = (await ada.get(f"/v1/follow-ups/{follow_up['id']}")).json()["participants"]
    assert [p["status"] for p in participants if p["id"] == invitation["id"]] == ["not_read"]
    responses = (await ada.get(f"/v1/follow-ups/{follow_up['id']}/responses")).json()["items"]
    assert responses == []


async def test_admin_token_whose_sub_is_a_colleague_still_acts_as_admin(
    admin: Caller, client: httpx.AsyncClient
) -> None:
    bo = await admin.new_member(name="Bo")
    admin_as_bo = Caller(client, admin.tenant_id, subject=bo.subject, admin=True)

    created = await admin_as_bo.post("/v1/contacts", json={"name": "Nordlys A/S"})

    assert created.status_code == 201, created.text
