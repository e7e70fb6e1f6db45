"""The delta sync on a committed database: a transaction that commits late is never skipped."""

import asyncio
import uuid

from sqlalchemy import text

from app.followups.repository import FollowUpRepository
from app.models.states import EventType
from app.webhooks.events import record_event
from app.webhooks.payloads import FollowUpUpdated
from tests.fixtures.committed import (  # noqa: F401 (fixtures)
    LOCK_WAIT_TIMEOUT,
    CommittedApp,
    admin,
    client,
    committed,
    committed_app,
    committed_url,
)
from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok
from tests.followups.support import book, patch
from tests.followups.sync_support import by_id, sync

# The oldest transaction still running anywhere on the server, as a snapshot sees it.
XMIN = text("SELECT CAST(CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text) AS bigint)")


async def _until_settled(committed: CommittedApp, txid: int) -> None:
    """Return once every transaction up to `txid` has ended, server-wide.

    Other sessions on the server (other test runs among them) may hold the horizon back for a
    moment; this waits for a state the database reports, not for a guessed time.
    """
    assert committed.database.engine is not None
    async with committed.database.engine.connect() as watcher:
        async with asyncio.timeout(LOCK_WAIT_TIMEOUT):
            while True:
                xmin = await watcher.scalar(XMIN)
                await watcher.rollback()
                if xmin is not None and xmin > txid:
                    return
                await asyncio.sleep(0.005)


async def test_a_change_committed_after_a_later_one_is_not_skipped(
    committed: CommittedApp, admin: Caller
) -> None:
    ada, bo = await admin.new_member(), await admin.new_member()
    early, late = await book(bo, ada, title="Early"), await book(bo, ada, title="Late")
    await _until_settled(committed, await _newest_txid(committed))
    _, cursor = await sync(ada)

    # A transaction changes `early` and records its event, so it holds the older txid...
    async with committed.database.sessionmaker() as slow:
        repository = FollowUpRepository(slow, admin.tenant_id)
        follow_up = await repository.get(uuid.UUID(early["id"]))
        assert follow_up is not None
        await repository.update(follow_up, {"title": "Committed last"})
        await record_event(
            slow, follow_up, EventType.FOLLOW_UP_UPDATED, FollowUpUpdated(fields=["title"])
        )
        slow_txid = int(await slow.scalar(text("SELECT pg_current_xact_id()::text::bigint")) or 0)

        # ...while a newer one changes `late` and commits first; then Ada syncs.
        ok(await patch(bo, late["id"], {"title": "Committed first"}))
        during, cursor = await sync(ada, cursor)
        assert early["id"] not in by_id(during)
        await slow.commit()

    newest = await _newest_txid(committed)
    assert newest > slow_txid
    await _until_settled(committed, newest)
    after, _ = await sync(ada, cursor)

    # The older transaction's change comes after it commits, though a newer one came first.
    assert by_id(after)[early["id"]]["title"] == "Committed last"
    # (Here the newer one waited for the older: it is not settled while the older runs.)
    assert [entry["id"] for entry in during + after].count(late["id"]) == 1
    assert by_id(during + after)[late["id"]]["title"] == "Committed first"


async def test_a_sync_waits_behind_a_running_transaction_then_catches_up(
    committed: CommittedApp, admin: Caller
) -> None:
    ada, bo = await admin.new_member(), await admin.new_member()
    follow_up = await book(bo, ada)
    await _until_settled(committed, await _newest_txid(committed))
    _, cursor = await sync(ada)
    assert committed.database.engine is not None
    async with committed.database.engine.connect() as holder:
        # A transaction with an id, open: nothing after it is settled until it ends.
        await holder.execute(text("SELECT pg_current_xact_id()"))
        ok(await patch(bo, follow_up["id"], {"title": "Behind the open one"}))

        during, same = await sync(ada, cursor)
        assert during == []
        await holder.rollback()

    await _until_settled(committed, await _newest_txid(committed))
    (entry,), _ = await sync(ada, same)
    assert entry["title"] == "Behind the open one"


async def _newest_txid(committed: CommittedApp) -> int:
    """The txid of the newest event in the database."""
    async with committed.database.sessionmaker() as session:
        return int(await session.scalar(text("SELECT max(txid) FROM events")) or 0)
