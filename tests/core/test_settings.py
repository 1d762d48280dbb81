"""Outside development the service refuses to start with a missing or default secret."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.config import DEVELOPMENT_SECRET_KEY, ConfigurationError, Mode, Settings

GOOD = {
    "secret_key": "a-real-secret-that-is-long-enough-0123456789",
    "encryption_keys": "k1:" + "A" * 43 + "=",
    "twilio_auth_token": "twilio-token",
}


def _settings(**values: object) -> Settings:
    return Settings.model_validate({"mode": Mode.PRODUCTION, **GOOD, **values})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"secret_key": None}, "SIGURNA_SECRET_KEY is missing; it is required in production mode"),
        ({"secret_key": ""}, "SIGURNA_SECRET_KEY is missing; it is required in production mode"),
        ({"secret_key": DEVELOPMENT_SECRET_KEY}, "SIGURNA_SECRET_KEY is the development default"),
        ({"secret_key": "short"}, "SIGURNA_SECRET_KEY must be at least 32 characters"),
        ({"encryption_keys": None}, "SIGURNA_ENCRYPTION_KEYS is missing"),
        ({"twilio_auth_token": " "}, "SIGURNA_TWILIO_AUTH_TOKEN is missing"),
    ],
)
def test_unsafe_secrets_stop_the_service_and_say_which(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        _settings(**values)


def test_production_with_real_secrets_starts() -> None:
    settings = _settings()
    assert settings.json_logs is True
    assert settings.is_development is False


def test_development_accepts_the_defaults() -> None:
    settings = Settings.model_validate({"mode": Mode.DEVELOPMENT})
    assert settings.secret_key is not None
    assert settings.secret_key.get_secret_value() == DEVELOPMENT_SECRET_KEY
    assert settings.json_logs is False


def test_the_environment_is_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGURNA_MODE", "production")
    monkeypatch.delenv("SIGURNA_SECRET_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="SIGURNA_SECRET_KEY is the development default"):
        Settings()
    monkeypatch.setenv("SIGURNA_SECRET_KEY", "")
    with pytest.raises(ConfigurationError, match="SIGURNA_SECRET_KEY is missing"):
        Settings()
    monkeypatch.setenv("SIGURNA_MODE", "development")
    monkeypatch.setenv("SIGURNA_HOTLINE_LAST_RESORT_NUMBERS", "+442079460198, +61491570019")
    monkeypatch.setenv("SIGURNA_DATABASE_URL", "postgresql://sigurna@db.example.org/sigurna")
    settings = Settings()
    assert settings.hotline_last_resort_numbers == ["+442079460198", "+61491570019"]
    assert settings.database_url == "postgresql+psycopg://sigurna@db.example.org/sigurna"


@pytest.mark.parametrize(
    "values",
    [
        {"default_time_zone": "Mars/Olympus"},
        {"database_url": "mysql://root@localhost/x"},
        {"hotline_last_resort_numbers": ["0038220200198"]},
        {"encryption_keys": "k1:not-base64!"},
        {"encryption_keys": "k1:" + "A" * 20},
        {"argon2_memory_kib": 8192},
        {"argon2_time_cost": 1},
        {"password_min_length": 8},
    ],
)
def test_invalid_settings_are_refused(values: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings.model_validate({"mode": Mode.DEVELOPMENT, **values})
