"""The `convene` command: serve, worker, migrate, rotate-keys, token, demo, openapi."""

import argparse
import json
import logging
import logging.config
import os
import shutil
import signal
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from app.config import ConfigError, Settings
from app.kit.logs import log_config
from app.kit.multiprocess import MULTIPROCESS_ENV, multiprocess_dir

if TYPE_CHECKING:
    from app.demo import Demo

logger = logging.getLogger("convene")

OPENAPI_PATH = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The configured database URL, or an embedded server's, migrated to head."""
    from app.db.embedded import start_embedded_database
    from app.db.engine import migration_url
    from app.db.migrations import upgrade

    server = None
    url = settings.database_url
    if url is None:
        server, url = start_embedded_database(settings.data_dir)
        logger.info("embedded PostgreSQL ready (data in %s)", settings.data_dir.resolve())
    try:
        # Migrations take locks and run DDL across transactions: not through a pooler, and
        # as the schema's owner when the service itself connects as a role that only reads
        # and writes rows.
        upgrade(url if server is not None else migration_url(settings, url), settings=settings)
        yield url
    finally:
        if server is not None:
            server.stop()


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # uvicorn re-raises the signal it shut down for; exiting through SystemExit lets the
    # embedded server be stopped in `database()`'s finally instead of dying with us.
    raise SystemExit(128 + signum)


def _hand_to_workers(url: str, settings: Settings) -> None:
    """Put what the parent settled (the database it started, the data dir) in the environment.

    Workers are fresh interpreters (uvicorn spawns them) that build the app from the
    environment, so this is how they find the one embedded server instead of starting theirs.
    """
    os.environ["CONVENE_DATABASE_URL"] = url
    os.environ["CONVENE_DATA_DIR"] = str(settings.data_dir.resolve())


