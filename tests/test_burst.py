"""bench/burst.py as a test: 50 invitees answering one follow-up at once all succeed, in seq."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def test_fifty_answers_at_once_all_succeed_with_consecutive_seqs() -> None:
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "bench" / "burst.py"), "--rounds", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # The script fails (exit 1) on any answer that is not a 200 and on seqs out of order.
    assert done.returncode == 0, done.stderr[-4000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])

    assert figures["all_200_seqs_consecutive"] is True, figures
    assert figures["invitees"] == 50, figures
    assert len(figures["rounds"]) == 1, figures
