"""The token is checked before the body: a malformed body without a good token is a 401."""

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_unauthorized

_ID = str(uuid.uuid4())


def _secured_operations(app: FastAPI) -> list[tuple[str, str]]:
    document: dict[str, Any] = app.openapi()
    return [
        (method, re.sub(r"\{[^}]+\}", _ID, path))
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if operation.get("security")
    ]


async def test_every_secured_operation_answers_a_malformed_body_without_token_with_401(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    operations = _secured_operations(app)
    assert len(operations) > 40
    for method, path in operations:
        response = await client.request(
            method, path, content=b"{", headers={"content-type": "application/json"}
        )

        assert_unauthorized(response, code="unauthorized")


@pytest.mark.parametrize("path", ["/v1/follow-ups", "/v1/webhooks", "/v1/associates"])
async def test_a_bad_token_with_a_malformed_body_is_401(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.post(
        path,
        content=b"{",
        headers={"content-type": "application/json", "Authorization": "Bearer not.a.jwt"},
    )

    assert_unauthorized(response)


async def test_a_good_token_with_a_malformed_body_is_422(admin: Caller) -> None:
    response = await admin.post(
        "/v1/associates", content=b"{", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422, response.text
