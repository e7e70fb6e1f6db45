"""The Prometheus text of /metrics, on the API port or on a port of its own."""

import logging

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.db.engine import Database
from app.kit.metrics import metrics_registry
from app.kit.multiprocess import multiprocess_dir
from app.webhooks.metrics import QueueGauges

logger = logging.getLogger(__name__)


async def metrics_text(database: Database, gauges: QueueGauges) -> bytes:
    """Every metric of this process (or of all of them, in multiprocess mode), gauges fresh."""
    await gauges.refresh(database.sessionmaker)
    return generate_latest(metrics_registry())


class MetricsServer:
    """GET /metrics on its own port (CONVENE_METRICS_PORT), beside the API's.

    In multiprocess mode every API process listens on the port (SO_REUSEPORT) and each
    answers with the sum of all of them, so whichever the kernel picks, the scrape is whole.
    """

    def __init__(self, host: str, port: int, database: Database, gauges: QueueGauges) -> None:
        self.host = host
        self.port = port
        self._database = database
        self._gauges = gauges
        application = web.Application()
        application.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(application, access_log=None)

    async def _metrics(self, request: web.Request) -> web.Response:
        body = await metrics_text(self._database, self._gauges)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        """Listen on the metrics port."""
        await self._runner.setup()
        shared = multiprocess_dir() is not None
        site = web.TCPSite(self._runner, self.host, self.port, reuse_port=shared or None)
        try:
            await site.start()
        except BaseException:
            await self._runner.cleanup()
            raise
        logger.info("metrics on http://%s:%d/metrics", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        await self._runner.cleanup()
