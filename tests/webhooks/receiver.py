"""A real HTTP receiver on loopback: records every request, answers as a test scripts it."""

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified_by(self, secret: str) -> dict[str, Any]:
        """The payload, verified with the reference standardwebhooks package (raises if bad)."""
        payload: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        return payload


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"
    delay: float = 0.0


class Receiver:
    """An aiohttp server on 127.0.0.1; `answer()` queues scripted replies (then 200s)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: dict[str, deque[Answer]] = {}
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *answers: Answer, path: str = "/hook") -> None:
        """Reply to the next requests on `path` with these answers, in order."""
        self._script.setdefault(path, deque()).extend(answers)

    def on(self, path: str = "/hook") -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def start(self) -> "Receiver":
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        script = self._script.get(request.path)
        answer = script.popleft() if script else Answer()
        if answer.delay:
            await asyncio.sleep(answer.delay)
        async with self._arrived:
            self.received.append(
                Received(request.path, dict(request.headers), body, time.monotonic())
            )
            self._arrived.notify_all()
        return web.Response(status=answer.status, headers=answer.headers, text=answer.body)

    async def wait_for(self, count: int, path: str = "/hook", timeout: float = 15.0) -> list[Received]:
        """Wait until `path` has received at least `count` requests; return them all."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.on(path)) >= count)
        return self.on(path)

    async def stays_quiet(self, path: str = "/hook", seconds: float = 1.0) -> bool:
        """Whether nothing more arrives on `path` for `seconds`."""
        before = len(self.on(path))
        await asyncio.sleep(seconds)
        return len(self.on(path)) == before
