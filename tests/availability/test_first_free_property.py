"""First free slots and free/busy over random bookings, checked against a brute force in Python."""

from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from tests.availability.support import (
    Body,
    Span,
    availability,
    book,
    first_free,
    new_tenant,
    normalize,
    participant,
    room,
    subtract,
    utc,
    when,
)
from tests.fixtures.factories import Caller
from tests.fixtures.responses import ok

ASSOCIATES = 3
RESOURCES = 2
BASE = utc("2026-05-04T08:00")  # a Monday
QUARTER = timedelta(minutes=15)
ANSWERS = ("not_read", "seen", "accepted", "tentative", "declined")
TENTATIVE = {"not_read", "seen", "tentative"}


@dataclass(frozen=True)
class Plan:
    """One follow-up to book: who organizes, when, who is invited (and answers what), rooms."""

    organizer: int
    start: int  # quarter hours after BASE
    length: int  # quarter hours
    invitees: tuple[tuple[int, str], ...]
    resources: frozenset[int]
    cancelled: bool

    @property
    def span(self) -> Span:
        start = BASE + self.start * QUARTER
        return start, start + self.length * QUARTER


@dataclass(frozen=True)
class Query:
    """The calendars (by index), duration, window and count of one first-free question."""

    associates: frozenset[int]
    resources: frozenset[int]
    duration: timedelta
    after: datetime
    before: datetime
    count: int


plans = st.builds(
    Plan,
    organizer=st.integers(0, ASSOCIATES - 1),
    start=st.integers(0, 95),
    length=st.integers(1, 16),
    invitees=st.lists(
        st.tuples(st.integers(0, ASSOCIATES - 1), st.sampled_from(ANSWERS)),
        max_size=2,
        unique_by=lambda invitee: invitee[0],
    ).map(tuple),
    resources=st.frozensets(st.integers(0, RESOURCES - 1)),
    cancelled=st.sampled_from([False, False, False, True]),
)

calendar_choices: st.SearchStrategy[tuple[frozenset[int], frozenset[int]]] = st.one_of(
    st.tuples(st.frozensets(st.integers(0, ASSOCIATES - 1), min_size=1), st.just(frozenset())),
    st.tuples(st.just(frozenset()), st.frozensets(st.integers(0, RESOURCES - 1), min_size=1)),
    st.tuples(
        st.frozensets(st.integers(0, ASSOCIATES - 1), min_size=1),
        st.frozensets(st.integers(0, RESOURCES - 1), min_size=1),
    ),
)


@dataclass(frozen=True)
class Booked:
    """A follow-up as booked: its id, its time, what it blocks and who may see its id."""

    id: str
    span: Span
    blocks: tuple[tuple[str, str], ...]  # (calendar id, "busy" | "tentative")
    participants: frozenset[str]  # associate ids with a participant row (any answer)


async def make(
    client: httpx.AsyncClient, planned: list[Plan]
) -> tuple[list[Caller], list[str], list[Booked]]:
    """A fresh tenant with its colleagues and rooms, and the planned follow-ups booked."""
    admin = new_tenant(client)
    people = [await admin.new_member(name=f"Colleague {n}") for n in range(ASSOCIATES)]
    rooms = [await room(admin, name=f"Room {n}") for n in range(RESOURCES)]
    booked: list[Booked] = []
    for plan in planned:
        organizer = people[plan.organizer]
        invitees = [(people[i], answer) for i, answer in plan.invitees if i != plan.organizer]
        created = await book(
            organizer,
            *plan.span,
            invite=[person for person, _ in invitees],
            resources=[rooms[r] for r in sorted(plan.resources)],
        )
        blocks = [(organizer.subject, "busy")]
        for person, answer in invitees:
            invitation = participant(created, associate_id=person.subject)["id"]
            if answer == "seen":
                ok(await person.post(f"/v1/invitations/{invitation}/seen"))
            elif answer != "not_read":
                ok(
                    await person.post(
                        f"/v1/invitations/{invitation}/response", json={"status": answer}
                    )
                )
            if answer != "declined":
                blocks.append((person.subject, "tentative" if answer in TENTATIVE else "busy"))
        blocks += [(rooms[r], "busy") for r in plan.resources]
        if plan.cancelled:
            ok(await organizer.post(f"/v1/follow-ups/{created['id']}/cancel"))
            blocks = []
        booked.append(
            Booked(
                created["id"],
                plan.span,
                tuple(blocks),
                frozenset([organizer.subject, *(p.subject for p, _ in invitees)]),
            )
        )
    return people, rooms, booked


