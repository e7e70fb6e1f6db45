"""ETags and If-Match: optimistic concurrency for updates (RFC 9110 section 13.1.1)."""

import uuid
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
