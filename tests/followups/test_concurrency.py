"""Concurrent requests on a committed database: If-Match races, queued answers, seq order."""

import asyncio
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

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
from tests.fixtures.factories import Caller, follow_up_body
from tests.fixtures.statements import statements

# The answer's statement (app.invitations.repository.ANSWER), as the statement hook sees it.
ANSWER_HEAD = "WITH locked AS"
# follow_up_body()'s span, and the one the tests below move it to, in UTC.
SPAN = ("2026-03-30T07:00:00Z", "2026-03-30T08:00:00Z")
MOVED = ("2026-03-30T12:00:00Z", "2026-03-30T13:00:00Z")
WEEKLY = {"rrule": "FREQ=WEEKLY;COUNT=3"}


async def _invite(
    organizer: Caller, invitees: list[Caller], **fields: Any
) -> tuple[str, dict[str, str]]:
    """A follow-up of the organizer, and each invitee's participant id by associate id."""
    created = await organizer.create(
        "/v1/follow-ups",
        follow_up_body(participants=[{"associate_id": i.subject} for i in invitees], **fields),
    )
    ids = {p["associate_id"]: p["id"] for p in created["participants"] if p["role"] != "organizer"}
    return created["id"], ids


async def _meeting(
    admin: Caller, count: int, **fields: Any
) -> tuple[Caller, list[Caller], str, dict[str, str]]:
    """An organizer, `count` invited colleagues, their follow-up, the participant ids."""
    organizer = await admin.new_member(name="Olga Organizer")
    invitees = [await admin.new_member(name=f"Invitee {n}") for n in range(count)]
    follow_up_id, ids = await _invite(organizer, invitees, **fields)
    return organizer, invitees, follow_up_id, ids


async def test_two_patches_with_one_etag_one_wins(committed: CommittedApp, admin: Caller) -> None:
    organizer = await admin.new_member(name="Olga Organizer")
    follow_up_id, _ = await _invite(organizer, [])
    path = f"/v1/follow-ups/{follow_up_id}"

    for round_ in range(3):
        etag = (await organizer.get(path)).headers["ETag"]
        titles = [f"Round {round_} by A", f"Round {round_} by B"]
        async with committed.client() as first, committed.client() as second:
            responses = await asyncio.gather(
                *(
                    acting_through(organizer, client).patch(
                        path, json={"title": title}, headers={"If-Match": etag}
                    )
                    for client, title in zip((first, second), titles, strict=True)
                )
            )

        assert sorted(r.status_code for r in responses) == [200, 412], [r.text for r in responses]
        winner = next(r for r in responses if r.status_code == 200)
        loser = next(r for r in responses if r.status_code == 412)
        assert loser.headers["content-type"].startswith("application/problem+json")
        assert loser.json()["code"] == "precondition_failed"
        stored = await organizer.get(path)
        assert stored.json()["title"] == winner.json()["title"]
        assert stored.headers["ETag"] == winner.headers["ETag"] != etag
        # Only the winner's change was recorded.
        updates = [e for e in await committed.events(follow_up_id) if e[0] == "follow_up.updated"]
        assert len(updates) == round_ + 1


async def test_two_moves_with_one_etag_reset_once(committed: CommittedApp, admin: Caller) -> None:
    organizer, (colleague,), follow_up_id, ids = await _meeting(admin, 1)
    path = f"/v1/follow-ups/{follow_up_id}"
    await colleague.post(
        f"/v1/invitations/{ids[colleague.subject]}/response", json={"status": "accepted"}
    )
    etag = (await organizer.get(path)).headers["ETag"]

    moves = [
        {"start_at": "2026-04-01T13:00:00+02:00", "end_at": "2026-04-01T14:00:00+02:00"},
        {"start_at": "2026-04-02T13:00:00+02:00", "end_at": "2026-04-02T14:00:00+02:00"},
    ]
    async with committed.client() as first, committed.client() as second:
        responses = await asyncio.gather(
            *(
                acting_through(organizer, client).patch(path, json=move, headers={"If-Match": etag})
                for client, move in zip((first, second), moves, strict=True)
            )
        )

    assert sorted(r.status_code for r in responses) == [200, 412]
    winner = next(r for r in responses if r.status_code == 200).json()
    stored = (await organizer.get(path)).json()
    assert (stored["start_at"], stored["end_at"]) == (winner["start_at"], winner["end_at"])
    types = [type_ for type_, _, _ in await committed.events(follow_up_id)]
    assert types.count("follow_up.rescheduled") == 1


