"""HTTP routes of invitations: the invitee's inbox, seen, and answers."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import CurrentAssociate, NotAnAssociate
from app.db.session import SessionDep, one_statement, read_only
from app.followups import schemas as followup_schemas
from app.followups.errors import (
    FollowUpCancelled,
    NotASeries,
    OccurrenceCancelled,
    OrganizerParticipant,
    UnknownOccurrence,
)
from app.followups.views import participant_view
from app.idempotency.route import IdempotentRoute
from app.invitations import schemas, service
from app.kit.errors import NotFound
from app.kit.openapi import AUTHENTICATED, problems
from app.kit.pagination import Page, PageDep
from app.kit.responses import serialized
from app.kit.zones import AnswerZone, in_zone
from app.models.states import ParticipantStatus

router = APIRouter(prefix="/v1", tags=["invitations"], route_class=IdempotentRoute)

ANSWER = (*AUTHENTICATED, NotAnAssociate, NotFound, service.NotInvitee, OrganizerParticipant)


@router.get(
    "/invitations",
    response_model=Page[schemas.Invitation],
    responses=problems(*AUTHENTICATED, NotAnAssociate),
)
@read_only
async def list_invitations(
    session: SessionDep,
    actor: CurrentAssociate,
    page: PageDep,
    zone: AnswerZone,
    status: Annotated[ParticipantStatus | None, Query(description="Only this status")] = None,
) -> Response:
    """The caller's invitations, newest first, each with its follow-up."""
    return serialized(in_zone(await service.inbox(session, actor, status, page), zone))


@router.post(
    "/invitations/{participant_id}/seen",
    response_model=followup_schemas.Participant,
    responses=problems(*ANSWER),
)
async def mark_invitation_seen(
    participant_id: uuid.UUID, session: SessionDep, actor: CurrentAssociate
) -> followup_schemas.Participant:
    """`not_read` becomes `seen`; an answer is never overridden (idempotent)."""
    participant = await service.mark_seen(session, actor, participant_id)
    return await participant_view(session, participant)


@router.post(
    "/invitations/{participant_id}/response",
    response_model=schemas.AnsweredInvitation,
    responses=problems(
        *ANSWER, FollowUpCancelled, NotASeries, UnknownOccurrence, OccurrenceCancelled
    ),
)
@one_statement
async def respond_to_invitation(
    participant_id: uuid.UUID,
    body: schemas.ResponseRequest,
    session: SessionDep,
    actor: CurrentAssociate,
) -> Response:
    """Accept, decline or answer tentative (the invitee only); publishes an event.

    With `occurrence`, the answer is to that occurrence of a series alone: its booking in
    the invitee's diary follows it, the other occurrences keep the series answer.
    """
    return serialized(await service.respond(session, actor, participant_id, body))
