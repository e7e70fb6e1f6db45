"""Bearer JWTs: malformed, forged and expired tokens, bad claims, public keys, JWKS, issuer."""

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth.tokens import MAX_TOKEN_LENGTH, issue_token
from app.config import Settings
from app.db.engine import Database
from app.main import create_app
from tests.fixtures.factories import TEST_SECRET, Caller, bearer
from tests.fixtures.problems import assert_unauthorized
from tests.fixtures.servers import jwks_server

ISSUER = "https://idp.example"
AUDIENCE = "convene"

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


# Helpers ------------------------------------------------------------------------------------


def _claims(tenant: uuid.UUID, **extra: Any) -> dict[str, Any]:
    """Valid admin claims, expiring in an hour; `extra` overrides (None removes a claim)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": "provisioning",
        "tid": str(tenant),
        "scope": "admin",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    for name, value in extra.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _hs256(claims: dict[str, Any], secret: str = TEST_SECRET, **headers: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers or None)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _signing_input(alg: str, claims: dict[str, Any]) -> str:
    """Header and payload of a token built by hand, as an attacker would."""
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims, default=lambda d: int(d.timestamp())).encode())
    return f"{header}.{payload}"


def _hs256_by_hand(claims: dict[str, Any], key: bytes) -> str:
    """An HS256 token keyed with arbitrary bytes; PyJWT refuses to sign with a PEM key."""
    signing_input = _signing_input("HS256", claims)
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _pem(public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> str:
    return public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture
def make_client(connection: AsyncConnection, tmp_path: Path) -> ClientFactory:
    """Build an app with its own settings, on the test's rolled-back connection."""

    @asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        if "jwt_public_key" in overrides or "jwt_jwks_url" in overrides:
            overrides = {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE, **overrides}
        settings = Settings(data_dir=tmp_path, database_url=None, **overrides)
        app = create_app(settings)
        app.state.database = Database.from_connection(connection)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://convene.test") as c:
            yield c

    return make


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


