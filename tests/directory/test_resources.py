"""Resources: the kind (room or equipment), the capacity bounds, double booking, the kind filter."""

from typing import Any

import pytest

from tests.directory.support import (
    RESOURCES,
    Method,
    create,
    ids,
    methods,
    write_accepted,
    write_rejected,
)
from tests.fixtures.factories import Caller


@methods
@pytest.mark.parametrize("resource_kind", ["car", "Room", "rooms", "", 1, ["room"]])
async def test_unknown_kind_is_422(admin: Caller, method: Method, resource_kind: Any) -> None:
    await write_rejected(admin, RESOURCES, method, {"kind": resource_kind}, "kind")


@methods
@pytest.mark.parametrize("capacity", [1, 100_000])
async def test_capacity_at_its_bounds_is_stored(
    admin: Caller, method: Method, capacity: int
) -> None:
    result = await write_accepted(admin, RESOURCES, method, {"capacity": capacity})

    assert result["capacity"] == capacity


@methods
@pytest.mark.parametrize("capacity", [0, -1, -100, 100_001, 2.5, "ten", "8", True, False])
async def test_capacity_out_of_bounds_is_422(admin: Caller, method: Method, capacity: Any) -> None:
    await write_rejected(admin, RESOURCES, method, {"capacity": capacity}, "capacity")


@methods
@pytest.mark.parametrize("value", ["sometimes", ["yes"], {}])
async def test_allow_double_booking_must_be_a_boolean(
    admin: Caller, method: Method, value: Any
) -> None:
    await write_rejected(
        admin, RESOURCES, method, {"allow_double_booking": value}, "allow_double_booking"
    )


@methods
@pytest.mark.parametrize("allow", [True, False])
async def test_allow_double_booking_is_stored(admin: Caller, method: Method, allow: bool) -> None:
    result = await write_accepted(admin, RESOURCES, method, {"allow_double_booking": allow})

    assert result["allow_double_booking"] is allow


async def test_kind_filter(admin: Caller) -> None:
    room = await create(admin, RESOURCES, kind="room")
    projector = await create(admin, RESOURCES, kind="equipment")
    stored_room = await create(admin, RESOURCES, kind="room")
    assert (await admin.delete(RESOURCES.url(stored_room["id"]))).status_code == 204

    assert await ids(admin, RESOURCES.path, kind="room") == [room["id"]]
    assert await ids(admin, RESOURCES.path, kind="equipment") == [projector["id"]]
    assert await ids(admin, RESOURCES.path, kind="room", include_inactive="true") == [
        room["id"],
        stored_room["id"],
    ]
