"""JSON written by SQL (`app/kit/json_sql.py`) is what pydantic-core writes for the same values."""

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pydantic_core
import pytest
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.kit.json_sql import instant, json_object, string

ZONES = [
    "UTC",
    "Europe/London",
    "Europe/Copenhagen",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/St_Johns",
    "Pacific/Chatham",
    "Africa/Abidjan",
]
INSTANTS = [
    datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC),  # the second before Copenhagen's change
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
    datetime(2026, 10, 25, 0, 30, 0, 5, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
    datetime(1900, 6, 1, 12, 0, 0, 120000, tzinfo=UTC),  # local mean times with seconds
    datetime(2199, 12, 31, 12, tzinfo=UTC),
]


@pytest.mark.parametrize("zone", [None, *ZONES])
async def test_instants_as_pydantic_core_writes_them(
    connection: AsyncConnection, zone: str | None
) -> None:
    sql = f"SELECT {instant('CAST(:at AS timestamptz)', 'CAST(:zone AS text)')}"
    for at in [*INSTANTS, None]:
        written = await connection.scalar(text(sql), {"at": at, "zone": zone})
        shown = at if at is None or zone is None else at.astimezone(ZoneInfo(zone))
        assert written.encode() == pydantic_core.to_json(shown), (at, zone)


async def test_text_escaped_as_pydantic_core_escapes_it(connection: AsyncConnection) -> None:
    every = "".join(chr(n) for n in range(1, 0x250)) + '\u2028\u2029"\\/😀\ufeff'
    for value in [every, "", None]:
        written = await connection.scalar(
            text(f"SELECT {string('CAST(:v AS text)')}"), {"v": value}
        )
        assert written.encode() == pydantic_core.to_json(value)


class _Everything(BaseModel):
    id: uuid.UUID
    name: str | None
    flag: bool
    day: date | None
    at: datetime


async def test_an_object_in_field_order(connection: AsyncConnection) -> None:
    values = {
        "id": uuid.uuid4(),
        "name": 'a "b"',
        "flag": False,
        "day": date(2026, 12, 10),
        "at": datetime(2026, 12, 10, 8, 30, tzinfo=UTC) + timedelta(microseconds=1),
    }
    sql = json_object(_Everything, lambda name: f"CAST(:{name} AS {_TYPES[name]})", "NULL")
    written = await connection.scalar(text(f"SELECT {sql}"), values)
    assert written.encode() == _Everything(**values).model_dump_json().encode()


_TYPES = {"id": "uuid", "name": "text", "flag": "boolean", "day": "date", "at": "timestamptz"}


def test_a_type_without_a_writer_is_refused_when_the_sql_is_built() -> None:
    class Nested(BaseModel):
        inner: _Everything

    with pytest.raises(TypeError, match="no SQL JSON writer"):
        json_object(Nested, lambda name: name, "NULL")
