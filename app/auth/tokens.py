"""Bearer JWTs: verify a token with the configured keys and algorithms, or sign one."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from app.auth.principals import ADMIN_SCOPE, Principal
from app.config import Settings
from app.kit.errors import Unauthorized

MAX_TOKEN_LENGTH = 8192


class InvalidToken(Unauthorized):
    code = "invalid_token"
    title = "Invalid token"
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


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
