"""HTTP routes of availability: group free/busy and the first free slots."""

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from app.auth.dependencies import CurrentPrincipal
from app.auth.route import AuthenticatedRoute
from app.availability import schemas, service
from app.availability.schemas import MAX_CALENDARS, MAX_SLOTS
from app.db.session import ReadSessionDep, read_only
from app.kit.errors import UnknownReference, ValidationFailed
from app.kit.openapi import AUTHENTICATED, problems
from app.kit.responses import serialized
from app.kit.schemas import Instant
from app.kit.windows import check_window
from app.kit.zones import AnswerZone, in_zone

router = APIRouter(prefix="/v1/availability", tags=["availability"], route_class=AuthenticatedRoute)

MIN_DURATION = timedelta(minutes=1)
MAX_DURATION = timedelta(days=31)

AssociateIds = Annotated[
    list[uuid.UUID],
    Query(max_length=MAX_CALENDARS, description="Repeat for each associate"),
]
ResourceIds = Annotated[
    list[uuid.UUID],
    Query(max_length=MAX_CALENDARS, description="Repeat for each resource"),
]


def _check_calendars(associate_ids: list[uuid.UUID], resource_ids: list[uuid.UUID]) -> None:
    total = len(set(associate_ids)) + len(set(resource_ids))
    if not 0 < total <= MAX_CALENDARS:
        raise ValidationFailed.at(
            ("query", "associate_ids"),
            f"ask about 1 to {MAX_CALENDARS} calendars (associate_ids and resource_ids)",
            msg="calendar count",
            type="count",
        )


@router.get(
    "",
    response_model=schemas.Availability,
    responses=problems(*AUTHENTICATED, UnknownReference),
)
@read_only
async def get_availability(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    zone: AnswerZone,
    start: Annotated[Instant, Query(description="Window start")],
    end: Annotated[Instant, Query(description="Window end; at most 366 days after start")],
    associate_ids: AssociateIds = [],  # noqa: B006
    resource_ids: ResourceIds = [],  # noqa: B006
) -> Response:
    """Busy blocks per calendar and the time when all are free, for any tenant member.

    Blocks of follow-ups the caller owns or takes part in carry their id; the others show
    only as merged busy or tentative time.
    """
    check_window(start, end)
    _check_calendars(associate_ids, resource_ids)
    found = await service.free_busy(session, principal, associate_ids, resource_ids, start, end)
    if zone is None:
        return serialized(found)
    # The statement writes UTC; another zone is rendered from the parsed answer.
    return serialized(in_zone(schemas.Availability.model_validate_json(found), zone))


@router.get(
    "/first-free",
    response_model=schemas.Slots,
    responses=problems(*AUTHENTICATED, UnknownReference),
)
@read_only
async def get_first_free(
    session: ReadSessionDep,
    principal: CurrentPrincipal,
    zone: AnswerZone,
    duration: Annotated[
        timedelta, Query(description="ISO 8601 duration, 1 minute to 31 days", examples=["PT1H"])
    ],
    after: Annotated[Instant, Query(description="Earliest start")],
    before: Annotated[Instant, Query(description="Latest end; at most 366 days after `after`")],
    associate_ids: AssociateIds = [],  # noqa: B006
    resource_ids: ResourceIds = [],  # noqa: B006
    working_hours: Annotated[
        bool, Query(description="Only inside every associate's working hours (own time zone)")
    ] = True,
    count: Annotated[int, Query(ge=1, le=MAX_SLOTS, description="How many slots")] = 1,
) -> Response:
    """The earliest slots of `duration` when every given associate and resource is free."""
    check_window(after, before, start_name="after", end_name="before")
    _check_calendars(associate_ids, resource_ids)
    if not MIN_DURATION <= duration <= MAX_DURATION:
        raise ValidationFailed.at(
            ("query", "duration"),
            "duration must be between 1 minute and 31 days",
            msg="out of range",
            type="range",
        )
    slots = await service.first_free_slots(
        session,
        principal,
        associate_ids,
        resource_ids,
        duration,
        after,
        before,
        count,
        working_hours=working_hours,
    )
    return serialized(in_zone(slots, zone))
