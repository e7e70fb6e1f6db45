"""bench/fault.py as a test: keyed writes through a PostgreSQL restart and a killed worker."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_no_acknowledged_write_is_lost_or_doubled_and_no_event_lost() -> None:
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "bench" / "fault.py"), "--seconds", "18", "--clients", "6"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])

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
