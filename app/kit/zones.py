"""`?time_zone=`: answers show their instants with an IANA zone's offset (UTC by default).

Instants are stored and computed in UTC; only the answer's rendering changes. Without the
parameter nothing is converted, so the default answer is the same bytes as ever.
"""

import dataclasses
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Query
from pydantic import BaseModel, StringConstraints, WithJsonSchema

from app.kit.errors import ValidationFailed
from app.kit.pagination import Paged
from app.kit.schemas import time_zone_names

T = TypeVar("T")

TIME_ZONE_PARAMETER = "time_zone"
TIME_ZONE_DESCRIPTION = (
    "IANA time zone name: every instant in the answer carries this zone's offset at that "
    "instant (`2026-12-10T00:00:00+01:00`, `2026-07-10T00:00:00+02:00` in Europe/Copenhagen); "
    "without it, UTC (`Z`). Dates (`start_date`, `end_date`) stay in the follow-up's own zone."
)


# Checked against the IANA names below, for a 422 of our own; the format names them.
_ZoneName = Annotated[
    str,
    StringConstraints(max_length=64),
    WithJsonSchema({"type": "string", "maxLength": 64, "format": "iana-time-zone"}),
]


async def answer_zone(
    time_zone: Annotated[
        _ZoneName | None,
        Query(
            alias=TIME_ZONE_PARAMETER,
            description=TIME_ZONE_DESCRIPTION,
            examples=["Europe/Copenhagen"],
        ),
    ] = None,
) -> ZoneInfo | None:
    """The zone the caller wants instants shown in; None (UTC, no conversion) when not asked."""
    if time_zone is None:
        return None
    if time_zone not in time_zone_names():
        raise ValidationFailed.at(
            ("query", TIME_ZONE_PARAMETER),
            f"unknown IANA time zone {time_zone!r} (e.g. Europe/Copenhagen)",
            msg="unknown time zone",
            type="time_zone",
        )
    return ZoneInfo(time_zone)


AnswerZone = Annotated[ZoneInfo | None, Depends(answer_zone)]


def in_zone(value: T, zone: ZoneInfo | None, model: type[BaseModel] | None = None) -> T:
    """`value` with every instant in it shown in `zone`; `value` itself when `zone` is None.

    Walks dicts, lists, models and pages, building new ones (ORM objects are never changed);
    `model` is what an ORM object (the value, or a page's items) is read as first.
    """
    if zone is None:
        return value
    if isinstance(value, Paged):
        rows = (
            value.items
            if model is None
            else [model.model_validate(i, from_attributes=True) for i in value.items]
        )
        return dataclasses.replace(value, items=[_shifted(row, zone) for row in rows])
    if model is not None:
        return _shifted(model.model_validate(value, from_attributes=True), zone)  # type: ignore[no-any-return]
    return _shifted(value, zone)  # type: ignore[no-any-return]


def _shifted(value: Any, zone: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(zone)
    if isinstance(value, dict):
        return {key: _shifted(item, zone) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_shifted(item, zone) for item in value]
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        return value.model_copy(
            update={name: _shifted(getattr(value, name), zone) for name in fields}
        )
    return value


def local_date(instant: datetime, time_zone: str) -> date:
    """The calendar date of `instant` in the zone."""
    return instant.astimezone(ZoneInfo(time_zone)).date()


def local_midnight(day: date, time_zone: str) -> datetime:
    """The instant (in UTC) the day begins in the zone."""
    return datetime.combine(day, time(0), ZoneInfo(time_zone)).astimezone(UTC)
