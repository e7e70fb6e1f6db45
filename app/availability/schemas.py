"""Response bodies of availability."""

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.models.states import BusyStatus, CalendarKind

MAX_CALENDARS = 100
MAX_SLOTS = 50


class BusyBlock(BaseModel):
    start_at: datetime
    end_at: datetime
    status: BusyStatus
    follow_up_id: uuid.UUID | None = Field(
        description="Only for follow-ups the caller owns or takes part in; others are merged"
    )


class Calendar(BaseModel):
    kind: CalendarKind
    id: uuid.UUID
    name: str = Field(
        description="The colleague's or resource's name, as the directory holds it now",
        examples=["Fjord room"],
    )
    busy: list[BusyBlock]


class Interval(BaseModel):
    start_at: datetime
    end_at: datetime


class Availability(BaseModel):
    calendars: list[Calendar]
    free: list[Interval] = Field(description="When none of the calendars is busy")


class Slots(BaseModel):
    slots: list[Interval] = Field(description="Earliest first; empty when none fits")
