"""HTTP routes of iCalendar: a follow-up's .ics, and colleagues' subscription feeds."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request, Response, status

from app.auth.dependencies import CurrentAssociate, NotAnAssociate
from app.calendars import feeds, ical, schemas, service
from app.db.route import SessionRoute
from app.db.session import SessionDep
from app.idempotency.route import SealingIdempotentRoute
from app.kit.errors import NotFound, ServiceUnavailable, ValidationFailed
from app.kit.etags import http_date, not_modified
from app.kit.openapi import AUTHENTICATED, problems
from app.kit.pagination import Page, Paged, PageDep
from app.kit.request_context import note_caller
from app.kit.responses import built
from app.kit.zones import AnswerZone, in_zone
from app.models import CalendarFeed
from app.ratelimits.dependencies import RESPONSES as RATE_LIMITED
from app.ratelimits.dependencies import charge

# Sealing: a retried create answers with the feed's secret URL again, kept sealed meanwhile.
router = APIRouter(prefix="/v1", route_class=SealingIdempotentRoute)
# The feed itself: no bearer token (the URL is the secret), so its own rate-limit charge.
feed_router = APIRouter(prefix="/v1", tags=["feeds"], route_class=SessionRoute)

AS_ASSOCIATE = (*AUTHENTICATED, NotAnAssociate)
CALENDAR_CONTENT = {ical.MEDIA_TYPE.split(";")[0]: {"schema": {"type": "string"}}}
FEED_HEADERS = {
    "ETag": {"description": "A strong tag of this body", "schema": {"type": "string"}},
    "Last-Modified": {"description": "When the body last changed", "schema": {"type": "string"}},
    "Cache-Control": {"description": "`private, no-cache`", "schema": {"type": "string"}},
}


def _calendar(body: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(body, media_type=ical.MEDIA_TYPE, headers=headers)


@router.get(
    "/follow-ups/{follow_up_id}.ics",
    tags=["follow-ups"],
    response_class=Response,
    responses={
        200: {"description": "The follow-up as iCalendar (RFC 5545)", "content": CALENDAR_CONTENT},
        **problems(*AS_ASSOCIATE, NotFound),
    },
)
async def get_follow_up_ics(
    follow_up_id: uuid.UUID, session: SessionDep, actor: CurrentAssociate
) -> Response:
    """The follow-up as a VCALENDAR with one VEVENT, for its organizer and participants.

    ORGANIZER and one ATTENDEE per participant, PARTSTAT from their status, resources as
    CUTYPE=ROOM/RESOURCE, the time in its zone with a VTIMEZONE (dates when all-day),
    STATUS:CANCELLED once cancelled. No answer's comment is in it.
    """
    return _calendar(await service.follow_up_ics(session, actor, follow_up_id))


@router.post(
    "/feeds",
    tags=["feeds"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.FeedWithUrl,
    responses=problems(*AS_ASSOCIATE),
)
async def create_feed(
    body: schemas.FeedCreate, request: Request, session: SessionDep, actor: CurrentAssociate
) -> schemas.FeedWithUrl:
    """A secret URL of the caller's own diary for calendar apps to subscribe to.

    The URL is shown only now; it shows `past_days` back and `future_days` ahead.
    """
    feed, token = await feeds.create(session, actor, body)
    url = str(request.url_for("get_feed_ics", token=token))
    return built(schemas.FeedWithUrl, feed, url=url)


@router.get(
    "/feeds",
    tags=["feeds"],
    response_model=Page[schemas.Feed],
    responses=problems(*AS_ASSOCIATE),
)
async def list_feeds(
    session: SessionDep, actor: CurrentAssociate, page: PageDep, zone: AnswerZone
) -> Paged[CalendarFeed]:
    """The caller's feeds, oldest first, without their URLs."""
    return in_zone(await feeds.listed(session, actor, page), zone, schemas.Feed)


@router.delete(
    "/feeds/{feed_id}",
    tags=["feeds"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problems(*AS_ASSOCIATE, NotFound),
)
async def delete_feed(feed_id: uuid.UUID, session: SessionDep, actor: CurrentAssociate) -> None:
    """Revoke one of the caller's feeds: its URL answers 404 from now on."""
    await feeds.revoke(session, actor, feed_id)


@feed_router.get(
    "/feeds/{token}.ics",
    response_class=Response,
    responses={
        200: {
            "description": "The diary as iCalendar (RFC 5545)",
            "content": CALENDAR_CONTENT,
            "headers": FEED_HEADERS,
        },
        304: {"description": "Not modified since the ETag or date sent"},
        **problems(NotFound, ValidationFailed, ServiceUnavailable),
        **RATE_LIMITED,
    },
    openapi_extra={"security": []},
)
async def get_feed_ics(
    token: Annotated[str, Path(pattern=feeds.TOKEN_PATTERN, description="The feed's secret")],
    request: Request,
    session: SessionDep,
    if_none_match: Annotated[
        str | None,
        Header(alias="If-None-Match", max_length=1024, description="ETags the client holds"),
    ] = None,
    if_modified_since: Annotated[
        str | None,
        Header(alias="If-Modified-Since", max_length=64, description="The client copy's date"),
    ] = None,
) -> Response:
    """A colleague's diary as a subscribed calendar; no bearer token: the URL is the secret.

    Follow-ups they own or take part in, from `past_days` back to `future_days` ahead (at
    most 1,000, the nearest to now); declined ones and cancelled ones are shown free.
    Answers 304 to a matching If-None-Match or an If-Modified-Since not before the last
    change. Rate-limited like any read, charged to the URL and its tenant.
    """
    feed = await feeds.opened(session, token)
    note_caller(request.scope, feed.tenant_id, f"feed:{feed.row.id}")
    await charge(request, token, feed.tenant_id)
    state = await feeds.current(session, feed)
    headers: dict[str, Any] = {
        "ETag": state.etag,
        "Last-Modified": http_date(state.changed_at),
        "Cache-Control": "private, no-cache",
    }
    if not_modified(if_none_match, if_modified_since, state.etag, state.changed_at):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return _calendar(await feeds.rendered(state), headers)
