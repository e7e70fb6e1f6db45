"""Delta-sync cursors: a versioned binary payload, checksummed and bound to its caller, base64url.

A cursor holds no secret and needs none: every query it drives is scoped to the token's tenant
and associate, so a forged one can show nothing its bearer could not read anyway. It is bound
to the caller (a hash of tenant and associate) so that a cursor stored under one login is
refused under another, and checksummed so that a truncated or altered one is told from an old one.
"""

import base64
import binascii
import hashlib
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.followups.errors import SyncTokenExpired
from app.kit.errors import ValidationFailed

VERSION = 1
# What a cursor continues: the first sync's pages, a new delta round, or a round's later pages.
SNAPSHOT, DELTA, DELTA_PAGE = 1, 2, 3
# Events of a transaction that began before the cursor was issued may be dated a little
# earlier than it; a cursor expires this much before the retention job could reach them.
EXPIRY_MARGIN = timedelta(hours=1)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HEAD = struct.Struct(">BB8sqqqq16s")  # version, kind, owner, issued, start, end, since
_UNTIL = struct.Struct(">q16sq16s")  # the round's end, when it was taken, the last follow-up
_AFTER_AT = struct.Struct(">q16s")
_CHECK_BYTES = 8


@dataclass(frozen=True, order=True)
class Position:
    """A place in the event log, whose order is (txid, id)."""

    txid: int
    id: uuid.UUID


ORIGIN = Position(0, uuid.UUID(int=0))


@dataclass(frozen=True)
class SyncCursor:
    """Where a sync resumes, for one caller and one window.

    `since`: the changes after this position are still to be sent; `issued_at`: when it was
    taken, which decides expiry. A delta round's later pages also carry the round's end
    (`until`, taken at `until_at`) and the last follow-up sent (`after_id`); the first sync's
    pages carry the last diary entry sent (`after_at`, `after_id`).
    """

    kind: int
    issued_at: datetime
    start: datetime
    end: datetime
    since: Position
    until: Position | None = None
    until_at: datetime | None = None
    after_id: uuid.UUID | None = None
    after_at: datetime | None = None


def owner_tag(tenant_id: uuid.UUID, associate_id: uuid.UUID) -> bytes:
    """Eight bytes that name the caller a cursor was issued to."""
    return hashlib.blake2b(
        tenant_id.bytes + associate_id.bytes, digest_size=8, person=b"convene-delta"
    ).digest()


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def _instant(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def _checksum(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_CHECK_BYTES).digest()


def encode(cursor: SyncCursor, owner: bytes) -> str:
    """The cursor as the opaque text the API hands out."""
    raw = _HEAD.pack(
        VERSION,
        cursor.kind,
        owner,
        _micros(cursor.issued_at),
        _micros(cursor.start),
        _micros(cursor.end),
        cursor.since.txid,
        cursor.since.id.bytes,
    )
    if cursor.kind == DELTA_PAGE:
        assert cursor.until is not None
        assert cursor.until_at is not None
        assert cursor.after_id is not None
        until, until_at, after_id = cursor.until, _micros(cursor.until_at), cursor.after_id
        raw += _UNTIL.pack(until.txid, until.id.bytes, until_at, after_id.bytes)
    elif cursor.kind == SNAPSHOT:
        assert cursor.after_at is not None
        assert cursor.after_id is not None
        raw += _AFTER_AT.pack(_micros(cursor.after_at), cursor.after_id.bytes)
    raw += _checksum(raw)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _malformed() -> ValidationFailed:
    return ValidationFailed.at(
        ("query", "cursor"),
        "cursor is not one this API returned; sync again without a cursor",
        msg="invalid cursor",
        type="cursor",
    )


def _unpacked(text: str) -> tuple[int, bytes, SyncCursor]:
    """The version, owner tag and cursor in `text`; ValueError when it is not one of ours."""
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    payload, check = raw[:-_CHECK_BYTES], raw[-_CHECK_BYTES:]
    if len(payload) < _HEAD.size or _checksum(payload) != check:
        raise ValueError("not a cursor")
    version, kind, owner, issued, start, end, since_txid, since_id = _HEAD.unpack_from(payload)
    rest = payload[_HEAD.size :]
    until, until_at, after_id, after_at = None, None, None, None
    if kind == DELTA_PAGE and len(rest) == _UNTIL.size:
        until_txid, until_id, until_micros, last_id = _UNTIL.unpack(rest)
        until = Position(until_txid, uuid.UUID(bytes=until_id))
        until_at, after_id = _instant(until_micros), uuid.UUID(bytes=last_id)
    elif kind == SNAPSHOT and len(rest) == _AFTER_AT.size:
        at, last_id = _AFTER_AT.unpack(rest)
        after_at, after_id = _instant(at), uuid.UUID(bytes=last_id)
    elif kind != DELTA or rest:
        raise ValueError("not a cursor")
    since = Position(since_txid, uuid.UUID(bytes=since_id))
    cursor = SyncCursor(
        kind,
        _instant(issued),
        _instant(start),
        _instant(end),
        since,
        until,
        until_at,
        after_id,
        after_at,
    )
    return version, owner, cursor


def decode(text: str, owner: bytes, now: datetime, retention: timedelta) -> SyncCursor:
    """The cursor in `text`, if it is one of ours, for this caller, and still in the event log.

    Not one of ours (not base64, cut short, altered): 422. Issued to another caller, or older
    than the event log keeps: 410 `sync_token_expired`, whose remedy is a sync from scratch.
    """
    try:
        version, issued_to, cursor = _unpacked(text)
    except (binascii.Error, ValueError, OverflowError, struct.error) as exc:
        raise _malformed() from exc
    if version != VERSION:
        raise _malformed()
    if issued_to != owner:
        raise SyncTokenExpired("this cursor was issued to another caller: sync again without one")
    if cursor.issued_at + retention - EXPIRY_MARGIN < now:
        raise SyncTokenExpired(
            "the changes since this cursor are no longer kept: sync again without a cursor"
        )
    return cursor
