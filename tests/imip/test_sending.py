"""The mail job sends queued invitations to a real SMTP server on loopback, retrying refusals.

The app and the job share a committed database; the job's rounds are run one at a time, so
each test knows exactly which attempts were made.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from app.imip.sender import MailJob
from app.main import create_app
from tests.fixtures.committed import committed_app
from tests.fixtures.factories import TEST_SECRET, Caller
from tests.fixtures.pgbouncer import database_settings
from tests.imip.support import (
    MAIL_FROM,
    Mailbox,
    attendees,
    calendar_part,
    invite_person,
    mail_settings,
    smtp_server,
    vevent,
)


@pytest.fixture(scope="module")
def committed_url(make_database: Callable[..., str]) -> str:
    return make_database()


@dataclass
class Sending:
    """An admin and organizer on the committed app, the mail job and the SMTP server's mailbox."""

    admin: Caller
    organizer: Caller
    job: MailJob
    engine: AsyncEngine
    mailbox: Mailbox

    async def messages(self, follow_up_id: str) -> list[Any]:
        async with self.engine.begin() as connection:
            rows = await connection.execute(
                text(
                    "SELECT status, attempts, last_error, sent_at, next_attempt_at "
                    "FROM mail_messages WHERE follow_up_id = :f"
                ),
                {"f": follow_up_id},
            )
            return list(rows.all())


@asynccontextmanager
async def sending(url: str, data_dir: Path) -> AsyncIterator[Sending]:
    with smtp_server() as (smtp_url, mailbox):
        async with (
            committed_app(url, data_dir, **mail_settings(smtp_url)) as committed,
            committed.client() as client,
        ):
            admin = Caller(client, uuid.uuid4(), subject="provisioning", admin=True)
            organizer = await admin.new_member(name="Olga Organizer")
            engine = committed.database.engine
            assert engine is not None
            job = MailJob(url, committed.app.state.settings)
            yield Sending(admin, organizer, job, engine, mailbox)


async def test_the_job_sends_the_invitation_over_smtp(committed_url: str, tmp_path: Path) -> None:
    async with sending(committed_url, tmp_path) as s:
        _, created = await invite_person(s.admin, s.organizer, title="Kick-off")
        assert s.mailbox.delivered == []  # nothing is sent inside the request

        assert await s.job.round(s.engine) == 1

        (delivered,) = s.mailbox.delivered
        assert delivered.sender == MAIL_FROM
        assert delivered.recipients == ["bo@customer.test"]
        message = delivered.message
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == [
            "text/plain",
            "text/calendar",
        ]
        assert message["From"] == f"Olga Organizer <{MAIL_FROM}>"
        part, calendar = calendar_part(message)
        assert part.get_param("method") == "REQUEST"
        event = vevent(calendar)
        assert str(event["UID"]) == f"{created['id']}@convene"
        assert attendees(event)["mailto:bo@customer.test"].params["RSVP"] == "TRUE"
        (row,) = await s.messages(created["id"])
        assert (row.status, row.attempts, row.last_error) == ("succeeded", 1, None)
        assert row.sent_at is not None
        assert await s.job.round(s.engine) == 0  # sent once only


async def test_a_temporary_refusal_is_retried_and_then_sent(
    committed_url: str, tmp_path: Path
) -> None:
    async with sending(committed_url, tmp_path) as s:
        s.mailbox.refuse("451 4.3.0 Try again later")
        _, created = await invite_person(s.admin, s.organizer)

        assert await s.job.round(s.engine) == 1
        (row,) = await s.messages(created["id"])
        assert (row.status, row.attempts) == ("pending", 1)
        assert "451" in row.last_error
        assert s.mailbox.refused == 1
        assert s.mailbox.delivered == []

        assert await s.job.round(s.engine) == 1  # the test's back-off is 0 s
        (row,) = await s.messages(created["id"])
        assert (row.status, row.attempts) == ("succeeded", 2)
        assert len(s.mailbox.delivered) == 1


async def test_a_permanent_refusal_gives_up_at_once(committed_url: str, tmp_path: Path) -> None:
    async with sending(committed_url, tmp_path) as s:
        s.mailbox.refuse("550 5.1.1 No such mailbox")
        _, created = await invite_person(s.admin, s.organizer)

        assert await s.job.round(s.engine) == 1
        (row,) = await s.messages(created["id"])
        assert (row.status, row.attempts) == ("failed", 1)
        assert "550" in row.last_error
        assert await s.job.round(s.engine) == 0


async def test_retries_stop_after_the_last_delay(committed_url: str, tmp_path: Path) -> None:
    async with sending(committed_url, tmp_path) as s:
        s.mailbox.refuse(*["421 4.3.2 Shutting down"] * 3)
        _, created = await invite_person(s.admin, s.organizer)

        for _ in range(3):  # two retries are configured
            assert await s.job.round(s.engine) == 1
        (row,) = await s.messages(created["id"])
        assert (row.status, row.attempts) == ("failed", 3)
        assert s.mailbox.delivered == []


async def test_a_lease_that_ran_out_is_sent_again(committed_url: str, tmp_path: Path) -> None:
    async with sending(committed_url, tmp_path) as s:
        _, created = await invite_person(s.admin, s.organizer)
        async with s.engine.begin() as connection:  # a worker that claimed it and died
            await connection.execute(
                text(
                    "UPDATE mail_messages SET status = 'delivering', attempts = 1, "
                    "claim_token = gen_random_uuid(), lease_until = now() - interval '1 s' "
                    "WHERE follow_up_id = :f"
                ),
                {"f": created["id"]},
            )

        assert await s.job.round(s.engine) == 1

        (row,) = await s.messages(created["id"])
        assert (row.status, row.attempts) == ("succeeded", 2)
        assert len(s.mailbox.delivered) == 1


async def test_the_api_process_runs_the_mail_job_beside_its_dispatcher(
    committed_url: str, tmp_path: Path
) -> None:
    with smtp_server() as (smtp_url, mailbox):
        settings = Settings(
            jwt_secret=TEST_SECRET,
            data_dir=tmp_path,
            database_url=committed_url,
            mail_poll_seconds=0.05,
            **{**database_settings(committed_url), **mail_settings(smtp_url)},
        )
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://convene.test") as client,
        ):
            admin = Caller(client, uuid.uuid4(), subject="provisioning", admin=True)
            organizer = await admin.new_member()
            await invite_person(admin, organizer, email_address="kim@customer.test")

            deadline = asyncio.get_running_loop().time() + 10
            while not any(d.recipients == ["kim@customer.test"] for d in mailbox.delivered):
                assert asyncio.get_running_loop().time() < deadline, "never sent"
                await asyncio.sleep(0.05)
