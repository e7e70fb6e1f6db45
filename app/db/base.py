"""The declarative base with a naming convention, and the columns every table shares."""

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import CheckConstraint, DateTime, Dialect, MetaData, String, Uuid, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator
from uuid6 import uuid7

E = TypeVar("E", bound=StrEnum)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> uuid.UUID:
    """A time-ordered UUIDv7, so that keyset pages by id follow creation order."""
    return uuid7()


def utc_now() -> datetime:
    """The current instant, in UTC: the one clock services and repositories read."""
    return datetime.now(UTC)


class StrEnumText(TypeDecorator[E], Generic[E]):
    """A `StrEnum` stored as text; rows read back as members, and bad values never bind."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 16) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)


def any_of(column: str, values: Iterable[str]) -> str:
    """SQL: text `column` is one of `values` (null passes, as in SQL), as one array constant.

    Not `IN (...)`: PostgreSQL keeps that as an array of casts, and every statement that
    writes a table re-reads its CHECKs and folds them (in `ExecConstraints`); one constant
    is about a third of the work (a tenth of the answer's database CPU went to the CHECKs).
    """
    listed = list(values)
    if not all(re.fullmatch(r"[A-Za-z0-9_.]+", value) for value in listed):
        raise ValueError(f"not a plain array element: {listed}")
    return f"{column}::text = ANY ('{{{','.join(listed)}}}'::text[])"


def one_of(column: str, enum: type[StrEnum], *, name: str | None = None) -> CheckConstraint:
    """A CHECK that `column` holds one of the enum's values (null passes, as in SQL)."""
    return CheckConstraint(any_of(column, (member.value for member in enum)), name=name or column)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TenantScoped:
    """Tenant, id and timestamps: every tenant-owned table starts with these.

    The primary key is (tenant_id, id), so the tables can be distributed by tenant (Citus) and
    child rows point at their parent through (tenant_id, id) composite foreign keys. Ids stay
    globally unique UUIDv7s; an ORM identity is the pair.
    """

    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Set by TenantRepository.update, so bookkeeping writes (an event's seq) leave it alone.
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
