"""Liveness (/healthz), readiness (/readyz: database reachable, migrated) and /metrics."""

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import text

from app.db.migrations import is_at_head
from app.db.route import SessionRoute
from app.db.session import get_database
from app.models.states import DatabaseState, Liveness, ReadinessStatus
from app.ops.metrics import metrics_text

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"], route_class=SessionRoute)
# /metrics on the API port; not included when CONVENE_METRICS_PORT gives it a port of its own.
metrics_router = APIRouter(tags=["operations"], route_class=SessionRoute)


class Health(BaseModel):
    status: Liveness


class Readiness(BaseModel):
    status: ReadinessStatus
    database: DatabaseState


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive."""
    return Health(status=Liveness.OK)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready to serve"}},
)
async def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the migrations' head."""
    database = DatabaseState.OK
    try:
        async with get_database(request).sessionmaker() as session:
            connection = await session.connection()
            await connection.execute(text("SELECT 1"))
            if not await is_at_head(connection):
                database = DatabaseState.NOT_MIGRATED
    except Exception:
        logger.warning("readiness check failed", exc_info=True)
        database = DatabaseState.UNREACHABLE
    ready = database == DatabaseState.OK
    status = ReadinessStatus.READY if ready else ReadinessStatus.UNAVAILABLE
    body = Readiness(status=status, database=database)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if ready else 503)


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(request: Request) -> Response:
    """Prometheus metrics: HTTP requests and latency per route, webhook delivery and queue."""
    body = await metrics_text(get_database(request), request.app.state.queue_gauges)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
