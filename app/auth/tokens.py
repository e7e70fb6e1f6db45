"""Bearer JWTs: verify a token with the configured keys and algorithms, or sign one."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from app.auth.principals import ADMIN_SCOPE, Principal
from app.config import ConfigError, Settings
from app.kit.errors import ServiceUnavailable, Unauthorized

MAX_TOKEN_LENGTH = 8192
# How many verified tokens a process remembers (oldest forgotten first).
VERIFIED_TOKENS_KEPT = 4096


class InvalidToken(Unauthorized):
    code = "invalid_token"
    title = "Invalid token"
    headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class KeysUnavailable(ServiceUnavailable):
    code = "auth_keys_unavailable"
    title = "Signing keys unavailable"
    description = "The identity provider's key set could not be fetched; try again shortly."
    headers = {"Retry-After": "5"}


class TokenVerifier:
    """Checks signatures with fixed algorithms: HS256 with a secret, or RS256/ES256 keys."""

    def __init__(self, settings: Settings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._leeway = settings.jwt_leeway_seconds
        self._admin_max_lifetime = settings.admin_token_max_lifetime_seconds
        self._jwks: jwt.PyJWKClient | None = None
        self._key: Any = None
        # Token -> (its exp, its principal), for fixed keys only; see `verify`.
        self._verified: dict[str, tuple[float, Principal]] = {}
        if settings.uses_asymmetric_keys and (self._issuer is None or self._audience is None):
            raise ConfigError("a public key or JWKS URL needs CONVENE_JWT_ISSUER and _AUDIENCE")
        if settings.jwt_jwks_url is not None:
            # The key set expires after its lifespan (a key the provider withdrew stops
            # working then), and an unknown kid refetches it at most once per cooldown (a
            # flood of made-up kids cannot make us hammer the provider). No per-kid cache:
            # it would keep a withdrawn key forever.
            self._jwks = jwt.PyJWKClient(
                settings.jwt_jwks_url,
                cache_keys=False,
                cache_jwk_set=True,
                lifespan=settings.jwt_jwks_cache_seconds,
                cooldown_duration=settings.jwt_jwks_refresh_cooldown_seconds,
                timeout=5,
            )
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
        required = ["exp", "sub", "tid"]
        required += ["iss"] if self._issuer is not None else []
        required += ["aud"] if self._audience is not None else []
        self._options: Any = {
            "require": required,
            "verify_aud": self._audience is not None,
            "verify_iss": self._issuer is not None,
        }

    async def verify(self, token: str) -> Principal:
        """Decode and check the token, or raise InvalidToken saying why.

        A client sends the same token with each request, and checking its signature is most
        of what authentication costs, so with a fixed key (a secret or a public key) a token
        that passed is remembered until its `exp`: every check it passed stays passed until
        then (the signature, `iat` and `nbf` in the past, an admin token's lifetime), and
        from `exp` on it is checked afresh (so the leeway still applies). Not with a JWKS,
        whose provider may withdraw a key; nor a refusal, which is checked each time.
        """
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("token too long")
        remembered = self._verified.get(token)
        if remembered is not None:
            if time.time() < remembered[0]:
                return remembered[1]
            self._verified.pop(token, None)
        try:
            key = self._key if self._jwks is None else await self._jwks_key(self._jwks, token)
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                issuer=self._issuer,
                audience=self._audience,
                leeway=self._leeway,
                options=self._options,
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.PyJWKClientConnectionError as exc:
            raise KeysUnavailable("the identity provider's keys could not be fetched") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"token rejected: {exc}") from exc
        principal = _principal(claims)
        if principal.is_admin:
            self._check_admin_lifetime(claims)
        if self._jwks is None:
            self._remember(token, claims["exp"], principal)
        return principal

    def _remember(self, token: str, expires: float, principal: Principal) -> None:
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.pop(next(iter(self._verified)))
        self._verified[token] = (float(expires), principal)

    async def _jwks_key(self, jwks: jwt.PyJWKClient, token: str) -> jwt.PyJWK:
        """The key the token's kid names: from the cached set, else fetched off the loop."""
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no kid; the JWKS names every key")
        cached = jwks.jwk_set_cache.get() if jwks.jwk_set_cache is not None else None
        if cached is not None:
            for candidate in cached.keys:
                if candidate.key_id == kid and candidate.public_key_use in ("sig", None):
                    return candidate
        # An expired set or an unknown kid: PyJWKClient fetches over blocking HTTP (and holds
        # its lock meanwhile), so it runs in a thread, never on the event loop.
        return await asyncio.to_thread(jwks.get_signing_key, kid)

    def _check_admin_lifetime(self, claims: dict[str, Any]) -> None:
        """An admin token needs iat, and may live at most the configured maximum."""
        issued, expires = claims.get("iat"), claims["exp"]
        if not isinstance(issued, int | float) or isinstance(issued, bool):
            raise InvalidToken("an admin token needs an iat claim")
        if expires - issued > self._admin_max_lifetime:
            raise InvalidToken(
                f"an admin token may live at most {self._admin_max_lifetime} seconds (exp - iat)"
            )


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
