"""bench/burst.py as a test: 50 invitees answering one follow-up at once all succeed, in seq."""

import pytest

from tests.fixtures.bench import bench_figures

pytestmark = pytest.mark.slow


def test_fifty_answers_at_once_all_succeed_with_consecutive_seqs() -> None:
    # The script fails (exit 1) on any answer that is not a 200 and on seqs out of order.
    figures = bench_figures("burst.py", "--rounds", "1")

    assert figures["all_200_seqs_consecutive"] is True, figures
    assert figures["invitees"] == 50, figures
    assert len(figures["rounds"]) == 1, figures