# Malformed ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.", "not even base64!"]
)
async def test_garbage_bearer_token_is_401(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get("/v1/contacts", headers=bearer(token))

    assert_unauthorized(response)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_overlong_token_is_401(client: httpx.AsyncClient, tenant: uuid.UUID) -> None:
    token = _hs256(_claims(tenant, padding="x" * MAX_TOKEN_LENGTH))

    response = await client.get("/v1/contacts", headers=bearer(token))

    assert_unauthorized(response)


# Bad claims and signatures ------------------------------------------------------------------


async def test_expired_token_is_401_invalid_token(
    client: httpx.AsyncClient, tenant: uuid.UUID
) -> None:
    token = issue_token(
        TEST_SECRET, tenant_id=tenant, subject="svc", admin=True, ttl=-timedelta(minutes=5)
    )

    response = await client.get("/v1/contacts", headers=bearer(token))

    assert_unauthorized(response)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert "expired" in response.json()["detail"]


async def test_token_signed_with_another_secret_is_401(
    client: httpx.AsyncClient, tenant: uuid.UUID
) -> None:
    token = _hs256(_claims(tenant), secret="another-secret-that-is-also-long-enough-0123456789")

    response = await client.get("/v1/contacts", headers=bearer(token))

    assert_unauthorized(response)


async def test_tampered_payload_is_401(client: httpx.AsyncClient, tenant: uuid.UUID) -> None:
    header, _, signature = _hs256(_claims(tenant, scope="")).split(".")
    forged = _b64(json.dumps({**_claims(tenant), "iat": 0, "exp": 4_000_000_000}).encode())

    response = await client.get("/v1/contacts", headers=bearer(f"{header}.{forged}.{signature}"))

    assert_unauthorized(response)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_token_is_401(
    client: httpx.AsyncClient, tenant: uuid.UUID, alg: str
) -> None:
    token = _signing_input(alg, _claims(tenant)) + "."

    response = await client.get("/v1/contacts", headers=bearer(token))

    assert_unauthorized(response)


@pytest.mark.parametrize("claim", ["tid", "exp", "sub"])
async def test_token_missing_a_required_claim_is_401(
    client: httpx.AsyncClient, tenant: uuid.UUID, claim: str
) -> None:
    token = _hs256(_claims(tenant, **{claim: None}))

    response = await client.get("/v1/contacts", headers=bearer(token))

    assert_unauthorized(response)


@pytest.mark.parametrize("tid", ["acme", "1234", "", 42])
async def test_non_uuid_tenant_is_401(client: httpx.AsyncClient, tid: object) -> None:
    token = _hs256(_claims(uuid.uuid4(), tid=tid))

    response = await client.get("/v1/contacts", headers=bearer(token))

    assert_unauthorized(response)


@pytest.mark.parametrize("scope", [["admin"], {"admin": True}, 1])
async def test_non_string_scope_is_401(
    client: httpx.AsyncClient, tenant: uuid.UUID, scope: object
) -> None:
    token = _hs256(_claims(tenant, scope=scope))

    response = await client.get("/v1/contacts", headers=bearer(token))

    assert_unauthorized(response)


# Public keys --------------------------------------------------------------------------------


async def test_rs256_public_key_accepts_rs256_and_rejects_algorithm_confusion(
    make_client: ClientFactory, rsa_key: rsa.RSAPrivateKey, tenant: uuid.UUID
) -> None:
    pem = _pem(rsa_key.public_key())
    async with make_client(jwt_public_key=pem) as client:
        good = jwt.encode(_claims(tenant), rsa_key, algorithm="RS256")
        confused = _hs256_by_hand(_claims(tenant), pem.encode())
        hs_with_test_secret = _hs256(_claims(tenant))

        assert (await client.get("/v1/contacts", headers=bearer(good))).status_code == 200
        assert_unauthorized(await client.get("/v1/contacts", headers=bearer(confused)))
        assert_unauthorized(await client.get("/v1/contacts", headers=bearer(hs_with_test_secret)))


async def test_rs256_token_from_another_key_is_401(
    make_client: ClientFactory, rsa_key: rsa.RSAPrivateKey, tenant: uuid.UUID
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with make_client(jwt_public_key=_pem(rsa_key.public_key())) as client:
        token = jwt.encode(_claims(tenant), other, algorithm="RS256")

        assert_unauthorized(await client.get("/v1/contacts", headers=bearer(token)))


async def test_es256_public_key_accepts_es256_and_rejects_algorithm_confusion(
    make_client: ClientFactory, ec_key: ec.EllipticCurvePrivateKey, tenant: uuid.UUID
) -> None:
    pem = _pem(ec_key.public_key())
    async with make_client(jwt_public_key=pem) as client:
        good = jwt.encode(_claims(tenant), ec_key, algorithm="ES256")
        confused = _hs256_by_hand(_claims(tenant), pem.encode())
        other = jwt.encode(_claims(tenant), ec.generate_private_key(ec.SECP256R1()), "ES256")

        assert (await client.get("/v1/contacts", headers=bearer(good))).status_code == 200
        assert_unauthorized(await client.get("/v1/contacts", headers=bearer(confused)))
        assert_unauthorized(await client.get("/v1/contacts", headers=bearer(other)))


# JWKS ---------------------------------------------------------------------------------------


@pytest.fixture
def jwks_url(rsa_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A JWKS document with one RSA key, kid "k1", served over real HTTP on 127.0.0.1."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with jwks_server() as server:
        server.serve(("k1", rsa_key.public_key()))
        yield server.url


async def test_jwks_key_with_known_kid_is_accepted(
    make_client: ClientFactory, jwks_url: str, rsa_key: rsa.RSAPrivateKey, tenant: uuid.UUID
) -> None:
    async with make_client(jwt_jwks_url=jwks_url) as client:
        token = jwt.encode(_claims(tenant), rsa_key, algorithm="RS256", headers={"kid": "k1"})

        response = await client.get("/v1/contacts", headers=bearer(token))

        assert response.status_code == 200, response.text


@pytest.mark.parametrize("headers", [{"kid": "unknown"}, None])
async def test_jwks_unknown_or_missing_kid_is_401(
    make_client: ClientFactory,
    jwks_url: str,
    rsa_key: rsa.RSAPrivateKey,
    tenant: uuid.UUID,
    headers: dict[str, str] | None,
) -> None:
    async with make_client(jwt_jwks_url=jwks_url) as client:
        token = jwt.encode(_claims(tenant), rsa_key, algorithm="RS256", headers=headers)

        assert_unauthorized(await client.get("/v1/contacts", headers=bearer(token)))


async def test_jwks_known_kid_but_wrong_key_or_hs256_is_401(
    make_client: ClientFactory, jwks_url: str, tenant: uuid.UUID
) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with make_client(jwt_jwks_url=jwks_url) as client:
        wrong_key = jwt.encode(_claims(tenant), other, algorithm="RS256", headers={"kid": "k1"})
        hs256 = _hs256(_claims(tenant), kid="k1")

        assert_unauthorized(await client.get("/v1/contacts", headers=bearer(wrong_key)))
        assert_unauthorized(await client.get("/v1/contacts", headers=bearer(hs256)))


# Issuer and audience ------------------------------------------------------------------------


async def _with_issuer_and_audience(
    make_client: ClientFactory, tenant: uuid.UUID, issuer: str | None, audience: str | None
) -> httpx.Response:
    """A request to an app that expects ISSUER and AUDIENCE, with a token naming these."""
    async with make_client(
        jwt_secret=TEST_SECRET, jwt_issuer=ISSUER, jwt_audience=AUDIENCE
    ) as client:
        token = issue_token(
            TEST_SECRET,
            tenant_id=tenant,
            subject="svc",
            admin=True,
            issuer=issuer,
            audience=audience,
        )
        return await client.get("/v1/contacts", headers=bearer(token))


@pytest.mark.parametrize(
    ("issuer", "audience"),
    [
        (None, None),
        (ISSUER, None),
        (None, AUDIENCE),
        ("https://evil.example", AUDIENCE),
        (ISSUER, "someone-else"),
    ],
)
async def test_missing_or_wrong_issuer_or_audience_is_401(
    make_client: ClientFactory, tenant: uuid.UUID, issuer: str | None, audience: str | None
) -> None:
    response = await _with_issuer_and_audience(make_client, tenant, issuer, audience)

    assert_unauthorized(response)


async def test_right_issuer_and_audience_are_accepted(
    make_client: ClientFactory, tenant: uuid.UUID
) -> None:
    response = await _with_issuer_and_audience(make_client, tenant, ISSUER, AUDIENCE)

    assert response.status_code == 200, response.text


# Admin tokens live at most a day ------------------------------------------------------------


def _lifetime(tenant: uuid.UUID, hours: float, **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return _claims(tenant, iat=now, exp=now + timedelta(hours=hours), **extra)


@pytest.mark.parametrize(("hours", "status"), [(1, 200), (24, 200), (24.01, 401), (24 * 365, 401)])
async def test_admin_token_may_live_at_most_24_hours(
    client: httpx.AsyncClient, tenant: uuid.UUID, hours: float, status: int
) -> None:
    response = await client.get("/v1/contacts", headers=bearer(_hs256(_lifetime(tenant, hours))))

    assert response.status_code == status, response.text
    if status == 401:
        assert "at most 86400 seconds" in response.json()["detail"]


async def test_admin_token_without_iat_is_401(client: httpx.AsyncClient, tenant: uuid.UUID) -> None:
    token = _hs256(_claims(tenant, iat=None))

    response = await client.get("/v1/contacts", headers=bearer(token))

    assert_unauthorized(response)
    assert "iat" in response.json()["detail"]


async def test_admin_token_issued_in_the_future_is_401(
    client: httpx.AsyncClient, tenant: uuid.UUID
) -> None:
    """A far-future iat would otherwise make any exp look short."""
    later = datetime.now(UTC) + timedelta(days=30)
    token = _hs256(_claims(tenant, iat=later, exp=later + timedelta(hours=1)))

    assert_unauthorized(await client.get("/v1/contacts", headers=bearer(token)))


async def test_member_tokens_are_not_bound_by_the_admin_lifetime(member: Caller) -> None:
    token = issue_token(
        TEST_SECRET, tenant_id=member.tenant_id, subject=member.subject, ttl=timedelta(days=7)
    )

    response = await member.client.get("/v1/invitations", headers=bearer(token))

    assert response.status_code == 200, response.text


async def test_admin_token_lifetime_is_configurable(
    make_client: ClientFactory, tenant: uuid.UUID
) -> None:
    async with make_client(jwt_secret=TEST_SECRET, admin_token_max_lifetime_seconds=3600) as client:
        hour = await client.get("/v1/contacts", headers=bearer(_hs256(_lifetime(tenant, 1))))
        two = await client.get("/v1/contacts", headers=bearer(_hs256(_lifetime(tenant, 2))))

    assert hour.status_code == 200, hour.text
    assert_unauthorized(two)
