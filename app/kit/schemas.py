"""Schema building blocks: strict input models, bounded strings, time zones, the MISSING default."""

import uuid
from datetime import datetime
from functools import cache
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    Field(description="The CRM's own id for this object; unique per tenant"),
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _known_time_zone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


TimeZone = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_known_time_zone),
    Field(description="IANA time zone name", examples=["Europe/Copenhagen"]),
]


class InputModel(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class OutputModel(BaseModel):
    """A response body, read from ORM objects."""

    model_config = ConfigDict(from_attributes=True)


class Stored(OutputModel):
    """The fields every stored object returns."""

    id: uuid.UUID
    created_at: datetime
    updated_at: datetime
