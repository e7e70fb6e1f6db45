"""Queued answers on a committed database: a series answer and an occurrence answer in flight.

Both requests read the database before they wait for the follow-up's lock; the one that
finds the follow-up changed once it holds the lock runs again, so each ends as if alone.
"""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.committed import (  # noqa: F401 (fixtures)
    CommittedApp,
    acting_through,
    admin,
    client,
    committed,
    committed_app,
    committed_url,
    follow_up_row_locked,
    until_lock_waiters,
)
from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok

START = datetime(2026, 6, 1, 8, tzinfo=UTC)
STARTS = [START + timedelta(days=7 * n) for n in range(3)]
SECOND = "2026-06-08T08:00:00Z"


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def _series(admin: Caller) -> tuple[Caller, Caller, str, str]:
    """An organizer, an invited colleague, their weekly series of three, the invitation."""
    organizer = await admin.new_member(name="Olga Organizer")
    colleague = await admin.new_member(name="Carl Colleague")
    created = await organizer.create(
        "/v1/follow-ups",
        {
            "title": "Weekly",
            "start_at": _iso(START),
            "end_at": _iso(START + timedelta(hours=1)),
            "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=3"},
            "participants": [{"associate_id": colleague.subject}],
        },
    )
    (invitation,) = [p["id"] for p in created["participants"] if p["role"] != "organizer"]
    return organizer, colleague, created["id"], invitation


async def _busy(organizer: Caller, colleague: Caller) -> dict[str, str]:
    found = ok(
        await organizer.get(
            "/v1/availability",
            params={
                "associate_ids": colleague.subject,
                "start": _iso(START),
                "end": _iso(START + timedelta(days=21)),
            },
        )
    )
    return {busy["start_at"]: busy["status"] for busy in found["calendars"][0]["busy"]}


async def _diary(colleague: Caller) -> dict[str, str]:
    page = ok(
        await colleague.get(
            "/v1/follow-ups",
            params={"start": _iso(START), "end": _iso(START + timedelta(days=21))},
        )
    )
    return {entry["occurrence_start"]: entry["my_status"] for entry in page["items"]}


async def _queued(
    committed: CommittedApp, colleague: Caller, follow_up_id: str, url: str, bodies: list[dict]
) -> None:
    """Send the answers while we hold the follow-up's lock, so they queue in this order."""
    async with committed.client() as first, committed.client() as second:
        async with follow_up_row_locked(committed, follow_up_id):
            tasks = []
            for n, (client, body) in enumerate(zip((first, second), bodies, strict=True), 1):
                sender = acting_through(colleague, client)
                tasks.append(asyncio.create_task(sender.post(url, json=body)))
                await until_lock_waiters(committed, n)
        responses = await asyncio.gather(*tasks)
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]


async def test_a_series_answer_queued_behind_an_occurrence_answer_drops_it(
    committed: CommittedApp, admin: Caller
) -> None:
    organizer, colleague, follow_up_id, invitation = await _series(admin)
    url = f"/v1/invitations/{invitation}/response"

    bodies = [{"status": "declined", "occurrence": SECOND}, {"status": "accepted"}]
    await _queued(committed, colleague, follow_up_id, url, bodies)

    assert await _busy(organizer, colleague) == {_iso(s): "busy" for s in STARTS}
    assert await _diary(colleague) == {_iso(s): "accepted" for s in STARTS}
    events = await committed.events(follow_up_id)
    assert [(t, d["occurrence_start"], d["previous_status"]) for t, _, d in events[1:]] == [
        ("invitation.declined", "2026-06-08T08:00:00+00:00", "not_read"),
        ("invitation.accepted", None, "seen"),
    ]


async def test_an_occurrence_answer_queued_behind_a_series_answer_keeps_it(
    committed: CommittedApp, admin: Caller
) -> None:
    organizer, colleague, follow_up_id, invitation = await _series(admin)
    url = f"/v1/invitations/{invitation}/response"

    bodies = [{"status": "accepted"}, {"status": "declined", "occurrence": SECOND}]
    await _queued(committed, colleague, follow_up_id, url, bodies)

    expected = {_iso(s): "busy" for s in STARTS if _iso(s) != SECOND}
    assert await _busy(organizer, colleague) == expected
    assert await _diary(colleague) == {
        _iso(s): "declined" if _iso(s) == SECOND else "accepted" for s in STARTS
    }
    events = await committed.events(follow_up_id)
    assert [d["previous_status"] for _, _, d in events[1:]] == ["not_read", "accepted"]


@pytest.mark.parametrize("first", ["accepted", "tentative"])
async def test_a_decline_queued_behind_an_answer_that_books_frees_everything(
    committed: CommittedApp, admin: Caller, first: str
) -> None:
    """From a decline (no bookings), an answer books rows the queued decline must see."""
    organizer, colleague, follow_up_id, invitation = await _series(admin)
    url = f"/v1/invitations/{invitation}/response"
    ok(await colleague.post(url, json={"status": "declined"}))

    await _queued(
        committed, colleague, follow_up_id, url, [{"status": first}, {"status": "declined"}]
    )

    assert await _busy(organizer, colleague) == {}
    assert await _diary(colleague) == {_iso(s): "declined" for s in STARTS}
