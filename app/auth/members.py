"""Active members remembered for a few seconds: a member's token check without a round trip."""

import time
import uuid

# How many members a process remembers (the oldest forgotten first).
MEMBERS_KEPT = 10_000

_Key = tuple[uuid.UUID, uuid.UUID]


class ActiveMembers:
    """The names of active associates by tenant and id, each remembered for `seconds`.

    Only active associates are remembered, so a reactivation counts at once. A deactivation or
    a change made through this process forgets the associate at once and keeps it forgotten
    for `seconds` (a request that read it before that change committed cannot put it back);
    another process sees the change within `seconds`. With `seconds` 0 nothing is remembered.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        # Key -> (monotonic deadline, name); a name of None marks a forgotten associate.
        self._kept: dict[_Key, tuple[float, str | None]] = {}

    def name(self, tenant_id: uuid.UUID, associate_id: uuid.UUID) -> str | None:
        """The remembered name of an active associate; None when it must be looked up."""
        kept = self._kept.get((tenant_id, associate_id))
        if kept is None or kept[1] is None or kept[0] <= time.monotonic():
            return None
        return kept[1]

    def remember(self, tenant_id: uuid.UUID, associate_id: uuid.UUID, name: str) -> None:
        """Remember an associate the directory just found active (unless it was changed)."""
        if self.seconds <= 0:
            return
        key = (tenant_id, associate_id)
        now = time.monotonic()
        kept = self._kept.get(key)
        if kept is not None and kept[1] is None and kept[0] > now:
            return
        self._keep(key, (now + self.seconds, name))

    def forget(self, tenant_id: uuid.UUID, associate_id: uuid.UUID) -> None:
        """The associate is changing: look it up on every request for the next `seconds`."""
        if self.seconds > 0:
            self._keep((tenant_id, associate_id), (time.monotonic() + self.seconds, None))

    def _keep(self, key: _Key, value: tuple[float, str | None]) -> None:
        self._kept.pop(key, None)
        if len(self._kept) >= MEMBERS_KEPT:
            self._kept.pop(next(iter(self._kept)))
        self._kept[key] = value
