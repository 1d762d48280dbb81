"""Test fixtures: every database test runs on SQLite and, when a server answers, PostgreSQL.

The schema is built by the real Alembic migrations once per database; each test then runs
inside a transaction that is rolled back, so tests never see each other's rows.
"""

from __future__ import annotations

import base64
import os
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core import domains
from core.app import create_app
from core.audit import Actor
from core.auth import SESSION_COOKIE, new_secret, token_digest
from core.clock import FrozenClock
from core.config import Mode, Settings, get_settings
from core.crypto import FieldCipher
from core.db import UnitOfWork, create_db_engine, keeps_writes, upgrade
from core.models import (
    AuthSession,
    Organisation,
    OrganisationKind,
    Role,
    User,
    UserRole,
)
from core.passwords import make_hasher

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/sigurna_test"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
# Two keys, the first active: tests can check that data sealed under the older one still opens.
TEST_ENCRYPTION_KEYS = (
    "k2:"
    + base64.b64encode(bytes(range(32, 64))).decode()
    + ",k1:"
    + base64.b64encode(bytes(range(32))).decode()
)
TWILIO_AUTH_TOKEN = "test-twilio-auth-token-0123456789"
# A Monday in winter, 10:00 in Podgorica.
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# One hash reused by fixtures that never log in with a password, to keep the suite fast.
FIXTURE_PASSWORD = "fixture-password-unguessable-42"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def postgres_url() -> str:
    return os.environ.get("SIGURNA_TEST_DATABASE_URL") or DEFAULT_PG_URL


def _server_answers(url: str) -> bool:
    parsed = sa.make_url(url)
    try:
        with socket.create_connection((parsed.host or "127.0.0.1", parsed.port or 5432), 2):
            return True
    except OSError:
        return False


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "mode": Mode.TEST,
        "secret_key": TEST_SECRET,
        "database_url": database_url,
        "public_base_url": "https://sigurna.example.org",
        "encryption_keys": TEST_ENCRYPTION_KEYS,
        "twilio_auth_token": TWILIO_AUTH_TOKEN,
        "twilio_account_sid": "AC" + "0" * 32,
        "background_jobs": False,
        "roster_cache_path": os.path.join(
            tempfile.gettempdir(), f"sigurna-roster-{os.getpid()}.json"
        ),
        # A journal per app: what one test answered in a stall is never replayed in another.
        "voice_journal_path": os.path.join(
            tempfile.gettempdir(), f"sigurna-journal-{os.getpid()}-{uuid.uuid4().hex}.jsonl"
        ),
    }
    values.update(overrides)
    return Settings.model_validate(values)


def _admin_engine(url: str) -> Engine:
    server = sa.make_url(url).set(database="postgres").render_as_string(hide_password=False)
    return create_db_engine(make_settings(server), isolation_level="AUTOCOMMIT")


def recreate_postgres_database(url: str) -> None:
    """Drop and create a database, so that a run starts from the migrations."""
    name = sa.make_url(url).database
    admin = _admin_engine(url)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()


def drop_postgres_database(url: str) -> None:
    name = sa.make_url(url).database
    admin = _admin_engine(url)
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


