"""Health and readiness, including a database that is down or behind on migrations."""

from __future__ import annotations

from fastapi.testclient import TestClient

from core.app import create_app
from core.clock import FrozenClock
from core.db import create_db_engine, downgrade, upgrade
from tests.conftest import T0, make_settings


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


def test_readyz_when_the_database_is_unreachable() -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    settings = make_settings(
        "postgresql+psycopg://nobody@127.0.0.1:9/none", db_connect_timeout_seconds=1
    )
    app = create_app(settings, clock=FrozenClock(T0))
    with TestClient(app, base_url="https://testserver") as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"error": "unavailable", "message": "The database is unreachable."}


def test_readyz_when_migrations_are_behind(tmp_sqlite_url: str) -> None:
    settings = make_settings(tmp_sqlite_url)
    engine = create_db_engine(settings)
    try:
        upgrade(settings, engine)
        downgrade(settings, engine, "base")
        app = create_app(settings, engine=engine, clock=FrozenClock(T0))
        with TestClient(app, base_url="https://testserver") as client:
            response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {
            "error": "unavailable",
            "message": "The database schema is not at the latest migration.",
        }
    finally:
        engine.dispose()
