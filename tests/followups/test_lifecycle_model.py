"""The invitation lifecycle as a state machine, checked after every step against a Python model."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, note, settings
from hypothesis import strategies as st

from tests.fixtures.factories import Caller, follow_up_body

ANSWERS = ("accepted", "declined", "tentative")
MAX_INVITEES = 3
FIRST_START = datetime.fromisoformat(follow_up_body()["start_at"])

Action = tuple[Any, ...]


@dataclass
class Invitation:
    """What the model predicts of one invitee's participant row."""

    status: str = "not_read"
    rescheduled: bool = False
    seen: bool = False
    responded: bool = False
    comment: str | None = None
    acknowledged: bool = False
    # The acknowledged_at first observed, which a repeated "Understood" must not change.
    acknowledged_at: str | None = None


@dataclass
class Model:
    """One follow-up's invitations; each action returns the (status, code) the API must give."""

    invitations: list[Invitation]
    cancelled: bool = False
    moves: int = 0
    responses: list[tuple[str, str]] = field(default_factory=list)

    def seen(self, i: int) -> tuple[int, str | None]:
        invitation = self.invitations[i]
        if invitation.status == "not_read":
            invitation.status, invitation.seen = "seen", True
        return 200, None

    def respond(self, i: int, answer: str, comment: str | None) -> tuple[int, str | None]:
        if self.cancelled:
            return 409, "follow_up_cancelled"
        invitation = self.invitations[i]
        self.responses.append((invitation.status, answer))
        invitation.status, invitation.comment = answer, comment
        invitation.seen = invitation.responded = True
        invitation.rescheduled = invitation.acknowledged = False
        invitation.acknowledged_at = None
        return 200, None

    def intrude(self, i: int) -> tuple[int, str | None]:
        """Another invitee answers this invitation: refused, nothing changes."""
        return 403, "not_invitee"

    def move(self) -> tuple[int, str | None]:
        if self.cancelled:
            return 409, "follow_up_cancelled"
        self.moves += 1
        self.invitations[:] = [Invitation(rescheduled=True) for _ in self.invitations]
        return 200, None

    def cancel(self) -> tuple[int, str | None]:
        if self.cancelled:
            return 409, "follow_up_cancelled"
        self.cancelled = True
        return 200, None

    def acknowledge(self, i: int) -> tuple[int, str | None]:
        if self.cancelled:
            return 409, "follow_up_cancelled"
        invitation = self.invitations[i]
        if invitation.status != "declined":
            return 409, "not_declined"
        invitation.acknowledged = True
        return 200, None


@dataclass
class Cast:
    admin: Caller
    organizer: Caller
    invitees: list[Caller]


@pytest.fixture
async def cast(admin: Caller) -> Cast:
    """An organizer and three colleagues, shared by every example of a test."""
    organizer = await admin.new_member(name="Olga Organizer")
    invitees = [await admin.new_member(name=f"Invitee {n}") for n in range(MAX_INVITEES)]
    return Cast(admin, organizer, invitees)


invitee = st.integers(0, MAX_INVITEES - 1)
comment = st.none() | st.sampled_from(["Away that week", "Only the first half", ""])
# Declines weigh double, so that acknowledgements find something to acknowledge.
answer = st.sampled_from(("declined", "accepted", "declined", "tentative"))
seen = st.tuples(st.just("seen"), invitee)
respond = st.tuples(st.just("respond"), invitee, answer, comment)
# Most acknowledgements aim at a declined invitation, if the model has one.
acknowledge = st.tuples(st.just("acknowledge"), invitee, st.sampled_from((True, True, False)))
# Cancel is rare (it freezes everything after it); the commoner actions appear more than once.
actions = st.one_of(
    respond,
    seen,
    acknowledge,
    respond,
    acknowledge,
    st.tuples(st.just("move")),
    respond,
    seen,
    st.tuples(st.just("intrude"), invitee),
    st.tuples(st.just("cancel")),
)


