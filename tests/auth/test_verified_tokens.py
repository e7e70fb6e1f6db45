"""A token verified with a fixed key is remembered until its `exp`, and only until then."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from app.auth import tokens
from app.auth.tokens import InvalidToken, TokenVerifier
from app.config import Settings
from tests.fixtures.factories import TEST_SECRET


def _verifier(tmp_path: Path, **overrides: Any) -> TokenVerifier:
    settings = Settings(data_dir=tmp_path, jwt_secret=TEST_SECRET, **overrides)
    settings.check()
    return TokenVerifier(settings)


def _token(expires_in: timedelta, secret: str = TEST_SECRET) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(uuid.uuid4()), "tid": str(uuid.uuid4()), "iat": now}
    return jwt.encode({**claims, "exp": now + expires_in}, secret, algorithm="HS256")


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tokens whose signature PyJWT checked."""
    seen: list[str] = []
    decode = jwt.decode

    def counting(token: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(tokens.jwt, "decode", counting)
    return seen


async def test_a_verified_token_is_checked_once(tmp_path: Path, decodes: list[str]) -> None:
    verifier = _verifier(tmp_path)
    token = _token(timedelta(minutes=5))
    first = await verifier.verify(token)
    assert await verifier.verify(token) == first
    assert decodes == [token]


async def test_a_remembered_token_is_refused_once_expired(tmp_path: Path) -> None:
    verifier = _verifier(tmp_path, jwt_leeway_seconds=0)
    token = _token(timedelta(seconds=1.5))
    await verifier.verify(token)
    await asyncio.sleep(1.6)  # `exp` is in whole seconds, at most 1.5 s on
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(token)


async def test_refusals_are_not_remembered(tmp_path: Path, decodes: list[str]) -> None:
    verifier = _verifier(tmp_path)
    forged = _token(timedelta(minutes=5), secret="another secret of at least 32 characters!")
    for _ in range(2):
        with pytest.raises(InvalidToken):
            await verifier.verify(forged)
    assert decodes == [forged, forged]


async def test_the_oldest_remembered_token_is_forgotten_first(
    tmp_path: Path, decodes: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_TOKENS_KEPT", 2)
    verifier = _verifier(tmp_path)
    first, second, third = (_token(timedelta(minutes=5)) for _ in range(3))
    for token in (first, second, third, third, second, first):
        await verifier.verify(token)
    assert decodes == [first, second, third, first]
