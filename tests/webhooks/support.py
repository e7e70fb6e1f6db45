"""Delivery tests' world: a committed database, the app on it, a running dispatcher, a receiver."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from sqlalchemy import text

from app.config import Settings
from app.webhooks.dispatcher import Dispatcher
from tests.fixtures.committed import CommittedApp, acting_through, committed_app
from tests.fixtures.factories import TEST_SECRET, Caller, follow_up_body
from tests.fixtures.pgbouncer import database_settings
from tests.webhooks.receiver import Receiver

RESPONSES = ["invitation.accepted", "invitation.declined", "invitation.tentative"]
Delivery = dict[str, Any]


def dispatcher_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Fast settings for tests: http to loopback allowed, sub-second retries and polls."""
    values: dict[str, Any] = {
        "jwt_secret": TEST_SECRET,
        "data_dir": data_dir,
        "database_url": None,
        "webhook_allow_http": True,
        "webhook_allowed_networks": [IPv4Network("127.0.0.0/8")],
        "webhook_retry_delays": [0.2, 0.2, 0.2, 0.2],
        "webhook_poll_seconds": 0.1,
        "webhook_timeout_seconds": 5.0,
        **overrides,
    }
    return Settings(**values)


@asynccontextmanager
async def dispatching(
    url: str, settings: Settings, stop_timeout: float = 30
) -> AsyncIterator[Dispatcher]:
    """A dispatcher running in this event loop until the block ends."""
    dispatcher = Dispatcher(url, settings)
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        await dispatcher.stop()
        await asyncio.wait_for(task, stop_timeout)


@dataclass
class World:
    """An admin of a fresh tenant on the committed app, an organizer and the receiver."""

    committed: CommittedApp
    admin: Caller
    receiver: Receiver
    dispatcher: Dispatcher | None = None
    receivers: list[Receiver] = field(default_factory=list)

    async def subscribe(
        self,
        event_types: list[str] | None = None,
        path: str = "/hook",
        receiver: Receiver | None = None,
        admin: Caller | None = None,
    ) -> dict[str, Any]:
        """Register the receiver's `path`; returns the webhook with its secret."""
        return await (admin or self.admin).create(
            "/v1/webhooks",
            {
                "url": (receiver or self.receiver).url(path),
                "event_types": event_types or RESPONSES,
            },
        )

    async def invite(self, organizer: Caller, *invitees: Caller) -> tuple[str, dict[str, str]]:
        """A follow-up, and each invitee's participant id by associate id."""
        created = await organizer.create(
            "/v1/follow-ups",
            follow_up_body(participants=[{"associate_id": i.subject} for i in invitees]),
        )
        ids = {
            p["associate_id"]: p["id"] for p in created["participants"] if p["role"] != "organizer"
        }
        return created["id"], ids

    async def another_receiver(self) -> Receiver:
        """One more receiver on its own port, stopped (and its endpoints disabled) at the end."""
        receiver = await Receiver().start()
        self.receivers.append(receiver)
        return receiver

    def another_tenant(self, subject: str = "provisioning") -> Caller:
        """An admin of a fresh tenant, through the same client."""
        return Caller(self.admin.client, uuid.uuid4(), subject=subject, admin=True)

    async def sql(self, statement: str, **params: Any) -> list[Any]:
        """Run SQL on the committed database in a transaction of its own; the rows if any."""
        engine = self.committed.database.engine
        assert engine is not None
        async with engine.begin() as connection:
            result = await connection.execute(text(statement), params)
            return list(result.all()) if result.returns_rows else []

    async def deliveries(
        self, webhook_id: str, status: str | None = None, admin: Caller | None = None
    ) -> list[Delivery]:
        """The endpoint's delivery log (newest first), as GET .../deliveries shows it."""
        params: dict[str, Any] = {"limit": 200}
        if status is not None:
            params["status"] = status
        response = await (admin or self.admin).get(
            f"/v1/webhooks/{webhook_id}/deliveries", params=params
        )
        assert response.status_code == 200, response.text
        items: list[Delivery] = response.json()["items"]
        return items

    async def until_deliveries(
        self,
        webhook_id: str,
        done: Callable[[list[Delivery]], bool],
        timeout: float = 10.0,  # noqa: ASYNC109
        admin: Caller | None = None,
    ) -> list[Delivery]:
        """Poll the delivery log until `done(log)` holds; fail with the log after `timeout`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            log = await self.deliveries(webhook_id, admin=admin)
            if done(log):
                return log
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"delivery log never got there: {log}")
            await asyncio.sleep(0.05)

    async def _disable_endpoints(self) -> None:
        """Leave nothing queued for later tests on this database: our endpoints stop here."""
        urls = [f"http://127.0.0.1:{r.port}/%" for r in (self.receiver, *self.receivers)]
        await self.sql(
            "UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'manual' "
            "WHERE enabled AND url LIKE ANY(:urls)",
            urls=urls,
        )


@asynccontextmanager
async def world(
    url: str, data_dir: Path, stop_timeout: float = 30, **settings: Any
) -> AsyncIterator[World]:
    """The committed app on `url`, a dispatcher with test settings, and a started receiver."""
    receiver = await Receiver().start()
    settings = {**database_settings(url), **settings}
    try:
        async with committed_app(url, data_dir) as committed:
            committed.app.state.settings = dispatcher_settings(data_dir, **settings)
            async with (
                committed.client() as client,
                dispatching(
                    url, dispatcher_settings(data_dir, **settings), stop_timeout
                ) as dispatcher,
            ):
                admin = Caller(client, uuid.uuid4(), subject="provisioning", admin=True)
                w = World(committed, acting_through(admin, client), receiver, dispatcher)
                try:
                    yield w
                finally:
                    await w._disable_endpoints()
                    for extra in w.receivers:
                        await extra.stop()
    finally:
        await receiver.stop()
