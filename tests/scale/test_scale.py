"""Scale-out end to end: two API processes and two `convene worker`s, all behind PgBouncer.

Requests alternate between the two API processes. 50 concurrent bookings of one strict room
admit exactly one; 2,000 answers are each delivered to a real receiver exactly once, and every
follow-up's events arrive in seq order.
"""

import asyncio
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, ExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from app.auth.tokens import issue_token
from app.db.engine import plain_dsn
from tests.fixtures.factories import TEST_SECRET, TEST_SECRET_KEYS
from tests.fixtures.pgbouncer import PgBouncer, database_env, direct
from tests.fixtures.servers import convene_env, convene_worker, serve_process
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import RESPONSES

pytestmark = pytest.mark.slow

BOOKINGS = 50
FOLLOW_UPS = 100
INVITEES = 5
ROUNDS = 4  # 100 follow-ups x 5 invitees x 4 answers = 2,000 events
IN_FLIGHT = 16  # requests at once, spread over both API processes
RETRIES = 3  # a lost connection is retried with the same Idempotency-Key
DELIVERY_SECONDS = 90
STATUSES = ("accepted", "declined", "tentative")
START = datetime(2026, 6, 1, 9, tzinfo=UTC)


@pytest.fixture
def url(make_database: Callable[..., str], pgbouncer: PgBouncer) -> str:
    """A fresh migrated database, reached through PgBouncer in transaction mode."""
    return pgbouncer.routed(direct(make_database()))


def _env(url: str) -> dict[str, str]:
    return convene_env(
        **database_env(url),
        CONVENE_JWT_SECRET=TEST_SECRET,
        # Every process has a data dir of its own, as on separate hosts: the keys are shared.
        CONVENE_SECRET_KEYS=json.dumps(TEST_SECRET_KEYS),
        CONVENE_WEBHOOK_DISPATCHER="off",  # the two workers deliver everything
        CONVENE_WEBHOOK_ALLOW_HTTP="true",
        CONVENE_WEBHOOK_ALLOWED_NETWORKS='["127.0.0.0/8"]',
        CONVENE_LOG_LEVEL="warning",
    )


