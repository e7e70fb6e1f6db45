"""Round trips of e-mailed invitations, pinned: a change that adds one fails here."""

from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from app.config import Settings
from tests.fixtures.factories import TEST_SECRET, Caller, create_person, follow_up_body
from tests.fixtures.responses import ok
from tests.fixtures.statements import statements
from tests.imip.support import invite_person, mail_settings, reply


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None, **mail_settings())


def _first_words(sent: list[str]) -> list[str]:
    return [" ".join(statement.split()[:2]) for statement in sent]


async def test_creating_without_persons_costs_nothing_more_with_smtp_on(
    admin: Caller, member: Caller, engine: AsyncEngine, app: FastAPI, tmp_path: Path
) -> None:
    colleague = await admin.new_member()
    body = follow_up_body(participants=[{"associate_id": colleague.subject}])
    with statements(engine) as with_mail:
        ok(await member.post("/v1/follow-ups", json=body), 201)
    app.state.settings = Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None)
    with statements(engine) as without_mail:
        ok(await member.post("/v1/follow-ups", json=body), 201)

    assert _first_words(with_mail) == _first_words(without_mail)


async def test_creating_with_a_person_to_mail_adds_the_mail_after_the_event(
    admin: Caller, member: Caller, engine: AsyncEngine, app: FastAPI, tmp_path: Path
) -> None:
    person = await create_person(admin, email="bo@customer.test")
    body = follow_up_body(participants=[{"person_id": person["id"]}])
    with statements(engine) as with_mail:
        ok(await member.post("/v1/follow-ups", json=body), 201)
    app.state.settings = Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, database_url=None)
    with statements(engine) as without_mail:
        ok(await member.post("/v1/follow-ups", json=body), 201)

    # Without mail the create is its four statements (tests/followups/test_statements.py).
    # With mail it goes the ORM way, and right after its event come the attendees, `invited`,
    # the calendar's fields and the outbox.
    assert len(without_mail) == 4, _first_words(without_mail)
    sent = _first_words(with_mail)
    event = sent.index("WITH bumped") + 1
    mail = ["SELECT p.follow_up_id,", "UPDATE participants", "SELECT f.id,", "INSERT INTO"]
    assert sent[event:] == [*mail, "SELECT participants.id,"]


async def test_a_reply_is_seven_statements(
    admin: Caller, member: Caller, engine: AsyncEngine
) -> None:
    _, created = await invite_person(admin, member)
    body = reply(f"{created['id']}@convene", "bo@customer.test", "ACCEPTED")

    with statements(engine) as sent:
        response = await admin.post(
            "/v1/imip/replies", content=body, headers={"content-type": "text/calendar"}
        )

    assert response.status_code == 200, response.text
    assert len(sent) == 7, _first_words(sent)