def private_postgres_url(suffix: str = "") -> str:
    """The configured server, with a database of this test process's own."""
    url = sa.make_url(postgres_url())
    name = f"{url.database or 'sigurna_test'}_{os.getpid()}{suffix}"
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def _wired() -> None:
    """Domains subscribe to each other's events once per process, as the app and CLI do."""
    domains.wire()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database this test runs on."""
    name: str = request.param
    if name == "postgresql" and not _server_answers(postgres_url()):
        message = f"PostgreSQL does not answer at {sa.make_url(postgres_url()).host}"
        if in_ci():
            pytest.fail(f"{message}; under CI=true the PostgreSQL run is mandatory", pytrace=False)
        pytest.skip(f"{message}; set SIGURNA_TEST_DATABASE_URL to run the PostgreSQL tests")
    return name


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'sigurna.db'}"
        return
    # A database of this run's own: parallel runs on one server never meet.
    url = private_postgres_url()
    recreate_postgres_database(url)
    yield url
    drop_postgres_database(url)


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = create_db_engine(settings)
    upgrade(settings, engine)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        if transaction.is_active:
            transaction.rollback()
        connection.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def uow(db: Session) -> UnitOfWork:
    """The contract of core.db.unit_of_work, on a savepoint of the test's transaction: a unit
    that fails undoes its own writes and nothing the test set up before it."""

    @contextmanager
    def test_unit_of_work() -> Iterator[Session]:
        savepoint = db.begin_nested()
        try:
            yield db
            savepoint.commit()
        except BaseException as exc:
            if keeps_writes(exc):
                savepoint.commit()
            else:
                savepoint.rollback()
            raise

    return test_unit_of_work


@pytest.fixture
def app(
    settings: Settings, engine: Engine, uow: UnitOfWork, clock: FrozenClock, tmp_path: Path
) -> FastAPI:
    journal = tmp_path / "voice-journal.jsonl"
    app = create_app(
        settings.model_copy(update={"voice_journal_path": journal}), engine=engine, clock=clock
    )
    app.state.unit_of_work = uow
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as client:
        yield client


@pytest.fixture(scope="session")
def fixture_password_hash(settings: Settings) -> str:
    return make_hasher(settings).hash(FIXTURE_PASSWORD)


@dataclass
class World:
    """Builds organisations, accounts and sessions directly in the database."""

    db: Session
    clock: FrozenClock
    password_hash: str

    def organisation(
        self,
        kind: OrganisationKind = OrganisationKind.NGO,
        *,
        name: str | None = None,
        country: str = "ME",
        time_zone: str = "Europe/Podgorica",
    ) -> Organisation:
        organisation = Organisation(
            name=name or f"Org {uuid.uuid4().hex[:10]}",
            kind=kind,
            country_code=country,
            time_zone=time_zone,
            created_at=self.clock.now(),
        )
        self.db.add(organisation)
        self.db.flush()
        return organisation

    def user(
        self,
        organisation: Organisation,
        *roles: Role,
        email: str | None = None,
        display_name: str = "Test Person",
        must_change_password: bool = False,
        password_hash: str | None = None,
    ) -> User:
        now = self.clock.now()
        user = User(
            organisation_id=organisation.id,
            email=email or f"user-{uuid.uuid4().hex[:10]}@example.org",
            display_name=display_name,
            password_hash=password_hash or self.password_hash,
            must_change_password=must_change_password,
            created_at=now,
            password_changed_at=now,
        )
        self.db.add(user)
        self.db.flush()
        for role in roles:
            self.db.add(UserRole(user_id=user.id, role=role))
        self.db.flush()
        return user

    def login_cookie(self, user: User, *, second_factor: bool = False) -> dict[str, str]:
        """A valid session for `user`, as the cookie a browser would send (with its second
        factor passed, for routes to case content, when `second_factor`)."""
        from datetime import timedelta

        now = self.clock.now()
        token = new_secret()
        self.db.add(
            AuthSession(
                user_id=user.id,
                token_hash=token_digest(token),
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(hours=12),
                second_factor_at=now if second_factor else None,
            )
        )
        self.db.flush()
        return {SESSION_COOKIE: token}


@pytest.fixture
def world(db: Session, clock: FrozenClock, fixture_password_hash: str) -> World:
    return World(db, clock, fixture_password_hash)


@pytest.fixture
def cli_actor() -> Actor:
    return Actor.system("test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked postgresql_only are not generated for SQLite (they are not skips)."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("backend") == "sqlite"
        if item.get_closest_marker("postgresql_only") and on_sqlite:
            dropped.append(item)
        else:
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


SessionFactory = Callable[[], Session]


@pytest.fixture
def tmp_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'scratch.db'}"


@pytest.fixture
def cli_url(tmp_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The environment of a `sigurna` command run by a test: only its own settings (development
    mode, a scratch SQLite database, files in the test's folder); the database URL."""
    for name in list(os.environ):
        if name.upper().startswith("SIGURNA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SIGURNA_DATABASE_URL", tmp_sqlite_url)
    monkeypatch.setenv("SIGURNA_MODE", "development")
    monkeypatch.setenv("SIGURNA_ROSTER_CACHE_PATH", str(tmp_path / "roster-cache.json"))
    monkeypatch.setenv("SIGURNA_VOICE_JOURNAL_PATH", str(tmp_path / "voice-journal.jsonl"))
    monkeypatch.setenv("SIGURNA_DEMO_CREDENTIALS_PATH", str(tmp_path / "demo-credentials.txt"))
    get_settings.cache_clear()
    yield tmp_sqlite_url
    get_settings.cache_clear()


def act_as(client: TestClient, cookies: dict[str, str] | None) -> TestClient:
    """Make the client send exactly these cookies from now on (None: anonymous)."""
    client.cookies.clear()
    if cookies:
        client.cookies.update(cookies)
    return client


def make_case(
    session: Session,
    owner: User,
    *team: User,
    cipher: FieldCipher | None = None,
    now: datetime = T0,
) -> uuid.UUID:
    """A case of the owner's organisation, `team` on its team (made through the service), as a
    referral "from a case" names it (sealed with the tests' keys unless a cipher is given)."""
    from core.crypto import cipher_from_settings
    from safety_plans.models import CaseCreate
    from safety_plans.service import cases

    cipher = cipher or cipher_from_settings(make_settings("sqlite:///:memory:"))
    case = cases.create_case(
        session,
        now=now,
        organisation_id=owner.organisation_id,
        user_id=owner.id,
        data=CaseCreate(name="Test Client", team=[u.id for u in team]),
        cipher=cipher,
        actor=Actor.system("test"),
    )
    return case.id
