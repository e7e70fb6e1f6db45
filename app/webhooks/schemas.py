"""Request and response bodies of webhook subscriptions, deliveries and the event feed."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import MISSING, BeforeValidator, Field, StrictBool, StringConstraints, model_validator

from app.kit.schemas import TRIMMED, InputModel, Instant, OutputModel, Stored, single_line
from app.kit.text import SINGLE_LINE, Documented
from app.models.states import AttemptOutcome, DeliveryStatus, EventType, WebhookDisabledReason

MAX_URL_LENGTH = 2000


def _url_characters(value: object) -> object:
    # The spaces around a URL are trimmed, not refused: check what is inside them.
    if isinstance(value, str):
        SINGLE_LINE.check_characters(value.strip())
    return value


WebhookUrl = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=MAX_URL_LENGTH,
        pattern=r"^https?://[^\s\x00-\x1f\x7f]+$",
    ),
    BeforeValidator(_url_characters),
    # The document states the default rule; CONVENE_WEBHOOK_ALLOW_HTTP also lets http in.
    Documented(f"^https://[^\\s{SINGLE_LINE.refused_class}]+$"),
    Field(
        description="Where events are POSTed: https (http only where the server allows it, "
        "for local development), resolving only to public addresses",
        examples=["https://hooks.example.com/convene"],
    ),
]
EventTypes = Annotated[
    list[EventType],
    Field(
        min_length=1,
        max_length=len(EventType),
        description="The event types this endpoint receives (no repeats)",
        json_schema_extra={"uniqueItems": True},
        examples=[["invitation.accepted", "invitation.declined", "invitation.tentative"]],
    ),
]
Description = Annotated[str, single_line(500), TRIMMED]


def _no_repeats(event_types: list[EventType] | Any) -> None:
    if isinstance(event_types, list) and len(set(event_types)) != len(event_types):
        raise ValueError("event_types names a type more than once")


class WebhookCreate(InputModel):
    url: WebhookUrl
    event_types: EventTypes
    description: Description | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "url": "https://198.51.100.7/convene",
                    "event_types": ["invitation.accepted", "invitation.declined"],
                    "description": "CRM sync",
                }
            ]
        }
    }

    @model_validator(mode="after")
    def _distinct_types(self) -> Self:
        _no_repeats(self.event_types)
        return self


class WebhookUpdate(InputModel):
    url: WebhookUrl | MISSING = MISSING
    event_types: EventTypes | MISSING = MISSING
    description: Description | None | MISSING = MISSING
    enabled: StrictBool | MISSING = MISSING

    model_config = {"json_schema_extra": {"examples": [{"enabled": True}]}}

    @model_validator(mode="after")
    def _distinct_types(self) -> Self:
        _no_repeats(self.event_types)
        return self


class Webhook(Stored):
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: WebhookDisabledReason | None = Field(
        description="Why it is disabled: by an admin, the endpoint answered 410 Gone, "
        "or it failed continuously for 5 days"
    )
    failing_since: datetime | None = Field(
        description="Start of the current streak of failed attempts; null when healthy"
    )
    previous_secret_expires_at: datetime | None = Field(
        description="Until then the secret before the last rotation signs beside the new one"
    )


class WebhookWithSecret(Webhook):
    secret: str = Field(
        description="The signing secret (`whsec_…`): shown only now", examples=["whsec_MfKQ9r8G…"]
    )


class RotatedSecret(OutputModel):
    secret: str = Field(description="The new signing secret: shown only now")
    previous_secret_expires_at: datetime = Field(
        description="The old secret signs beside the new one until then"
    )


class Ping(OutputModel):
    event_id: uuid.UUID = Field(description="The `webhook-id` the ping is delivered with")


class Attempt(OutputModel):
    attempt: int
    started_at: datetime
    duration_ms: int
    status_code: int | None
    outcome: AttemptOutcome = Field(
        description="`error`: the dispatcher itself failed (logged); retried like others"
    )
    error: str | None
    response_body: str | None = Field(description="The first 4 KiB of the answer")


class Delivery(OutputModel):
    id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When a pending delivery is tried next")
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    attempt_log: list[Attempt] = Field(description="Every attempt, first to last")


class RecoverRequest(InputModel):
    since: Instant = Field(
        description="Resend every failed delivery of an event since then (at most 31 days ago), "
        "and queue events the endpoint missed while it was disabled",
    )


class Recovered(OutputModel):
    recovered: int = Field(description="How many deliveries were queued again")


class Event(OutputModel):
    id: uuid.UUID = Field(description="Also the `webhook-id` of its deliveries")
    type: str
    timestamp: datetime = Field(validation_alias="created_at")
    follow_up_id: uuid.UUID | None
    seq: int | None
    data: dict[str, Any]
