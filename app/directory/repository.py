"""Queries over the directory tables, always inside one tenant."""

import uuid

from app.db.driver import DriverStatement, fetchval
from app.db.repository import TenantRepository
from app.models import Associate, Contact, Person, Resource

# The name of an associate who is active: every member's request checks its token with it,
# so it goes straight to the driver.
ACTIVE_NAME = DriverStatement(
    "SELECT associates.name FROM associates"
    " WHERE associates.tenant_id = :tenant_id AND associates.id = :associate_id"
    " AND associates.active"
)


class AssociateRepository(TenantRepository[Associate]):
    model = Associate
    noun = "associate"

    async def active_name(self, associate_id: uuid.UUID) -> str | None:
        """The name of the tenant's associate if it is active; None otherwise (one column)."""
        name: str | None = await fetchval(
            self.session, ACTIVE_NAME, tenant_id=self.tenant_id, associate_id=associate_id
        )
        return name


class ResourceRepository(TenantRepository[Resource]):
    model = Resource
    noun = "resource"


class ContactRepository(TenantRepository[Contact]):
    model = Contact
    noun = "contact"


class PersonRepository(TenantRepository[Person]):
    model = Person
    noun = "person"
