"""HTTP routes of follow-ups: the organizer's side, and a contact's activity archive."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Body, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.dependencies import CurrentAssociate, CurrentPrincipal, NotAnAssociate
from app.auth.principals import Actor
from app.availability.bookings import ResourceTaken
from app.db.session import SessionDep, read_only
from app.followups import commands, errors, participants, reads, schemas, sync, views
from app.followups.comments import reads_every_comment
from app.followups.rows import ShownFollowUp
from app.followups.sync_schemas import DeltaPage
from app.idempotency.route import IdempotentRoute
from app.kit.errors import (
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    UnknownReference,
)
from app.kit.etags import IfMatch, etag
from app.kit.openapi import AUTHENTICATED, problems
from app.kit.pagination import DEFAULT_PAGE_SIZE, Limit, Page, Paged, PageDep, TimedPageDep
from app.kit.responses import serialized
from app.kit.schemas import Instant
from app.kit.windows import check_window
from app.kit.zones import AnswerZone, in_zone
from app.models.states import FollowUpStatus

router = APIRouter(prefix="/v1", tags=["follow-ups"], route_class=IdempotentRoute)


AS_ASSOCIATE = (*AUTHENTICATED, NotAnAssociate)
READ = problems(*AS_ASSOCIATE, NotFound)
ORGANIZE = (*AS_ASSOCIATE, NotFound, errors.NotOrganizer, errors.FollowUpCancelled)
ETAG_HEADER = {
    "ETag": {
        "description": "The version of the follow-up with its participants, for If-Match",
        "schema": {"type": "string"},
    }
}


async def shown(
    session: AsyncSession,
    follow_up: ShownFollowUp,
    actor: Actor,
    status_code: int = 200,
    zone: ZoneInfo | None = None,
    participant_rows: Sequence[Mapping[str, Any]] | None = None,
) -> Response:
    """The follow-up as the API shows it to the caller, with its ETag header.

    The organizer's form is the whole follow-up; anyone else's leaves out others' comments,
    so its ETag is the caller's own. `participant_rows`: read with the follow-up already.
    """
    viewer = actor.associate_id
    view = await views.follow_up_view(session, follow_up, viewer, participant_rows)
    variant = None if reads_every_comment(follow_up, viewer) else viewer
    return serialized(in_zone(view, zone), status_code, {"ETag": etag(follow_up.seq, variant)})


@router.post(
    "/follow-ups",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.FollowUp,
    responses={
        201: {"headers": ETAG_HEADER},
        **problems(
            *AS_ASSOCIATE,
            UnknownReference,
            errors.InactiveReference,
            errors.InvalidSpan,
            ResourceTaken,
        ),
    },
)
async def create_follow_up(
    body: schemas.FollowUpCreate,
    session: SessionDep,
    actor: CurrentAssociate,
) -> Response:
    """Book a follow-up owned by the caller, with its participants, all or nothing.

    Colleagues start `not_read` and get a notification; resources are `accepted` at once;
    persons of contacts are `not_applicable` and the follow-up joins their contact's archive.
    """
    return await shown(session, await commands.create(session, actor, body), actor, 201)


@router.get(
    "/follow-ups",
    response_model=Page[schemas.DiaryEntry],
    responses=problems(*AS_ASSOCIATE),
)
async def list_follow_ups(
    session: SessionDep,
    actor: CurrentAssociate,
    page: TimedPageDep,
    zone: AnswerZone,
    start: Annotated[Instant, Query(description="Window start (inclusive)")],
    end: Annotated[Instant, Query(description="Window end (exclusive); at most 366 days on")],
    status: Annotated[FollowUpStatus | None, Query(description="Only this status")] = None,
) -> Paged[dict[str, Any]]:
    """The caller's diary: follow-ups they own or are invited to that overlap the window."""
    check_window(start, end)
    return in_zone(await reads.diary(session, actor, start, end, status, page), zone)


# Before `/follow-ups/{follow_up_id}`, which would take "delta" for an id.
@router.get(
    "/follow-ups/delta",
    response_model=DeltaPage,
    responses=problems(*AS_ASSOCIATE, errors.SyncTokenExpired),
)
async def sync_follow_ups(
    request: Request,
    session: SessionDep,
    actor: CurrentAssociate,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None,
        Query(
            pattern=r"^[A-Za-z0-9_-]{1,400}$",
            description="`next_cursor` or `delta_cursor` of an earlier sync; none to start",
        ),
    ] = None,
    start: Annotated[
        Instant | None,
        Query(description="First sync only: window start (inclusive); default 30 days ago"),
    ] = None,
    end: Annotated[
        Instant | None,
        Query(description="First sync only: window end (exclusive); default 180 days on"),
    ] = None,
    zone: AnswerZone = None,
) -> dict[str, Any]:
    """Sync the caller's diary: all of it once, then only what changed (Graph delta style).

    Without a cursor: the follow-ups the caller organizes or takes part in that overlap the
    window, page by page; the last page carries a `delta_cursor`. With it: every follow-up of
    the diary that changed since (created, moved, edited, cancelled, its participants or
    answers), as it is now, and `{id, removed: true, reason}` for those that left it; again
    the last page carries the next `delta_cursor`. 410 `sync_token_expired`: start again.
    """
    retention = timedelta(days=request.app.state.settings.retention_events_days)
    return in_zone(await sync.delta(session, actor, cursor, (start, end), limit, retention), zone)


@router.get(
    "/follow-ups/{follow_up_id}",
    response_model=schemas.FollowUp,
    responses={200: {"headers": ETAG_HEADER}, **READ},
)
@read_only
async def get_follow_up(
    follow_up_id: uuid.UUID, session: SessionDep, actor: CurrentAssociate, zone: AnswerZone
) -> Response:
    """One follow-up with its participants; only for its organizer and participants."""
    follow_up, rows = await reads.visible_with_participants(session, actor, follow_up_id)
    return await shown(session, follow_up, actor, zone=zone, participant_rows=rows)


