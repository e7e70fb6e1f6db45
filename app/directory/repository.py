"""Queries over the directory tables, always inside one tenant."""

import uuid

from sqlalchemy import bindparam, select

from app.db.repository import TenantRepository
from app.models import Associate, Contact, Person, Resource

# The name of an associate who is active: every member's request checks its token with it.
# Built once, as every statement on a hot path is.
ACTIVE_NAME = select(Associate.name).where(
    Associate.tenant_id == bindparam("tenant_id"),
    Associate.id == bindparam("associate_id"),
    Associate.active,
)


class AssociateRepository(TenantRepository[Associate]):
    model = Associate
    noun = "associate"

    async def active_name(self, associate_id: uuid.UUID) -> str | None:
        """The name of the tenant's associate if it is active; None otherwise (one column)."""
        return await self.session.scalar(
            ACTIVE_NAME, {"tenant_id": self.tenant_id, "associate_id": associate_id}
        )


class ResourceRepository(TenantRepository[Resource]):
    model = Resource
    noun = "resource"


class ContactRepository(TenantRepository[Contact]):
    model = Contact
    noun = "contact"


class PersonRepository(TenantRepository[Person]):
    model = Person
    noun = "person"
