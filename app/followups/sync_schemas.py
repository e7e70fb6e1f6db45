"""Response bodies of the delta sync: diary entries, entries gone from the diary, the page."""

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from app.followups import schemas
from app.kit.schemas import OutputModel
from app.models.states import RemovalReason


class SyncedFollowUp(schemas.FollowUp, schemas.DiaryEntry):
    """A diary entry as its GET shows it to the caller, with their role and answer."""

    removed: Literal[False] = Field(default=False, description="Always false: it is yours")


class RemovedFollowUp(OutputModel):
    """A follow-up that left the caller's diary (or the window): delete your copy."""

    id: uuid.UUID
    removed: Literal[True] = Field(description="Always true")
    reason: RemovalReason = Field(
        description=(
            "`participant_removed`: the caller was taken off it; `outside_window`: it moved "
            "out of the synced window"
        )
    )


# Told apart by `removed` (false or true) without a discriminator: OpenAPI's needs a string.
DeltaItem = SyncedFollowUp | RemovedFollowUp


class DeltaPage(BaseModel):
    """One page of a sync: follow `next_cursor`; keep the last page's `delta_cursor` for later."""

    items: list[DeltaItem]
    next_cursor: str | None = Field(description="More of this sync: pass it as `cursor`")
    delta_cursor: str | None = Field(
        description="On the last page only: keep it, and pass it as `cursor` for the next sync"
    )
