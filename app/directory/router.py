"""HTTP routes of the directory: any member reads, admins write."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from sqlalchemy import ColumnElement

from app.auth.dependencies import AdminPrincipal, CurrentPrincipal, forget_member
from app.db.session import SessionDep
from app.directory import schemas, service
from app.idempotency.route import IdempotentRoute
from app.kit.errors import DuplicateExternalId, NotFound, UnknownReference
from app.kit.openapi import ADMIN_WRITE, AUTHENTICATED, READ_ONE, problems
from app.kit.pagination import Page, Paged, PageDep
from app.kit.schemas import single_line
from app.kit.zones import AnswerZone, in_zone
from app.models import Associate, Contact, Person, Resource
from app.models.states import ResourceKind

router = APIRouter(prefix="/v1", route_class=IdempotentRoute)

IncludeInactive = Annotated[bool, Query(description="Also list deactivated objects")]
ExternalIdFilter = Annotated[
    Annotated[str, single_line(200)] | None,
    Query(description="Exact external_id"),
]

CREATE = problems(*ADMIN_WRITE, DuplicateExternalId)
UPDATE = problems(*ADMIN_WRITE, NotFound, DuplicateExternalId)
DELETE = problems(*ADMIN_WRITE, NotFound)
LIST = problems(*AUTHENTICATED)
GET = problems(*READ_ONE)


# Associates ---------------------------------------------------------------------------------


@router.post(
    "/associates",
    tags=["associates"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Associate,
    responses=CREATE,
)
async def create_associate(
    body: schemas.AssociateCreate, session: SessionDep, principal: AdminPrincipal
) -> Associate:
    """Add a colleague with a diary, a time zone and working hours."""
    return await service.associates.create(session, principal, body)


@router.get(
    "/associates", tags=["associates"], response_model=Page[schemas.Associate], responses=LIST
)
async def list_associates(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    zone: AnswerZone,
    include_inactive: IncludeInactive = False,
    external_id: ExternalIdFilter = None,
) -> Paged[Any]:
    """The tenant's associates, oldest first; deactivated ones only when asked."""
    where: list[ColumnElement[bool]] = [] if include_inactive else [Associate.active.is_(True)]
    if external_id is not None:
        where.append(Associate.external_id == external_id)
    found = await service.associates.list(session, principal, page, *where)
    return in_zone(found, zone, schemas.Associate)


@router.get(
    "/associates/{associate_id}",
    tags=["associates"],
    response_model=schemas.Associate,
    responses=GET,
)
async def get_associate(
    associate_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, zone: AnswerZone
) -> Any:
    """One associate, active or not."""
    found = await service.associates.get(session, principal, associate_id)
    return in_zone(found, zone, schemas.Associate)


@router.patch(
    "/associates/{associate_id}",
    tags=["associates"],
    response_model=schemas.Associate,
    responses=UPDATE,
)
async def update_associate(
    associate_id: uuid.UUID,
    body: schemas.AssociateUpdate,
    session: SessionDep,
    principal: AdminPrincipal,
    request: Request,
) -> Associate:
    """Change the fields given; `active: true` reactivates."""
    forget_member(request, principal.tenant_id, associate_id)
    return await service.associates.update(session, principal, associate_id, body)


