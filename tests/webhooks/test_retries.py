"""The retry schedule: jittered delays, the last attempt, and Retry-After honoured and capped."""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from app.webhooks.retries import RETRY_AFTER_CAP_SECONDS, next_delay, parse_retry_after

SCHEDULE = [5.0, 30.0, 120.0, 600.0, 3600.0]


@pytest.fixture
def seeded() -> Iterator[None]:
    """A fixed seed for the jitter, and the global generator's state put back afterwards."""
    state = random.getstate()
    random.seed(20261125)
    try:
        yield
    finally:
        random.setstate(state)


@pytest.mark.usefixtures("seeded")
def test_jitter_stays_within_20_percent() -> None:
    for attempt, base in enumerate(SCHEDULE, start=1):
        delays = [next_delay(attempt, SCHEDULE) for _ in range(500)]

        assert all(d is not None and base * 0.8 <= d <= base * 1.2 for d in delays)
        spread = {round(d, 6) for d in delays if d is not None}
        assert len(spread) > 100  # jittered, not the bare schedule


@pytest.mark.parametrize(("bound", "factor"), [(0, 0.8), (1, 1.2)], ids=["low", "high"])
def test_jitter_reaches_both_bounds(
    monkeypatch: pytest.MonkeyPatch, bound: int, factor: float
) -> None:
    asked: list[tuple[float, float]] = []

    def uniform(a: float, b: float) -> float:
        asked.append((a, b))
        return (a, b)[bound]

    monkeypatch.setattr(random, "uniform", uniform)

    delay = next_delay(2, SCHEDULE)

    assert asked == [(pytest.approx(0.8), pytest.approx(1.2))]
    assert delay == pytest.approx(30.0 * factor)


def test_none_after_the_last_attempt() -> None:
    assert next_delay(len(SCHEDULE), SCHEDULE) is not None
    assert next_delay(len(SCHEDULE) + 1, SCHEDULE) is None
    assert next_delay(len(SCHEDULE) + 1, SCHEDULE, retry_after=10) is None
    assert next_delay(1, []) is None


def test_retry_after_replaces_the_schedule() -> None:
    assert next_delay(1, SCHEDULE, retry_after=42.0) == 42.0
    assert next_delay(5, SCHEDULE, retry_after=1.0) == 1.0
    assert next_delay(1, SCHEDULE, retry_after=0.0) == 0.0
    assert next_delay(1, SCHEDULE, retry_after=-30.0) == 0.0


def test_retry_after_is_capped_at_6_hours() -> None:
    assert RETRY_AFTER_CAP_SECONDS == 6 * 3600
    assert next_delay(1, SCHEDULE, retry_after=6 * 3600) == 6 * 3600
    assert next_delay(1, SCHEDULE, retry_after=7 * 24 * 3600) == 6 * 3600
    assert next_delay(1, SCHEDULE, retry_after=float("inf")) == 6 * 3600


NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 45 ", 45.0),
        ("86400", 86400.0),
        (format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0),
        ("Wed, 25 Nov 2026 13:00:00 GMT", 3600.0),
        ("Wed, 25 Nov 2026 14:00:00 +0100", 3600.0),
        ("Wed, 25 Nov 2026 11:00:00 GMT", 0.0),  # in the past: now
    ],
    ids=[
        "seconds",
        "zero",
        "padded",
        "a day",
        "HTTP date",
        "HTTP date in an hour",
        "date with offset",
        "past date",
    ],
)
def test_parse_retry_after(value: str, seconds: float) -> None:
    assert parse_retry_after(value, now=NOW) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "soon",
        "-5",
        "1.5",
        "1e3",
        "0x10",
        "120 seconds",
        "Wed, 25 Nov 2026 13:00:00",  # no zone
        "Wed, 31 Feb 2026 13:00:00 GMT",
        "²",
        "\u0661\u0662\u0663x",
    ],
    ids=[
        "none",
        "empty",
        "blank",
        "word",
        "negative",
        "fraction",
        "exponent",
        "hex",
        "with unit",
        "date without zone",
        "impossible date",
        "superscript two",
        "arabic digits and a letter",
    ],
)
def test_parse_retry_after_garbage_is_none(value: str | None) -> None:
    assert parse_retry_after(value, now=NOW) is None


def test_parse_retry_after_defaults_to_the_clock() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)

    parsed = parse_retry_after(later)

    assert parsed is not None
    assert 590 <= parsed <= 600
