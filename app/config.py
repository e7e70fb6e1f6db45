"""Settings, read from the environment with the prefix CONVENE_ (see the README's table)."""

import secrets
from dataclasses import dataclass
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

import limits
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.kit.cors import ANY_ORIGIN, normalise_origin
from app.kit.keyring import Keyring, decode_key, local_keyring

# Secrets that show up in examples and must never sign production tokens.
_KNOWN_DEFAULT_SECRETS = {"changeme", "change-me", "secret", "dev", "development", "convene"}
_MIN_SECRET_LENGTH = 32

# Where `convene serve` runs webhook dispatchers: in every API process, in one of all the API
# processes on the database (an advisory lock elects it), or in none (`convene worker`s only).
DispatcherMode = Literal["all", "one", "off"]
_DISPATCHER_BOOLEANS = {
    "true": "all",
    "1": "all",
    "yes": "all",
    "false": "off",
    "0": "off",
    "no": "off",
}

# Values of CONVENE_RATE_LIMIT_PER_TOKEN / _PER_TENANT that turn that limit off.
RATE_LIMIT_OFF = frozenset({"", "off", "none", "0"})
_RATE_LIMIT_SCHEMES = ("memory://", "redis://", "rediss://", "redis+unix://")
# How log lines are written: one JSON object a line, or plain text for a terminal.
LogFormat = Literal["json", "text"]

# Seconds before each retry of an e-mail: about a day in all (1 min, 5 min, ... 12 h).
DEFAULT_MAIL_RETRY_DELAYS = (60, 300, 900, 1800, 3600, 7200, 21600, 43200)
# How a plain smtp:// connection is secured: STARTTLS when the server offers it, always
# (refusing a server without it), or never.
StartTls = Literal["auto", "required", "off"]


@dataclass(frozen=True)
class SmtpServer:
    """Where e-mail is sent, parsed from CONVENE_SMTP_URL (smtp:// or smtps://)."""

    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool


