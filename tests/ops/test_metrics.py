"""/metrics: HTTP figures, queue gauges read at most once per interval, its own port, workers."""

import asyncio
import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.main import create_app
from app.webhooks.metrics import QueueGauges
from tests.fixtures.factories import TEST_SECRET, TEST_SECRET_KEYS
from tests.fixtures.servers import convene_env, free_port, serve_process
from tests.fixtures.statements import statements

QUEUE_QUERY = "FROM webhook_deliveries d"
HEALTHZ_200 = {"route": "/healthz", "method": "GET", "status": "200"}


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sample(text: str, name: str, labels: dict[str, str]) -> float | None:
    """The value of one sample in Prometheus text, or None if it is not there."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return found.value
    return None


def queue_reads(sent: list[str]) -> int:
    return sum(QUEUE_QUERY in statement for statement in sent)


# Queue gauges -------------------------------------------------------------------------------


async def test_the_queue_is_read_once_per_interval_however_often_it_is_scraped(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    clock = Clock()
    app.state.queue_gauges = QueueGauges(5.0, clock=clock)

    with statements(engine) as sent:
        for _ in range(5):
            assert (await client.get("/metrics")).status_code == 200
        clock.now += 4.9
        assert (await client.get("/metrics")).status_code == 200
        assert queue_reads(sent) == 1

        clock.now += 0.2
        response = await client.get("/metrics")
        assert queue_reads(sent) == 2

    assert sample(response.text, "convene_webhook_queue_depth", {}) == 0.0


async def test_concurrent_scrapes_share_one_reading(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    app.state.queue_gauges = QueueGauges(5.0, clock=Clock())

    with statements(engine) as sent:
        responses = await asyncio.gather(*(client.get("/metrics") for _ in range(8)))

    assert [r.status_code for r in responses] == [200] * 8
    assert queue_reads(sent) == 1


async def test_a_cache_of_zero_seconds_reads_at_every_scrape(
    app: FastAPI, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    app.state.queue_gauges = QueueGauges(0.0, clock=Clock())

    with statements(engine) as sent:
        for _ in range(3):
            await client.get("/metrics")

    assert queue_reads(sent) == 3


# Its own port, in process ---------------------------------------------------------------------


def own_port_app(database_url: str, tmp_path: Path, port: int) -> FastAPI:
    settings = Settings(
        jwt_secret=TEST_SECRET,
        data_dir=tmp_path,
        database_url=database_url,
        webhook_dispatcher="off",
        metrics_port=port,
    )
    return create_app(settings)


async def test_the_metrics_port_serves_metrics_and_the_api_port_does_not(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    app = own_port_app(database_url, tmp_path, port)
    transport = httpx.ASGITransport(app=app)

    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://convene.test") as api,
        httpx.AsyncClient() as scraper,
    ):
        assert (await api.get("/healthz")).status_code == 200
        on_api_port = await api.get("/metrics")
        scraped = await scraper.get(f"http://127.0.0.1:{port}/metrics")
        elsewhere = await scraper.get(f"http://127.0.0.1:{port}/healthz")

    assert on_api_port.status_code == 404
    assert scraped.status_code == 200
    assert sample(scraped.text, "convene_http_requests_total", HEALTHZ_200)
    assert elsewhere.status_code == 404
    async with httpx.AsyncClient() as scraper:
        with pytest.raises(httpx.ConnectError):  # stopped with the app
            await scraper.get(f"http://127.0.0.1:{port}/metrics")


async def test_a_metrics_port_already_taken_stops_the_start(
    database_url: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        app = own_port_app(database_url, tmp_path, taken.getsockname()[1])

        with pytest.raises(OSError, match="address already in use"):
            async with app.router.lifespan_context(app):
                pass


# A real process: JSON logs, /metrics on its own port ----------------------------------------


def json_lines(log: Path) -> list[dict[str, object]]:
    """Every line of a `convene serve` log but its banner, each parsed as JSON."""
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    banner = [line for line in lines if line.startswith("Convene on http://")]
    assert len(banner) == 1, lines
    return [json.loads(line) for line in lines if line not in banner]


@pytest.mark.slow
def test_serve_logs_json_lines_and_moves_metrics_to_their_own_port(
    tmp_path: Path, make_database: Callable[..., str]
) -> None:
    metrics_port = free_port()
    env = convene_env(
        CONVENE_DATABASE_URL=make_database(),
        CONVENE_JWT_SECRET=TEST_SECRET,
        CONVENE_SECRET_KEYS=json.dumps(TEST_SECRET_KEYS),  # production needs them
        CONVENE_ENVIRONMENT="production",
        CONVENE_METRICS_PORT=str(metrics_port),
    )
    with serve_process(tmp_path / "data", env) as served:
        for n in range(3):
            ok = httpx.get(f"{served.base}/healthz", headers={"X-Request-ID": f"probe-{n}"})
            assert ok.headers["x-request-id"] == f"probe-{n}"
        anonymous = httpx.get(f"{served.base}/v1/associates")
        assert anonymous.status_code == 401
        on_api_port = httpx.get(f"{served.base}/metrics")
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")

    assert on_api_port.status_code == 404
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=")
    assert sample(scraped.text, "convene_http_requests_total", HEALTHZ_200) is not None
    assert sample(scraped.text, "convene_webhook_queue_depth", {}) == 0.0

    lines = json_lines(served.log)  # production: JSON without being asked
    access = [line for line in lines if line["logger"] == "convene.access"]
    probes = [line for line in access if str(line["request_id"]).startswith("probe-")]
    assert [line["request_id"] for line in probes] == ["probe-0", "probe-1", "probe-2"]
    assert all(line["route"] == "/healthz" and line["status"] == 200 for line in probes)
    refused = [line for line in access if line["status"] == 401]
    assert [line["reason"] for line in refused] == [
        "send a bearer token in the Authorization header"
    ]
    assert refused[0]["request_id"] == anonymous.headers["x-request-id"]
    metrics_404 = [line for line in access if line["route"] == "unmatched"]
    assert [line["status"] for line in metrics_404] == [404]
    # uvicorn's own access line is off; ours is the only line per request.
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    assert "HTTP/1.1" not in served.log.read_text()


def healthz_counts_by_process(directory: Path) -> dict[str, float]:
    """The /healthz 200 counter as each API process wrote it to its multiprocess file."""
    counts: dict[str, float] = {}
    for path in directory.glob("counter_*.db"):
        pid = path.stem.removeprefix("counter_")
        for key, value, _, _ in MmapedDict.read_all_values_from_file(str(path)):
            _, name, labels, _ = json.loads(key)
            if name == "convene_http_requests_total" and labels == HEALTHZ_200:
                counts[pid] = counts.get(pid, 0.0) + value
    return counts


def settled_counts(directory: Path) -> dict[str, float]:
    """The counts once they stop moving: a request is counted just after its answer is sent,
    so a client can see its answer a moment before the counter has it."""
    counts = healthz_counts_by_process(directory)
    for _ in range(50):
        time.sleep(0.1)
        again = healthz_counts_by_process(directory)
        if again == counts:
            return counts
        counts = again
    raise AssertionError(f"the counters kept moving: {counts}")


async def _hit(base: str, requests: int, concurrency: int) -> None:
    """GET /healthz `requests` times, each on a new connection, `concurrency` at once."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate, httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0)) as c:
            assert (await c.get(f"{base}/healthz")).status_code == 200

    await asyncio.gather(*(one() for _ in range(requests)))


