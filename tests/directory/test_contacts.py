"""The phone number that contacts and the persons who work at them may have."""

from typing import Any

import pytest

from tests.directory.support import (
    CONTACTS,
    PERSONS,
    Kind,
    Method,
    kinds,
    methods,
    write_accepted,
    write_rejected,
)
from tests.fixtures.factories import Caller

with_details = kinds(CONTACTS, PERSONS)


@with_details
@methods
@pytest.mark.parametrize(
    ("phone", "stored"),
    [("+45 70 12 34 56", "+45 70 12 34 56"), ("  70123456  ", "70123456"), ("1" * 50, "1" * 50)],
    ids=["international", "padded", "50 chars"],
)
async def test_phone_is_stored_trimmed(
    admin: Caller, kind: Kind, method: Method, phone: str, stored: str
) -> None:
    result = await write_accepted(admin, kind, method, {"phone": phone})

    assert result["phone"] == stored


@with_details
@methods
@pytest.mark.parametrize(
    "phone",
    ["1" * 51, "", "   ", "+45\n70", 4570123456],
    ids=["51 chars", "empty", "blank", "newline", "number"],
)
async def test_invalid_phone_is_422(admin: Caller, kind: Kind, method: Method, phone: Any) -> None:
    await write_rejected(admin, kind, method, {"phone": phone}, "phone")
