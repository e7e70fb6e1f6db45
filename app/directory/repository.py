"""Queries over the directory tables, always inside one tenant."""

import uuid

from app.db.repository import TenantRepository
from app.models import Associate, Contact, Person, Resource


class AssociateRepository(TenantRepository[Associate]):
    model = Associate
    noun = "associate"

    async def is_active(self, associate_id: uuid.UUID) -> bool:
        """Whether the tenant has this associate and it is not deactivated.

        Loads the row (into the session's identity map), so the request can use it later.
        """
        associate = await self.get(associate_id)
        return associate is not None and associate.active


class ResourceRepository(TenantRepository[Resource]):
    model = Resource
    noun = "resource"


class ContactRepository(TenantRepository[Contact]):
    model = Contact
    noun = "contact"


class PersonRepository(TenantRepository[Person]):
    model = Person
    noun = "person"