@pytest.mark.parametrize("count", [2, 6, 50])
async def test_concurrent_answers_of_different_invitees_all_count(
    committed: CommittedApp, admin: Caller, count: int
) -> None:
    organizer, invitees, follow_up_id, ids = await _meeting(admin, count)
    answers = ["accepted", "declined", "tentative"]

    async with AsyncExitStack() as stack:
        opened = [await stack.enter_async_context(committed.client()) for _ in invitees]
        responses = await asyncio.gather(
            *(
                acting_through(invitee, client).post(
                    f"/v1/invitations/{ids[invitee.subject]}/response",
                    json={"status": answers[n % 3]},
                )
                for n, (invitee, client) in enumerate(zip(invitees, opened, strict=True))
            )
        )

    assert [r.status_code for r in responses] == [200] * count, [r.text for r in responses]
    participants = (await organizer.get(f"/v1/follow-ups/{follow_up_id}/participants")).json()
    status = {p["associate_id"]: p["status"] for p in participants}
    assert [status[i.subject] for i in invitees] == [answers[n % 3] for n in range(count)]

    events = await committed.events(follow_up_id)
    assert events[0][:2] == ("follow_up.created", 1)
    answered = events[1:]
    assert [seq for _, seq, _ in answered] == list(range(2, count + 2))
    assert all(data["seq"] == seq for _, seq, data in answered)
    assert sorted(str(data["participant_id"]) for _, _, data in answered) == sorted(ids.values())
    assert all(data["previous_status"] == "not_read" for _, _, data in answered)


async def test_seen_queued_behind_an_answer_does_not_override_it(
    committed: CommittedApp, admin: Caller
) -> None:
    """`seen` never overrides an answer, even when it was sent while the answer was in flight.

    Our own transaction holds the follow-up's row lock; the answer queues first, `seen` second.
    Both read the invitation before they wait for the lock.
    """
    organizer, (colleague,), follow_up_id, ids = await _meeting(admin, 1)
    invitation = f"/v1/invitations/{ids[colleague.subject]}"

    async with committed.client() as first, committed.client() as second:
        async with follow_up_row_locked(committed, follow_up_id):
            answer = asyncio.create_task(
                acting_through(colleague, first).post(
                    f"{invitation}/response", json={"status": "accepted"}
                )
            )
            await until_lock_waiters(committed, 1)
            seen = asyncio.create_task(acting_through(colleague, second).post(f"{invitation}/seen"))
            await until_lock_waiters(committed, 2)
        answered, marked = await asyncio.gather(answer, seen)

    assert (answered.status_code, marked.status_code) == (200, 200)
    participants = (await organizer.get(f"/v1/follow-ups/{follow_up_id}/participants")).json()
    mine = next(p for p in participants if p["id"] == ids[colleague.subject])
    assert mine["status"] == "accepted"
    types = [type_ for type_, _, _ in await committed.events(follow_up_id)]
    assert types == ["follow_up.created", "invitation.accepted"]


async def test_queued_answers_of_one_invitee_chain_previous_status(
    committed: CommittedApp, admin: Caller
) -> None:
    """Two answers of one invitee in flight at once: the second's previous_status is the first."""
    organizer, (colleague,), follow_up_id, ids = await _meeting(admin, 1)
    invitation = f"/v1/invitations/{ids[colleague.subject]}"

    async with committed.client() as first, committed.client() as second:
        async with follow_up_row_locked(committed, follow_up_id):
            accept = asyncio.create_task(
                acting_through(colleague, first).post(
                    f"{invitation}/response", json={"status": "accepted"}
                )
            )
            await until_lock_waiters(committed, 1)
            decline = asyncio.create_task(
                acting_through(colleague, second).post(
                    f"{invitation}/response", json={"status": "declined"}
                )
            )
            await until_lock_waiters(committed, 2)
        accepted, declined = await asyncio.gather(accept, decline)

    assert (accepted.status_code, declined.status_code) == (200, 200)
    history = (await organizer.get(f"/v1/follow-ups/{follow_up_id}/responses")).json()["items"]
    assert [(r["previous_status"], r["status"]) for r in history] == [
        ("not_read", "accepted"),
        ("accepted", "declined"),
    ]
    events = await committed.events(follow_up_id)
    assert [(data.get("previous_status"), data.get("status")) for _, _, data in events[1:]] == [
        ("not_read", "accepted"),
        ("accepted", "declined"),
    ]


