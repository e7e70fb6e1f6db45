"""Liveness (/healthz), readiness (/readyz: database reachable, migrated) and /metrics."""

import logging
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from app.db.migrations import is_at_head
from app.db.session import get_database
from app.webhooks.metrics import refresh_queue_gauges

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "unavailable"]
    database: Literal["ok", "unreachable", "not_migrated"]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready to serve"}},
)
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the migrations' head."""
    database = "ok"
    try:
        async with get_database(request).sessionmaker() as session:
            connection = await session.connection()
            await connection.execute(text("SELECT 1"))
            if not await is_at_head(connection):
                database = "not_migrated"
    except Exception:
        logger.warning("readiness check failed", exc_info=True)
        database = "unreachable"
    ready = database == "ok"
    body = Readiness(status="ready" if ready else "unavailable", database=database)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: webhook deliveries by outcome, queue depth, oldest due, latency."""
    try:
        async with get_database(request).sessionmaker() as session:
            await refresh_queue_gauges(session)
    except Exception:
        # The counters are still worth serving; the queue gauges keep their last reading.
        logger.warning("could not read the webhook queue for /metrics", exc_info=True)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
