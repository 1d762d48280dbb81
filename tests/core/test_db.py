"""The database layer: the UTC column type, connection settings and the unit of work."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError
from sqlmodel import Session, col, func, select

from core import audit
from core.access import Public
from core.app import create_app
from core.audit import Actor
from core.clock import FrozenClock
from core.config import Settings
from core.db import READ_ONLY, _plain_select, create_db_engine, unit_of_work, upgrade
from core.deps import SessionDep
from core.models import Organisation, OrganisationKind
from tests.conftest import (
    T0,
    drop_postgres_database,
    make_settings,
    private_postgres_url,
    recreate_postgres_database,
)

PODGORICA = ZoneInfo("Europe/Podgorica")


def _organisation(name: str, created_at: datetime = T0) -> Organisation:
    return Organisation(
        name=name,
        kind=OrganisationKind.NGO,
        country_code="ME",
        time_zone="Europe/Podgorica",
        created_at=created_at,
    )


def _names(engine: Engine) -> list[str]:
    """The organisations' names, read on a connection of its own (what others see)."""
    with engine.connect() as connection:
        return list(
            connection.execute(sa.text("SELECT name FROM organisation ORDER BY name")).scalars()
        )


@dataclass(frozen=True)
class Scratch:
    settings: Settings
    engine: Engine


@pytest.fixture
def scratch(backend: str, tmp_sqlite_url: str) -> Iterator[Scratch]:
    """A migrated database of the test's own, where commits are real and seen by no other test."""
    url = tmp_sqlite_url if backend == "sqlite" else private_postgres_url("_db")
    if backend == "postgresql":
        recreate_postgres_database(url)
    settings = make_settings(url)
    engine = create_db_engine(settings)
    try:
        upgrade(settings, engine)
        yield Scratch(settings, engine)
    finally:
        engine.dispose()
        if backend == "postgresql":
            drop_postgres_database(url)


# --- UTCDateTime ---------------------------------------------------------------------------------


def test_a_naive_datetime_is_refused(db: Session) -> None:
    db.add(_organisation("Naive Org", created_at=datetime(2026, 3, 2, 10, 0)))  # noqa: DTZ001
    with pytest.raises(StatementError, match="naive datetime refused") as raised:
        db.flush()
    assert isinstance(raised.value.orig, ValueError)


def test_a_naive_datetime_is_refused_before_anything_is_written(db: Session) -> None:
    # On the test's own transaction, without a savepoint: had the INSERT reached PostgreSQL and
    # failed there, the transaction would be aborted and the SELECT below would fail too.
    connection = db.connection()
    table = Organisation.__table__  # type: ignore[attr-defined]
    with pytest.raises(StatementError, match="naive datetime refused"):
        connection.execute(
            sa.insert(table).values(
                id=uuid.uuid4(),
                name="Naive Org",
                kind=OrganisationKind.NGO,
                country_code="ME",
                time_zone="Europe/Podgorica",
                created_at=datetime(2026, 3, 2, 10, 0),  # noqa: DTZ001
            )
        )
    count = sa.select(func.count()).select_from(table).where(table.c.name == "Naive Org")
    assert connection.execute(count).scalar_one() == 0


def test_a_naive_datetime_is_refused_in_a_query(db: Session) -> None:
    query = select(Organisation).where(
        col(Organisation.created_at) < datetime(2026, 3, 2, 10, 0)  # noqa: DTZ001
    )
    with pytest.raises(StatementError, match="naive datetime refused"):
        db.exec(query).all()


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        # Winter (UTC+1) and summer (UTC+2) time in Podgorica, to the microsecond.
        (
            datetime(2026, 1, 15, 9, 30, 15, 123456, tzinfo=PODGORICA),
            datetime(2026, 1, 15, 8, 30, 15, 123456, tzinfo=UTC),
        ),
        (
            datetime(2026, 7, 1, 0, 30, 0, 1, tzinfo=PODGORICA),
            datetime(2026, 6, 30, 22, 30, 0, 1, tzinfo=UTC),
        ),
    ],
)
def test_an_aware_datetime_comes_back_as_the_same_instant_in_utc(
    db: Session, local: datetime, utc: datetime
) -> None:
    organisation = _organisation(f"Org {uuid.uuid4().hex[:10]}", created_at=local)
    db.add(organisation)
    db.flush()
    stored = db.exec(
        select(Organisation.created_at).where(Organisation.id == organisation.id)
    ).one()
    assert stored == utc
    assert stored.tzinfo is UTC
    # Comparisons in queries convert the same way.
    found = db.exec(select(Organisation.id).where(Organisation.created_at == local)).all()
    assert found == [organisation.id]


# --- connection settings -------------------------------------------------------------------------