@contextmanager
def shared_metrics(workers: int) -> Iterator[None]:
    """With several API processes, prometheus multiprocess mode: /metrics sums them all.

    Each process writes its metrics to files in PROMETHEUS_MULTIPROC_DIR (yours if set, else
    a directory made for this run), so a scrape answered by any worker counts every worker.
    The directory is emptied first: its files are one run's counters. This runs before any
    metric exists in this process, since a metric in multiprocess mode opens its file at once.
    """
    given = multiprocess_dir()
    if workers == 1 and given is None:
        yield
        return
    directory = given or Path(tempfile.mkdtemp(prefix="convene-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_ENV] = str(directory)
    try:
        yield
    finally:
        if given is None:
            shutil.rmtree(directory, ignore_errors=True)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the API (migrating first), with an embedded Postgres unless a URL is set."""
    import uvicorn

    workers: int = args.workers or settings.serve_workers
    logging_config = log_config(settings.log_level, settings.effective_log_format)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        with shared_metrics(workers), database(settings) as url:
            from app.main import create_app

            processes = f", {workers} processes" if workers > 1 else ""
            print(
                f"Convene on http://{args.host}:{args.port}  (docs: /docs){processes}", flush=True
            )
            if workers == 1:
                uvicorn.run(
                    create_app(settings, database_url=url),
                    host=args.host,
                    port=args.port,
                    log_level=settings.log_level,
                    log_config=logging_config,
                    access_log=False,
                    proxy_headers=args.proxy_headers,
                )
            else:
                _hand_to_workers(url, settings)
                # uvicorn's supervisor: on SIGTERM it stops every worker and returns here, so
                # the embedded server is stopped last; a worker that dies is replaced.
                uvicorn.run(
                    "app.main:create_app",
                    factory=True,
                    workers=workers,
                    host=args.host,
                    port=args.port,
                    log_level=settings.log_level,
                    log_config=logging_config,
                    access_log=False,
                    proxy_headers=args.proxy_headers,
                )
    except KeyboardInterrupt:
        return 130
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Deliver webhooks (no API) against CONVENE_DATABASE_URL; run as many as you like.

    Each worker also takes part in the retention job (one of them runs each round), the
    series job (booking unbounded series further ahead) and, with CONVENE_SMTP_URL, the mail
    job (sending e-mailed invitations).
    """
    import asyncio

    from app.followups.horizon import HorizonJob
    from app.imip.sender import MailJob
    from app.retention.job import RetentionJob
    from app.webhooks.dispatcher import Dispatcher

    if settings.database_url is None:
        print(
            "convene worker needs CONVENE_DATABASE_URL (the database `convene serve` uses)",
            file=sys.stderr,
        )
        return 2
    if args.metrics_port:
        from prometheus_client import start_http_server

        from app.kit.metrics import metrics_registry

        start_http_server(args.metrics_port, addr=args.metrics_host, registry=metrics_registry())
    dispatcher = Dispatcher(settings.database_url, settings)
    retention = RetentionJob(settings.database_url, settings)
    horizon = HorizonJob(settings.database_url, settings)
    mail = MailJob(settings.database_url, settings) if settings.mail_enabled else None

    async def stop() -> None:
        await dispatcher.stop()
        await retention.stop()
        await horizon.stop()
        if mail is not None:
            await mail.stop()

    async def work() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, lambda: asyncio.ensure_future(stop()))
        logger.info("webhook worker started")
        purging = asyncio.create_task(retention.run(), name="retention job")
        booking = asyncio.create_task(horizon.run(), name="series job")
        sending = [asyncio.create_task(mail.run(), name="mail job")] if mail else []
        try:
            await dispatcher.run()
        finally:
            await retention.stop()
            await horizon.stop()
            if mail is not None:
                await mail.stop()
            await asyncio.gather(purging, booking, *sending, return_exceptions=True)
        logger.info("webhook worker stopped")

    asyncio.run(work())
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply every migration to the configured (or embedded) database."""
    with database(settings):
        print("database is at the latest migration")
    return 0


def cmd_rotate_keys(args: argparse.Namespace, settings: Settings) -> int:
    """Seal every webhook secret again under CONVENE_SECRET_KEY_ID (the other keys only open)."""
    import asyncio

    from sqlalchemy import NullPool
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.db.engine import async_url, direct_url
    from app.webhooks.sealed_secrets import Resealing, reseal_all

    keyring = settings.secret_keyring

    async def reseal(url: str) -> Resealing:
        engine = create_async_engine(async_url(url), poolclass=NullPool, hide_parameters=True)
        try:
            return await reseal_all(engine, keyring)
        finally:
            await engine.dispose()

    with database(settings) as url:
        done = asyncio.run(reseal(direct_url(settings, url)))
    print(f"resealed {done.resealed} webhook endpoints under key id {keyring.current!r}")
    if done.unreadable:
        print(
            f"{done.unreadable} endpoints hold secrets sealed under a key that is not in "
            "CONVENE_SECRET_KEYS (or altered): left as they were",
            file=sys.stderr,
        )
        return 1
    return 0


def _kept_id(path: Path) -> uuid.UUID:
    """An id generated once and kept in the data dir (the development tenant)."""
    if path.exists():
        return uuid.UUID(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True)
    value = uuid.uuid4()
    path.write_text(f"{value}\n")
    return value


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    """Print an HS256 token signed with the configured (or development) secret."""
    from app.auth.tokens import issue_token

    secret = settings.signing_secret
    if secret is None:
        print(
            "tokens are verified with a public key here; sign them with your issuer",
            file=sys.stderr,
        )
        return 2
    if args.associate is None and not args.admin:
        print("--associate is required unless --admin is given", file=sys.stderr)
        return 2
    ttl = timedelta(hours=args.ttl_hours)
    if args.admin and ttl.total_seconds() > settings.admin_token_max_lifetime_seconds:
        print(
            "an admin token may live at most CONVENE_ADMIN_TOKEN_MAX_LIFETIME_SECONDS "
            f"({settings.admin_token_max_lifetime_seconds}); lower --ttl-hours",
            file=sys.stderr,
        )
        return 2
    tenant = args.tenant or _kept_id(settings.data_dir / "tenant-id")
    subject = str(args.associate) if args.associate else args.subject
    token = issue_token(
        secret,
        tenant_id=tenant,
        subject=subject,
        admin=args.admin,
        ttl=ttl,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
    )
    if args.tenant is None:
        print(f"tenant {tenant}", file=sys.stderr)
    print(token)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Load the demo tenant (once); print shell exports of its ids and tokens."""
    import asyncio
    from datetime import date

    from app.auth.tokens import issue_token
    from app.db.engine import Database, create_engine
    from app.demo import load_demo

    tenant = args.tenant or _kept_id(settings.data_dir / "tenant-id")

    async def load(url: str) -> "Demo":
        database = Database.from_engine(create_engine(url, settings))
        try:
            async with database.sessionmaker.begin() as session:
                return await load_demo(session, tenant, date.today())
        finally:
            await database.dispose()

    with database(settings) as url:
        demo = asyncio.run(load(url))
    print(f"# demo tenant {tenant}: {'loaded' if demo.created else 'already there'}")
    print(f"export CONVENE_TENANT={tenant}")
    secret = settings.signing_secret
    ttl = timedelta(hours=args.ttl_hours)
    page = None
    for name, associate_id in demo.associates.items():
        key = name.split()[0].upper()
        print(f"export {key}_ID={associate_id}  # {name}")
        if secret:
            token = issue_token(secret, tenant_id=tenant, subject=str(associate_id), ttl=ttl)
            print(f"export {key}={token}")
            # The fragment never reaches a server; the page reads it and drops it.
            page = page or f"# group view as {name}: {args.url.rstrip('/')}/ui/#token={token}"
    if secret:
        admin_ttl = min(ttl, timedelta(seconds=settings.admin_token_max_lifetime_seconds))
        admin = issue_token(
            secret, tenant_id=tenant, subject="convene-demo", admin=True, ttl=admin_ttl
        )
        print(f"export ADMIN={admin}")
    if page:
        print(page)
    return 0


def render_openapi() -> str:
    """The app's OpenAPI document as committed in openapi/openapi.json."""
    from app.main import create_app

    # The document is the API port's, whatever port /metrics is configured to move to.
    settings = Settings(jwt_secret="openapi-export-only", metrics_port=None)  # noqa: S106
    schema = create_app(settings).openapi()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def cmd_openapi(args: argparse.Namespace, settings: Settings) -> int:
    """Write openapi/openapi.json, or with --check fail when it differs from the app."""
    rendered = render_openapi()
    path: Path = args.output
    if args.check:
        if not path.exists() or path.read_text() != rendered:
            print(f"{path} is out of date: run `convene openapi`", file=sys.stderr)
            return 1
        print(f"{path} matches the app")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rendered)
    print(f"wrote {path}")
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def version() -> str:
    """The installed package's version."""
    from importlib.metadata import version as installed

    return installed("convene")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    # --data-dir is accepted before or after the subcommand (`convene serve --data-dir d`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=argparse.SUPPRESS,
        help="where the embedded Postgres and development secret live (default ./.convene)",
    )
    parser = argparse.ArgumentParser(prog="convene", description=__doc__, parents=[common])
    parser.add_argument(
        "--version", action="version", version=f"convene {version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", parents=[common], help="serve the API")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    serve.add_argument(
        "--proxy-headers", action="store_true", help="trust X-Forwarded-* from a proxy"
    )
    serve.add_argument(
        "--workers",
        type=_positive,
        metavar="N",
        help="API processes on the one port (default: CONVENE_SERVE_WORKERS, else 1); the "
        "embedded database is started once, and CONVENE_WEBHOOK_DISPATCHER (all, one, off) "
        "says which of them run a webhook dispatcher",
    )
    serve.set_defaults(handler=cmd_serve)

    worker = sub.add_parser("worker", parents=[common], help="deliver webhooks (no API)")
    worker.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    worker.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address the metrics port listens on (127.0.0.1; 0.0.0.0 in a container)",
    )
    worker.set_defaults(handler=cmd_worker)

    migrate = sub.add_parser("migrate", parents=[common], help="apply database migrations")
    migrate.set_defaults(handler=cmd_migrate)

    rotate = sub.add_parser(
        "rotate-keys",
        parents=[common],
        help="seal every webhook secret again under CONVENE_SECRET_KEY_ID",
    )
    rotate.set_defaults(handler=cmd_rotate_keys)

    token = sub.add_parser("token", parents=[common], help="print a bearer token for local use")
    token.add_argument("--tenant", type=uuid.UUID, help="tenant id (default: the dev tenant)")
    token.add_argument("--associate", type=uuid.UUID, help="the associate the token acts as")
    token.add_argument("--admin", action="store_true", help="add the admin scope")
    token.add_argument("--subject", default="convene-cli", help="sub of an admin service token")
    token.add_argument("--ttl-hours", type=float, default=12.0, help="lifetime in hours (12)")
    token.set_defaults(handler=cmd_token)

    demo = sub.add_parser("demo", parents=[common], help="load a demo tenant and print tokens")
    demo.add_argument("--tenant", type=uuid.UUID, help="tenant id (default: the dev tenant)")
    demo.add_argument(
        "--ttl-hours", type=float, default=12.0, help="lifetime of the printed tokens (12)"
    )
    demo.add_argument(
        "--url",
        default="http://127.0.0.1:8000",
        help="where the API is served, for the printed group view link (http://127.0.0.1:8000)",
    )
    demo.set_defaults(handler=cmd_demo)

    openapi = sub.add_parser("openapi", parents=[common], help="write the OpenAPI document")
    openapi.add_argument(
        "--output", type=Path, default=OPENAPI_PATH, help="the file to write or check"
    )
    openapi.add_argument("--check", action="store_true", help="fail when the file is stale")
    openapi.set_defaults(handler=cmd_openapi)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `convene` console script."""
    args = build_parser().parse_args(argv)
    data_dir = getattr(args, "data_dir", None)
    overrides = {"data_dir": data_dir} if data_dir else {}
    try:
        settings = Settings(**overrides)
        logging.config.dictConfig(log_config(settings.log_level, settings.effective_log_format))
        settings.check()
        code: int = args.handler(args, settings)
    except ConfigError as exc:
        print(f"convene: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    raise SystemExit(main())
