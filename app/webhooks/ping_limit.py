"""The ping limit per endpoint: a generic cell rate (GCRA) of N pings a minute, bursts up to N."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class PingTurn:
    """What asking for one ping gives: the new limit state if taken, else how long to wait."""

    refilled_at: datetime | None
    retry_after: int = 0

    @property
    def allowed(self) -> bool:
        return self.refilled_at is not None


def take_ping(refilled_at: datetime | None, now: datetime, per_minute: int) -> PingTurn:
    """Spend one of the endpoint's pings at `now`, or say in whole seconds when one is free.

    `refilled_at` is when every ping of the minute is available again (None: never used).
    Each ping moves it a minute / `per_minute` later; a ping is allowed while that stays
    within a minute of now, so `per_minute` can come at once and then one every interval.
    """
    after = max(refilled_at or now, now) + WINDOW / per_minute
    if after - now <= WINDOW:
        return PingTurn(after)
    return PingTurn(None, max(1, math.ceil((after - now - WINDOW).total_seconds())))
