"""The base of every repository: queries always carry the tenant, pages use keyset order."""

import uuid
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Executable, Row, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import TenantScoped, utc_now
from app.kit.errors import DuplicateExternalId
from app.kit.pagination import Paged, PageParams, paged

M = TypeVar("M", bound=TenantScoped)


class TenantRepository(Generic[M]):
    """Reads and writes rows of one model inside one tenant; no method can leave it."""

    model: type[M]
    noun: str

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def _in_tenant(self) -> ColumnElement[bool]:
        return self.model.tenant_id == self.tenant_id

    def _in_tenant_of(self, model: type[TenantScoped]) -> ColumnElement[bool]:
        return model.tenant_id == self.tenant_id

    async def get(self, object_id: uuid.UUID) -> M | None:
        """The object with this id in the tenant, or None."""
        result = await self.session.scalars(
            select(self.model).where(self._in_tenant(), self.model.id == object_id)
        )
        return result.one_or_none()

    async def get_many(self, object_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, M]:
        """The tenant's objects among these ids, by id (missing ids are simply absent)."""
        ids = set(object_ids)
        if not ids:
            return {}
        query = select(self.model).where(self._in_tenant(), self.model.id.in_(ids))
        return {obj.id: obj for obj in (await self.session.scalars(query)).all()}

    async def exists(self, object_id: uuid.UUID, *where: ColumnElement[bool]) -> bool:
        """Whether the tenant has this object (matching `where`)."""
        query = select(exists().where(self._in_tenant(), self.model.id == object_id, *where))
        return bool(await self.session.scalar(query))

    async def page(
        self, params: PageParams, *where: ColumnElement[bool], newest_first: bool = False
    ) -> Paged[M]:
        """One page in id (creation) order, and the cursor of the next page if there is one."""
        query = select(self.model).where(self._in_tenant(), *where)
        if params.after is not None:
            after = params.after.id
            query = query.where(self.model.id < after if newest_first else self.model.id > after)
        order = self.model.id.desc() if newest_first else self.model.id
        return paged(
            (await self.session.scalars(query.order_by(order).limit(params.limit + 1))).all(),
            params,
        )

    async def add(self, obj: M) -> M:
        """Insert `obj` into the tenant."""
        obj.tenant_id = self.tenant_id
        self.session.add(obj)
        await self._flush()
        return obj

    async def update(self, obj: M, changes: dict[str, Any]) -> M:
        """Write the changes that differ from `obj`'s current values (none: no write)."""
        changes = {k: v for k, v in changes.items() if getattr(obj, k) != v}
        if not changes:
            return obj
        for field, value in changes.items():
            setattr(obj, field, value)
        # A Python value, not now(): nothing is expired, so no SELECT to read the row back.
        obj.updated_at = utc_now()
        await self._flush()
        return obj

    async def reread(self, obj: M) -> M:
        """Read `obj`'s row again: after waiting on a lock, another commit may have changed it."""
        assert obj.tenant_id == self.tenant_id
        await self.session.refresh(obj)
        return obj

    async def delete(self, obj: M) -> None:
        """Delete `obj` (it was read through this tenant's repository)."""
        assert obj.tenant_id == self.tenant_id
        await self.session.delete(obj)
        await self.session.flush()

    async def _rows(self, statement: Executable, **params: Any) -> Sequence[Row[Any]]:
        """Plain rows of a statement, run as Core: reads bound for JSON skip the ORM's steps."""
        connection = await self.session.connection()
        return (await connection.execute(statement, params)).all()

    async def _flush(self) -> None:
        try:
            await self.session.flush()
        except IntegrityError as exc:
            if constraint_name(exc).endswith("_external_id"):
                raise DuplicateExternalId(
                    f"another {self.noun} in this tenant has that external_id"
                ) from exc
            raise


def constraint_name(exc: IntegrityError) -> str:
    """The violated constraint's name, from the asyncpg error under SQLAlchemy's wrapper."""
    cause = getattr(exc.orig, "__cause__", None)
    return str(getattr(cause, "constraint_name", "") or "")
