"""HTTP routes of a series' occurrences: move, cancel, split at, add to or take off one."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Path, Response, status

from app.auth.dependencies import CurrentAssociate
from app.availability.bookings import ResourceTaken
from app.db.session import SessionDep
from app.followups import errors, occurrence_participants, schemas, series, split, views
from app.followups.router import ETAG_HEADER, ORGANIZE, shown
from app.idempotency.route import IdempotentRoute
from app.kit.errors import PreconditionFailed, PreconditionRequired, UnknownReference
from app.kit.etags import IfMatch, etag
from app.kit.openapi import problems
from app.kit.responses import built, serialized
from app.kit.schemas import Instant
from app.models import Occurrence

router = APIRouter(prefix="/v1", tags=["follow-ups"], route_class=IdempotentRoute)

OriginalStart = Annotated[
    Instant,
    Path(
        description="The occurrence's start as the rule gave it (`occurrence_start` in the diary)"
    ),
]
OCCURRENCE = (*ORGANIZE, errors.NotASeries, errors.OccurrenceCancelled)


def _shown(occurrence: Occurrence, seq: int) -> Response:
    """The occurrence, with the ETag of its follow-up (for the next If-Match)."""
    return serialized(built(schemas.OccurrenceShown, occurrence), 200, {"ETag": etag(seq)})


@router.patch(
    "/follow-ups/{follow_up_id}/occurrences/{original_start}",
    response_model=schemas.OccurrenceShown,
    responses={
        200: {"headers": ETAG_HEADER},
        **problems(
            *OCCURRENCE, PreconditionFailed, PreconditionRequired, errors.InvalidSpan, ResourceTaken
        ),
    },
)
async def move_occurrence(
    follow_up_id: uuid.UUID,
    original_start: OriginalStart,
    body: schemas.OccurrenceUpdate,
    session: SessionDep,
    actor: CurrentAssociate,
    if_match: IfMatch = None,
) -> Response:
    """Move one occurrence of a series (organizer only, with the follow-up's If-Match).

    Its bookings move with it (409 if a room that refuses double booking is taken then);
    the rest of the series stays, and the move survives the worker's further booking.
    """
    follow_up, occurrence = await series.move_occurrence(
        session, actor, follow_up_id, original_start, body, if_match
    )
    return _shown(occurrence, follow_up.seq)


@router.post(
    "/follow-ups/{follow_up_id}/occurrences/{original_start}/cancel",
    response_model=schemas.OccurrenceShown,
    responses={200: {"headers": ETAG_HEADER}, **problems(*OCCURRENCE)},
)
async def cancel_occurrence(
    follow_up_id: uuid.UUID,
    original_start: OriginalStart,
    session: SessionDep,
    actor: CurrentAssociate,
    body: Annotated[schemas.CancelRequest | None, Body()] = None,
) -> Response:
    """Cancel one occurrence of a series (organizer only): it blocks no time any more."""
    reason = body.reason if body is not None else None
    follow_up, occurrence = await series.cancel_occurrence(
        session, actor, follow_up_id, original_start, reason
    )
    return _shown(occurrence, follow_up.seq)


@router.post(
    "/follow-ups/{follow_up_id}/occurrences/{original_start}/split",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.FollowUp,
    responses={
        201: {
            "headers": {
                **ETAG_HEADER,
                "Location": {
                    "description": "The new follow-up's URL",
                    "schema": {"type": "string"},
                },
            }
        },
        **problems(
            *OCCURRENCE,
            PreconditionFailed,
            PreconditionRequired,
            errors.InvalidSpan,
            errors.SplitAtFirstOccurrence,
            ResourceTaken,
        ),
    },
)
async def split_series(
    follow_up_id: uuid.UUID,
    original_start: OriginalStart,
    session: SessionDep,
    actor: CurrentAssociate,
    if_match: IfMatch = None,
    body: Annotated[schemas.SeriesSplit | None, Body()] = None,
) -> Response:
    """Split a series at one occurrence: "this and following" (organizer, with If-Match).

    The series ends before the occurrence; a new follow-up (`split_from` the series) with
    the same participants carries it and those after it, with their bookings. The body may
    give the new series another start, end or rule: then its colleagues answer again.
    409 when a room that refuses double booking is taken then; 422 at the first occurrence.
    """
    new = await split.split_series(
        session, actor, follow_up_id, original_start, body or schemas.SeriesSplit(), if_match
    )
    response = await shown(session, new, actor, 201)
    response.headers["Location"] = f"/v1/follow-ups/{new.id}"
    return response


@router.post(
    "/follow-ups/{follow_up_id}/occurrences/{original_start}/participants",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Participant,
    responses={
        201: {"headers": ETAG_HEADER},
        **problems(
            *OCCURRENCE,
            PreconditionFailed,
            PreconditionRequired,
            UnknownReference,
            errors.InactiveReference,
            errors.DuplicateParticipant,
            errors.TooManyParticipants,
            ResourceTaken,
        ),
    },
)
async def add_occurrence_participant(
    follow_up_id: uuid.UUID,
    original_start: OriginalStart,
    body: schemas.ParticipantRef,
    session: SessionDep,
    actor: CurrentAssociate,
    if_match: IfMatch = None,
) -> Response:
    """Invite a colleague, resource or person to one occurrence alone (organizer, If-Match).

    They take part in (and block time at) that occurrence only: `only_occurrence` is its
    original start. A series participant taken off it is brought back instead. 409 when they
    take part already, or a room that refuses double booking is taken then.
    """
    follow_up, participant = await occurrence_participants.add_to_occurrence(
        session, actor, follow_up_id, original_start, body, if_match
    )
    shown = await views.participant_view(session, participant)
    return serialized(shown, 201, {"ETag": etag(follow_up.seq)})


@router.delete(
    "/follow-ups/{follow_up_id}/occurrences/{original_start}/participants/{participant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        204: {"headers": ETAG_HEADER},
        **problems(
            *OCCURRENCE, PreconditionFailed, PreconditionRequired, errors.OrganizerParticipant
        ),
    },
)
async def remove_occurrence_participant(
    follow_up_id: uuid.UUID,
    original_start: OriginalStart,
    participant_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentAssociate,
    if_match: IfMatch = None,
) -> Response:
    """Take a participant off one occurrence (organizer only, with If-Match).

    A series participant stays in the others (`excluded_occurrences` lists this one); one
    added to this occurrence alone is removed. 404 if they take no part in it.
    """
    follow_up = await occurrence_participants.remove_from_occurrence(
        session, actor, follow_up_id, original_start, participant_id, if_match
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"ETag": etag(follow_up.seq)})
