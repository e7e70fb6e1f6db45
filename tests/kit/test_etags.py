"""Conditional GETs: If-None-Match decides when sent, else If-Modified-Since to the second."""

from datetime import UTC, datetime, timedelta

import pytest

from app.kit.etags import http_date, not_modified

TAG = '"abc"'
CHANGED = datetime(2026, 11, 30, 8, 0, 0, 500_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("if_none_match", "fresh"),
    [('"abc"', True), ('W/"abc"', True), ('"x", "abc"', True), ("*", True), ('"x"', False)],
)
def test_if_none_match(if_none_match: str, fresh: bool) -> None:
    assert not_modified(if_none_match, None, TAG, CHANGED) is fresh


def test_if_none_match_wins_over_a_date() -> None:
    assert not not_modified('"x"', http_date(CHANGED + timedelta(days=1)), TAG, CHANGED)


@pytest.mark.parametrize(
    ("since", "fresh"),
    [
        (http_date(CHANGED), True),  # the date a Last-Modified carried (whole seconds)
        (http_date(CHANGED + timedelta(hours=1)), True),
        (http_date(CHANGED - timedelta(seconds=1)), False),
        ("not a date", False),
        ("Mon, 30 Nov 2026 08:00:00", False),  # no zone: invalid, ignored
    ],
)
def test_if_modified_since(since: str, fresh: bool) -> None:
    assert not_modified(None, since, TAG, CHANGED) is fresh


def test_no_condition_is_not_fresh() -> None:
    assert not not_modified(None, None, TAG, CHANGED)


def test_http_date() -> None:
    assert http_date(CHANGED) == "Mon, 30 Nov 2026 08:00:00 GMT"
