"""create_app(): the FastAPI factory, its middleware, routers and lifespan."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from app import __doc__ as summary
from app.apidocs.pages import install_docs
from app.auth.dependencies import document_bearer
from app.auth.members import ActiveMembers
from app.auth.tokens import TokenVerifier
from app.availability.cost import availability_cost
from app.availability.router import router as availability_router
from app.calendars.router import feed_router
from app.calendars.router import router as calendars_router
from app.config import Settings
from app.db.engine import Database, create_engine
from app.db.errors import install_database_error_handler
from app.db.route import SessionRoute
from app.directory.router import router as directory_router
from app.followups.horizon import HorizonJob
from app.followups.router import router as followups_router
from app.followups.series_router import router as series_router
from app.imip.router import router as imip_router
from app.imip.sender import MailJob
from app.invitations.router import router as invitations_router
from app.kit.cors import install_cors
from app.kit.errors import install_error_handlers
from app.kit.limits import BodySizeLimit
from app.kit.openapi import install_openapi, operation_id
from app.kit.strict_query import reject_unknown_query_params
from app.kit.telemetry import RequestTelemetry
from app.notifications.router import router as notifications_router
from app.ops.metrics import MetricsServer
from app.ops.router import metrics_router
from app.ops.router import router as ops_router
from app.ratelimits.dependencies import RESPONSES as RATE_LIMITED
from app.ratelimits.dependencies import document_rate_limit_headers, priced
from app.ratelimits.limiter import RateLimiter
from app.retention.job import RetentionJob
from app.ui.pages import install_ui
from app.webhooks.document import add_webhooks
from app.webhooks.election import in_process_dispatcher
from app.webhooks.metrics import QueueGauges
from app.webhooks.router import router as webhooks_router

VERSION = "0.1.0"
logger = logging.getLogger(__name__)

TAGS = [
    {"name": "associates", "description": "Colleagues with diaries, time zones, working hours"},
    {"name": "resources", "description": "Rooms and equipment"},
    {"name": "contacts", "description": "External companies"},
    {"name": "persons", "description": "People at contacts; no diary"},
    {"name": "follow-ups", "description": "The organizer's side: book, change, reassign"},
    {"name": "invitations", "description": "The invitee's side: inbox, seen, answers"},
    {"name": "notifications", "description": "The on-screen inbox"},
    {"name": "availability", "description": "Group free/busy and the first free slot"},
    {"name": "feeds", "description": "Colleagues' diaries as iCalendar subscriptions"},
    {"name": "webhooks", "description": "Signed event delivery to subscribers (admin)"},
    {"name": "events", "description": "The tenant's event feed, for catching up (admin)"},
    {"name": "operations", "description": "Health, readiness and metrics"},
]


def _log_failure(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        logger.error("%s stopped", task.get_name(), exc_info=task.exception())


def create_app(settings: Settings | None = None, database_url: str | None = None) -> FastAPI:
    """Build the app; the engine is made in the lifespan, from `database_url` or the settings."""
    settings = settings or Settings()
    settings.check()
    url = database_url or settings.database_url

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if url is None:
            raise RuntimeError("no database URL: run `convene serve`, or set CONVENE_DATABASE_URL")
        read_url = settings.database_read_url
        database = Database.from_engine(
            create_engine(url, settings),
            create_engine(read_url, settings, "convene-read") if read_url else None,
        )
        app.state.database = database
        dispatcher = in_process_dispatcher(settings, url)
        # Retention runs where delivery does; its lock makes one process do each round.
        retention = RetentionJob(url, settings) if dispatcher is not None else None
        horizon = HorizonJob(url, settings) if dispatcher is not None else None
        mail = MailJob(url, settings) if dispatcher is not None and settings.mail_enabled else None
        running = []
        jobs = (
            ("webhook-dispatcher", dispatcher),
            ("retention job", retention),
            ("series job", horizon),
            ("mail job", mail),
        )
        for name, job in jobs:
            if job is not None:
                task = asyncio.create_task(job.run(), name=name)
                task.add_done_callback(_log_failure)
                running.append(task)
        metrics_server = None
        try:
            if settings.metrics_port is not None:
                server = MetricsServer(
                    settings.metrics_host, settings.metrics_port, database, app.state.queue_gauges
                )
                await server.start()  # a port already taken stops the start-up here
                metrics_server = server
            yield
        finally:
            for _, job in jobs:
                if job is not None:
                    await job.stop()
            await asyncio.gather(*running, return_exceptions=True)  # logged already
            if metrics_server is not None:
                await metrics_server.stop()
            await database.dispose()
            app.state.rate_limiter.close()

    app = FastAPI(
        title="Convene",
        version=VERSION,
        summary=summary,
        description=(
            "Follow-ups, invitations, availability and signed webhooks for CRM diaries. "
            "Every error is `application/problem+json` (RFC 9457) with a stable `code`."
        ),
        openapi_tags=TAGS,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        dependencies=[Depends(reject_unknown_query_params)],
        docs_url=None,  # install_docs serves both pages from packaged assets
        redoc_url=None,
    )
    # Routes without a body check the query themselves (the docs and UI pages below too),
    # and routes that take a session run inside it.
    app.router.route_class = SessionRoute
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    app.state.active_members = ActiveMembers(settings.member_cache_seconds)
    app.state.rate_limiter = RateLimiter.from_settings(settings)
    app.state.queue_gauges = QueueGauges(settings.metrics_queue_cache_seconds)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Added last, so outermost: 413s and 429s are logged and counted too, with their request id,
    # and every answer gets the rate limit's header fields the dependency computed.
    app.add_middleware(RequestTelemetry)
    install_error_handlers(app)
    install_database_error_handler(app)
    # Every /v1 operation is rate-limited once its caller is authenticated (get_principal);
    # an availability query by its cost.
    # A request is matched against the routes in this order, one after another: the most
    # requested come first. No two routers' paths overlap, except where noted.
    for router in (
        invitations_router,
        priced(availability_router, availability_cost),
        # Before follow-ups: `/follow-ups/{id}.ics` would otherwise match `/follow-ups/{id}`.
        calendars_router,
        followups_router,
        series_router,
        notifications_router,
        directory_router,
        imip_router,
        webhooks_router,
    ):
        app.include_router(router, responses=RATE_LIMITED)
    app.include_router(feed_router)
    app.include_router(ops_router)
    if settings.metrics_port is None:
        app.include_router(metrics_router)
    install_docs(app)
    install_ui(app)
    install_openapi(app, add_webhooks, document_bearer)
    document_rate_limit_headers(app)
    # Last, so it is the outermost middleware: preflights are answered before any other.
    install_cors(app, settings.cors_origins, settings.cors_allow_credentials)
    return app