@pytest.mark.slow
def test_with_workers_every_scrape_sums_every_process(
    tmp_path: Path, make_database: Callable[..., str]
) -> None:
    metrics_port = free_port()
    shared = tmp_path / "prometheus"
    env = convene_env(
        CONVENE_DATABASE_URL=make_database(),
        CONVENE_JWT_SECRET=TEST_SECRET,
        CONVENE_METRICS_PORT=str(metrics_port),
        CONVENE_WEBHOOK_DISPATCHER="off",
        PROMETHEUS_MULTIPROC_DIR=str(shared),
    )
    with serve_process(tmp_path / "data", env, "--workers", "2") as served:
        before = settled_counts(shared)  # the start-up health checks
        asyncio.run(_hit(served.base, 120, 16))
        expected = sum(before.values()) + 120
        settled_counts(shared)
        scrapes = []
        for _ in range(10):  # new connections: SO_REUSEPORT spreads them over both workers
            with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as scraper:
                scrapes.append(scraper.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
        by_process = healthz_counts_by_process(shared)

    assert len([count for count in by_process.values() if count > 0]) == 2, by_process
    assert sum(by_process.values()) == expected
    assert {sample(text, "convene_http_requests_total", HEALTHZ_200) for text in scrapes} == {
        expected
    }