async def test_queued_seen_twice_records_one_event(committed: CommittedApp, admin: Caller) -> None:
    """Marking seen twice at once changes the invitation once, so it records one event."""
    _, (colleague,), follow_up_id, ids = await _meeting(admin, 1)
    invitation = f"/v1/invitations/{ids[colleague.subject]}"

    async with committed.client() as first, committed.client() as second:
        async with follow_up_row_locked(committed, follow_up_id):
            tasks = []
            for n, client in enumerate((first, second), start=1):
                tasks.append(
                    asyncio.create_task(
                        acting_through(colleague, client).post(f"{invitation}/seen")
                    )
                )
                await until_lock_waiters(committed, n)
        responses = await asyncio.gather(*tasks)

    assert [r.status_code for r in responses] == [200, 200]
    assert [r.json()["status"] for r in responses] == ["seen", "seen"]
    types = [type_ for type_, _, _ in await committed.events(follow_up_id)]
    assert types == ["follow_up.created", "invitation.seen"]


async def _busy(organizer: Caller, colleague: Caller, days: int = 1) -> list[tuple[str, str]]:
    """The colleague's busy blocks from follow_up_body()'s day on, as (start, end) in UTC."""
    found = await organizer.get(
        "/v1/availability",
        params={
            "associate_ids": colleague.subject,
            "start": "2026-03-30T00:00:00Z",
            "end": (datetime(2026, 3, 30, tzinfo=UTC) + timedelta(days=days)).isoformat(),
        },
    )
    assert found.status_code == 200, found.text
    return [(b["start_at"], b["end_at"]) for b in found.json()["calendars"][0]["busy"]]


def _answers(sent: list[str]) -> list[str]:
    """The answer statements among those sent."""
    return [s for s in sent if s.lstrip().startswith(ANSWER_HEAD)]


async def _queued_answers(
    committed: CommittedApp, follow_up_id: str, sends: list[tuple[Caller, str, str]]
) -> tuple[list[int], list[str]]:
    """Post the answers while we hold the follow-up's lock, so they queue in this order.

    Each is (invitee, participant id, status); the status codes, and the answer statements sent.
    """
    assert committed.database.engine is not None
    async with AsyncExitStack() as stack:
        opened = [await stack.enter_async_context(committed.client()) for _ in sends]
        with statements(committed.database.engine) as sent:
            async with follow_up_row_locked(committed, follow_up_id):
                tasks = []
                for n, ((invitee, participant_id, status), client) in enumerate(
                    zip(sends, opened, strict=True), start=1
                ):
                    tasks.append(
                        asyncio.create_task(
                            acting_through(invitee, client).post(
                                f"/v1/invitations/{participant_id}/response",
                                json={"status": status},
                            )
                        )
                    )
                    await until_lock_waiters(committed, n)
            responses = await asyncio.gather(*tasks)
    return [r.status_code for r in responses], _answers(sent)


@pytest.mark.parametrize("series", [False, True], ids=["single", "series"])
async def test_answers_of_other_invitees_queued_on_one_follow_up_each_run_once(
    committed: CommittedApp, admin: Caller, series: bool
) -> None:
    """Another invitee's answer only bumps the seq: the one queued behind it is not stale.

    So a meeting whose invitees answer at once queues for one statement each, no retries.
    """
    fields = {"recurrence": WEEKLY} if series else {}
    organizer, invitees, follow_up_id, ids = await _meeting(admin, 3, **fields)
    sends = [
        (i, ids[i.subject], s)
        for i, s in zip(invitees, ["accepted", "declined", "tentative"], strict=True)
    ]

    codes, answers = await _queued_answers(committed, follow_up_id, sends)

    assert codes == [200, 200, 200]
    assert len(answers) == 3, "an answer ran again"
    # Waiters past the first take the lock in no promised order: each answer once, in seq.
    events = await committed.events(follow_up_id)
    assert [seq for _, seq, _ in events] == [1, 2, 3, 4]
    assert events[0][0] == "follow_up.created"
    answered = {str(data["participant_id"]): type_ for type_, _, data in events[1:]}
    assert answered == {participant: f"invitation.{status}" for _, participant, status in sends}
    assert await _busy(organizer, invitees[0]) == [SPAN]
    assert await _busy(organizer, invitees[1]) == []


