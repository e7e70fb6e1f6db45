"""Settings: production refuses missing or weak secrets, development keeps one in the data dir."""

import base64
import json
import os
import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from app.cli import main
from app.config import ConfigError, Settings
from app.kit.keyring import LOCAL_KEY_FILE, LOCAL_KID
from app.main import create_app

# Production needs keys for webhook secrets at rest besides its token key.
KEYS = {"k1": base64.b64encode(b"1" * 32).decode()}

ISSUED_FOR = {"jwt_issuer": "https://idp.example", "jwt_audience": "convene"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CONVENE_* variable and no .env file may leak into these settings."""
    for name in list(os.environ):
        if name.upper().startswith("CONVENE_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def public_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def test_production_without_secret_refuses(tmp_path: Path) -> None:
    settings = Settings(environment="production", data_dir=tmp_path / "data")

    with pytest.raises(ConfigError, match="must be set in production"):
        settings.check()
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    "secret", ["changeme", "CHANGEME", "secret", "convene", "0123456789", "x" * 31]
)
def test_production_with_default_or_short_secret_refuses(tmp_path: Path, secret: str) -> None:
    settings = Settings(environment="production", jwt_secret=secret, data_dir=tmp_path)

    with pytest.raises(ConfigError, match="refusing to start in production"):
        settings.check()


def test_production_with_long_random_secret_passes(tmp_path: Path) -> None:
    secret = secrets.token_hex(20)
    assert len(secret) == 40
    settings = Settings(
        environment="production", jwt_secret=secret, data_dir=tmp_path, secret_keys=KEYS
    )

    settings.check()

    assert settings.signing_secret == secret
    assert list(tmp_path.iterdir()) == []


def test_production_with_public_key_and_no_secret_passes(
    tmp_path: Path, public_key_pem: str
) -> None:
    settings = Settings(
        environment="production",
        jwt_public_key=public_key_pem,
        data_dir=tmp_path,
        secret_keys=KEYS,
        **ISSUED_FOR,
    )

    settings.check()

    assert settings.signing_secret is None


def test_production_with_jwks_url_and_no_secret_passes(tmp_path: Path) -> None:
    settings = Settings(
        environment="production",
        jwt_jwks_url="https://idp.example/.well-known/jwks.json",
        data_dir=tmp_path,
        secret_keys=KEYS,
        **ISSUED_FOR,
    )

    settings.check()

    assert settings.signing_secret is None


@pytest.mark.parametrize("environment", ["development", "production"])
@pytest.mark.parametrize(
    "named",
    [{}, {"jwt_issuer": "https://idp.example"}, {"jwt_audience": "convene"}],
    ids=["neither", "issuer only", "audience only"],
)
@pytest.mark.parametrize("source", ["public key", "jwks"])
def test_public_keys_without_issuer_and_audience_refuse_to_start(
    tmp_path: Path, public_key_pem: str, environment: str, named: dict[str, str], source: str
) -> None:
    keys = (
        {"jwt_public_key": public_key_pem}
        if source == "public key"
        else {"jwt_jwks_url": "https://idp.example/.well-known/jwks.json"}
    )
    settings = Settings(
        environment=environment, data_dir=tmp_path, secret_keys=KEYS, **keys, **named
    )

    with pytest.raises(ConfigError, match="CONVENE_JWT_ISSUER and CONVENE_JWT_AUDIENCE"):
        settings.check()
    with pytest.raises(ConfigError):
        create_app(settings)


def test_cli_refuses_to_start_with_a_jwks_url_and_no_audience(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CONVENE_JWT_JWKS_URL", "https://idp.example/.well-known/jwks.json")
    monkeypatch.setenv("CONVENE_JWT_ISSUER", "https://idp.example")

    assert main(["migrate"]) == 2
    assert "CONVENE_JWT_AUDIENCE" in capsys.readouterr().err


def test_production_secret_from_environment_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVENE_ENVIRONMENT", "production")
    monkeypatch.setenv("CONVENE_JWT_SECRET", "changeme")

    with pytest.raises(ConfigError):
        Settings(data_dir=tmp_path).check()


def test_development_without_secret_creates_one_file_and_reuses_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Settings(data_dir=data_dir)

    first.check()

    secret_files = list(data_dir.iterdir())
    assert len(secret_files) == 1
    assert secret_files[0].stat().st_mode & 0o077 == 0, "the secret file must be private"
    value = first.signing_secret
    assert value is not None
    assert len(value) >= 32
    assert secret_files[0].read_text().strip() == value

    second = Settings(data_dir=data_dir)
    assert second.signing_secret == value
    assert list(data_dir.iterdir()) == secret_files


def test_development_with_explicit_secret_writes_nothing(tmp_path: Path) -> None:
    settings = Settings(jwt_secret="dev", data_dir=tmp_path / "data")

    settings.check()

    assert settings.signing_secret == "dev"
    assert not (tmp_path / "data").exists()


def test_public_key_and_jwks_url_together_are_invalid(tmp_path: Path, public_key_pem: str) -> None:
    with pytest.raises(ValidationError, match="at most one"):
        Settings(
            jwt_public_key=public_key_pem,
            jwt_jwks_url="https://idp.example/.well-known/jwks.json",
            data_dir=tmp_path,
        )


def test_max_body_bytes_has_a_floor(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(max_body_bytes=10, data_dir=tmp_path)


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("all", "all"),
        ("one", "one"),
        ("off", "off"),
        ("true", "all"),
        ("false", "off"),
        ("ONE", "one"),
    ],
)
def test_webhook_dispatcher_modes_and_the_old_booleans(
    monkeypatch: pytest.MonkeyPatch, value: str, mode: str
) -> None:
    monkeypatch.setenv("CONVENE_WEBHOOK_DISPATCHER", value)
    assert Settings().webhook_dispatcher == mode


def test_webhook_dispatcher_defaults_to_all_api_processes() -> None:
    assert Settings().webhook_dispatcher == "all"


def test_an_unknown_webhook_dispatcher_mode_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVENE_WEBHOOK_DISPATCHER", "some")
    with pytest.raises(ValidationError, match="webhook_dispatcher"):
        Settings()


def test_serve_workers_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVENE_SERVE_WORKERS", "4")
    assert Settings().serve_workers == 4
    monkeypatch.setenv("CONVENE_SERVE_WORKERS", "0")
    with pytest.raises(ValidationError, match="serve_workers"):
        Settings()


# Keys for webhook secrets at rest ------------------------------------------------------------


def test_production_without_secret_keys_refuses(tmp_path: Path) -> None:
    settings = Settings(
        environment="production", jwt_secret=secrets.token_hex(20), data_dir=tmp_path
    )

    with pytest.raises(ConfigError, match="CONVENE_SECRET_KEYS"):
        settings.check()
    assert list(tmp_path.iterdir()) == []


def test_secret_keys_come_from_the_environment_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = secrets.token_bytes(32), secrets.token_bytes(32)
    keys = {
        "2026-01": base64.b64encode(old).decode(),
        "2026-07": base64.urlsafe_b64encode(new).decode().rstrip("="),
    }
    monkeypatch.setenv("CONVENE_SECRET_KEYS", json.dumps(keys))
    monkeypatch.setenv("CONVENE_SECRET_KEY_ID", "2026-07")

    keyring = Settings(data_dir=tmp_path).secret_keyring

    assert keyring.current == "2026-07"
    assert dict(keyring.keys) == {"2026-01": old, "2026-07": new}
    assert "2026" not in repr(Settings(data_dir=tmp_path).secret_keys.values())
    assert list(tmp_path.iterdir()) == []


def test_one_secret_key_needs_no_key_id(tmp_path: Path) -> None:
    assert Settings(secret_keys=KEYS, data_dir=tmp_path).secret_keyring.current == "k1"


@pytest.mark.parametrize(
    ("keys", "key_id", "message"),
    [
        ({"k1": base64.b64encode(b"short").decode()}, None, "5 bytes, not 32"),
        ({"k1": "not base64 at all!"}, None, "not base64"),
        ({**KEYS, "k2": KEYS["k1"]}, None, "must name one"),
        (KEYS, "k9", "not among the keys"),
        ({"k:1": KEYS["k1"]}, None, "letters, digits"),
        ({}, "k1", "CONVENE_SECRET_KEYS is empty"),
    ],
    ids=["short", "not-base64", "two-without-id", "unknown-id", "bad-kid", "id-without-keys"],
)
def test_unusable_secret_keys_are_refused(
    tmp_path: Path, keys: dict[str, str], key_id: str | None, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(secret_keys=keys, secret_key_id=key_id, data_dir=tmp_path)


def test_development_without_secret_keys_keeps_one_key_in_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(jwt_secret="dev", data_dir=data_dir)

    settings.check()
    assert not data_dir.exists(), "the key is made when first needed, not by check()"
    keyring = settings.secret_keyring

    assert keyring.current == LOCAL_KID
    key_file = data_dir / LOCAL_KEY_FILE
    assert key_file.stat().st_mode & 0o077 == 0, "the key file must be private"
    assert [p.name for p in data_dir.iterdir()] == [LOCAL_KEY_FILE]
    again = Settings(jwt_secret="dev", data_dir=data_dir).secret_keyring
    assert again.keys == keyring.keys
    assert again.open(keyring.seal("whsec_x", "c"), "c") == "whsec_x"
