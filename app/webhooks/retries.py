"""When to try a failed delivery again: the back-off schedule with jitter, and Retry-After."""

import random
from collections.abc import Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime

from app.db.base import utc_now

# A receiver may ask for a pause with Retry-After; longer asks are cut to this.
RETRY_AFTER_CAP_SECONDS = 6 * 3600.0
_JITTER = 0.2


def next_delay(
    attempt: int, delays: Sequence[float], retry_after: float | None = None
) -> float | None:
    """Seconds to wait after failed attempt number `attempt` (from 1); None when it was the last.

    The schedule's delay gets ±20 % jitter, so endpoints that fail together do not retry in
    lockstep; a Retry-After the receiver sent replaces it (capped).
    """
    if attempt > len(delays):
        return None
    if retry_after is not None:
        return min(max(retry_after, 0.0), RETRY_AFTER_CAP_SECONDS)
    base = delays[attempt - 1]
    return base * random.uniform(1 - _JITTER, 1 + _JITTER)  # noqa: S311 - jitter, not secrets


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - (now or utc_now())).total_seconds())
