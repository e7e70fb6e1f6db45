"""The two quota policies, their fixed windows, and the IETF RateLimit header fields."""

import hashlib
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import limits
from limits import RateLimitItem

from app.config import Settings

TOKEN = "token"  # noqa: S105 (a policy name)
TENANT = "tenant"


@dataclass(frozen=True)
class Policy:
    """A quota of `quota` units per window of `window` seconds, for one kind of partition."""

    name: str
    item: RateLimitItem

    @cached_property
    def quota(self) -> int:
        return self.item.amount

    @cached_property
    def window(self) -> int:
        return self.item.get_expiry()

    def field(self) -> str:
        """This policy as an item of `RateLimit-Policy`."""
        return f'"{self.name}";q={self.quota};w={self.window}'


@dataclass(frozen=True)
class Window:
    """Where a partition stands in its current window: the storage key and when it ends."""

    key: str
    ends_in: float

    @property
    def seconds_left(self) -> int:
        """The time to the window's end as whole seconds (`t`, `Retry-After`): never 0."""
        return max(1, math.ceil(self.ends_in))


def window_of(policy: Policy, partition: str, now: float) -> Window:
    """The fixed window `now` falls in for this partition.

    Windows are aligned to the clock, each partition shifted by an offset taken from its own
    hash, so that clients do not all get their quota back in the same second. Every process
    computes the same window, so the key names it and its end needs no round trip.
    """
    offset = _offset(partition, policy.window)
    number = int((now + offset) // policy.window)
    ends_in = (number + 1) * policy.window - offset - now
    return Window(f"{policy.name}/{partition}/{number}", ends_in)


# A process sees the same few thousand tokens and tenants again and again: their hashes are
# remembered rather than computed on every request.
_PARTITIONS_KEPT = 16_384


@lru_cache(maxsize=_PARTITIONS_KEPT)
def _offset(partition: str, window: int) -> int:
    """The partition's shift of its windows against the clock, from its hash."""
    return int.from_bytes(hashlib.blake2b(partition.encode(), digest_size=4).digest()) % window


@lru_cache(maxsize=_PARTITIONS_KEPT)
def token_partition(token: str) -> str:
    """A token's identity in storage: a hash, never the token itself."""
    return hashlib.blake2b(token.encode(), digest_size=16).hexdigest()


def configured_policies(settings: Settings) -> list[Policy]:
    """The policies the settings turn on, the token's first (it is charged first)."""
    configured = ((TOKEN, settings.rate_limit_per_token), (TENANT, settings.rate_limit_per_tenant))
    return [Policy(name, limits.parse(value)) for name, value in configured if value != "off"]


def policy_field(policies: list[Policy]) -> str:
    """The `RateLimit-Policy` value; the same on every response."""
    return ", ".join(policy.field() for policy in policies)


def limit_field(states: list[tuple[Policy, int, Window]]) -> str:
    """The `RateLimit` value: each policy's remaining quota `r` and seconds to its window's end."""
    return ", ".join(
        f'"{policy.name}";r={remaining};t={window.seconds_left}'
        for policy, remaining, window in states
    )
