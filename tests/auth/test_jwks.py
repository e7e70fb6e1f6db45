"""Keys from an identity provider's JWKS: rotation, expiry, the refresh cooldown, iss and aud.

The provider is a real HTTP server on 127.0.0.1 (tests/fixtures/servers.py) that can rotate
its keys and counts how often it is asked.
"""

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.tokens import InvalidToken, KeysUnavailable, TokenVerifier
from app.config import Settings
from tests.fixtures.servers import JwksServer, jwks_server

ISSUER = "https://idp.example"
AUDIENCE = "convene"
# The cache and cooldown windows: long enough that what must happen within one still does on
# a stalled machine (a CI run once took over 2 s to serve a request).
WINDOW = 2.0


@pytest.fixture(scope="module")
def key_one() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def key_two() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch, key_one: rsa.RSAPrivateKey) -> Iterator[JwksServer]:
    """The identity provider, publishing key_one as "k1"."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    with jwks_server() as server:
        server.serve(("k1", key_one.public_key()))
        yield server


def _verifier(provider: JwksServer, tmp_path: Path, **overrides: Any) -> TokenVerifier:
    settings = Settings(
        data_dir=tmp_path,
        jwt_jwks_url=provider.url,
        jwt_issuer=ISSUER,
        jwt_audience=AUDIENCE,
        **overrides,
    )
    settings.check()
    return TokenVerifier(settings)


def _token(key: rsa.RSAPrivateKey, kid: str, **extra: Any) -> str:
    """A member's token signed by `key` under `kid`; `extra` overrides (None removes)."""
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "tid": str(uuid.uuid4()),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(minutes=10),
    }
    for name, value in extra.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


async def test_a_rotated_key_is_fetched_once_when_its_kid_first_appears(
    provider: JwksServer, tmp_path: Path, key_one: rsa.RSAPrivateKey, key_two: rsa.RSAPrivateKey
) -> None:
    verifier = _verifier(provider, tmp_path, jwt_jwks_refresh_cooldown_seconds=WINDOW)
    await verifier.verify(_token(key_one, "k1"))
    await verifier.verify(_token(key_one, "k1"))
    assert provider.fetches == 1

    provider.serve(("k1", key_one.public_key()), ("k2", key_two.public_key()))
    await asyncio.sleep(WINDOW + 0.1)  # past the cooldown that the first fetch started
    await verifier.verify(_token(key_two, "k2"))
    await verifier.verify(_token(key_two, "k2"))
    await verifier.verify(_token(key_one, "k1"))

    assert provider.fetches == 2


async def test_unknown_kids_refresh_the_set_at_most_once_per_cooldown(
    provider: JwksServer, tmp_path: Path, key_one: rsa.RSAPrivateKey
) -> None:
    verifier = _verifier(provider, tmp_path, jwt_jwks_refresh_cooldown_seconds=WINDOW)
    await verifier.verify(_token(key_one, "k1"))
    await asyncio.sleep(WINDOW + 0.1)

    made_up = [verifier.verify(_token(key_one, f"forged-{n}")) for n in range(20)]
    outcomes = await asyncio.gather(*made_up, return_exceptions=True)

    assert all(isinstance(outcome, InvalidToken) for outcome in outcomes), outcomes
    assert provider.fetches == 2, "twenty unknown kids, one refresh"
    await verifier.verify(_token(key_one, "k1"))
    assert provider.fetches == 2


async def test_a_withdrawn_key_stops_working_when_the_cached_set_expires(
    provider: JwksServer, tmp_path: Path, key_one: rsa.RSAPrivateKey, key_two: rsa.RSAPrivateKey
) -> None:
    verifier = _verifier(provider, tmp_path, jwt_jwks_cache_seconds=WINDOW)
    old = _token(key_one, "k1")
    await verifier.verify(old)

    provider.serve(("k2", key_two.public_key()))  # k1 withdrawn, say after a leak
    await verifier.verify(old)  # still cached
    assert provider.fetches == 1
    await asyncio.sleep(WINDOW + 0.1)

    with pytest.raises(InvalidToken, match="k1"):
        await verifier.verify(old)
    await verifier.verify(_token(key_two, "k2"))
    assert provider.fetches == 2


async def test_fetching_the_key_set_does_not_block_the_event_loop(
    provider: JwksServer, tmp_path: Path, key_one: rsa.RSAPrivateKey
) -> None:
    provider.delay = 0.5
    verifier = _verifier(provider, tmp_path)
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        started = time.monotonic()
        await verifier.verify(_token(key_one, "k1"))
        took = time.monotonic() - started
    finally:
        ticker.cancel()

    assert took >= 0.5, "the slow provider answered"
    assert len(gaps) >= 20
    assert max(gaps) < 0.2, "the loop kept running while the keys were fetched"


async def test_an_unreachable_provider_is_503_not_401(
    provider: JwksServer, tmp_path: Path, key_one: rsa.RSAPrivateKey
) -> None:
    verifier = _verifier(provider, tmp_path)
    provider.stop()

    with pytest.raises(KeysUnavailable) as raised:
        await verifier.verify(_token(key_one, "k1"))

    assert raised.value.status == 503


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": None},
        {"aud": None},
        {"iss": "https://evil.example"},
        {"aud": "another-app"},
        {"aud": ["another-app", "and-another"]},
    ],
    ids=["no iss", "no aud", "wrong iss", "wrong aud", "wrong aud list"],
)
async def test_a_provider_token_without_the_right_iss_and_aud_is_refused(
    provider: JwksServer, tmp_path: Path, key_one: rsa.RSAPrivateKey, claims: dict[str, Any]
) -> None:
    """The provider's key signs tokens for other applications too: iss and aud tell ours."""
    verifier = _verifier(provider, tmp_path)

    with pytest.raises(InvalidToken):
        await verifier.verify(_token(key_one, "k1", **claims))
    await verifier.verify(_token(key_one, "k1"))


async def test_a_token_without_kid_is_refused_without_asking_the_provider(
    provider: JwksServer, tmp_path: Path, key_one: rsa.RSAPrivateKey
) -> None:
    verifier = _verifier(provider, tmp_path)
    now = datetime.now(UTC)
    token = jwt.encode(
        {"sub": "x", "tid": str(uuid.uuid4()), "iss": ISSUER, "aud": AUDIENCE, "exp": now},
        key_one,
        algorithm="RS256",
    )

    with pytest.raises(InvalidToken, match="kid"):
        await verifier.verify(token)
    assert provider.fetches == 0
