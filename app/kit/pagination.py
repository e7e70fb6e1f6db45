"""Cursor pagination: opaque cursors over a unique, ordered key, and the page envelope."""

import base64
import binascii
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field

from app.kit.errors import ValidationFailed
from app.kit.schemas import EARLIEST, LATEST

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next one."""

    items: list[T]
    next_cursor: str | None = Field(description="Null on the last page")


@dataclass(frozen=True)
class Paged(Generic[T]):
    """What a repository returns for a page; routes render it as a Page."""

    items: Sequence[T]
    next_cursor: str | None


@dataclass(frozen=True)
class Cursor:
    """Where a page resumes: after this id (and, for time-ordered lists, this time)."""

    id: uuid.UUID
    at: datetime | None = None


@dataclass(frozen=True)
class PageParams:
    limit: int
    after: Cursor | None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_MICROS = (EARLIEST - _EPOCH) // timedelta(microseconds=1)
_LAST_MICROS = (LATEST - _EPOCH) // timedelta(microseconds=1)
_ID_CURSOR = r"^[A-Za-z0-9_-]{22}$"
_TIMED_CURSOR = r"^[A-Za-z0-9_-]{32}$"


def encode_cursor(last_id: uuid.UUID, at: datetime | None = None) -> str:
    """An opaque cursor that resumes after `last_id` (at `at`, for time-ordered lists)."""
    raw = last_id.bytes
    if at is not None:
        raw = struct.pack(">q", (at - _EPOCH) // timedelta(microseconds=1)) + raw
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def id_cursor_sql(sql: str) -> str:
    """SQL text of the cursor `encode_cursor()` gives for the uuid `sql`, for JSON built there."""
    return f"rtrim(translate(encode(uuid_send({sql}), 'base64'), '+/', '-_'), '=')"


def decode_cursor(cursor: str) -> Cursor:
    """The position a cursor resumes after; a malformed cursor is a 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        if len(raw) == 24:
            micros = struct.unpack(">q", raw[:8])[0]
            # Any 24 bytes decode: a time past the range the API stores just means "the end".
            micros = max(_FIRST_MICROS, min(micros, _LAST_MICROS))
            return Cursor(uuid.UUID(bytes=raw[8:]), _EPOCH + timedelta(microseconds=micros))
        return Cursor(uuid.UUID(bytes=raw))
    except (binascii.Error, ValueError, OverflowError, struct.error) as exc:
        raise ValidationFailed.at(
            ("query", "cursor"),
            "cursor is not one this API returned",
            msg="invalid cursor",
            type="cursor",
        ) from exc


def paged(rows: Sequence[T], params: PageParams, at: str | None = None) -> Paged[T]:
    """Cut the limit+1 rows a query fetched to a page; `at` names a time attribute of the order."""
    if len(rows) <= params.limit:
        return Paged(rows, None)
    rows = rows[: params.limit]
    last = rows[-1]
    return Paged(rows, encode_cursor(last.id, getattr(last, at) if at else None))  # type: ignore[attr-defined]


R = TypeVar("R", bound=Sequence[Any])


def paged_rows(rows: Sequence[R], params: PageParams, at: str | None = None) -> Paged[R]:
    """Page result rows by their first column, the object that carries the cursor position."""
    cut = paged([row[0] for row in rows], params, at=at)
    return Paged(rows[: len(cut.items)], cut.next_cursor)


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]
_CURSOR_DESCRIPTION = "`next_cursor` of the page before"


async def page_params(
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(pattern=_ID_CURSOR, description=_CURSOR_DESCRIPTION)
    ] = None,
) -> PageParams:
    """Read `limit` and `cursor` for a list ordered by id."""
    return PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None)


async def timed_page_params(
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(pattern=_TIMED_CURSOR, description=_CURSOR_DESCRIPTION)
    ] = None,
) -> PageParams:
    """Read `limit` and `cursor` for a list ordered by a time, then id."""
    return PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageParams, Depends(page_params)]
TimedPageDep = Annotated[PageParams, Depends(timed_page_params)]
