"""Follow-ups and participants as the API shows them: with their conflicts, computed on read.

Conflicts are read from `bookings` at the time of the request, so the flags on both of two
overlapping follow-ups are right whichever of them moved, was cancelled or lost a participant.
"""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.availability.service import first_free_for
from app.followups import schemas
from app.followups.comments import shown_participants
from app.followups.repository import (
    ANSWERS_PREFIX,
    OCCURRENCE_ANSWER_FIELDS,
    FollowUpRepository,
    ParticipantRepository,
)
from app.followups.rows import ShownFollowUp
from app.kit.responses import built
from app.models import Participant
from app.models.states import ParticipantKind


async def follow_up_view(
    session: AsyncSession,
    follow_up: ShownFollowUp,
    viewer: uuid.UUID,
    participant_rows: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The follow-up with its participants and their conflict flags, as `viewer` sees it.

    A `schemas.FollowUp` as plain data, from one statement over participants and bookings
    (unless the caller read them so already, with the follow-up); answers' comments
    only where the viewer may read them (`comments.py`).
    """
    rows = participant_rows
    if rows is None:
        rows = await ParticipantRepository(session, follow_up.tenant_id).with_conflicts(
            follow_up.id
        )
    conflicted_resource = any(r["conflict"] and r["kind"] == ParticipantKind.RESOURCE for r in rows)
    first_free_at = await first_free_for(session, follow_up) if conflicted_resource else None
    participants = [
        {
            **_with_occurrence_answers(dict(row)),
            "excluded_occurrences": row["excluded_occurrences"] or [],
            "first_free_at": first_free_at
            if row["conflict"] and row["kind"] == ParticipantKind.RESOURCE
            else None,
        }
        for row in rows
    ]
    # The owner takes part as organizer, so their name comes with the participants.
    owner_id = follow_up.owner_id
    owner_name = next(row["display_name"] for row in rows if row["associate_id"] == owner_id)
    return {
        **follow_up_fields(follow_up, owner_name),
        "has_conflict": any(row["conflict"] for row in rows),
        "participants": shown_participants(follow_up, viewer, participants),
    }


def _with_occurrence_answers(participant: dict[str, Any]) -> dict[str, Any]:
    """The row's `answered_<field>` arrays as its `occurrence_answers` list (in their order)."""
    arrays = [participant.pop(ANSWERS_PREFIX + name) for name in OCCURRENCE_ANSWER_FIELDS]
    participant["occurrence_answers"] = [
        dict(zip(OCCURRENCE_ANSWER_FIELDS, answer, strict=True))
        for answer in zip(*(array or () for array in arrays), strict=True)
    ]
    return participant


def follow_up_fields(follow_up: ShownFollowUp, owner_name: str) -> dict[str, Any]:
    """A `schemas.FollowUpFields` as plain data: the follow-up's columns and its owner's name."""
    fields = {
        name: getattr(follow_up, name)
        for name in schemas.FollowUpFields.model_fields
        if name != "owner_name"
    }
    return {**fields, "owner_name": owner_name}


async def participant_view(session: AsyncSession, participant: Participant) -> schemas.Participant:
    """One participant with its name and conflict flag (and first free time, for a resource)."""
    shown = await ParticipantRepository(session, participant.tenant_id).conflict_and_name(
        participant.id
    )
    first_free_at = None
    if shown.conflict and participant.kind == ParticipantKind.RESOURCE:
        follow_up = await FollowUpRepository(session, participant.tenant_id).get(
            participant.follow_up_id
        )
        assert follow_up is not None
        first_free_at = await first_free_for(session, follow_up)
    return built(
        schemas.Participant,
        participant,
        conflict=shown.conflict,
        display_name=shown.display_name,
        first_free_at=first_free_at,
    )