@router.patch(
    "/follow-ups/{follow_up_id}",
    response_model=schemas.FollowUp,
    responses={
        200: {"headers": ETAG_HEADER},
        **problems(
            *ORGANIZE,
            PreconditionFailed,
            PreconditionRequired,
            UnknownReference,
            errors.InvalidSpan,
            ResourceTaken,
        ),
    },
)
async def update_follow_up(
    follow_up_id: uuid.UUID,
    body: schemas.FollowUpUpdate,
    session: SessionDep,
    actor: CurrentAssociate,
    if_match: IfMatch = None,
) -> Response:
    """Change the fields given (organizer only, with If-Match).

    A new start or end puts every invited colleague back to `not_read` with `rescheduled: true`.
    """
    follow_up = await commands.update(session, actor, follow_up_id, body, if_match)
    return await shown(session, follow_up, actor)


@router.post(
    "/follow-ups/{follow_up_id}/cancel",
    response_model=schemas.FollowUp,
    responses={200: {"headers": ETAG_HEADER}, **problems(*ORGANIZE)},
)
async def cancel_follow_up(
    follow_up_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentAssociate,
    body: Annotated[schemas.CancelRequest | None, Body()] = None,
) -> Response:
    """Cancel (organizer only): participants are notified and answers freeze. Body optional."""
    reason = body.reason if body is not None else None
    follow_up = await commands.cancel(session, actor, follow_up_id, reason)
    return await shown(session, follow_up, actor)


@router.post(
    "/follow-ups/{follow_up_id}/assign",
    response_model=schemas.FollowUp,
    responses={
        200: {"headers": ETAG_HEADER},
        **problems(*ORGANIZE, UnknownReference, errors.InactiveReference),
    },
)
async def assign_follow_up(
    follow_up_id: uuid.UUID,
    body: schemas.AssignRequest,
    session: SessionDep,
    actor: CurrentAssociate,
) -> Response:
    """Hand the follow-up to another associate, who becomes its organizer."""
    follow_up = await commands.assign(session, actor, follow_up_id, body.associate_id)
    return await shown(session, follow_up, actor)


@router.get(
    "/follow-ups/{follow_up_id}/participants",
    response_model=list[schemas.FollowUpParticipant],
    responses=READ,
)
async def list_participants(
    follow_up_id: uuid.UUID, session: SessionDep, actor: CurrentAssociate, zone: AnswerZone
) -> Response:
    """Everyone in the follow-up with their status, the organizer first (at most 500)."""
    follow_up = await reads.visible(session, actor, follow_up_id)
    view = await views.follow_up_view(session, follow_up, actor.associate_id)
    return serialized(in_zone(view["participants"], zone))


@router.post(
    "/follow-ups/{follow_up_id}/participants",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Participant,
    responses=problems(
        *ORGANIZE,
        UnknownReference,
        errors.InactiveReference,
        errors.DuplicateParticipant,
        errors.TooManyParticipants,
        ResourceTaken,
    ),
)
async def add_participant(
    follow_up_id: uuid.UUID,
    body: schemas.ParticipantRef,
    session: SessionDep,
    actor: CurrentAssociate,
) -> schemas.Participant:
    """Invite one more colleague, resource or person (organizer only)."""
    participant = await participants.add_participant(session, actor, follow_up_id, body)
    return await views.participant_view(session, participant)


@router.delete(
    "/follow-ups/{follow_up_id}/participants/{participant_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*ORGANIZE, errors.OrganizerParticipant),
)
async def remove_participant(
    follow_up_id: uuid.UUID,
    participant_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentAssociate,
) -> None:
    """Take a participant off (organizer only); their answers stay in the history."""
    await participants.remove_participant(session, actor, follow_up_id, participant_id)


@router.post(
    "/follow-ups/{follow_up_id}/participants/{participant_id}/acknowledge",
    response_model=schemas.Participant,
    responses=problems(*ORGANIZE, errors.NotDeclined),
)
async def acknowledge_participant(
    follow_up_id: uuid.UUID,
    participant_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentAssociate,
) -> schemas.Participant:
    """The organizer's "Understood" on a decline; a later decline needs a new one."""
    participant = await participants.acknowledge(session, actor, follow_up_id, participant_id)
    return await views.participant_view(session, participant)


@router.get(
    "/follow-ups/{follow_up_id}/responses",
    response_model=Page[schemas.ResponseRecord],
    responses=READ,
)
async def list_responses(
    follow_up_id: uuid.UUID,
    session: SessionDep,
    actor: CurrentAssociate,
    page: PageDep,
    zone: AnswerZone,
) -> Paged[schemas.ResponseRecord]:
    """Every answer to the follow-up's invitations, oldest first.

    Comments are shown to the organizer and to their authors; others see `null`.
    """
    return in_zone(await reads.responses(session, actor, follow_up_id, page), zone)


@router.get(
    "/contacts/{contact_id}/activities",
    tags=["contacts"],
    response_model=Page[schemas.FollowUpFields],
    responses=problems(*AUTHENTICATED, NotFound),
)
async def list_contact_activities(
    contact_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    page: TimedPageDep,
    zone: AnswerZone,
) -> Paged[Any]:
    """The contact's activity archive: follow-ups linked to it or with any of its persons.

    Latest first. Members see the ones they own or take part in; admins see all.
    """
    found = await reads.activities(session, principal, contact_id, page)
    return in_zone(found, zone, schemas.FollowUpFields)
