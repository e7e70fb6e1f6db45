"""The limiter: charges a request to its token's and its tenant's quotas in a `limits` storage."""

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import coredis
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from prometheus_client import Counter

from app.config import Settings
from app.ratelimits.policies import (
    TENANT,
    TOKEN,
    Policy,
    Window,
    configured_policies,
    limit_field,
    policy_field,
    token_partition,
    window_of,
)

logger = logging.getLogger(__name__)

# After a storage error the limiter stands aside this long before trying the storage again,
# so an unreachable Redis costs one failed call a second, not one per request.
STANDBY_SECONDS = 1.0
# A Redis that answers slower than this is treated as down (the request is served unlimited).
REDIS_TIMEOUT_SECONDS = 0.25

REFUSED = Counter(
    "convene_rate_limited", "Requests refused with 429, by the policy they exceeded", ["policy"]
)
STORAGE_ERRORS = Counter(
    "convene_rate_limit_storage_errors",
    "Rate limit storage calls that failed; those requests were served without a limit",
)


class MemoryCounters(MemoryStorage):
    """`limits`' memory storage with a constant-time `incr`.

    The parent sweeps every key for expiry on each increment (a millisecond per request at
    10,000 live keys); here expired counters are swept at most once a second.
    """

    def __init__(self, uri: str | None = None, **options: Any) -> None:
        super().__init__(uri, **options)
        self.next_sweep = 0.0

    async def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        if now >= self.next_sweep:
            self.next_sweep = now + 1.0
            for stale in [k for k, at in self.expirations.items() if at <= now]:
                self.storage.pop(stale, None)
                self.expirations.pop(stale, None)
        if self.expirations.get(key, 0.0) <= now:
            self.storage[key] = 0
            self.expirations[key] = now + expiry
        # No await between reading and writing: the event loop makes this atomic.
        self.storage[key] += amount
        return self.storage[key]


@dataclass
class Verdict:
    """What the limiter decided: the header fields to send, and the policy refused, if any."""

    headers: list[tuple[bytes, bytes]]
    refused: Policy | None = None
    retry_after: int = 0


@dataclass
class RateLimiter:
    """Charges each request to its token's and its tenant's fixed-window counters."""

    policies: list[Policy]
    storage_url: str
    key_prefix: str
    _storage: Storage | None = field(default=None, init=False)
    _pool: "coredis.ConnectionPool | None" = field(default=None, init=False)
    _standby_until: float = field(default=0.0, init=False)
    _failing: bool = field(default=False, init=False)
    _policy_header: bytes = field(default=b"", init=False)

    def __post_init__(self) -> None:
        self._policy_header = policy_field(self.policies).encode()

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimiter":
        return cls(
            configured_policies(settings),
            settings.rate_limit_storage,
            settings.rate_limit_key_prefix,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.policies)

    def storage(self) -> Storage:
        """The storage, made on first use (inside the running event loop)."""
        if self._storage is None:
            if self.storage_url.startswith("memory://"):
                self._storage = MemoryCounters()
            else:
                self._pool = coredis.ConnectionPool.from_url(
                    self.storage_url,
                    connect_timeout=REDIS_TIMEOUT_SECONDS,
                    stream_timeout=REDIS_TIMEOUT_SECONDS,
                )
                self._storage = RedisStorage(
                    "async+" + self.storage_url,
                    wrap_exceptions=True,
                    key_prefix=self.key_prefix,
                    connection_pool=self._pool,  # type: ignore[arg-type]  # limits passes it on
                )
        return self._storage

    async def charge(self, token: str, tenant_id: uuid.UUID, cost: int) -> Verdict | None:
        """Charge `cost` units to the token's quota, then (if it had room) to the tenant's.

        A request the token's quota refuses is not charged to the tenant, so one runaway
        client cannot spend its colleagues' budget. None when the storage failed: the request
        is served unlimited (fail-open), and counted in `convene_rate_limit_storage_errors`.
        """
        now = time.time()
        if now < self._standby_until:
            return None
        partitions = {TOKEN: token_partition(token), TENANT: str(tenant_id)}
        states: list[tuple[Policy, int, Window]] = []
        refused: Policy | None = None
        try:
            for policy in self.policies:
                window = window_of(policy, partitions[policy.name], now)
                used = await self.storage().incr(
                    window.key, window.seconds_left + 1, amount=min(cost, policy.quota)
                )
                states.append((policy, max(0, policy.quota - used), window))
                if used > policy.quota:
                    refused = policy
                    break
        except Exception as error:  # any failure of the storage: serve rather than refuse
            self._stand_aside(error)
            return None
        if self._failing:
            self._failing = False
            logger.warning("rate limit storage answers again; limits apply")
        headers = [
            (b"ratelimit-policy", self._policy_header),
            (b"ratelimit", limit_field(states).encode()),
        ]
        if refused is None:
            return Verdict(headers)
        REFUSED.labels(refused.name).inc()
        retry_after = states[-1][2].seconds_left
        headers.append((b"retry-after", str(retry_after).encode()))
        return Verdict(headers, refused, retry_after)

    def _stand_aside(self, error: Exception) -> None:
        STORAGE_ERRORS.inc()
        if not self._failing:
            self._failing = True
            logger.warning("rate limit storage failed; serving without limits: %s", error)
        self._standby_until = time.time() + STANDBY_SECONDS

    def close(self) -> None:
        """Close the Redis connections, if any were opened."""
        if self._pool is not None:
            self._pool.disconnect()
