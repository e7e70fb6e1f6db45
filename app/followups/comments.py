"""Who reads an answer's comment: the follow-up's organizer and the comment's author, no one else.

The comment is a message from an invitee to the organizer ("Private: hospital appointment"),
so the other participants see `null` in its place, as if there were none. Filtering happens
on rows already fetched for the view, so it costs no statement.
"""

import uuid
from collections.abc import Sequence
from typing import Any

from app.followups import schemas
from app.followups.rows import ShownFollowUp


def reads_every_comment(follow_up: ShownFollowUp, viewer: uuid.UUID) -> bool:
    """Whether the viewer organizes the follow-up, and so reads every answer's comment."""
    return follow_up.owner_id == viewer


def shown_participants(
    follow_up: ShownFollowUp, viewer: uuid.UUID, participants: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The participants as the viewer sees them: others' comments as null, unless organizer."""
    if reads_every_comment(follow_up, viewer):
        return participants
    for participant in participants:
        if participant["associate_id"] != viewer:
            participant["comment"] = None
            for answer in participant["occurrence_answers"]:
                answer["comment"] = None
    return participants


def shown_responses(
    follow_up: ShownFollowUp, viewer: uuid.UUID, responses: Sequence[Any]
) -> list[schemas.ResponseRecord]:
    """The response history as the viewer sees it: others' comments as null, unless organizer."""
    everything = reads_every_comment(follow_up, viewer)
    shown = []
    for response in responses:
        record = schemas.ResponseRecord.model_validate(response)
        if not everything and response.associate_id != viewer:
            record.comment = None
        shown.append(record)
    return shown
