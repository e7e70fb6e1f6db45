"""Queries over the directory tables, always inside one tenant."""

import uuid

from sqlalchemy import select

from app.db.repository import TenantRepository
from app.models import Associate, Contact, Person, Resource


class AssociateRepository(TenantRepository[Associate]):
    model = Associate
    noun = "associate"

    async def active_name(self, associate_id: uuid.UUID) -> str | None:
        """The name of the tenant's associate if it is active; None otherwise (one column)."""
        query = select(Associate.name).where(
            self._in_tenant(), Associate.id == associate_id, Associate.active
        )
        return await self.session.scalar(query)


class ResourceRepository(TenantRepository[Resource]):
    model = Resource
    noun = "resource"


class ContactRepository(TenantRepository[Contact]):
    model = Contact
    noun = "contact"


class PersonRepository(TenantRepository[Person]):
    model = Person
    noun = "person"
