"""Prometheus multiprocess mode: where API processes that share one port write their metrics."""

import os
from pathlib import Path

# Set (by `convene serve --workers N`, or by you) before the API processes start: each writes
# its metrics to files there and every /metrics sums them, whichever process answers.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    """The directory of multiprocess mode, when the processes share their metrics."""
    directory = os.environ.get(MULTIPROCESS_ENV)
    return Path(directory) if directory else None
