"""`convene worker` as a real process: killed mid-batch it loses nothing; SIGTERM ends it cleanly.

The receiver runs in the test's event loop; workers are `python -m app worker` subprocesses on
a committed database of their own, with a 2 s lease so a dead worker's claims come back soon.
"""

import asyncio
import signal
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests.fixtures.committed import CommittedApp, committed_app
from tests.fixtures.factories import TEST_SECRET, Caller
from tests.fixtures.pgbouncer import database_env
from tests.fixtures.servers import Worker, convene_env, convene_worker, run_cli
from tests.webhooks.receiver import Answer, Receiver
from tests.webhooks.support import RESPONSES, dispatcher_settings

pytestmark = pytest.mark.slow

FOLLOW_UPS = 30
INVITEES = 5
ROUNDS = 2  # answers per invitee and follow-up: 30 * 5 * 2 = 300 events


@pytest.fixture
def url(make_database: Callable[..., str]) -> str:
    """A committed database of the test's own (made outside the event loop)."""
    return make_database()


def _worker_env(url: str, data_dir: Path) -> dict[str, str]:
    # The app's data dir: its development key seals the secrets the worker must open.
    return convene_env(
        CONVENE_DATA_DIR=str(data_dir),
        **database_env(url),
        CONVENE_WEBHOOK_ALLOW_HTTP="true",
        CONVENE_WEBHOOK_ALLOWED_NETWORKS='["127.0.0.0/8"]',
        CONVENE_WEBHOOK_LEASE_SECONDS="2",
        CONVENE_WEBHOOK_POLL_SECONDS="0.2",
        CONVENE_JWT_SECRET=TEST_SECRET,
    )


@asynccontextmanager
async def worker(url: str, log: Path) -> AsyncIterator[Worker]:
    """A running worker on `url` (its data dir the log's); killed at the end if it still runs."""
    async with convene_worker(_worker_env(url, log.parent), log) as running:
        yield running


@asynccontextmanager
async def subscribed(
    url: str, data_dir: Path, receiver: Receiver
) -> AsyncIterator[tuple[CommittedApp, Caller]]:
    """The committed app (no dispatcher of its own) and an admin whose endpoint is `receiver`."""
    async with committed_app(url, data_dir) as committed:
        committed.app.state.settings = dispatcher_settings(data_dir)
        async with committed.client() as client:
            admin = Caller(client, uuid.uuid4(), subject="provisioning", admin=True)
            await admin.create("/v1/webhooks", {"url": receiver.url(), "event_types": RESPONSES})
            yield committed, admin


async def _answer(invitee: Caller, participant_id: str, status: str) -> None:
    response = await invitee.post(
        f"/v1/invitations/{participant_id}/response", json={"status": status}
    )
    assert response.status_code == 200, response.text


async def _commit_answers(admin: Caller) -> None:
    """FOLLOW_UPS follow-ups, each answered ROUNDS times by each of INVITEES invitees."""
    organizer = await admin.new_member(name="Olga Organizer")
    invitees = [await admin.new_member(name=f"Invitee {i}") for i in range(INVITEES)]
    statuses = ["accepted", "declined", "tentative"]
    gate = asyncio.Semaphore(5)

    async def one_follow_up(n: int) -> None:
        async with gate:
            created = await organizer.create(
                "/v1/follow-ups",
                {
                    "title": f"Review {n}",
                    "start_at": f"2026-04-{1 + n % 28:02d}T09:00:00+02:00",
                    "end_at": f"2026-04-{1 + n % 28:02d}T10:00:00+02:00",
                    "participants": [{"associate_id": i.subject} for i in invitees],
                },
            )
            ids = {p["associate_id"]: p["id"] for p in created["participants"]}
            for round_ in range(ROUNDS):
                for i, invitee in enumerate(invitees):
                    status = statuses[(n + i + round_) % 3]
                    await _answer(invitee, ids[invitee.subject], status)

    await asyncio.gather(*(one_follow_up(n) for n in range(FOLLOW_UPS)))


async def _scalar(committed: CommittedApp, query: str) -> Any:
    engine = committed.database.engine
    assert engine is not None
    async with engine.connect() as connection:
        return await connection.scalar(text(query))


async def _scalar_rows(committed: CommittedApp, query: str) -> list[Any]:
    engine = committed.database.engine
    assert engine is not None
    async with engine.connect() as connection:
        return list((await connection.scalars(text(query))).all())


