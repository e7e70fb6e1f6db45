"""The committed document's schema of each webhook body, to check what a receiver got."""

import json
from functools import cache
from typing import Any

import jsonschema_rs

from app.cli import OPENAPI_PATH


@cache
def document() -> dict[str, Any]:
    """openapi/openapi.json, which SDKs are generated from (a test keeps it equal to the app)."""
    loaded: dict[str, Any] = json.loads(OPENAPI_PATH.read_text())
    return loaded


@cache
def _validator(event_type: str) -> jsonschema_rs.Draft202012Validator:
    operation = document()["webhooks"][event_type]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema_rs.Draft202012Validator(
        {**schema, "components": document()["components"]}, validate_formats=True
    )


def check_payload(payload: dict[str, Any]) -> None:
    """Raise unless the body is what the document's `webhooks` entry for its type says."""
    _validator(payload["type"]).validate(payload)