@router.delete(
    "/associates/{associate_id}",
    tags=["associates"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=DELETE,
)
async def deactivate_associate(
    associate_id: uuid.UUID, session: SessionDep, principal: AdminPrincipal, request: Request
) -> None:
    """Deactivate: the associate can no longer sign in or be invited; history stays."""
    forget_member(request, principal.tenant_id, associate_id)
    await service.associates.deactivate(session, principal, associate_id)


# Resources ----------------------------------------------------------------------------------


@router.post(
    "/resources",
    tags=["resources"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Resource,
    responses=CREATE,
)
async def create_resource(
    body: schemas.ResourceCreate, session: SessionDep, principal: AdminPrincipal
) -> Resource:
    """Add a room or a piece of equipment."""
    return await service.resources.create(session, principal, body)


@router.get("/resources", tags=["resources"], response_model=Page[schemas.Resource], responses=LIST)
async def list_resources(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    zone: AnswerZone,
    include_inactive: IncludeInactive = False,
    kind: Annotated[ResourceKind | None, Query(description="Only this kind")] = None,
    external_id: ExternalIdFilter = None,
) -> Paged[Any]:
    """The tenant's resources, oldest first; deactivated ones only when asked."""
    where: list[ColumnElement[bool]] = [] if include_inactive else [Resource.active.is_(True)]
    if kind is not None:
        where.append(Resource.kind == kind)
    if external_id is not None:
        where.append(Resource.external_id == external_id)
    found = await service.resources.list(session, principal, page, *where)
    return in_zone(found, zone, schemas.Resource)


@router.get(
    "/resources/{resource_id}", tags=["resources"], response_model=schemas.Resource, responses=GET
)
async def get_resource(
    resource_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, zone: AnswerZone
) -> Any:
    """One resource, active or not."""
    found = await service.resources.get(session, principal, resource_id)
    return in_zone(found, zone, schemas.Resource)


@router.patch(
    "/resources/{resource_id}",
    tags=["resources"],
    response_model=schemas.Resource,
    responses=UPDATE,
)
async def update_resource(
    resource_id: uuid.UUID,
    body: schemas.ResourceUpdate,
    session: SessionDep,
    principal: AdminPrincipal,
) -> Resource:
    """Change the fields given; `active: true` reactivates."""
    return await service.resources.update(session, principal, resource_id, body)


@router.delete(
    "/resources/{resource_id}",
    tags=["resources"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=DELETE,
)
async def deactivate_resource(
    resource_id: uuid.UUID, session: SessionDep, principal: AdminPrincipal
) -> None:
    """Deactivate: no new bookings; existing bookings and history stay."""
    await service.resources.deactivate(session, principal, resource_id)


# Contacts -----------------------------------------------------------------------------------


@router.post(
    "/contacts",
    tags=["contacts"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Contact,
    responses=CREATE,
)
async def create_contact(
    body: schemas.ContactCreate, session: SessionDep, principal: AdminPrincipal
) -> Contact:
    """Add an external company."""
    return await service.contacts.create(session, principal, body)


@router.get("/contacts", tags=["contacts"], response_model=Page[schemas.Contact], responses=LIST)
async def list_contacts(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    zone: AnswerZone,
    external_id: ExternalIdFilter = None,
) -> Paged[Any]:
    """The tenant's contacts, oldest first."""
    where: list[ColumnElement[bool]] = (
        [] if external_id is None else [Contact.external_id == external_id]
    )
    found = await service.contacts.list(session, principal, page, *where)
    return in_zone(found, zone, schemas.Contact)


@router.get(
    "/contacts/{contact_id}", tags=["contacts"], response_model=schemas.Contact, responses=GET
)
async def get_contact(
    contact_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, zone: AnswerZone
) -> Any:
    """One contact."""
    found = await service.contacts.get(session, principal, contact_id)
    return in_zone(found, zone, schemas.Contact)


@router.patch(
    "/contacts/{contact_id}", tags=["contacts"], response_model=schemas.Contact, responses=UPDATE
)
async def update_contact(
    contact_id: uuid.UUID,
    body: schemas.ContactUpdate,
    session: SessionDep,
    principal: AdminPrincipal,
) -> Contact:
    """Change the fields given."""
    return await service.contacts.update(session, principal, contact_id, body)


# Persons ------------------------------------------------------------------------------------


@router.post(
    "/persons",
    tags=["persons"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Person,
    responses=problems(*ADMIN_WRITE, DuplicateExternalId, UnknownReference),
)
async def create_person(
    body: schemas.PersonCreate, session: SessionDep, principal: AdminPrincipal
) -> Person:
    """Add a person who works at a contact."""
    return await service.persons.create(session, principal, body)


@router.get("/persons", tags=["persons"], response_model=Page[schemas.Person], responses=LIST)
async def list_persons(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    zone: AnswerZone,
    contact_id: Annotated[uuid.UUID | None, Query(description="Only this contact's")] = None,
    external_id: ExternalIdFilter = None,
) -> Paged[Any]:
    """The tenant's persons, oldest first."""
    where: list[ColumnElement[bool]] = []
    if contact_id is not None:
        where.append(Person.contact_id == contact_id)
    if external_id is not None:
        where.append(Person.external_id == external_id)
    found = await service.persons.list(session, principal, page, *where)
    return in_zone(found, zone, schemas.Person)


@router.get("/persons/{person_id}", tags=["persons"], response_model=schemas.Person, responses=GET)
async def get_person(
    person_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, zone: AnswerZone
) -> Any:
    """One person."""
    found = await service.persons.get(session, principal, person_id)
    return in_zone(found, zone, schemas.Person)


@router.patch(
    "/persons/{person_id}",
    tags=["persons"],
    response_model=schemas.Person,
    responses=problems(*ADMIN_WRITE, NotFound, DuplicateExternalId, UnknownReference),
)
async def update_person(
    person_id: uuid.UUID,
    body: schemas.PersonUpdate,
    session: SessionDep,
    principal: AdminPrincipal,
) -> Person:
    """Change the fields given; a new `contact_id` moves the person to that contact."""
    return await service.persons.update(session, principal, person_id, body)