def parse_smtp_url(url: str) -> SmtpServer:
    """The server of `smtp://[user:pass@]host[:port]` (587) or `smtps://...` (465)."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError("CONVENE_SMTP_URL must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("CONVENE_SMTP_URL names no host")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("CONVENE_SMTP_URL has an invalid port") from None
    implicit_tls = parts.scheme == "smtps"
    return SmtpServer(
        host=parts.hostname,
        port=port or (465 if implicit_tls else 587),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=implicit_tls,
    )


# Seconds before each retry: about three days in all (5 s, 30 s, 2 min, ... 24 h).
DEFAULT_RETRY_DELAYS = (5, 30, 120, 600, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


class ConfigError(RuntimeError):
    """The configuration cannot be used as given."""


class Settings(BaseSettings):
    """Every knob of the service; the README documents each one."""

    model_config = SettingsConfigDict(env_prefix="CONVENE_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str | None = None
    database_direct_url: str | None = None
    database_migration_url: str | None = None
    database_read_url: str | None = None
    database_pgbouncer: bool = False
    data_dir: Path = Path(".convene")
    serve_workers: int = Field(default=1, ge=1, le=64)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    db_statement_timeout_ms: int = Field(default=15_000, ge=100)
    db_lock_timeout_ms: int = Field(default=5_000, ge=100)
    db_idle_in_transaction_timeout_ms: int = Field(default=10_000, ge=100)
    database_timeouts_from_role: bool = False
    migration_lock_timeout_ms: int = Field(default=10_000, ge=100)

    jwt_secret: SecretStr | None = None
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    jwt_jwks_cache_seconds: float = Field(default=300.0, gt=0, le=86_400)
    jwt_jwks_refresh_cooldown_seconds: float = Field(default=30.0, ge=0, le=3600)
    admin_token_max_lifetime_seconds: int = Field(default=86_400, ge=60, le=31 * 86_400)
    # How long a process trusts that a member it found active still is (0: check each time).
    member_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    cors_origins: list[str] = []
    cors_allow_credentials: bool = False

    webhook_dispatcher: DispatcherMode = "all"
    webhook_allow_http: bool = False
    webhook_allowed_networks: list[IPv4Network | IPv6Network] = []
    webhook_retry_delays: list[float] = Field(
        default=list(DEFAULT_RETRY_DELAYS), min_length=1, max_length=30
    )
    webhook_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=120)
    webhook_concurrency: int = Field(default=128, ge=1, le=1000)
    webhook_endpoint_concurrency: int = Field(default=16, ge=1, le=100)
    webhook_tenant_concurrency: int = Field(default=32, ge=1, le=10_000)
    webhook_pings_per_minute: int = Field(default=5, ge=1, le=600)
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    webhook_lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    webhook_disable_after_days: float = Field(default=5.0, gt=0)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: LogFormat | None = None
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_queue_cache_seconds: float = Field(default=5.0, ge=0, le=300)

    rate_limit_storage: str = "memory://"
    rate_limit_per_token: str = "3000/minute"  # noqa: S105 (a quota, not a secret)
    rate_limit_per_tenant: str = "60000/minute"
    rate_limit_key_prefix: str = Field(default="convene", min_length=1, max_length=100)
    # Webhook signing secrets at rest: {kid: base64 32-byte key}; the kid seals new values.
    secret_keys: dict[str, SecretStr] = {}
    secret_key_id: str | None = None

    retention_interval_seconds: float = Field(default=600.0, ge=1)
    retention_batch_size: int = Field(default=1000, ge=1, le=100_000)
    retention_pause_seconds: float = Field(default=0.1, ge=0, le=60)
    retention_events_days: float = Field(default=30.0, ge=0)
    retention_deliveries_days: float = Field(default=30.0, ge=0)
    retention_attempts_days: float = Field(default=30.0, ge=0)
    retention_notifications_days: float = Field(default=90.0, ge=0)

    series_interval_seconds: float = Field(default=3600.0, ge=1)
    series_batch_size: int = Field(default=100, ge=1, le=10_000)

    # E-mailed invitations (iMIP) to external persons: off unless an SMTP server is set.
    smtp_url: SecretStr | None = None
    smtp_starttls: StartTls = "auto"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    mail_from: str | None = Field(default=None, max_length=320)
    mail_replies_to_sender: bool = False
    mail_retry_delays: list[float] = Field(
        default=list(DEFAULT_MAIL_RETRY_DELAYS), min_length=1, max_length=30
    )
    mail_poll_seconds: float = Field(default=5.0, gt=0, le=3600)
    mail_batch_size: int = Field(default=20, ge=1, le=1000)
    mail_lease_seconds: float = Field(default=300.0, ge=1, le=3600)

    @field_validator("webhook_dispatcher", mode="before")
    @classmethod
    def _dispatcher_from_boolean(cls, value: object) -> object:
        # `true` and `false` were this setting's values before it had modes.
        if isinstance(value, bool):
            return "all" if value else "off"
        if isinstance(value, str):
            return _DISPATCHER_BOOLEANS.get(value.strip().lower(), value.strip().lower())
        return value

    @field_validator("rate_limit_per_token", "rate_limit_per_tenant")
    @classmethod
    def _one_rate_limit(cls, value: str) -> str:
        # Parsed again by app.ratelimits; checked here so a typo stops the start, not a request.
        value = value.strip()
        if value.lower() in RATE_LIMIT_OFF:
            return "off"
        try:
            items = limits.parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate limit such as 600/minute, or off") from None
        if len(items) != 1 or items[0].amount < 1:
            raise ValueError(f"{value!r}: give one limit of at least 1, such as 600/minute")
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _rate_limit_storage(cls, value: str) -> str:
        value = value.strip().removeprefix("async+")
        if not value.startswith(_RATE_LIMIT_SCHEMES):
            raise ValueError("the rate limit storage is memory:// or a redis:// (rediss://) URL")
        return value

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, values: list[str]) -> list[str]:
        origins = list(dict.fromkeys(normalise_origin(value) for value in values))
        if ANY_ORIGIN in origins and len(origins) > 1:
            raise ValueError('"*" allows every origin: list it alone, or list origins without it')
        return origins

    @model_validator(mode="after")
    def _no_credentials_for_every_origin(self) -> "Settings":
        # Browsers refuse credentials with `*`; echoing any origin instead would let every
        # site on the web call the API with the user's cookies.
        if self.cors_allow_credentials and ANY_ORIGIN in self.cors_origins:
            raise ValueError(
                'CONVENE_CORS_ORIGINS ["*"] cannot be combined with CONVENE_CORS_ALLOW_CREDENTIALS'
            )
        return self

    @model_validator(mode="after")
    def _one_key_source(self) -> "Settings":
        sources = [self.jwt_public_key, self.jwt_jwks_url]
        if sum(s is not None for s in sources) > 1:
            raise ValueError("set at most one of CONVENE_JWT_PUBLIC_KEY and CONVENE_JWT_JWKS_URL")
        return self

    @model_validator(mode="after")
    def _usable_secret_keys(self) -> "Settings":
        if not self.secret_keys:
            if self.secret_key_id is not None:
                raise ValueError("CONVENE_SECRET_KEY_ID is set but CONVENE_SECRET_KEYS is empty")
            return self
        if self.secret_key_id is None and len(self.secret_keys) > 1:
            raise ValueError("CONVENE_SECRET_KEY_ID must name one of CONVENE_SECRET_KEYS")
        # Builds the ring once to check every key and id; the property builds it for use.
        self._configured_keyring()
        return self

    @model_validator(mode="after")
    def _usable_mail(self) -> "Settings":
        if self.smtp_url is None:
            return self
        parse_smtp_url(self.smtp_url.get_secret_value())
        if not self.mail_from or "@" not in self.mail_from:
            raise ValueError("CONVENE_MAIL_FROM (an e-mail address) must be set with SMTP")
        return self

    @property
    def mail_enabled(self) -> bool:
        """Whether external persons are e-mailed their invitations (an SMTP server is set)."""
        return self.smtp_url is not None

    @cached_property
    def smtp_server(self) -> SmtpServer | None:
        """The SMTP server of CONVENE_SMTP_URL, or None when e-mail is off."""
        if self.smtp_url is None:
            return None
        return parse_smtp_url(self.smtp_url.get_secret_value())

    def _configured_keyring(self) -> Keyring:
        keys = {}
        for kid, value in self.secret_keys.items():
            try:
                keys[kid] = decode_key(value.get_secret_value())
            except ValueError as exc:
                raise ValueError(f"CONVENE_SECRET_KEYS[{kid!r}]: {exc}") from None
        current = self.secret_key_id or next(iter(keys))
        try:
            return Keyring(keys, current)
        except ValueError as exc:
            raise ValueError(f"CONVENE_SECRET_KEYS / CONVENE_SECRET_KEY_ID: {exc}") from None

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def effective_log_format(self) -> LogFormat:
        """The log format: as set, else JSON in production and text in development."""
        if self.log_format is not None:
            return self.log_format
        return "json" if self.is_production else "text"

    @property
    def uses_asymmetric_keys(self) -> bool:
        return self.jwt_public_key is not None or self.jwt_jwks_url is not None

    @cached_property
    def signing_secret(self) -> str | None:
        """The HS256 secret, or None when tokens are verified with a public key or JWKS.

        In development a secret is generated once and kept in the data dir, so tokens survive
        restarts; in production a missing, default or short secret refuses to start.
        """
        if self.uses_asymmetric_keys and self.jwt_secret is None:
            return None
        if self.jwt_secret is not None:
            value = self.jwt_secret.get_secret_value()
            if self.is_production and (
                value.lower() in _KNOWN_DEFAULT_SECRETS or len(value) < _MIN_SECRET_LENGTH
            ):
                raise ConfigError(
                    "CONVENE_JWT_SECRET is a default or shorter than "
                    f"{_MIN_SECRET_LENGTH} characters; refusing to start in production"
                )
            return value
        if self.is_production:
            raise ConfigError(
                "CONVENE_JWT_SECRET (or CONVENE_JWT_PUBLIC_KEY / CONVENE_JWT_JWKS_URL) "
                "must be set in production"
            )
        return _data_dir_secret(self.data_dir)

    @cached_property
    def secret_keyring(self) -> Keyring:
        """The keys that seal webhook secrets at rest.

        From CONVENE_SECRET_KEYS when set; in development without it, one key generated once
        and kept in the data dir (`secret-key`); in production without it, ConfigError.
        """
        if self.secret_keys:
            return self._configured_keyring()
        if self.is_production:
            raise ConfigError(
                "CONVENE_SECRET_KEYS (and CONVENE_SECRET_KEY_ID) must be set in production"
            )
        return local_keyring(self.data_dir)

    def check(self) -> None:
        """Raise ConfigError now rather than on the first request."""
        _ = self.signing_secret
        if self.is_production:
            _ = self.secret_keyring
        if self.uses_asymmetric_keys and (self.jwt_issuer is None or self.jwt_audience is None):
            # An identity provider's key signs tokens for many applications: without iss and
            # aud, a token it issued to any of them would be accepted here.
            raise ConfigError(
                "CONVENE_JWT_ISSUER and CONVENE_JWT_AUDIENCE must be set with "
                "CONVENE_JWT_PUBLIC_KEY or CONVENE_JWT_JWKS_URL"
            )


def _data_dir_secret(data_dir: Path) -> str:
    """Read the development secret kept in the data dir, creating it on first use."""
    path = data_dir / "jwt-secret"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value
