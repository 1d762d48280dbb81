"""Settings: unsafe secrets stop the service; invalid values are refused; URLs are normalised."""

from __future__ import annotations

import os

import pytest
from pydantic import SecretStr, ValidationError

from core.config import (
    DEVELOPMENT_SECRET_KEY,
    MIN_SECRET_KEY_LENGTH,
    ConfigurationError,
    Mode,
    Settings,
)
from tests.conftest import TEST_ENCRYPTION_KEYS, TWILIO_AUTH_TOKEN

GOOD_KEY = "a-real-production-secret-0123456789-abcdefgh"
# The other secrets production requires, so that only the secret key is under test.
ENCRYPTION_KEYS = SecretStr(TEST_ENCRYPTION_KEYS)
TWILIO_TOKEN = SecretStr(TWILIO_AUTH_TOKEN)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SIGURNA_ variable of the machine running the tests leaks into these settings."""
    for name in list(os.environ):
        if name.upper().startswith("SIGURNA_"):
            monkeypatch.delenv(name)


def _production(secret_key: SecretStr | None) -> Settings:
    return Settings(
        mode=Mode.PRODUCTION,
        secret_key=secret_key,
        encryption_keys=ENCRYPTION_KEYS,
        twilio_auth_token=TWILIO_TOKEN,
    )


# --- the secret key ----------------------------------------------------------------------------


def test_production_without_a_secret_key_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(mode=Mode.PRODUCTION, secret_key=None)
    assert str(caught.value) == ("SIGURNA_SECRET_KEY is missing; it is required in production mode")


def test_production_with_an_empty_secret_key_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        _production(SecretStr(""))
    assert str(caught.value) == ("SIGURNA_SECRET_KEY is missing; it is required in production mode")


def test_test_mode_also_requires_a_secret_key() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Settings(mode=Mode.TEST, secret_key=None)
    assert str(caught.value) == "SIGURNA_SECRET_KEY is missing; it is required in test mode"


def test_production_with_the_development_default_is_refused() -> None:
    with pytest.raises(ConfigurationError) as caught:
        _production(SecretStr(DEVELOPMENT_SECRET_KEY))
    message = str(caught.value)
    assert "SIGURNA_SECRET_KEY" in message
    assert "development default" in message


def test_production_with_the_default_secret_key_left_unset_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="development default"):
        Settings(
            mode=Mode.PRODUCTION,
            encryption_keys=ENCRYPTION_KEYS,
            twilio_auth_token=TWILIO_TOKEN,
        )


def test_production_with_a_short_secret_key_is_refused() -> None:
    short = "x" * (MIN_SECRET_KEY_LENGTH - 1)
    with pytest.raises(ConfigurationError) as caught:
        _production(SecretStr(short))
    assert str(caught.value) == "SIGURNA_SECRET_KEY must be at least 32 characters"


def test_a_secret_key_of_exactly_the_minimum_length_is_accepted() -> None:
    settings = _production(SecretStr("k" * MIN_SECRET_KEY_LENGTH))
    assert settings.secret_key is not None
    assert len(settings.secret_key.get_secret_value()) == 32


def test_production_with_a_good_secret_key_starts() -> None:
    assert len(GOOD_KEY) >= 40
    settings = _production(SecretStr(GOOD_KEY))
    assert settings.mode is Mode.PRODUCTION
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == GOOD_KEY
    assert settings.is_development is False
    # The secret is not shown when the settings are printed.
    assert GOOD_KEY not in repr(settings)
    assert GOOD_KEY not in str(settings)


def test_development_accepts_the_default_secret_key() -> None:
    settings = Settings(mode=Mode.DEVELOPMENT)
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == DEVELOPMENT_SECRET_KEY
    assert settings.is_development is True


# --- the same through environment variables ------------------------------------------------------


def test_production_from_the_environment_without_a_secret_key_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGURNA_MODE", "production")
    # Unset, the key is the development default, which production refuses.
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert str(caught.value) == (
        "SIGURNA_SECRET_KEY is the development default; set a secret in production mode"
    )


def test_production_from_the_environment_with_an_empty_secret_key_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGURNA_MODE", "production")
    monkeypatch.setenv("SIGURNA_SECRET_KEY", "")
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    assert str(caught.value) == ("SIGURNA_SECRET_KEY is missing; it is required in production mode")


def test_production_from_the_environment_with_every_secret_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGURNA_MODE", "production")
    monkeypatch.setenv("SIGURNA_SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("SIGURNA_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    monkeypatch.setenv("SIGURNA_TWILIO_AUTH_TOKEN", TWILIO_AUTH_TOKEN)
    settings = Settings()
    assert settings.mode is Mode.PRODUCTION
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == GOOD_KEY
    assert settings.json_logs is True


def test_production_from_the_environment_with_a_short_key_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGURNA_MODE", "production")
    monkeypatch.setenv("SIGURNA_SECRET_KEY", "too-short-a-secret")
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        Settings()


# --- other values --------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Mars/Olympus", "europe/podgorica", "", "CEST+2"])
def test_an_unknown_time_zone_is_refused(zone: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(default_time_zone=zone)
    errors = caught.value.errors()
    assert [error["loc"] for error in errors] == [("default_time_zone",)]
    assert "IANA time zone" in errors[0]["msg"]


def test_a_known_time_zone_is_accepted() -> None:
    assert Settings(default_time_zone="Europe/Belgrade").default_time_zone == "Europe/Belgrade"


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u:pw@h:5433/db", "postgresql+psycopg://u:pw@h:5433/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:///./var/x.db", "sqlite:///./var/x.db"),
    ],
)
def test_database_urls_are_normalised_to_the_psycopg_driver(given: str, stored: str) -> None:
    assert Settings(database_url=given).database_url == stored


def test_the_database_url_is_normalised_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGURNA_DATABASE_URL", "postgresql://u@h/db")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.is_sqlite is False


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root@localhost/sigurna",
        "postgres://u@h/db",
        "postgresql+asyncpg://u@h/db",
        "sqlite://",
        "",
    ],
)
def test_an_unsupported_database_url_is_refused(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(database_url=url)
    errors = caught.value.errors()
    assert [error["loc"] for error in errors] == [("database_url",)]
    assert "must start with sqlite:/// or postgresql+psycopg://" in errors[0]["msg"]


def test_json_logs_default_to_on_in_production() -> None:
    assert _production(SecretStr(GOOD_KEY)).json_logs is True


def test_json_logs_default_to_off_in_development() -> None:
    assert Settings(mode=Mode.DEVELOPMENT).json_logs is False


def test_json_logs_can_be_set_explicitly_either_way() -> None:
    production = Settings(
        mode=Mode.PRODUCTION,
        secret_key=SecretStr(GOOD_KEY),
        log_json=False,
        encryption_keys=ENCRYPTION_KEYS,
        twilio_auth_token=TWILIO_TOKEN,
    )
    assert production.json_logs is False
    assert Settings(mode=Mode.DEVELOPMENT, log_json=True).json_logs is True