async def test_a_decline_queued_behind_the_same_invitees_accept_runs_again_and_frees_it(
    committed: CommittedApp, admin: Caller
) -> None:
    """The invitation changed while the decline waited: it runs again and sees the booking."""
    organizer, (colleague,), follow_up_id, ids = await _meeting(admin, 1)
    mine = ids[colleague.subject]

    codes, answers = await _queued_answers(
        committed, follow_up_id, [(colleague, mine, "accepted"), (colleague, mine, "declined")]
    )

    assert codes == [200, 200]
    assert len(answers) == 3, "the decline did not run again"
    assert await _busy(organizer, colleague) == []


async def _accepted_behind(
    committed: CommittedApp,
    colleague: Caller,
    participant_id: str,
    writes: list[str],
    params: dict[str, Any],
) -> tuple[httpx.Response, int]:
    """Accept while a transaction of ours holds the row lock after `writes`, then commits.

    The answer, and how many times its statement ran.
    """
    assert committed.database.engine is not None
    async with committed.client() as other:
        answering = acting_through(colleague, other)
        with statements(committed.database.engine) as sent:
            async with committed.database.engine.connect() as writer:
                for sql in writes:
                    await writer.execute(text(sql), params)
                answer = asyncio.create_task(
                    answering.post(
                        f"/v1/invitations/{participant_id}/response", json={"status": "accepted"}
                    )
                )
                await until_lock_waiters(committed, 1)
                await writer.commit()
            answered = await answer
    return answered, len(_answers(sent))


async def test_an_answer_queued_behind_a_move_runs_again_and_books_the_new_span(
    committed: CommittedApp, admin: Caller
) -> None:
    """The follow-up's span changed while the answer waited: it runs again, on the new span.

    The move is written as a reschedule writes it (the follow-up and its bookings), by a
    transaction that holds the row lock while the answer queues, and commits.
    """
    organizer, (colleague,), follow_up_id, ids = await _meeting(admin, 1)
    moved = {
        "start": datetime.fromisoformat(MOVED[0]),
        "end": datetime.fromisoformat(MOVED[1]),
        "id": uuid.UUID(follow_up_id),
    }
    writes = [
        "UPDATE follow_ups SET start_at = :start, end_at = :end, seq = seq + 1 WHERE id = :id",
        "UPDATE bookings SET during = tstzrange(:start, :end), occurrence_start = :start "
        "WHERE follow_up_id = :id",
    ]

    answered, runs = await _accepted_behind(
        committed, colleague, ids[colleague.subject], writes, moved
    )

    assert answered.status_code == 200, answered.text
    assert runs == 2
    assert await _busy(organizer, colleague) == [MOVED]


async def test_a_series_answer_queued_behind_a_cancelled_occurrence_runs_again(
    committed: CommittedApp, admin: Caller
) -> None:
    """An occurrence cancelled while the answer waited: it runs again and books the others.

    The cancel is written as the API writes it (the occurrence, its bookings, the seq), by a
    transaction that holds the row lock while the answer queues, and commits. A run on the
    snapshot from before would book the cancelled occurrence again.
    """
    organizer, (colleague,), follow_up_id, ids = await _meeting(admin, 1, recurrence=WEEKLY)
    second = {"start": datetime(2026, 4, 6, 7, tzinfo=UTC), "id": uuid.UUID(follow_up_id)}
    writes = [
        "UPDATE follow_ups SET seq = seq + 1 WHERE id = :id",
        "UPDATE occurrences SET cancelled = true "
        "WHERE follow_up_id = :id AND original_start = :start",
        "DELETE FROM bookings WHERE follow_up_id = :id AND occurrence_start = :start",
    ]

    answered, runs = await _accepted_behind(
        committed, colleague, ids[colleague.subject], writes, second
    )

    assert answered.status_code == 200, answered.text
    assert runs == 2
    assert await _busy(organizer, colleague, days=21) == [
        SPAN,
        ("2026-04-13T07:00:00Z", "2026-04-13T08:00:00Z"),
    ]
