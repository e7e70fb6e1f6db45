"""A real HTTP receiver on loopback: records every request, answers as a test scripts it."""

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from standardwebhooks.webhooks import Webhook

from tests.webhooks.payload_schema import check_payload


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() when it was answered
    arrived: float = 0.0  # time.monotonic() when it came in (before any scripted delay)

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def verified_by(self, secret: str) -> dict[str, Any]:
        """The payload, verified with the reference standardwebhooks package (raises if bad).

        It must also be what the OpenAPI document's `webhooks` entry for its type describes.
        """
        payload: dict[str, Any] = Webhook(secret).verify(self.body, self.headers)
        check_payload(payload)
        return payload


@dataclass(frozen=True)
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | bytes = "ok"
    delay: float = 0.0


class Receiver:
    """An aiohttp server on 127.0.0.1; `answer()` queues scripted replies (then 200s).

    `always()` changes what a path answers once its script runs out. Requests are recorded in
    `received` when answered; `arrivals` counts them as they come in.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: dict[str, deque[Answer]] = {}
        self._default: dict[str, Answer] = {}
        self._arrived = asyncio.Condition()
        self._arrivals: dict[str, int] = {}
        self._busy: dict[str, int] = {}
        self._peak: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *answers: Answer, path: str = "/hook") -> None:
        """Reply to the next requests on `path` with these answers, in order."""
        self._script.setdefault(path, deque()).extend(answers)

    def always(self, answer: Answer, path: str = "/hook") -> None:
        """Reply with `answer` on `path` whenever no scripted answer is left (default: 200)."""
        self._default[path] = answer

    def on(self, path: str = "/hook") -> list[Received]:
        return [r for r in self.received if r.path == path]

    def arrivals(self, path: str = "/hook") -> int:
        """How many requests have come in on `path`, answered or not yet."""
        return self._arrivals.get(path, 0)

    def busy(self, path: str = "/hook") -> int:
        """How many requests on `path` are being answered right now."""
        return self._busy.get(path, 0)

    def peak(self, path: str = "/hook") -> int:
        """The most requests on `path` that were ever being answered at once."""
        return self._peak.get(path, 0)

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
        arrived = time.monotonic()
        path = request.path
        async with self._arrived:
            self._arrivals[path] = self._arrivals.get(path, 0) + 1
            self._busy[path] = self._busy.get(path, 0) + 1
            self._peak[path] = max(self._peak.get(path, 0), self._busy[path])
            self._arrived.notify_all()
        try:
            body = await request.read()
            script = self._script.get(path)
            answer = script.popleft() if script else self._default.get(path, Answer())
            if answer.delay:
                await asyncio.sleep(answer.delay)
        finally:
            self._busy[path] -= 1
        async with self._arrived:
            self.received.append(
                Received(path, dict(request.headers), body, time.monotonic(), arrived)
            )
            self._arrived.notify_all()
        if isinstance(answer.body, bytes):
            return web.Response(status=answer.status, headers=answer.headers, body=answer.body)
        return web.Response(status=answer.status, headers=answer.headers, text=answer.body)

    async def wait_for(
        self,
        count: int,
        path: str = "/hook",
        timeout: float = 15.0,  # noqa: ASYNC109
    ) -> list[Received]:
        """Wait until `path` has received at least `count` requests; return them all."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.on(path)) >= count)
        return self.on(path)

    async def wait_for_arrivals(
        self,
        count: int,
        path: str = "/hook",
        timeout: float = 15.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until `path` has had at least `count` requests come in (answered or not)."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: self.arrivals(path) >= count)

    async def wait_until_busy(
        self,
        count: int,
        paths: list[str],
        timeout: float = 15.0,  # noqa: ASYNC109
    ) -> None:
        """Wait until at least `count` requests on `paths` are being answered at once."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: sum(self.busy(p) for p in paths) >= count)

    async def wait_until(
        self,
        done: Callable[[list[Received]], bool],
        timeout: float = 15.0,  # noqa: ASYNC109
    ) -> list[Received]:
        """Wait until `done(every request answered so far)` holds; return them all."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: done(self.received))
        return list(self.received)

    async def stays_quiet(self, path: str = "/hook", seconds: float = 1.0) -> bool:
        """Whether nothing more arrives on `path` for `seconds`."""
        before = self.arrivals(path)
        await asyncio.sleep(seconds)
        return self.arrivals(path) == before
