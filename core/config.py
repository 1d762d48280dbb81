"""Settings: one pydantic-settings class, every field overridable by a `SIGURNA_` variable."""

from __future__ import annotations

import re
import zoneinfo
from enum import StrEnum
from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")

# The development default is public (it is in this file); outside development it is refused.
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-do-not-use-in-production"  # noqa: S105
MIN_SECRET_KEY_LENGTH = 32

# OWASP's floor for argon2id: m=19 MiB, t=2, p=1.
MIN_ARGON2_MEMORY_KIB = 19 * 1024
MIN_ARGON2_TIME_COST = 2


class Mode(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class SmtpSecurity(StrEnum):
    NONE = "none"  # a relay on the same host or network only
    STARTTLS = "starttls"
    TLS = "tls"  # implicit TLS (port 465)


class ConfigurationError(Exception):
    """The settings are unsafe or inconsistent; the service must not start."""


class Settings(BaseSettings):
    """Every setting of the service; see the README's Configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="SIGURNA_", env_file=None, extra="ignore", validate_default=True
    )

    mode: Mode = Mode.DEVELOPMENT
    secret_key: SecretStr | None = SecretStr(DEVELOPMENT_SECRET_KEY)
    database_url: str = "sqlite:///./var/sigurna.db"
    public_base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8000")
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8000
    default_time_zone: str = "Europe/Podgorica"
    log_level: str = "INFO"
    log_json: bool | None = None
    migrations_dir: Path = PROJECT_ROOT / "alembic"

    db_connect_timeout_seconds: Annotated[int, Field(ge=1, le=60)] = 5
    db_statement_timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = 10_000
    db_lock_timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = 5_000
    db_pool_size: Annotated[int, Field(ge=1, le=100)] = 20
    sqlite_busy_timeout_ms: Annotated[int, Field(ge=100, le=600_000)] = 5_000

    session_idle_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 30
    session_absolute_hours: Annotated[int, Field(ge=1, le=7 * 24)] = 12
    # Failed logins are throttled per source and account: the first few from one address are
    # free, then each waits twice as long as the last (1 s, 2 s, 4 s, ... capped), so one source
    # can never lock an account for anyone else. Only failures from many sources together (far
    # more than one source can reach in the window) lock the account itself.
    login_source_free_failures: Annotated[int, Field(ge=1, le=100)] = 5
    login_source_wide_free_failures: Annotated[int, Field(ge=5, le=10_000)] = 30
    login_source_max_delay_seconds: Annotated[int, Field(ge=1, le=24 * 3600)] = 900
    login_alert_failures: Annotated[int, Field(ge=3, le=10_000)] = 20
    login_max_failures: Annotated[int, Field(ge=3, le=10_000)] = 100
    login_failure_window_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    login_lockout_minutes: Annotated[int, Field(ge=1, le=24 * 60)] = 15
    # Proxies whose X-Forwarded-For is believed (addresses or CIDR ranges, comma-separated);
    # from anyone else the header is ignored and the connecting address is the source.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    password_min_length: Annotated[int, Field(ge=12, le=128)] = 12
    argon2_memory_kib: Annotated[int, Field(ge=MIN_ARGON2_MEMORY_KIB)] = MIN_ARGON2_MEMORY_KIB
    argon2_time_cost: Annotated[int, Field(ge=MIN_ARGON2_TIME_COST)] = MIN_ARGON2_TIME_COST
    argon2_parallelism: Annotated[int, Field(ge=1, le=16)] = 1

    # Field encryption: "key_id:base64(32 bytes)[,older_id:...]"; the first key encrypts, all
    # decrypt. Development derives one from the secret key when unset.
    encryption_keys: SecretStr | None = None

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    # The number SMS alerts are sent from; the hotline's own number when unset.
    twilio_sms_from: str | None = None
    twilio_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 5.0
    # Dialled, in order, when nothing else is known (database down and no cached roster).
    hotline_last_resort_numbers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    voice_db_budget_ms: Annotated[int, Field(ge=100, le=10_000)] = 1000
    # Threads the voice webhooks may hold on the database at once (fewer than the pool).
    voice_db_threads: Annotated[int, Field(ge=1, le=64)] = 8
    roster_refresh_seconds: Annotated[int, Field(ge=5, le=3600)] = 60
    roster_cache_path: Path = Path("var/roster-cache.json")
    # Development only: where `sigurna demo load` writes the demo accounts' passwords (0600).
    demo_credentials_path: Path = Path("var/demo-credentials.txt")
    # What the voice webhooks answered without the database, replayed when it is back.
    voice_journal_path: Path = Path("var/voice-journal.jsonl")
    voice_journal_replay_seconds: Annotated[int, Field(ge=1, le=3600)] = 10
    caller_retention_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # Periodic work inside the web process (the roster refresh, and with the embedded scheduler
    # the shared jobs too); tests switch it off.
    background_jobs: bool = True
    # The shared jobs (deadline sweeps, outbox delivery, retention) in the web process, as
    # `make run` wants. In production set it to false and run `sigurna scheduler` beside the web
    # processes (running both is safe: every job claims its rows, nothing is sent twice).
    embedded_scheduler: bool = True
    sweep_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 60.0
    delivery_interval_seconds: Annotated[float, Field(gt=0, le=3600)] = 15.0
    # Messages sent at once by one delivery run (each on its own thread).
    delivery_workers: Annotated[int, Field(ge=1, le=64)] = 8
    # How long a delivery run holds the messages it claimed: a run killed meanwhile leaves them
    # to be sent again after this long (with the same idempotency key).
    delivery_claim_seconds: Annotated[int, Field(ge=5, le=3600)] = 120

    # E-mail: an SMTP relay. Unset host: e-mails are dead-lettered as "not configured".
    smtp_host: str | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "Sigurna <no-reply@sigurna.invalid>"
    smtp_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0

    # Webhooks: explicit timeouts; private and loopback hosts only where allowed (tests, dev).
    webhook_connect_timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 3.0
    webhook_timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10.0
    webhook_allow_private_hosts: bool = False

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise ValueError("must be an IANA time zone such as Europe/Podgorica")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:///", "postgresql+psycopg://", "postgresql://")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("hotline_last_resort_numbers", "trusted_proxies", mode="before")
    @classmethod
    def _split_numbers(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("hotline_last_resort_numbers")
    @classmethod
    def _e164_numbers(cls, value: list[str]) -> list[str]:
        for number in value:
            if not _E164.match(number):
                raise ValueError("each number must be in E.164 form, e.g. +442079460456")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError("each trusted proxy must be an address or a CIDR range") from exc
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _valid_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            from core.crypto import parse_keys

            parse_keys(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_secrets(self) -> Settings:
        if self.mode is Mode.DEVELOPMENT:
            return self
        key = self.secret_key.get_secret_value() if self.secret_key else ""
        if not key:
            raise ConfigurationError(
                f"SIGURNA_SECRET_KEY is missing; it is required in {self.mode} mode"
            )
        if key == DEVELOPMENT_SECRET_KEY:
            raise ConfigurationError(
                f"SIGURNA_SECRET_KEY is the development default; set a secret in {self.mode} mode"
            )
        if len(key) < MIN_SECRET_KEY_LENGTH:
            raise ConfigurationError(
                f"SIGURNA_SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters"
            )
        for name, secret in (
            ("SIGURNA_ENCRYPTION_KEYS", self.encryption_keys),
            ("SIGURNA_TWILIO_AUTH_TOKEN", self.twilio_auth_token),
        ):
            if secret is None or not secret.get_secret_value().strip():
                raise ConfigurationError(f"{name} is missing; it is required in {self.mode} mode")
        return self

    @property
    def is_development(self) -> bool:
        return self.mode is Mode.DEVELOPMENT

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.mode is Mode.PRODUCTION

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
