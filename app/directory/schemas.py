"""Request and response bodies of the directory."""

import uuid
from datetime import time
from itertools import pairwise
from typing import Annotated, Self

from pydantic import MISSING, Field, StrictBool, model_validator

from app.kit.schemas import (
    JSON_INTEGER,
    Email,
    ExternalId,
    InputModel,
    LocalTime,
    Name,
    Phone,
    Stored,
    TimeZone,
)
from app.models.states import ResourceKind

MAX_SPANS_PER_DAY = 4
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimeSpan(InputModel):
    """A span of local wall-clock time within one day."""

    start: LocalTime
    end: LocalTime

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


DaySpans = Annotated[list[TimeSpan], Field(max_length=MAX_SPANS_PER_DAY)]


class WorkingHours(InputModel):
    """Working hours per weekday in the associate's own time zone; an empty day is a day off."""

    mon: DaySpans = []
    tue: DaySpans = []
    wed: DaySpans = []
    thu: DaySpans = []
    fri: DaySpans = []
    sat: DaySpans = []
    sun: DaySpans = []

    @model_validator(mode="after")
    def _no_overlap(self) -> Self:
        for day in WEEKDAYS:
            spans = sorted(getattr(self, day), key=lambda s: s.start)
            for before, after in pairwise(spans):
                if after.start < before.end:
                    raise ValueError(f"{day}: working hours overlap")
            setattr(self, day, spans)
        return self

    @classmethod
    def office_hours(cls) -> "WorkingHours":
        """Monday to Friday, 09:00 to 17:00: the default for a new associate."""
        day = [TimeSpan(start=time(9), end=time(17))]
        return cls(mon=day, tue=day, wed=day, thu=day, fri=day)


class AssociateCreate(InputModel):
    name: Name
    email: Email
    time_zone: TimeZone
    working_hours: WorkingHours = Field(
        default_factory=WorkingHours.office_hours,
        description="Defaults to Monday to Friday 09:00-17:00 local time",
    )
    external_id: ExternalId | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "name": "Ada Jensen",
                    "email": "ada@example.com",
                    "time_zone": "Europe/Copenhagen",
                    "working_hours": {"mon": [{"start": "08:00", "end": "16:00"}]},
                }
            ]
        }
    }


class AssociateUpdate(InputModel):
    name: Name | MISSING = MISSING
    email: Email | MISSING = MISSING
    time_zone: TimeZone | MISSING = MISSING
    working_hours: WorkingHours | MISSING = MISSING
    external_id: ExternalId | None | MISSING = MISSING
    active: StrictBool | MISSING = MISSING

    model_config = {"json_schema_extra": {"examples": [{"time_zone": "America/New_York"}]}}


class Associate(Stored):
    external_id: str | None
    name: str
    email: str
    time_zone: str
    working_hours: WorkingHours
    active: bool


Capacity = Annotated[
    int, Field(ge=1, le=100_000, description="People it holds (rooms)"), JSON_INTEGER
]


class ResourceCreate(InputModel):
    name: Name
    kind: ResourceKind
    capacity: Capacity | None = None
    allow_double_booking: StrictBool = Field(
        default=True, description="When false, an overlapping booking is refused with 409"
    )
    external_id: ExternalId | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {"name": "Boardroom", "kind": "room", "capacity": 12, "allow_double_booking": False}
            ]
        }
    }


class ResourceUpdate(InputModel):
    name: Name | MISSING = MISSING
    kind: ResourceKind | MISSING = MISSING
    capacity: Capacity | None | MISSING = MISSING
    allow_double_booking: StrictBool | MISSING = MISSING
    external_id: ExternalId | None | MISSING = MISSING
    active: StrictBool | MISSING = MISSING

    model_config = {"json_schema_extra": {"examples": [{"capacity": 8}]}}


class Resource(Stored):
    external_id: str | None
    name: str
    kind: ResourceKind
    capacity: int | None
    allow_double_booking: bool
    active: bool


class ContactCreate(InputModel):
    name: Name
    email: Email | None = None
    phone: Phone | None = None
    external_id: ExternalId | None = None

    model_config = {
        "json_schema_extra": {"examples": [{"name": "Nordlys A/S", "phone": "+45 70 12 34 56"}]}
    }


class ContactUpdate(InputModel):
    name: Name | MISSING = MISSING
    email: Email | None | MISSING = MISSING
    phone: Phone | None | MISSING = MISSING
    external_id: ExternalId | None | MISSING = MISSING

    model_config = {"json_schema_extra": {"examples": [{"email": "hello@nordlys.example"}]}}


class Contact(Stored):
    external_id: str | None
    name: str
    email: str | None
    phone: str | None


class PersonCreate(InputModel):
    contact_id: uuid.UUID
    name: Name
    email: Email | None = None
    phone: Phone | None = None
    external_id: ExternalId | None = None

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "contact_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b",
                    "name": "Bo Holm",
                    "email": "bo@nordlys.example",
                }
            ]
        }
    }


class PersonUpdate(InputModel):
    contact_id: uuid.UUID | MISSING = MISSING
    name: Name | MISSING = MISSING
    email: Email | None | MISSING = MISSING
    phone: Phone | None | MISSING = MISSING
    external_id: ExternalId | None | MISSING = MISSING

    model_config = {"json_schema_extra": {"examples": [{"phone": "+45 20 30 40 50"}]}}


class Person(Stored):
    contact_id: uuid.UUID
    external_id: str | None
    name: str
    email: str | None
    phone: str | None
