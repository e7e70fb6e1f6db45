"""The OpenAPI 3.1 `webhooks` section: one entry per event type, built from the payload models."""

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model
from pydantic.json_schema import models_json_schema

from app.webhooks.payloads import DATA

_SCHEMAS = "#/components/schemas/{model}"

# The Standard Webhooks headers of every delivery, as reusable header parameters.
SIGNATURE_HEADERS: dict[str, dict[str, Any]] = {
    "WebhookId": {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "description": "The event's id: the same on every retry and for every endpoint "
        "(deduplicate on it), and the `id` of the event in `GET /v1/events`",
        "schema": {"type": "string", "format": "uuid"},
    },
    "WebhookTimestamp": {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "description": "When this attempt was signed, in Unix seconds: refuse one far from "
        "your clock (replays)",
        "schema": {"type": "integer", "minimum": 0},
    },
    "WebhookSignature": {
        "name": "webhook-signature",
        "in": "header",
        "required": True,
        "description": "`v1,` + base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>` "
        "under the endpoint's secret (the bytes after `whsec_`, base64-decoded); during a "
        "rotation two such signatures, space-separated, one per live secret. Verify with any "
        "Standard Webhooks library",
        "schema": {"type": "string", "pattern": r"^v1,[A-Za-z0-9+/=]+( v1,[A-Za-z0-9+/=]+)*$"},
    },
}

_RESPONSES = {
    "2XX": {"description": "Received. Any 2xx is success; redirects are not followed"},
    "410": {"description": "Gone: the endpoint is disabled and nothing more is sent to it"},
    "default": {
        "description": "Anything else is retried over about three days (`Retry-After` on 429 "
        "and 503 is honoured, up to 6 hours)"
    },
}


def _words(event_type: str) -> list[str]:
    return [word.capitalize() for word in re.split(r"[._]", event_type)]


def _envelope(event_type: str, data: Any, description: str) -> type[BaseModel]:
    """The body of one event type's deliveries: `{"type", "timestamp", "data"}`."""
    return create_model(
        "".join(_words(event_type)) + "Payload",
        __doc__=description,
        type=(Literal[event_type], ...),  # type: ignore[arg-type]
        timestamp=(datetime, Field(description="When the event was recorded (UTC)")),
        data=(data, ...),
    )


def _operation(event_type: str, description: str, model: type[BaseModel]) -> dict[str, Any]:
    head, *rest = _words(event_type)
    return {
        "post": {
            "operationId": "on" + head + "".join(rest),
            "summary": f"`{event_type}`: {description}",
            "description": "POSTed to each enabled endpoint subscribed to the type, signed per "
            "Standard Webhooks, at least once: deduplicate on `webhook-id`.",
            "parameters": [
                {"$ref": f"#/components/parameters/{name}"} for name in SIGNATURE_HEADERS
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": _SCHEMAS.format(model=model.__name__)}}
                },
            },
            "responses": _RESPONSES,
        }
    }


def _merge(into: dict[str, Any], new: dict[str, Any]) -> None:
    """Add components; one of the same name must be the same (an enum the API also uses).

    The API's own copy is kept: the document may have annotated it (descriptions, examples),
    but an enum's values, or any other schema, must agree.
    """
    for name, schema in new.items():
        kept = into.setdefault(name, schema)
        same = kept == schema or ("enum" in schema and kept.get("enum") == schema["enum"])
        if not same:
            raise ValueError(f"two different schemas are named {name}")


def add_webhooks(document: dict[str, Any]) -> None:
    """Add the `webhooks` section, its payload schemas and the signature headers."""
    envelopes = {
        event_type: _envelope(event_type, data, description)
        for event_type, (data, description) in DATA.items()
    }
    _, top = models_json_schema(
        [(model, "serialization") for model in envelopes.values()], ref_template=_SCHEMAS
    )
    components = document.setdefault("components", {})
    _merge(components.setdefault("schemas", {}), top["$defs"])
    _merge(components.setdefault("parameters", {}), SIGNATURE_HEADERS)
    document["webhooks"] = {
        event_type: _operation(event_type, DATA[event_type][1], model)
        for event_type, model in envelopes.items()
    }