class Tenant:
    """One tenant's callers, sending request n to API process n % 2."""

    def __init__(self, clients: list[httpx.AsyncClient]) -> None:
        self.clients = clients
        self.id = uuid.uuid4()
        self.sent = 0

    def token(self, subject: str, admin: bool = False) -> dict[str, str]:
        token = issue_token(TEST_SECRET, tenant_id=self.id, subject=subject, admin=admin)
        return {"Authorization": f"Bearer {token}"}

    async def post(self, subject: str, path: str, body: dict[str, Any]) -> httpx.Response:
        """POST with an Idempotency-Key, retried with it as a client would on a lost connection."""
        client = self.clients[self.sent % len(self.clients)]
        self.sent += 1
        headers = {**self.token(subject), "Idempotency-Key": str(uuid.uuid4())}
        for attempt in range(RETRIES + 1):
            try:
                response = await client.post(path, json=body, headers=headers)
            except httpx.TransportError:
                if attempt == RETRIES:
                    raise
            else:
                if response.json().get("code") != "idempotency_key_in_progress":
                    return response
            await asyncio.sleep(0.2)
        return response

    async def create(self, subject: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.post(subject, path, body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        headers = self.token("provisioning", admin=True)
        client = self.clients[0]
        response = await client.post(path, json=body, headers=headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def member(self, name: str) -> str:
        email = f"{uuid.uuid4().hex[:10]}@example.com"
        body = {"name": name, "email": email, "time_zone": "Europe/Copenhagen"}
        associate_id: str = (await self.admin("/v1/associates", body))["id"]
        return associate_id


async def bounded(items: list[Any], work: Callable[[Any], Awaitable[Any]]) -> list[Any]:
    """`work(item)` for every item, IN_FLIGHT at a time, results in order."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(item: Any) -> Any:
        async with gate:
            return await work(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


@asynccontextmanager
async def scaled_out(url: str, folder: Path) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two `convene serve` and two `convene worker`s on `url`; a client of each API process.

    At the end every process must have logged no error: a retried failure would pass unseen.
    """
    env = _env(url)
    logs: list[Path] = []
    bases: list[str] = []
    with ExitStack() as processes:
        for n in range(2):
            served = processes.enter_context(serve_process(folder / f"api-{n}" / "data", env))
            logs.append(served.log)
            bases.append(served.base)
        async with AsyncExitStack() as stack:
            for n in range(2):
                worker = await stack.enter_async_context(
                    convene_worker(env, folder / f"worker-{n}.log")
                )
                logs.append(worker.log)
            # Idle connections are dropped well before uvicorn's keep-alive timeout (5 s), so
            # none is reused at the moment the server closes it.
            limits = httpx.Limits(max_connections=IN_FLIGHT, keepalive_expiry=1)
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=base, limits=limits, timeout=60)
                )
                for base in bases
            ]
            yield clients
    for log in logs:
        output = log.read_text(errors="replace")
        assert " ERROR " not in output, output
        assert "Traceback" not in output, output


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    started = await Receiver().start()
    try:
        yield started
    finally:
        await started.stop()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Where the processes keep their data dirs and logs."""
    for n in range(2):
        (tmp_path / f"api-{n}").mkdir()
    return tmp_path


async def _booking_race(tenant: Tenant) -> None:
    """50 overlapping bookings of one strict room at once: one 201, 49 409s."""
    room = await tenant.admin(
        "/v1/resources", {"name": "Boardroom", "kind": "room", "allow_double_booking": False}
    )
    organizers = [await tenant.member(f"Organizer {n}") for n in range(2)]

    async def book(n: int) -> httpx.Response:
        start = START + timedelta(minutes=n)
        return await tenant.post(
            organizers[n % 2],
            "/v1/follow-ups",
            {
                "title": f"Request {n}",
                "start_at": start.isoformat(),
                "end_at": (start + timedelta(hours=1)).isoformat(),
                "participants": [{"resource_id": room["id"]}],
            },
        )

    responses = await asyncio.gather(*(book(n) for n in range(BOOKINGS)))
    codes = Counter(r.status_code for r in responses)
    assert codes == {201: 1, 409: BOOKINGS - 1}, [r.text for r in responses if r.status_code > 409]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"resource_taken"}


async def _answers(tenant: Tenant) -> None:
    """FOLLOW_UPS follow-ups of INVITEES each, then ROUNDS rounds of answers, each a change."""
    organizer = await tenant.member("Olga Organizer")
    invitees = [await tenant.member(f"Invitee {i}") for i in range(INVITEES)]

    async def follow_up(n: int) -> dict[str, str]:
        start = START + timedelta(days=1 + n % 60, hours=n % 7)
        created = await tenant.create(
            organizer,
            "/v1/follow-ups",
            {
                "title": f"Review {n}",
                "start_at": start.isoformat(),
                "end_at": (start + timedelta(hours=1)).isoformat(),
                "participants": [{"associate_id": i} for i in invitees],
            },
        )
        return {p["associate_id"]: p["id"] for p in created["participants"]}

    invitations = [
        (invitee, ids[invitee], i)
        for ids in await bounded(list(range(FOLLOW_UPS)), follow_up)
        for i, invitee in enumerate(invitees)
    ]
    for round_ in range(ROUNDS):

        async def answer(invitation: tuple[str, str, int], round_: int = round_) -> None:
            invitee, participant_id, i = invitation
            # Consecutive rounds give each invitation a different answer: every one is an event.
            status = STATUSES[(i + round_) % len(STATUSES)]
            response = await tenant.post(
                invitee, f"/v1/invitations/{participant_id}/response", {"status": status}
            )
            assert response.status_code == 200, response.text

        await bounded(invitations, answer)


async def _recorded_events(url: str, tenant: Tenant) -> set[str]:
    connection = await asyncpg.connect(plain_dsn(direct(url)))
    try:
        rows = await connection.fetch(
            "SELECT id FROM events WHERE tenant_id = $1 AND type = ANY($2)", tenant.id, RESPONSES
        )
    finally:
        await connection.close()
    return {str(row["id"]) for row in rows}


async def test_two_api_processes_and_two_workers_behind_pgbouncer(
    url: str, folder: Path, receiver: Receiver
) -> None:
    async with scaled_out(url, folder) as clients:
        tenant = Tenant(clients)
        webhook = await tenant.admin(
            "/v1/webhooks", {"url": receiver.url(), "event_types": RESPONSES}
        )
        await _booking_race(tenant)
        await _answers(tenant)
        answers = FOLLOW_UPS * INVITEES * ROUNDS
        received = await receiver.wait_for(answers, timeout=DELIVERY_SECONDS)
        assert await receiver.stays_quiet(seconds=1.0), "more deliveries than events"
        assert tenant.sent >= BOOKINGS + answers

    ids = [message.webhook_id for message in received]
    assert len(ids) == answers
    assert len(set(ids)) == answers, "an event was delivered twice"
    assert set(ids) == await _recorded_events(url, tenant), "an event was lost or invented"
    seqs: dict[str, list[int]] = defaultdict(list)
    for message in sorted(received, key=lambda m: m.arrived):
        payload = message.verified_by(webhook["secret"])
        data = json.loads(message.body)["data"]
        assert payload["data"] == data
        seqs[data["follow_up_id"]].append(data["seq"])
    assert len(seqs) == FOLLOW_UPS
    out_of_order = {f: s for f, s in seqs.items() if s != sorted(s)}
    assert not out_of_order, f"events arrived out of seq order: {out_of_order}"
