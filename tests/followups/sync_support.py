"""Helpers of the delta-sync tests: a sync run to its last page, and a diary entry's GET form."""

from typing import Any

from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok

Body = dict[str, Any]

SYNC = "/v1/follow-ups/delta"
# A window around the day of follow_up_body() (30 March 2026).
WINDOW = {"start": "2026-03-01T00:00:00+01:00", "end": "2026-06-01T00:00:00+02:00"}
# What a sync entry adds to the follow-up as GET shows it to the same caller.
SYNC_ONLY = {"removed", "my_role", "my_status", "occurrence_start"}


async def sync(caller: Caller, cursor: str | None = None, **params: Any) -> tuple[list[Body], str]:
    """Every item of a sync followed to its last page, and the delta cursor that page gives."""
    found: list[Body] = []
    params = {**WINDOW, **params} if cursor is None else {**params, "cursor": cursor}
    for _ in range(50):  # bounded: pages that never end must fail, not hang
        page = ok(await caller.get(SYNC, params=params))
        found.extend(page["items"])
        if page["next_cursor"] is None:
            assert page["delta_cursor"], page
            return found, page["delta_cursor"]
        assert page["delta_cursor"] is None, page
        params = {key: value for key, value in params.items() if key == "limit"}
        params["cursor"] = page["next_cursor"]
    raise AssertionError("the pages never ended")


def as_got(entry: Body) -> Body:
    """A sync entry without what it adds to the GET form."""
    return {key: value for key, value in entry.items() if key not in SYNC_ONLY}


def by_id(entries: list[Body]) -> dict[str, Body]:
    """Entries by id; each follow-up appears once."""
    indexed = {entry["id"]: entry for entry in entries}
    assert len(indexed) == len(entries), [entry["id"] for entry in entries]
    return indexed