def test_sqlite_connections_are_configured(tmp_sqlite_url: str) -> None:
    settings = make_settings(tmp_sqlite_url, sqlite_busy_timeout_ms=1234)
    engine = create_db_engine(settings)
    try:
        # Two connections open at once (read-only, or the second would wait for the first's
        # write lock): two DB-API connections, each configured when it was made.
        with engine.connect() as first, engine.connect() as second:
            assert first.connection.dbapi_connection is not second.connection.dbapi_connection
            for connection in (first, second):
                connection.execution_options(**{READ_ONLY: True})
                pragmas = [
                    connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                    for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
                ]
                assert pragmas == ["wal", 1, 1234, 1]  # synchronous 1 is NORMAL
    finally:
        engine.dispose()


def test_sqlite_writers_lock_at_begin_and_readers_do_not(tmp_sqlite_url: str) -> None:
    engine = create_db_engine(make_settings(tmp_sqlite_url, sqlite_busy_timeout_ms=100))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        with engine.connect() as writer, engine.connect() as other:
            writer.begin()  # BEGIN IMMEDIATE: the write lock is taken now, before any write
            with pytest.raises(OperationalError, match="database is locked"):
                other.begin()
            other.rollback()
            reader = other.execution_options(**{READ_ONLY: True})
            with reader.begin():
                assert reader.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 0
            writer.rollback()
    finally:
        engine.dispose()


@pytest.mark.postgresql_only
def test_postgresql_sessions_have_the_configured_timeouts(
    backend: str, engine: Engine, settings: Settings
) -> None:
    assert (settings.db_statement_timeout_ms, settings.db_lock_timeout_ms) == (10_000, 5_000)
    with engine.connect() as connection:
        shown = [
            connection.exec_driver_sql(f"SHOW {name}").scalar_one()
            for name in (
                "statement_timeout",
                "lock_timeout",
                "idle_in_transaction_session_timeout",
                "timezone",
                "application_name",
            )
        ]
    assert shown == ["10s", "5s", "1min", "UTC", "sigurna"]


@pytest.mark.postgresql_only
def test_postgresql_timeouts_follow_the_settings(backend: str, settings: Settings) -> None:
    custom = make_settings(
        settings.database_url, db_statement_timeout_ms=1500, db_lock_timeout_ms=250
    )
    engine = create_db_engine(custom)
    try:
        with engine.connect() as connection:
            shown = [
                connection.exec_driver_sql(f"SHOW {name}").scalar_one()
                for name in (
                    "statement_timeout",
                    "lock_timeout",
                    "idle_in_transaction_session_timeout",
                )
            ]
    finally:
        engine.dispose()
    assert shown == ["1500ms", "250ms", "9s"]


# --- unit of work --------------------------------------------------------------------------------


def test_a_unit_of_work_commits_when_its_block_succeeds(scratch: Scratch) -> None:
    with unit_of_work(scratch.engine) as session:
        organisation = _organisation("Committed Org")
        session.add(organisation)
    assert _names(scratch.engine) == ["Committed Org"]
    # expire_on_commit=False: what the block made stays readable after it.
    assert organisation.name == "Committed Org"
    assert organisation.created_at == T0


class Interrupted(BaseException):
    """Not an Exception: a unit of work rolls back on these too (e.g. KeyboardInterrupt)."""


def _write_then_raise(engine: Engine, error: BaseException) -> None:
    with unit_of_work(engine) as session:
        session.add(_organisation("Rolled Back Org"))
        session.flush()
        # Written inside the transaction, then undone.
        assert session.exec(select(func.count()).select_from(Organisation)).one() == 1
        raise error


@pytest.mark.parametrize("error", [RuntimeError("boom"), Interrupted("stop")])
def test_a_unit_of_work_rolls_back_when_its_block_raises(
    scratch: Scratch, error: BaseException
) -> None:
    with pytest.raises(type(error)) as raised:
        _write_then_raise(scratch.engine, error)
    assert raised.value is error
    assert _names(scratch.engine) == []


def _add_twins(engine: Engine) -> None:
    with unit_of_work(engine) as session:
        session.add(_organisation("First Org"))
        session.add(_organisation("Twin Org"))
        session.add(_organisation("Twin Org"))


def test_a_unit_of_work_whose_commit_fails_leaves_nothing(scratch: Scratch) -> None:
    with pytest.raises(IntegrityError):
        _add_twins(scratch.engine)
    assert _names(scratch.engine) == []


# --- the unit of work of an HTTP request ---------------------------------------------------------


