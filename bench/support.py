"""What every benchmark needs: settings for a scratch database, and a fresh PostgreSQL one."""

from __future__ import annotations

import base64
import os
import socket

import sqlalchemy as sa

from core.config import Mode, Settings
from core.db import create_db_engine

SECRET_KEY = "bench-secret-key-0123456789abcdef0123456789"
ENCRYPTION_KEYS = "b1:" + base64.b64encode(bytes(32)).decode()
TWILIO_TOKEN = "bench-twilio-token-0123456789"


def bench_settings(url: str) -> Settings:
    return Settings.model_validate(
        {
            "mode": Mode.TEST,
            "secret_key": SECRET_KEY,
            "database_url": url,
            "encryption_keys": ENCRYPTION_KEYS,
            "twilio_auth_token": TWILIO_TOKEN,
            "background_jobs": False,
        }
    )


def fresh_postgres(name: str) -> str | None:
    """An empty PostgreSQL database called `name` on the benchmark server, or None if absent."""
    default = "postgresql+psycopg://postgres@127.0.0.1:5432/sigurna_bench"
    server = sa.make_url(os.environ.get("SIGURNA_BENCH_DATABASE_URL", default))
    try:
        with socket.create_connection((server.host or "127.0.0.1", server.port or 5432), 2):
            pass
    except OSError:
        return None
    admin = create_db_engine(
        bench_settings(server.set(database="postgres").render_as_string(hide_password=False)),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False)
