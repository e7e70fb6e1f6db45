"""`?time_zone=`: instants rendered in a zone, the shared parameter, and every read taking it."""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pydantic_core
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from app.kit.errors import ValidationFailed
from app.kit.pagination import Paged
from app.kit.responses import built, serialized
from app.kit.zones import TIME_ZONE_PARAMETER, answer_zone, in_zone, local_date, local_midnight
from tests.fixtures.factories import Caller
from tests.fixtures.problems import assert_invalid

COPENHAGEN = ZoneInfo("Europe/Copenhagen")
WINTER = datetime(2026, 12, 9, 23, 0, tzinfo=UTC)
SUMMER = datetime(2026, 7, 9, 22, 0, tzinfo=UTC)
TIME_ZONE_REF = {"$ref": "#/components/parameters/TimeZone"}


class Span(BaseModel):
    start_at: datetime
    end_at: datetime | None
    day: date
    label: str


def test_no_zone_is_the_very_same_value() -> None:
    body = {
        "at": WINTER,
        "items": [Span(start_at=WINTER, end_at=None, day=date(2026, 12, 10), label="x")],
    }
    assert in_zone(body, None) is body


def test_every_instant_is_shown_in_the_zone_at_its_own_offset() -> None:
    span = built(Span, Span(start_at=WINTER, end_at=SUMMER, day=date(2026, 12, 10), label="x"))
    body = {"spans": [span], "page": Paged([{"at": SUMMER}], "next"), "count": 2}

    shown = in_zone(body, COPENHAGEN)

    assert pydantic_core.to_json(shown["spans"][0]) == (
        b'{"start_at":"2026-12-10T00:00:00+01:00","end_at":"2026-07-10T00:00:00+02:00",'
        b'"day":"2026-12-10","label":"x"}'
    )
    assert shown["page"] == Paged([{"at": SUMMER.astimezone(COPENHAGEN)}], "next")
    assert shown["count"] == 2
    # The input is left as it was: rows may be ORM objects or shared.
    assert span.start_at.tzinfo is UTC
    assert body["page"].items[0]["at"].tzinfo is UTC


def test_orm_like_objects_are_read_as_the_model_first() -> None:
    class Row:
        start_at, end_at, day, label = WINTER, None, date(2026, 12, 10), "row"

    page = in_zone(Paged([Row()], None), COPENHAGEN, Span)
    (item,) = page.items
    assert isinstance(item, Span)
    assert item.start_at.utcoffset() == timedelta(hours=1)
    assert in_zone(Row(), COPENHAGEN, Span).start_at == WINTER


def test_default_serialisation_is_unchanged() -> None:
    body = {"at": WINTER, "micro": WINTER + timedelta(microseconds=5)}
    assert serialized(in_zone(body, None)).body == (
        b'{"at":"2026-12-09T23:00:00Z","micro":"2026-12-09T23:00:00.000005Z"}'
    )


def test_utc_asked_for_is_the_default_rendering() -> None:
    body = {"at": WINTER}
    assert pydantic_core.to_json(in_zone(body, ZoneInfo("UTC"))) == pydantic_core.to_json(body)


async def test_the_parameter_takes_iana_names_only() -> None:
    assert await answer_zone(None) is None
    assert await answer_zone("America/New_York") == ZoneInfo("America/New_York")
    for bad in ("Mars/Olympus", "localtime", "+01:00", "CET "):
        with pytest.raises(ValidationFailed, match="unknown IANA time zone") as raised:
            await answer_zone(bad)
        assert raised.value.extra["errors"][0]["loc"] == ["query", "time_zone"]


def test_local_dates_and_midnights_across_dst() -> None:
    assert local_date(WINTER, "Europe/Copenhagen") == date(2026, 12, 10)
    assert local_date(WINTER, "UTC") == date(2026, 12, 9)
    assert local_midnight(date(2026, 12, 10), "Europe/Copenhagen") == WINTER
    assert local_midnight(date(2026, 7, 10), "Europe/Copenhagen") == SUMMER
    assert local_midnight(date(2026, 7, 10), "America/New_York") == datetime(
        2026, 7, 10, 4, tzinfo=UTC
    )


def _has_instants(schema: Any, components: dict[str, Any]) -> bool:
    """Whether a JSON schema (following $refs) can hold a date-time."""
    seen: set[str] = set()

    def walk(node: Any) -> bool:
        if isinstance(node, list):
            return any(walk(item) for item in node)
        if not isinstance(node, dict):
            return False
        if node.get("format") == "date-time":
            return True
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name in seen:
                return False
            seen.add(name)
            return walk(components[name])
        return any(walk(value) for value in node.values())

    return walk(schema)


def test_every_read_that_returns_instants_takes_the_shared_parameter(app: FastAPI) -> None:
    document = app.openapi()
    components = document["components"]["schemas"]
    shared = document["components"]["parameters"]["TimeZone"]
    assert shared["in"] == "query"
    assert shared["name"] == TIME_ZONE_PARAMETER
    assert shared["required"] is False
    assert "IANA" in shared["description"]
    assert shared["schema"]["format"] == "iana-time-zone"
    reads = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            parameters = operation.get("parameters", [])
            # Never inline: the one component is the parameter's only definition.
            assert not any(p.get("name") == TIME_ZONE_PARAMETER for p in parameters)
            answer = operation["responses"].get("200", {}).get("content", {})
            returns_instants = _has_instants(answer.get("application/json", {}), components)
            if method == "get" and returns_instants:
                reads += 1
                assert TIME_ZONE_REF in parameters, f"{method} {path}"
            elif method != "get":
                assert TIME_ZONE_REF not in parameters, f"{method} {path}"
    assert reads >= 20


async def test_a_route_without_instants_refuses_the_parameter(member: Caller) -> None:
    # The strict query check knows which routes declare it: elsewhere it is unknown.
    response = await member.post(
        f"/v1/notifications/{uuid.uuid4()}/read", params={"time_zone": "UTC"}
    )
    assert_invalid(response, "query", "time_zone")
