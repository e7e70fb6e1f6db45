"""The caller as the rest of the app sees it: a principal of a tenant, or an acting associate."""

import uuid
from dataclasses import dataclass

ADMIN_SCOPE = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant, the subject and its scopes."""

    tenant_id: uuid.UUID
    subject: str
    scopes: frozenset[str]
    # The associate's name, once the directory confirmed the subject is an active one.
    name: str | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes

    @property
    def associate_id(self) -> uuid.UUID | None:
        """The subject as an associate id; None for an admin token or a free-form `sub`.

        An admin token is a service account's, whatever its `sub` says: a `sub` that happens
        to be a colleague's id must not let it answer, book or read as that colleague.
        """
        if self.is_admin:
            return None
        try:
            return uuid.UUID(self.subject)
        except ValueError:
            return None


@dataclass(frozen=True)
class Actor:
    """A caller acting as an associate of its tenant: who owns, attends and answers."""

    tenant_id: uuid.UUID
    associate_id: uuid.UUID
    display_name: str | None = None

    @property
    def name(self) -> str:
        """The actor as events and notifications record it: the associate id."""
        return str(self.associate_id)

    @property
    def who(self) -> str:
        """The actor as people read it: the associate's name, when known."""
        return self.display_name or self.name