async def _until(check: Callable[[], Any], within: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def test_a_killed_worker_loses_nothing(url: str, tmp_path: Path) -> None:
    receiver = await Receiver().start()
    receiver.always(Answer(delay=0.05))  # so that batches are in flight when the worker dies
    try:
        async with subscribed(url, tmp_path, receiver) as (committed, admin):
            await _commit_answers(admin)
            event_ids = {
                str(row)
                for row in (
                    await _scalar_rows(
                        committed, "SELECT id FROM events WHERE type LIKE 'invitation.%'"
                    )
                )
            }
            total = FOLLOW_UPS * INVITEES * ROUNDS
            assert len(event_ids) == total
            assert await _scalar(committed, "SELECT count(*) FROM webhook_deliveries") == total

            async with worker(url, tmp_path / "worker-1.log") as first:
                await receiver.wait_for_arrivals(total // 5, timeout=60)
                first.process.send_signal(signal.SIGKILL)
                assert await first.exited(10) == -signal.SIGKILL
            arrived_before = {r.webhook_id for r in receiver.received}
            assert len(arrived_before) < total, "everything arrived before the kill"
            leased = await _scalar(
                committed, "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivering'"
            )
            assert leased > 0, "the kill should leave deliveries leased to the dead worker"

            # Once the dead worker's leases have run out, the next worker's reaper (which runs
            # as it starts, then every few seconds) takes them back.
            async def leases_expired() -> bool:
                held = await _scalar(
                    committed,
                    "SELECT count(*) FROM webhook_deliveries "
                    "WHERE status = 'delivering' AND lease_until >= clock_timestamp()",
                )
                return bool(held == 0)

            await _until(leases_expired, 10, "the dead worker's leases to run out")

            async with worker(url, tmp_path / "worker-2.log") as second:

                async def all_arrived() -> bool:
                    return {r.webhook_id for r in receiver.received} >= event_ids

                async def all_closed() -> bool:
                    open_ = await _scalar(
                        committed,
                        "SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded'",
                    )
                    return bool(open_ == 0)

                try:
                    await _until(all_arrived, 60, "every event to arrive")
                    await _until(all_closed, 30, "every delivery to succeed")
                except AssertionError as exc:
                    missing = event_ids - {r.webhook_id for r in receiver.received}
                    raise AssertionError(
                        f"{exc}: {len(missing)} of {total} never arrived\n"
                        f"first worker:\n{first.output()[-3000:]}\n"
                        f"second worker:\n{second.output()[-3000:]}"
                    ) from exc

            counts = Counter(r.webhook_id for r in receiver.received)
            duplicates = {event_id: n for event_id, n in counts.items() if n > 1}
            extra = sum(n - 1 for n in duplicates.values())
            report = (
                f"{total} events, {len(receiver.received)} requests, {extra} duplicate "
                f"deliveries of {len(duplicates)} events; {leased} leased at the kill"
            )
            print(report)  # shown with -s: how much the crash cost
            assert set(counts) == event_ids, report
            assert extra <= leased, report
            statuses = await _scalar_rows(
                committed, "SELECT DISTINCT status FROM webhook_deliveries"
            )
            assert statuses == ["succeeded"], report
            assert (
                await _scalar(
                    committed,
                    "SELECT count(*) FROM webhook_deliveries WHERE lease_until IS NOT NULL",
                )
                == 0
            ), report
    finally:
        await receiver.stop()


async def test_sigterm_stops_a_worker_cleanly_after_its_attempts_in_flight(
    url: str, tmp_path: Path
) -> None:
    receiver = await Receiver().start()
    receiver.always(Answer(delay=1.0))
    try:
        async with subscribed(url, tmp_path, receiver) as (committed, admin):
            organizer = await admin.new_member(name="Olga Organizer")
            invitee = await admin.new_member(name="Ivan Invitee")
            created = await organizer.create(
                "/v1/follow-ups",
                {
                    "title": "Review",
                    "start_at": "2026-03-30T09:00:00+02:00",
                    "end_at": "2026-03-30T10:00:00+02:00",
                    "participants": [{"associate_id": invitee.subject}],
                },
            )
            [participant_id] = [
                p["id"] for p in created["participants"] if p["role"] != "organizer"
            ]
            await _answer(invitee, participant_id, "accepted")

            async with worker(url, tmp_path / "worker.log") as running:
                await receiver.wait_for_arrivals(1, timeout=30)
                running.process.send_signal(signal.SIGTERM)
                code = await running.exited(15)
                assert code == 0, running.output()
                assert "webhook worker stopped" in running.output()

            # The attempt in flight at SIGTERM was finished and recorded, not abandoned.
            assert len(receiver.received) == 1
            assert await _scalar_rows(committed, "SELECT status FROM webhook_deliveries") == [
                "succeeded"
            ]
            assert await _scalar(committed, "SELECT count(*) FROM webhook_attempts") == 1
    finally:
        await receiver.stop()


def test_worker_without_a_database_url_exits_2_with_a_clear_message() -> None:
    result = run_cli("worker", env=convene_env(CONVENE_JWT_SECRET=TEST_SECRET))
    assert result.returncode == 2, result
    assert "CONVENE_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
