"""The migration that seals plaintext webhook secrets, and `convene rotate-keys` after it."""

import asyncio
import base64
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from app.config import ConfigError, Settings
from app.db.engine import async_url
from app.db.migrations import downgrade, upgrade
from app.kit.keyring import kid_of
from app.webhooks import sealed_secrets
from tests.fixtures.factories import TEST_SECRET
from tests.fixtures.servers import convene_env, run_cli

BEFORE = "db6338294f8a"
K1, K2 = base64.b64encode(os.urandom(32)).decode(), base64.b64encode(os.urandom(32)).decode()

# An endpoint as the service wrote it before secrets were sealed.
PLAIN_ENDPOINT = text("""
INSERT INTO webhook_endpoints (id, tenant_id, url, event_types, enabled, secret, previous_secret)
VALUES (:id, :tenant_id, 'https://hooks.example.com/', '{}', true, :secret, :previous_secret)
""")
SECRETS = text("SELECT tenant_id, id, secret, previous_secret FROM webhook_endpoints ORDER BY id")


async def _run(url: str, statement: Any, rows: list[dict[str, Any]] | None = None) -> list[Any]:
    engine = create_async_engine(async_url(url))
    try:
        async with engine.begin() as connection:
            result = await connection.execute(statement, rows)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


def _plain_rows(count: int) -> list[dict[str, Any]]:
    def secret() -> str:
        return "whsec_" + base64.b64encode(os.urandom(32)).decode()

    return [
        {
            "id": uuid.uuid4(),
            "tenant_id": uuid.uuid4(),
            "secret": secret(),
            "previous_secret": secret() if n % 2 else None,
        }
        for n in range(count)
    ]


def _settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(jwt_secret=TEST_SECRET, data_dir=tmp_path, **values)


def test_the_migration_seals_plaintext_secrets_and_the_downgrade_opens_them(
    make_database: Callable[..., str], tmp_path: Path
) -> None:
    url = make_database(migrate=False)
    upgrade(url, BEFORE)
    plain = _plain_rows(4)
    asyncio.run(_run(url, PLAIN_ENDPOINT, plain))
    settings = _settings(tmp_path, secret_keys={"k1": K1})

    upgrade(url, settings=settings)

    rows = {row.id: row for row in asyncio.run(_run(url, SECRETS))}
    for before in plain:
        row = rows[before["id"]]
        assert kid_of(row.secret) == "k1"
        assert before["secret"] not in row.secret
        keyring = settings.secret_keyring
        assert sealed_secrets.open_(keyring, row.tenant_id, row.id, row.secret) == before["secret"]
        if before["previous_secret"] is None:
            assert row.previous_secret is None
        else:
            opened = sealed_secrets.open_(keyring, row.tenant_id, row.id, row.previous_secret)
            assert opened == before["previous_secret"]

    downgrade(url, BEFORE, settings=settings)
    back = [dict(row._mapping) for row in asyncio.run(_run(url, SECRETS))]
    assert sorted(back, key=lambda r: r["id"]) == sorted(plain, key=lambda r: r["id"])


def test_in_development_without_keys_the_migration_uses_the_data_dir_key(
    make_database: Callable[..., str], tmp_path: Path
) -> None:
    url = make_database(migrate=False)
    upgrade(url, BEFORE)
    asyncio.run(_run(url, PLAIN_ENDPOINT, _plain_rows(1)))
    settings = _settings(tmp_path)

    upgrade(url, settings=settings)

    [row] = asyncio.run(_run(url, SECRETS))
    assert kid_of(row.secret) == "local"
    assert (tmp_path / "secret-key").exists()
    sealed_secrets.open_(settings.secret_keyring, row.tenant_id, row.id, row.secret)


def test_in_production_without_keys_the_migration_fails_and_changes_nothing(
    make_database: Callable[..., str], tmp_path: Path
) -> None:
    url = make_database(migrate=False)
    upgrade(url, BEFORE)
    plain = _plain_rows(2)
    asyncio.run(_run(url, PLAIN_ENDPOINT, plain))
    settings = _settings(tmp_path, environment="production")

    with pytest.raises(ConfigError, match="CONVENE_SECRET_KEYS"):
        upgrade(url, settings=settings)

    rows = asyncio.run(_run(url, SECRETS))
    assert sorted(r.secret for r in rows) == sorted(p["secret"] for p in plain)
    version = asyncio.run(_run(url, text("SELECT version_num FROM alembic_version")))
    assert [v.version_num for v in version] == [BEFORE]
    assert list(tmp_path.iterdir()) == []


def test_rotate_keys_reseals_every_secret_under_the_current_key_id(
    make_database: Callable[..., str], tmp_path: Path
) -> None:
    url = make_database(migrate=False)
    upgrade(url, BEFORE)
    plain = _plain_rows(3)
    asyncio.run(_run(url, PLAIN_ENDPOINT, plain))
    upgrade(url, settings=_settings(tmp_path, secret_keys={"k1": K1}))
    stranger = Settings(
        jwt_secret=TEST_SECRET, data_dir=tmp_path, secret_keys={"x": K2}
    ).secret_keyring
    foreign = {"id": uuid.uuid4(), "tenant_id": uuid.uuid4()}
    foreign_secret = sealed_secrets.seal(stranger, foreign["tenant_id"], foreign["id"], "whsec_x")
    asyncio.run(
        _run(url, PLAIN_ENDPOINT, [{**foreign, "secret": foreign_secret, "previous_secret": None}])
    )
    env = convene_env(
        CONVENE_DATABASE_URL=url,
        CONVENE_JWT_SECRET=TEST_SECRET,
        CONVENE_SECRET_KEYS=json.dumps({"k1": K1, "k2": K2}),
        CONVENE_SECRET_KEY_ID="k2",
    )

    first = run_cli("--data-dir", str(tmp_path), "rotate-keys", env=env)

    # The one sealed under a key not configured is left as it was, and said so.
    assert first.returncode == 1, first.stderr
    assert "resealed 3 webhook endpoints under key id 'k2'" in first.stdout
    assert "1 endpoints hold secrets sealed under a key that is not in" in first.stderr
    keyring = _settings(tmp_path, secret_keys={"k1": K1, "k2": K2}, secret_key_id="k2")
    rows = {row.id: row for row in asyncio.run(_run(url, SECRETS))}
    assert rows[foreign["id"]].secret == foreign_secret
    for before in plain:
        row = rows[before["id"]]
        assert kid_of(row.secret) == "k2"
        opened = sealed_secrets.open_(keyring.secret_keyring, row.tenant_id, row.id, row.secret)
        assert opened == before["secret"]
        if before["previous_secret"] is not None:
            assert kid_of(row.previous_secret) == "k2"

    # Done, k1 can go: a second run has nothing left to do.
    second = run_cli("--data-dir", str(tmp_path), "rotate-keys", env=env)
    assert "resealed 0 webhook endpoints" in second.stdout
