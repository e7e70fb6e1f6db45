"""Bearer JWT authentication: verify the token, name the tenant, require scopes."""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.config import Settings
from app.db.session import SessionDep
from app.directory.repository import AssociateRepository
from app.kit.errors import Forbidden, Unauthorized

ADMIN_SCOPE = "admin"
MAX_TOKEN_LENGTH = 8192


class NotAnAssociate(Forbidden):
    code = "not_an_associate"
    title = "Not an associate"
    description = (
        "Diaries, invitations and notifications belong to associates, not service accounts."
    )


class InvalidToken(Unauthorized):
    code = "invalid_token"
    title = "Invalid token"
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant, the subject and its scopes."""

    tenant_id: uuid.UUID
    subject: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes

    @property
    def associate_id(self) -> uuid.UUID | None:
        """The subject as an associate id, or None for a service account's free-form `sub`."""
        try:
            return uuid.UUID(self.subject)
        except ValueError:
            return None


class TokenVerifier:
    """Checks signatures with fixed algorithms: HS256 with a secret, or RS256/ES256 keys."""

    def __init__(self, settings: Settings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self._jwks: jwt.PyJWKClient | None = None
        self._key: Any = None
        if settings.jwt_jwks_url is not None:
            self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, timeout=5)
            self._algorithms = ["RS256", "ES256"]
        elif settings.jwt_public_key is not None:
            self._key = load_pem_public_key(settings.jwt_public_key.encode())
            if isinstance(self._key, rsa.RSAPublicKey):
                self._algorithms = ["RS256"]
            elif isinstance(self._key, ec.EllipticCurvePublicKey):
                self._algorithms = ["ES256"]
            else:
                raise ValueError("CONVENE_JWT_PUBLIC_KEY must be an RSA or EC (P-256) key")
        else:
            self._key = settings.signing_secret
            self._algorithms = ["HS256"]

    async def verify(self, token: str) -> Principal:
        """Decode and check the token, or raise InvalidToken saying why."""
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token too long")
        try:
            key = self._key
            if self._jwks is not None:
                # PyJWKClient fetches over blocking HTTP; keep it off the event loop.
                key = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options={
                    "require": ["exp", "sub", "tid"],
                    "verify_aud": self._audience is not None,
                    "verify_iss": self._issuer is not None,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"token rejected: {exc}") from exc
        return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    try:
        tenant_id = uuid.UUID(str(claims["tid"]))
    except ValueError as exc:
        raise InvalidToken("claim tid must be a UUID") from exc
    subject = claims["sub"]
    if not isinstance(subject, str) or not 0 < len(subject) <= 200:
        raise InvalidToken("claim sub must be a non-empty string")
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise InvalidToken("claim scope must be a space-separated string")
    return Principal(tenant_id=tenant_id, subject=subject, scopes=frozenset(scope.split()))


def issue_token(
    secret: str,
    *,
    tenant_id: uuid.UUID,
    subject: str,
    admin: bool = False,
    ttl: timedelta = timedelta(hours=12),
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    """Sign an HS256 token, as `convene token` prints and the tests use."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "tid": str(tenant_id),
        "scope": ADMIN_SCOPE if admin else "",
        "iat": now,
        "exp": now + ttl,
    }
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


_bearer = HTTPBearer(auto_error=False, description="A JWT with `sub`, `tid` and `scope`.")


async def get_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The verified caller; a member's `sub` must be an active associate of the tenant."""
    if credentials is None:
        raise Unauthorized("send a bearer token in the Authorization header")
    verifier: TokenVerifier = request.app.state.token_verifier
    principal = await verifier.verify(credentials.credentials)
    if not principal.is_admin:
        associate_id = principal.associate_id
        if associate_id is None or not await AssociateRepository(
            session, principal.tenant_id
        ).is_active(associate_id):
            raise InvalidToken("the token's subject is not an active associate of its tenant")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    """The caller, who must hold the admin scope."""
    if not principal.is_admin:
        raise Forbidden("this operation needs the admin scope")
    return principal


@dataclass(frozen=True)
class Actor:
    """A caller acting as an associate of its tenant: who owns, attends and answers."""

    tenant_id: uuid.UUID
    associate_id: uuid.UUID

    @property
    def name(self) -> str:
        return str(self.associate_id)


async def require_associate(
    session: SessionDep, principal: Annotated[Principal, Depends(get_principal)]
) -> Actor:
    """The caller as an active associate; a service account's token cannot act as one."""
    associate_id = principal.associate_id
    if associate_id is None or (
        principal.is_admin
        and not await AssociateRepository(session, principal.tenant_id).is_active(associate_id)
    ):
        raise NotAnAssociate("this operation acts as an associate; the token's subject is not one")
    return Actor(principal.tenant_id, associate_id)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
CurrentAssociate = Annotated[Actor, Depends(require_associate)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
