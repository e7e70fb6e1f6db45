"""FastAPI dependencies that resolve the verified caller and require what an operation needs."""

import uuid
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.members import ActiveMembers
from app.auth.principals import Actor, Principal
from app.auth.tokens import InvalidToken, TokenVerifier
from app.db.session import SessionDep
from app.directory.repository import AssociateRepository
from app.idempotency.pending import note_claimed, pending
from app.idempotency.repository import IdempotencyRepository
from app.kit.errors import Forbidden, Unauthorized
from app.kit.request_context import note_caller
from app.ratelimits.dependencies import charge_caller


class NotAnAssociate(Forbidden):
    code = "not_an_associate"
    title = "Not an associate"
    description = (
        "Diaries, invitations and notifications belong to associates, not service accounts: "
        "an admin token never acts as an associate, whatever its `sub`."
    )


# How the document names the bearer token every authenticated operation takes.
BEARER_SCHEME = "HTTPBearer"
_BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "A JWT with `sub`, `tid` and `scope`.",
}


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None without one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if token and scheme.lower() == "bearer" else None


def document_bearer(document: dict[str, Any]) -> None:
    """Mark every operation that can answer 401 as taking the bearer token.

    The token is read by `get_principal` itself rather than by a FastAPI security dependency,
    which would cost each request one more dependency to solve; this says in the document
    what such a dependency would have said.
    """
    for path in document.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "401" in operation.get("responses", {}):
                operation["security"] = [{BEARER_SCHEME: []}]
    schemes = document.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[BEARER_SCHEME] = _BEARER


# Where the request's scope keeps its caller: verified (the token), then resolved (get_principal).
_VERIFIED = "convene.verified_principal"
_RESOLVED = "convene.principal"


async def verify_bearer(request: Request) -> Principal:
    """The token's principal, verified once per request (the route does it before the body)."""
    verified: Principal | None = request.scope.get(_VERIFIED)
    if verified is not None:
        return verified
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("send a bearer token in the Authorization header")
    verifier: TokenVerifier = request.app.state.token_verifier
    verified = request.scope[_VERIFIED] = await verifier.verify(token)
    return verified


async def get_principal(request: Request, session: SessionDep) -> Principal:
    """The verified caller; a member's `sub` must be an active associate of the tenant.

    Whether it is one is looked up, or remembered from a lookup at most
    `CONVENE_MEMBER_CACHE_SECONDS` ago (`ActiveMembers`); a write with an Idempotency-Key
    always looks it up, as it claims the key in the same round trip. The request is charged
    to the token's and the tenant's rate limits first (`charge_caller`). Resolved once per
    request: `require_associate` and `require_admin` call this rather than depend on it, as
    each dependency FastAPI solves costs every request its bookkeeping.
    """
    resolved: Principal | None = request.scope.get(_RESOLVED)
    if resolved is None:
        resolved = request.scope[_RESOLVED] = await _resolve(request, session)
    return resolved


async def _resolve(request: Request, session: AsyncSession) -> Principal:
    principal = await verify_bearer(request)
    note_caller(request.scope, principal.tenant_id, principal.subject)
    await charge_caller(request, bearer_token(request) or "", principal.tenant_id)
    if principal.is_admin:
        return principal
    associate_id = principal.associate_id
    name = None
    key = pending(request)
    if associate_id is not None and key is not None:
        # A write with an Idempotency-Key: the key is claimed in the same round trip.
        keys = IdempotencyRepository(session, principal.tenant_id, principal.subject)
        name, claimed = await keys.claim_as_member(key, associate_id)
        note_claimed(request, claimed)
    elif associate_id is not None:
        members: ActiveMembers = request.app.state.active_members
        name = members.name(principal.tenant_id, associate_id)
        if name is None:
            directory = AssociateRepository(session, principal.tenant_id)
            name = await directory.active_name(associate_id)
            if name is not None:
                members.remember(principal.tenant_id, associate_id, name)
    if name is None:
        raise InvalidToken("the token's subject is not an active associate of its tenant")
    return replace(principal, name=name)


async def require_admin(request: Request, session: SessionDep) -> Principal:
    """The caller, who must hold the admin scope."""
    principal = await get_principal(request, session)
    if not principal.is_admin:
        raise Forbidden("this operation needs the admin scope")
    return principal


async def require_associate(request: Request, session: SessionDep) -> Actor:
    """The caller as an active associate; an admin (service account) token never acts as one."""
    principal = await get_principal(request, session)
    associate_id = principal.associate_id
    name = principal.name
    if associate_id is None or name is None:
        raise NotAnAssociate("this operation acts as an associate; the token's subject is not one")
    return Actor(principal.tenant_id, associate_id, name)


# The dependencies that resolve the caller (the route verifies the token before the body).
RESOLVES_CALLER = frozenset({get_principal, require_admin, require_associate})
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
CurrentAssociate = Annotated[Actor, Depends(require_associate)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]


def forget_member(request: Request, tenant_id: uuid.UUID, associate_id: uuid.UUID) -> None:
    """An associate is being changed (deactivated, renamed): look it up afresh from now on."""
    members: ActiveMembers = request.app.state.active_members
    members.forget(tenant_id, associate_id)