class Run:
    """One example: a fresh follow-up, driven through the API and the model side by side."""

    def __init__(self, cast: Cast, count: int) -> None:
        self.organizer = cast.organizer
        self.invitees = cast.invitees[:count]
        self.model = Model([Invitation() for _ in self.invitees])
        self.path = ""
        self.participant_ids: list[str] = []

    async def start(self) -> None:
        created = await self.organizer.create(
            "/v1/follow-ups",
            follow_up_body(participants=[{"associate_id": i.subject} for i in self.invitees]),
        )
        self.path = f"/v1/follow-ups/{created['id']}"
        by_associate = {p["associate_id"]: p["id"] for p in created["participants"]}
        self.participant_ids = [by_associate[i.subject] for i in self.invitees]
        self.check(created["participants"])

    async def step(self, action: Action) -> None:
        name, *args = action
        if args:
            args[0] %= len(self.invitees)
        if name == "acknowledge":
            args = [self.aim(*args)]
        expected = getattr(self.model, name)(*args)
        response = await getattr(self, f"_{name}")(*args)
        code = None if response.status_code < 400 else response.json().get("code")
        assert (response.status_code, code) == expected, (action, response.text)
        if currently_in_test_context():
            event(f"{name}: {response.status_code} {code or ''}".strip())
        participants = (await self.organizer.get(f"{self.path}/participants")).json()
        self.check(participants)
        if name in {"seen", "respond", "acknowledge"} and response.status_code == 200:
            self.check_one(args[0], response.json())

    def aim(self, i: int, at_a_decline: bool = False) -> int:
        """The invitee to acknowledge: `i`, or with `at_a_decline` the first one who declined."""
        declined = [n for n, inv in enumerate(self.model.invitations) if inv.status == "declined"]
        return declined[0] if at_a_decline and declined else i

    async def finish(self) -> None:
        follow_up = (await self.organizer.get(self.path)).json()
        assert follow_up["status"] == ("cancelled" if self.model.cancelled else "scheduled")
        start = FIRST_START + timedelta(hours=self.model.moves)
        assert datetime.fromisoformat(follow_up["start_at"]) == start
        history = (await self.organizer.get(f"{self.path}/responses?limit=200")).json()["items"]
        assert [(r["previous_status"], r["status"]) for r in history] == self.model.responses

    # What the API does for each action.

    async def _seen(self, i: int) -> Any:
        return await self.invitees[i].post(f"/v1/invitations/{self.participant_ids[i]}/seen")

    async def _respond(self, i: int, answer: str, comment: str | None) -> Any:
        return await self.invitees[i].post(
            f"/v1/invitations/{self.participant_ids[i]}/response",
            json={"status": answer, "comment": comment},
        )

    async def _intrude(self, i: int) -> Any:
        other = self.invitees[(i + 1) % len(self.invitees)]
        return await other.post(
            f"/v1/invitations/{self.participant_ids[i]}/response", json={"status": "accepted"}
        )

    async def _move(self) -> Any:
        current = await self.organizer.get(self.path)
        assert current.status_code == 200, current.text
        start = FIRST_START + timedelta(hours=self.model.moves)
        body = {
            "start_at": start.isoformat(),
            "end_at": (start + timedelta(minutes=45)).isoformat(),
        }
        return await self.organizer.patch(
            self.path, json=body, headers={"If-Match": current.headers["ETag"]}
        )

    async def _cancel(self) -> Any:
        return await self.organizer.post(f"{self.path}/cancel", json={"reason": "Postponed"})

    async def _acknowledge(self, i: int) -> Any:
        return await self.organizer.post(
            f"{self.path}/participants/{self.participant_ids[i]}/acknowledge"
        )

    # Comparing the API's participants with the model.

    def check(self, participants: list[dict[str, Any]]) -> None:
        organizer, *invited = participants
        assert (organizer["role"], organizer["status"]) == ("organizer", "accepted")
        assert organizer["associate_id"] == self.organizer.subject
        by_id = {p["id"]: p for p in invited}
        assert set(by_id) == set(self.participant_ids)
        for i, participant_id in enumerate(self.participant_ids):
            self.check_one(i, by_id[participant_id])

    def check_one(self, i: int, actual: dict[str, Any]) -> None:
        expected = self.model.invitations[i]
        assert actual["id"] == self.participant_ids[i]
        observed = {
            "status": actual["status"],
            "rescheduled": actual["rescheduled"],
            "seen": actual["seen_at"] is not None,
            "responded": actual["responded_at"] is not None,
            "comment": actual["comment"],
            "acknowledged": actual["acknowledged_at"] is not None,
        }
        predicted = {
            "status": expected.status,
            "rescheduled": expected.rescheduled,
            "seen": expected.seen,
            "responded": expected.responded,
            "comment": expected.comment,
            "acknowledged": expected.acknowledged,
        }
        assert observed == predicted, f"invitee {i}"
        if expected.acknowledged:
            if expected.acknowledged_at is None:
                expected.acknowledged_at = actual["acknowledged_at"]
            assert actual["acknowledged_at"] == expected.acknowledged_at, f"invitee {i}"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(count=st.integers(2, MAX_INVITEES), steps=st.lists(actions, min_size=5, max_size=30))
async def test_invitation_lifecycle_follows_the_model(
    cast: Cast, count: int, steps: list[Action]
) -> None:
    note(f"count={count}, steps={steps!r}")
    run = Run(cast, count)
    await run.start()
    for action in steps:
        await run.step(action)
    await run.finish()


async def test_the_model_walks_the_help_page(cast: Cast) -> None:
    """A fixed walk through every rule, so a broken rule fails without relying on the search."""
    run = Run(cast, 3)
    await run.start()
    for action in [
        ("acknowledge", 0),  # nothing declined yet: 409
        ("seen", 0),
        ("respond", 0, "declined", "Away"),
        ("seen", 0),  # seen never overrides the answer
        ("acknowledge", 0),
        ("acknowledge", 0),  # again: same acknowledged_at
        ("respond", 1, "accepted", None),
        ("intrude", 2),
        ("move",),  # everyone back to not_read, rescheduled, acknowledgement cleared
        ("acknowledge", 0),  # no longer declined: 409
        ("respond", 0, "tentative", None),  # an answer clears rescheduled
        ("respond", 2, "declined", None),
        ("acknowledge", 2),
        ("respond", 2, "declined", "Still away"),  # a new decline needs a new "Understood"
        ("cancel",),
        ("respond", 1, "declined", None),  # frozen: 409
        ("seen", 1),  # still allowed, changes nothing
        ("move",),
        ("cancel",),
        ("acknowledge", 2),
    ]:
        await run.step(action)
    await run.finish()
