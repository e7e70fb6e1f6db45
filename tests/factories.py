"""Plain async factories and a caller that carries its token: every object made through the API."""

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from app.auth.tokens import issue_token

TEST_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Caller:
    """An HTTP client acting as one subject of one tenant."""

    client: httpx.AsyncClient
    tenant_id: uuid.UUID
    subject: str
    admin: bool = False

    @property
    def headers(self) -> dict[str, str]:
        return bearer(
            issue_token(
                TEST_SECRET, tenant_id=self.tenant_id, subject=self.subject, admin=self.admin
            )
        )

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, json=json, **kwargs)

    async def patch(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, json=json, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.post(path, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def new_member(self, **fields: Any) -> "Caller":
        """Create an associate and return a caller acting as them."""
        associate = await create_associate(self, **fields)
        return Caller(self.client, self.tenant_id, subject=associate["id"])


async def create_associate(admin: Caller, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Ada Jensen",
        "email": f"ada-{uuid.uuid4().hex[:8]}@example.com",
        "time_zone": "Europe/Copenhagen",
        **fields,
    }
    return await admin.create("/v1/associates", body)


async def create_resource(admin: Caller, **fields: Any) -> dict[str, Any]:
    return await admin.create("/v1/resources", {"name": "Boardroom", "kind": "room", **fields})


async def create_contact(admin: Caller, **fields: Any) -> dict[str, Any]:
    return await admin.create("/v1/contacts", {"name": "Nordlys A/S", **fields})


async def create_person(
    admin: Caller, contact_id: str | None = None, **fields: Any
) -> dict[str, Any]:
    if contact_id is None:
        contact_id = (await create_contact(admin))["id"]
    return await admin.create(
        "/v1/persons", {"contact_id": contact_id, "name": "Bo Holm", **fields}
    )


def follow_up_body(**fields: Any) -> dict[str, Any]:
    """A valid follow-up: one hour on Monday 30 March 2026 in Copenhagen."""
    return {
        "title": "Quarterly review",
        "start_at": "2026-03-30T09:00:00+02:00",
        "end_at": "2026-03-30T10:00:00+02:00",
        **fields,
    }
