"""Delivery tests' world: a committed database, the app on it, a running dispatcher, a receiver."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from app.config import Settings
from app.webhooks.dispatcher import Dispatcher
from tests.factories import TEST_SECRET, Caller, follow_up_body
from tests.followups.committed import CommittedApp, acting_through, committed_app
from tests.webhooks.receiver import Receiver

RESPONSES = ["invitation.accepted", "invitation.declined", "invitation.tentative"]


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
async def dispatching(url: str, settings: Settings) -> AsyncIterator[Dispatcher]:
    """A dispatcher running in this event loop until the block ends."""
    dispatcher = Dispatcher(url, settings)
    task = asyncio.create_task(dispatcher.run())
    try:
        yield dispatcher
    finally:
        await dispatcher.stop()
        await asyncio.wait_for(task, 30)


@dataclass
class World:
    """An admin of a fresh tenant on the committed app, an organizer and the receiver."""

    committed: CommittedApp
    admin: Caller
    receiver: Receiver

    async def subscribe(
        self, event_types: list[str] | None = None, path: str = "/hook"
    ) -> dict[str, Any]:
        """Register the receiver's `path`; returns the webhook with its secret."""
        return await self.admin.create(
            "/v1/webhooks",
            {"url": self.receiver.url(path), "event_types": event_types or RESPONSES},
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


@asynccontextmanager
async def world(url: str, data_dir: Path, **settings: Any) -> AsyncIterator[World]:
    """The committed app on `url`, a dispatcher with test settings, and a started receiver."""
    receiver = await Receiver().start()
    try:
        async with committed_app(url, data_dir) as committed:
            committed.app.state.settings = dispatcher_settings(data_dir, **settings)
            async with committed.client() as client, dispatching(
                url, dispatcher_settings(data_dir, **settings)
            ):
                admin = Caller(client, uuid.uuid4(), subject="provisioning", admin=True)
                yield World(committed, acting_through(admin, client), receiver)
    finally:
        await receiver.stop()