def expected_slots(busy: list[Span], query: Query) -> list[Span]:
    """Each maximal free interval of the window, cut into back-to-back slots from its start."""
    slots: list[Span] = []
    for lower, upper in subtract((query.after, query.before), busy):
        start = lower
        while start + query.duration <= upper:
            slots.append((start, start + query.duration))
            start += query.duration
    return slots[: query.count]


def clip(span: Span, window: Span) -> Span:
    return max(span[0], window[0]), min(span[1], window[1])


def overlaps(one: Span, other: Span) -> bool:
    return one[0] < other[1] and other[0] < one[1]


def check_free_busy(
    found: Body, calendars: list[str], booked: list[Booked], window: Span, viewer: str | None
) -> None:
    """Blocks the viewer may see one by one carry their id; the rest merge per status."""
    assert [c["id"] for c in found["calendars"]] == calendars
    every: list[Span] = []
    for calendar in found["calendars"]:
        shown = [
            (when(b["start_at"]), when(b["end_at"]), b["status"], b["follow_up_id"])
            for b in calendar["busy"]
        ]
        assert shown == sorted(shown, key=lambda b: b[0]), shown
        visible: list[tuple[datetime, datetime, str, str | None]] = []
        hidden: dict[str, list[Span]] = {"busy": [], "tentative": []}
        for follow_up in booked:
            for blocked, status in follow_up.blocks:
                if blocked != calendar["id"] or not overlaps(follow_up.span, window):
                    continue
                lower, upper = clip(follow_up.span, window)
                every.append((lower, upper))
                if viewer in follow_up.participants:
                    visible.append((lower, upper, status, follow_up.id))
                else:
                    hidden[status].append((lower, upper))
        assert sorted(b for b in shown if b[3] is not None) == sorted(visible), calendar["id"]
        for status, spans_ in hidden.items():
            merged = [(b[0], b[1]) for b in shown if b[3] is None and b[2] == status]
            assert merged == normalize(spans_), (calendar["id"], status)
    free = [(when(i["start_at"]), when(i["end_at"])) for i in found["free"]]
    assert free == subtract(window, every)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    planned=st.lists(plans, max_size=8),
    chosen=calendar_choices,
    duration=st.integers(5, 240).map(lambda minutes: timedelta(minutes=minutes)),
    after=st.integers(-120, 26 * 60).map(lambda minutes: BASE + timedelta(minutes=minutes)),
    window=st.integers(30, 3 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes)),
    count=st.integers(1, 50),
)
async def test_first_free_and_free_busy_match_brute_force(
    client: httpx.AsyncClient,
    planned: list[Plan],
    chosen: tuple[frozenset[int], frozenset[int]],
    duration: timedelta,
    after: datetime,
    window: timedelta,
    count: int,
) -> None:
    query = Query(*chosen, duration, after, after + window, count)
    note(f"query={query!r}")
    people, rooms, booked = await make(client, planned)
    associates = [people[a] for a in sorted(query.associates)]
    resources = [rooms[r] for r in sorted(query.resources)]
    calendars = [person.subject for person in associates] + resources
    busy = [
        follow_up.span
        for follow_up in booked
        for blocked, _ in follow_up.blocks
        if blocked in calendars
    ]

    slots = await first_free(
        people[0],
        associates=associates,
        resources=resources,
        duration=query.duration,
        after=query.after,
        before=query.before,
        count=query.count,
    )

    assert slots == expected_slots(busy, query)
    assert slots == sorted(slots)
    for start, end in slots:
        assert end - start == query.duration
        assert query.after <= start
        assert end <= query.before
        assert not any(overlaps((start, end), blocked) for blocked in busy)

    window_span = (query.after, query.before)
    for viewer in (service_account(people[0]), people[0]):
        found = await availability(viewer, *window_span, associates=associates, resources=resources)
        viewer_id = None if viewer.admin else viewer.subject
        check_free_busy(found, calendars, booked, window_span, viewer_id)


def service_account(colleague: Caller) -> Caller:
    """A service account of the colleague's tenant: it takes part in nothing."""
    return Caller(colleague.client, colleague.tenant_id, subject="provisioning", admin=True)
