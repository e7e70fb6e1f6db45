"""ETags and conditional requests: If-Match for updates, If-None-Match for reads (RFC 9110)."""

import uuid
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated

from fastapi import Header

from app.kit.errors import PreconditionFailed, PreconditionRequired


def etag(version: int, viewer: uuid.UUID | None = None) -> str:
    """The strong ETag of a representation at `version`, of one viewer's form if it has one.

    A representation that shows one viewer less than it shows others (someone else's comment
    left out) is another representation, so its tag names the viewer: `"7-<viewer hex>"`.
    """
    return f'"{version}"' if viewer is None else f'"{version}-{viewer.hex}"'


IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=512,
        description="The ETag this change is based on (required; `*` matches any version)",
    ),
]


def check_if_match(if_match: str | None, version: int) -> None:
    """Pass when If-Match names the current version; 428 without it, 412 when stale."""
    if if_match is None:
        raise PreconditionRequired("send If-Match with the ETag from your last read")
    current = etag(version)
    candidates = {tag.strip() for tag in if_match.split(",")}
    # Weak tags never match for If-Match (strong comparison).
    if "*" not in candidates and current not in candidates:
        raise PreconditionFailed(f"the current version is {current}; read it again")


def not_modified(
    if_none_match: str | None, if_modified_since: str | None, tag: str, modified_at: datetime
) -> bool:
    """Whether a GET's conditions say the client's copy is current (RFC 9110 13.2.2).

    If-None-Match decides when sent (weak comparison); else If-Modified-Since, to the second.
    """
    if if_none_match is not None:
        candidates = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in candidates or tag.removeprefix("W/") in candidates
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False  # an invalid date is ignored (RFC 9110 13.1.3)
    if since.tzinfo is None:
        return False
    return modified_at.replace(microsecond=0) <= since


def http_date(instant: datetime) -> str:
    """An instant as an HTTP date (IMF-fixdate), as Last-Modified carries it."""
    return format_datetime(instant.astimezone(UTC), usegmt=True)
