"""Round trips of the invitee's hot paths, pinned: a change that adds one fails here."""

from sqlalchemy.ext.asyncio import AsyncEngine

from app.invitations.repository import ANSWER
from tests.fixtures.factories import Caller, create_resource
from tests.fixtures.responses import ok
from tests.fixtures.statements import statements
from tests.followups.support import book, participant

# The token check, then the one statement that writes the page's JSON.
INBOX_PAGE = ["SELECT associates.name", """SELECT '{"items":['"""]


def _first_words(sent: list[str]) -> list[str]:
    return [" ".join(statement.split()[:2]) for statement in sent]


async def test_an_answer_is_the_token_check_and_one_statement(
    admin: Caller, engine: AsyncEngine
) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    room = await create_resource(admin)
    created = await book(organizer, bo, participants=[{"resource_id": room["id"]}])
    invitation = participant(created, associate_id=bo.subject)["id"]

    for status in ("accepted", "declined", "tentative"):
        with statements(engine) as sent:
            answered = ok(
                await bo.post(f"/v1/invitations/{invitation}/response", json={"status": status})
            )
        assert answered["status"] == status
        assert _first_words(sent) == ["SELECT associates.name", "WITH locked"], sent


async def test_a_refused_answer_costs_one_more_read(admin: Caller, engine: AsyncEngine) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    created = await book(organizer, bo)
    mine = participant(created, associate_id=organizer.subject)["id"]

    with statements(engine) as sent:
        response = await organizer.post(
            f"/v1/invitations/{mine}/response", json={"status": "accepted"}
        )

    assert response.status_code == 409
    assert len(sent) == 3, sent


async def test_an_inbox_page_is_the_token_check_and_one_statement(
    admin: Caller, engine: AsyncEngine
) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    for _ in range(3):
        await book(organizer, bo)

    with statements(engine) as sent:
        page = ok(await bo.get("/v1/invitations", params={"status": "not_read"}))

    assert len(page["items"]) == 3
    assert _first_words(sent) == INBOX_PAGE, sent


async def test_an_answer_with_an_idempotency_key_costs_one_more_statement(
    admin: Caller, engine: AsyncEngine
) -> None:
    organizer, bo = await admin.new_member(), await admin.new_member()
    created = await book(organizer, bo)
    invitation = participant(created, associate_id=bo.subject)["id"]
    url = f"/v1/invitations/{invitation}/response"
    headers = {"Idempotency-Key": "answer-1"}

    with statements(engine) as sent:
        first = await bo.post(url, json={"status": "accepted"}, headers=headers)
    with statements(engine) as replayed:
        again = await bo.post(url, json={"status": "accepted"}, headers=headers)

    assert ok(first)["status"] == "accepted"
    # The token check claims the key in its round trip; the answer is kept after ANSWER.
    assert _first_words(sent) == ["SELECT (SELECT", "WITH locked", "INSERT INTO"], sent
    assert again.content == first.content
    assert _first_words(replayed) == ["SELECT (SELECT"], replayed


async def _weekly_invitation(admin: Caller) -> tuple[Caller, str, str]:
    """A colleague invited to a weekly series of four: them, their invitation, the 2nd start."""
    organizer, bo = await admin.new_member(), await admin.new_member()
    created = await organizer.create(
        "/v1/follow-ups",
        {
            "title": "Weekly",
            "start_at": "2030-01-07T08:00:00Z",
            "end_at": "2030-01-07T09:00:00Z",
            "recurrence": {"rrule": "FREQ=WEEKLY;COUNT=4"},
            "participants": [{"associate_id": bo.subject}],
        },
    )
    return bo, participant(created, associate_id=bo.subject)["id"], "2030-01-14T08:00:00Z"


async def test_an_occurrence_answer_is_the_token_check_and_one_statement(
    admin: Caller, engine: AsyncEngine
) -> None:
    bo, invitation, second = await _weekly_invitation(admin)

    for status in ("accepted", "declined", "tentative"):
        with statements(engine) as sent:
            answered = ok(
                await bo.post(
                    f"/v1/invitations/{invitation}/response",
                    json={"status": status, "occurrence": second},
                )
            )
        assert answered["occurrence_answer"]["status"] == status
        assert _first_words(sent) == ["SELECT associates.name", "WITH locked"], sent


async def test_an_inbox_with_a_series_is_still_one_statement(
    admin: Caller, engine: AsyncEngine
) -> None:
    bo, _, _ = await _weekly_invitation(admin)

    with statements(engine) as sent:
        (invitation,) = ok(await bo.get("/v1/invitations"))["items"]

    assert invitation["next_occurrence"]["occurrence_start"] == "2030-01-07T08:00:00Z"
    assert _first_words(sent) == INBOX_PAGE, sent


def test_each_kind_of_answer_sends_only_its_own_writes() -> None:
    # A CTE that a parameter turns off is still started and run on every execution: each
    # kind of answer (the series' or one occurrence's, keeping or dropping bookings) is its
    # own statement, without the other kinds' writes.
    assert sorted(ANSWER) == [(False, False), (False, True), (True, False), (True, True)]
    for (whole, blocks), statement in ANSWER.items():
        assert ("INSERT INTO occurrence_answers" in statement.sql) is not whole
        assert ("DELETE FROM occurrence_answers" in statement.sql) is whole
        assert ("INSERT INTO bookings" in statement.sql) is blocks
        assert ("DELETE FROM bookings" in statement.sql) is not blocks
