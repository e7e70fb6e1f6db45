"""bench/fault.py as a test: keyed writes through a PostgreSQL restart and a killed worker."""

import pytest

from tests.fixtures.bench import bench_figures

pytestmark = pytest.mark.slow


def test_no_acknowledged_write_is_lost_or_doubled_and_no_event_lost() -> None:
    figures = bench_figures("fault.py", "--seconds", "18", "--clients", "6")

    assert figures["acknowledged_creates"] > 0, figures
    assert figures["acknowledged_answers"] > 0, figures
    assert figures["gave_up"] == 0, figures
    assert figures["replayed"] > 0, figures  # abandoned writes that committed were replayed
    assert figures["lost"] == 0, figures
    assert figures["duplicates"] == 0, figures
    assert figures["committed_unacknowledged"] == 0, figures
    assert figures["events_lost"] == 0, figures
    assert figures["deliveries_not_succeeded"] == 0, figures
    assert figures["503s"] > 0, figures  # the outage was seen, and answered 503
    assert figures["500s"] == 0, figures