@pytest.fixture
def client(scratch: Scratch) -> Iterator[TestClient]:
    """The real application, with its real unit of work, plus two test-only routes."""
    app = create_app(scratch.settings, engine=scratch.engine, clock=FrozenClock(T0))

    def add_organisations(session: SessionDep, count: int) -> dict[str, int]:
        # Not flushed: a constraint fails only at the commit, after the handler returned.
        for _ in range(count):
            session.add(_organisation("Twin Org"))
        return {"added": count}

    app.add_api_route(
        "/test-only/organisations/{count}",
        add_organisations,
        methods=["POST", "GET"],
        dependencies=[Public],
    )

    def transaction_open(session: SessionDep, write: bool = False) -> dict[str, bool]:
        """Whether the request's connection is inside a transaction after it read (and wrote)."""
        session.exec(select(func.count()).select_from(Organisation)).one()
        if write:
            session.add(_organisation("Written Org"))
            session.flush()
        dbapi = session.connection().connection.dbapi_connection
        if scratch.engine.dialect.name == "sqlite":
            return {"open": bool(getattr(dbapi, "in_transaction", False))}
        return {"open": dbapi.info.transaction_status.name != "IDLE"}  # type: ignore[union-attr]

    def write_then_raise(session: SessionDep) -> None:
        session.add(_organisation("Rolled Back Org"))
        session.flush()
        raise RuntimeError("after the write")

    def audited(session: SessionDep) -> dict[str, int]:
        event = audit.record(session, T0, Actor("system", "test"), "test.read", "thing", None)
        return {"id": event.id}

    for path, endpoint in (
        ("/test-only/transaction", transaction_open),
        ("/test-only/write-then-raise", write_then_raise),
        ("/test-only/audited", audited),
    ):
        app.add_api_route(path, endpoint, methods=["GET", "POST"], dependencies=[Public])
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as client:
        yield client


def test_a_request_commits_before_it_answers(client: TestClient, scratch: Scratch) -> None:
    response = client.post("/test-only/organisations/1")
    assert (response.status_code, response.json()) == (200, {"added": 1})
    assert _names(scratch.engine) == ["Twin Org"]


def test_a_request_whose_commit_fails_is_answered_as_an_error(
    client: TestClient, scratch: Scratch, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="sigurna.errors"):
        response = client.post("/test-only/organisations/2")
    assert response.status_code == 500
    assert response.json() == {
        "error": "internal_error",
        "message": "An unexpected error occurred; it has been logged.",
    }
    errors = [r for r in caplog.records if r.name == "sigurna.errors"]
    assert [getattr(r, "error_type", None) for r in errors] == ["IntegrityError"]
    assert _names(scratch.engine) == []


# --- requests that read (GET) --------------------------------------------------------------------


def test_a_read_sends_no_begin_on_postgresql_and_opens_one_when_it_writes(
    client: TestClient, backend: str, scratch: Scratch
) -> None:
    read = client.get("/test-only/transaction")
    assert read.status_code == 200
    # PostgreSQL: autocommit until a write; SQLite: BEGIN IMMEDIATE as for every request.
    assert read.json() == {"open": backend == "sqlite"}
    assert client.post("/test-only/transaction").json() == {"open": True}
    written = client.get("/test-only/transaction", params={"write": "true"})
    assert written.json() == {"open": True}
    assert _names(scratch.engine) == ["Written Org"]


def test_a_read_that_wrote_and_then_failed_keeps_nothing(
    client: TestClient, scratch: Scratch
) -> None:
    assert client.get("/test-only/write-then-raise").status_code == 500
    # Two rows with the same name: the second fails at the commit, after the first was sent.
    assert client.get("/test-only/organisations/2").status_code == 500
    assert _names(scratch.engine) == []
    assert client.get("/test-only/organisations/1").json() == {"added": 1}
    assert _names(scratch.engine) == ["Twin Org"]


def test_reads_that_audit_at_once_keep_the_chain_whole(
    client: TestClient, scratch: Scratch
) -> None:
    def read_twenty() -> list[int]:
        return [client.get("/test-only/audited").json()["id"] for _ in range(20)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = [i for batch in pool.map(lambda _: read_twenty(), range(4)) for i in batch]
    with Session(scratch.engine) as session:
        checked, problems = audit.verify(session)
    assert problems == []
    first = min(ids)
    assert sorted(ids) == list(range(first, first + 80))  # 80 events, no number twice
    assert checked == first + 79


def test_only_plain_selects_are_read_without_a_transaction() -> None:
    assert _plain_select("SELECT a FROM b WHERE c = %(c)s")
    assert _plain_select("\n  select a\nfrom b")
    assert not _plain_select("SELECT a FROM b WHERE c = 1 FOR UPDATE")
    assert not _plain_select("SELECT a FROM b FOR NO KEY UPDATE OF b")
    assert not _plain_select("SELECT a FROM b\nFOR  SHARE SKIP LOCKED")
    assert not _plain_select("SELECT a FROM b FOR KEY SHARE")
    assert not _plain_select("UPDATE auth_session SET last_seen_at = now()")
    assert not _plain_select("INSERT INTO audit_event VALUES (1)")
    assert not _plain_select("WITH moved AS (DELETE FROM a RETURNING *) SELECT * FROM moved")
    assert not _plain_select("SAVEPOINT sa_savepoint_1")
