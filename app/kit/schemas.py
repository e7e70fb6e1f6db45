"""Schema building blocks: strict input models, bounded strings, time zones, the MISSING default."""

import re
import uuid
from datetime import UTC, datetime, time, timedelta
from functools import cache
from importlib.resources import files
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
)

from app.kit.text import MULTI_LINE, SINGLE_LINE, Documented, Text


def single_line(max_length: int) -> Text:
    """Non-empty, single-line text of at most `max_length` characters; put TRIMMED after it.

    No control (Cc), format (Cf: bidi overrides, zero-width characters), line or paragraph
    separator (Zl, Zp) characters: see `app/kit/text.py`.
    """
    return Text(SINGLE_LINE, max_length, min_length=1)


# Spaces around single-line text are dropped after the checks, so the length the document
# states is the length that is checked (stripping first let 201 characters with a space pass).
TRIMMED = AfterValidator(str.strip)


def multi_line(max_length: int) -> Text:
    """Free text of at most `max_length` characters, tabs and line feeds allowed (`text.py`)."""
    return Text(MULTI_LINE, max_length)


Name = Annotated[str, single_line(200), TRIMMED]


def _json_integer(value: object) -> object:
    # pydantic's lax int takes true and "8"; JSON Schema's integer takes neither (but 8.0).
    if isinstance(value, bool | str):
        raise ValueError("must be an integer")
    return value


# Put after an int's Field(...): the bounds stay the int's, in the schema and the checks.
JSON_INTEGER = BeforeValidator(_json_integer)
ExternalId = Annotated[
    str,
    single_line(200),
    TRIMMED,
    Field(description="The CRM's own id for this object; unique per tenant"),
]
Phone = Annotated[str, single_line(50), TRIMMED]


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA zone names of the tzdata package (not host aliases such as `localtime`)."""
    return frozenset(files("tzdata").joinpath("zones").read_text().split())


def _known_time_zone(value: str) -> str:
    if value not in time_zone_names():
        raise ValueError(f"unknown IANA time zone {value!r}")
    return value


TimeZone = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64),
    AfterValidator(_known_time_zone),
    Field(
        description="IANA time zone name",
        examples=["Europe/Copenhagen"],
        json_schema_extra={"format": "iana-time-zone"},
    ),
]

# Deliberately loose: CRMs hold internal addresses (user@corp.local) that strict validators refuse.
_EMAIL = r"^[^@\x00-\x20\x7f]+@[^@\x00-\x20\x7f]+\.[^@\x00-\x20\x7f]+$"
# The same as the document states it, with the single-line rule's refusals (checked after it).
_EMAIL_PART = f"[^@ {SINGLE_LINE.refused_class}]+"
Email = Annotated[
    str,
    StringConstraints(max_length=320, pattern=_EMAIL),
    BeforeValidator(SINGLE_LINE.check_characters),
    Documented(f"^{_EMAIL_PART}@{_EMAIL_PART}\\.{_EMAIL_PART}$"),
    Field(description="An e-mail address", examples=["ada@example.com"]),
]


EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _in_range_utc(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = EARLIEST - timedelta(days=1)
    if not EARLIEST <= utc < LATEST:
        raise ValueError("must be between 1900-01-01 and 2199-12-31 (UTC)")
    return utc


# An RFC 3339 instant written between 1900-01-02 and 2199-12-30: whatever its offset, it
# lies inside the range the server keeps (1900-01-01 to 2199-12-31 UTC). The two edge days
# are left out because an offset can carry a time on them across the range's bound.
INSTANT_PATTERN = (
    r"^(?!1900-01-01|2199-12-31)(19\d\d|2[01]\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"[Tt]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?([Zz]|[+-]([01]\d|2[0-3]):?[0-5]\d)$"
)

_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$")


def _not_a_number(value: object) -> object:
    # pydantic reads a number (or a query string of digits) as Unix time; an instant here is
    # ISO 8601 text with an offset, so `?start=10` is a 422 like any other malformed time.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.match(value)):
        raise ValueError("expected ISO 8601 with an offset, not a number")
    return value


Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_not_a_number),
    AfterValidator(_in_range_utc),
    Documented(INSTANT_PATTERN),
    Field(
        description="ISO 8601 with an offset (naive times are refused), between 1900-01-01 "
        "and 2199-12-31 UTC; returned in UTC, or in `?time_zone=` where a read takes it",
        examples=["2026-03-30T09:00:00+02:00"],
    ),
]


_LOCAL_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _parse_local_time(value: object) -> time:
    if isinstance(value, time) and value.tzinfo is None:
        return value
    match = _LOCAL_TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("expected a local time as HH:MM (00:00 to 23:59), without an offset")
    return time(int(match[1]), int(match[2]))


LocalTime = Annotated[
    time,
    BeforeValidator(_parse_local_time),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str),
    WithJsonSchema(
        {"type": "string", "pattern": _LOCAL_TIME.pattern},
    ),
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
