"""Directory rules: who may write, what a reference must point at, deactivation not deletion."""

import uuid
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principals import Principal
from app.db.base import TenantScoped
from app.db.repository import TenantRepository
from app.directory.repository import (
    AssociateRepository,
    ContactRepository,
    PersonRepository,
    ResourceRepository,
)
from app.kit.errors import NotFound, UnknownReference
from app.kit.pagination import Paged, PageParams
from app.models import Associate, Contact, Person, Resource

M = TypeVar("M", bound=TenantScoped)


class DirectoryService(Generic[M]):
    """Create, read, list and update one kind of directory object; services never commit."""

    def __init__(self, repository: type[TenantRepository[M]]) -> None:
        self.repository = repository

    def _repo(self, session: AsyncSession, principal: Principal) -> TenantRepository[M]:
        return self.repository(session, principal.tenant_id)

    async def get(self, session: AsyncSession, principal: Principal, object_id: uuid.UUID) -> M:
        """The object, or NotFound when the tenant has no such object."""
        obj = await self._repo(session, principal).get(object_id)
        if obj is None:
            raise NotFound(f"{self.repository.noun} {object_id} not found")
        return obj

    async def list(
        self,
        session: AsyncSession,
        principal: Principal,
        page: PageParams,
        *where: ColumnElement[bool],
    ) -> Paged[M]:
        """One page of the tenant's objects matching `where`."""
        return await self._repo(session, principal).page(page, *where)

    async def create(self, session: AsyncSession, principal: Principal, body: BaseModel) -> M:
        """Insert a new object from a validated body."""
        values = await self._check(session, principal, body.model_dump(mode="json"))
        return await self._repo(session, principal).add(self.repository.model(**values))

    async def update(
        self, session: AsyncSession, principal: Principal, object_id: uuid.UUID, body: BaseModel
    ) -> M:
        """Apply the fields the body sets (a PATCH)."""
        obj = await self.get(session, principal, object_id)
        changes = await self._check(session, principal, body.model_dump(mode="json"))
        return await self._repo(session, principal).update(obj, changes)

    async def deactivate(
        self, session: AsyncSession, principal: Principal, object_id: uuid.UUID
    ) -> None:
        """Mark the object inactive; the rows that refer to it keep their history."""
        obj = await self.get(session, principal, object_id)
        await self._repo(session, principal).update(obj, {"active": False})

    async def _check(
        self, session: AsyncSession, principal: Principal, values: dict[str, Any]
    ) -> dict[str, Any]:
        """Check the values' references; the base has none."""
        return values


class PersonService(DirectoryService[Person]):
    async def _check(
        self, session: AsyncSession, principal: Principal, values: dict[str, Any]
    ) -> dict[str, Any]:
        """A person must belong to a contact of the same tenant."""
        contact_id = values.get("contact_id")
        if contact_id is not None:
            values["contact_id"] = uuid.UUID(contact_id)
            if not await ContactRepository(session, principal.tenant_id).exists(
                values["contact_id"]
            ):
                raise UnknownReference(f"contact {contact_id} not found")
        return values


associates = DirectoryService[Associate](AssociateRepository)
resources = DirectoryService[Resource](ResourceRepository)
contacts = DirectoryService[Contact](ContactRepository)
persons = PersonService(PersonRepository)
