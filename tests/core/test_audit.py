"""The audit log: a hash chain that `verify` (and `sigurna audit verify`) proves intact, and
that reports each kind of tampering; PostgreSQL also refuses changes outright."""

from __future__ import annotations

import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, func, select
from typer.testing import CliRunner

from core import audit
from core.audit import GENESIS_HASH, Actor, AuditEvent, AuditHead
from core.cli import app as cli
from core.clock import FrozenClock
from core.config import get_settings
from core.db import create_db_engine, unit_of_work, upgrade
from tests.conftest import T0, make_settings

ACTOR = Actor.system("test")
EDITED = "content does not match its hash (edited)"
OUT_OF_ORDER = "does not follow the event before it (deleted or reordered)"
TAIL_DELETED = "the chain head does not match the last event (tail deleted)"


def _events() -> sa.Table:
    return SQLModel.metadata.tables[AuditEvent.__tablename__]


def _record(session: Session, clock: FrozenClock, count: int) -> list[AuditEvent]:
    return [
        audit.record(
            session,
            clock.advance(timedelta(seconds=1)),
            ACTOR,
            "test.event",
            "thing",
            index,
            reason=f"event {index}",
        )
        for index in range(count)
    ]


def _tamper(db: Session, backend: str, statement: sa.Executable) -> None:
    """Change the log behind the application's back; on PostgreSQL, as a superuser who turns
    the append-only triggers off for the rest of the test's transaction."""
    connection = db.connection()
    if backend == "postgresql":
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
    assert connection.execute(statement).rowcount == 1
    db.expire_all()


def _problems(db: Session) -> list[tuple[int | None, str]]:
    _, problems = audit.verify(db)
    return [(p.event_id, p.problem) for p in problems]


# --- the chain -----------------------------------------------------------------------------------


def test_recorded_events_form_a_chain_that_verifies(db: Session, clock: FrozenClock) -> None:
    # Other tests may have committed events (the concurrency test): they verify too.
    before, problems = audit.verify(db)
    assert problems == []
    head = db.get(AuditHead, 1)
    assert head is not None
    previous_id, previous_hash = head.last_event_id or 0, head.last_hash

    events = _record(db, clock, 5)

    assert [e.id for e in events] == list(range(previous_id + 1, previous_id + 6))
    assert [e.prev_hash for e in events] == [previous_hash] + [e.hash for e in events[:-1]]
    assert len({e.hash for e in events}) == 5
    assert all(re.fullmatch("[0-9a-f]{64}", e.hash) for e in events)
    db.expire_all()
    head = db.get(AuditHead, 1)
    assert head is not None
    assert (head.last_event_id, head.last_hash) == (events[-1].id, events[-1].hash)
    assert audit.verify(db) == (before + 5, [])
    assert audit.verify(db, batch=2) == (before + 5, [])


def test_the_first_event_follows_the_genesis_hash(tmp_sqlite_url: str) -> None:
    settings = make_settings(tmp_sqlite_url)
    engine = create_db_engine(settings)
    try:
        upgrade(settings, engine)
        with unit_of_work(engine) as session:
            first = _record(session, FrozenClock(T0), 1)[0]
        with unit_of_work(engine) as session:
            assert audit.verify(session) == (1, [])
    finally:
        engine.dispose()
    assert (first.id, first.prev_hash) == (1, GENESIS_HASH)


def test_events_with_every_field_set_verify(db: Session, clock: FrozenClock) -> None:
    before, _ = audit.verify(db)
    actor = Actor(
        type="user", id=str(uuid.uuid4()), organisation_id=uuid.uuid4(), request_id="req-42"
    )
    audit.record(
        db,
        clock.now(),
        actor,
        "case.note",
        "case",
        uuid.uuid4(),
        reason='Poziv prekinut — žrtva je na sigurnom ("safe")',
    )
    audit.record(db, clock.now(), actor, "case.note", "case", None, uuid.uuid4())
    assert audit.verify(db) == (before + 2, [])


def test_an_event_recorded_at_a_non_utc_instant_verifies(db: Session) -> None:
    """The column stores instants in UTC; the hash must be of the instant, not its offset."""
    before, _ = audit.verify(db)
    audit.record(
        db,
        datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Podgorica")),
        ACTOR,
        "test.event",
        "thing",
    )
    assert audit.verify(db) == (before + 1, [])


# --- tampering -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"reason": "nothing happened"},
        {"action": "test.other"},
        {"actor_type": "user"},
        {"actor_id": "someone-else"},
        {"subject_type": "other"},
        {"subject_id": "99"},
        {"request_id": "req-forged"},
        {"organisation_id": uuid.UUID(int=7)},
        {"occurred_at": datetime(2020, 1, 1, tzinfo=UTC)},
    ],
    ids=lambda changes: next(iter(changes)),
)
def test_an_edited_row_is_detected(
    db: Session, clock: FrozenClock, backend: str, changes: dict[str, object]
) -> None:
    ids = [event.id for event in _record(db, clock, 4)]
    table = _events()
    _tamper(db, backend, sa.update(table).where(table.c.id == ids[1]).values(**changes))
    assert _problems(db) == [(ids[1], EDITED)]


def test_a_deleted_row_in_the_middle_is_detected(
    db: Session, clock: FrozenClock, backend: str
) -> None:
    ids = [event.id for event in _record(db, clock, 4)]
    table = _events()
    _tamper(db, backend, sa.delete(table).where(table.c.id == ids[1]))
    assert _problems(db) == [
        (ids[2], f"events {ids[1]}..{ids[1]} are missing"),
        (ids[2], OUT_OF_ORDER),
    ]


def test_a_deleted_last_row_is_detected_by_the_head(
    db: Session, clock: FrozenClock, backend: str
) -> None:
    ids = [event.id for event in _record(db, clock, 3)]
    table = _events()
    _tamper(db, backend, sa.delete(table).where(table.c.id == ids[-1]))
    assert _problems(db) == [(ids[-1], TAIL_DELETED)]


@pytest.mark.postgresql_only
@pytest.mark.parametrize(
    ("statement", "operation"),
    [
        ("UPDATE audit_event SET reason = 'nothing happened'", "UPDATE"),
        ("DELETE FROM audit_event", "DELETE"),
        ("TRUNCATE audit_event", "TRUNCATE"),
    ],
)
def test_postgresql_refuses_to_change_the_log(
    db: Session, clock: FrozenClock, backend: str, statement: str, operation: str
) -> None:
    events = _record(db, clock, 2)
    savepoint = db.begin_nested()
    with pytest.raises(DBAPIError, match=f"audit_event is append-only: {operation} refused"):
        db.connection().exec_driver_sql(statement)
    savepoint.rollback()
    db.expire_all()
    stored = db.get(AuditEvent, events[-1].id)
    assert stored is not None
    assert stored.reason == "event 1"
    assert _problems(db) == []


# --- concurrent writers --------------------------------------------------------------------------


def _count(engine: Engine) -> int:
    with unit_of_work(engine) as session:
        return session.exec(select(func.count()).select_from(AuditEvent)).one()


@pytest.mark.postgresql_only
@pytest.mark.parametrize("per_transaction", [1, 25])
def test_concurrent_writers_keep_one_unbroken_chain(
    backend: str, engine: Engine, clock: FrozenClock, per_transaction: int
) -> None:
    """Real commits on the shared database: valid links, so every later test still verifies."""
    threads_count, per_thread = 8, 25
    before = _count(engine)
    start = threading.Barrier(threads_count)
    failures: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            start.wait(timeout=10)
            for first in range(0, per_thread, per_transaction):
                with unit_of_work(engine) as session:
                    for index in range(first, first + per_transaction):
                        audit.record(
                            session,
                            clock.now(),
                            ACTOR,
                            "test.concurrent",
                            "thing",
                            f"{thread}-{index}",
                        )
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []

    with unit_of_work(engine) as session:
        checked, problems = audit.verify(session)
        after = session.exec(select(func.count()).select_from(AuditEvent)).one()
    assert problems == []
    assert after - before == threads_count * per_thread
    assert checked == after


# --- sigurna audit verify ------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def cli_database(
    tmp_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A migrated scratch SQLite database with three events, which the CLI is configured to use;
    yields the database file."""
    for name in [name for name in os.environ if name.startswith("SIGURNA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SIGURNA_DATABASE_URL", tmp_sqlite_url)
    monkeypatch.setenv("SIGURNA_MODE", "development")
    monkeypatch.setenv("SIGURNA_ROSTER_CACHE_PATH", str(tmp_path / "roster-cache.json"))
    get_settings.cache_clear()
    settings = make_settings(tmp_sqlite_url)
    engine = create_db_engine(settings)
    try:
        upgrade(settings, engine)
        with unit_of_work(engine) as session:
            _record(session, FrozenClock(T0), 3)
    finally:
        engine.dispose()
    yield Path(sa.make_url(tmp_sqlite_url).database or "")
    get_settings.cache_clear()


def test_cli_reports_an_intact_chain(cli_database: Path) -> None:
    result = runner.invoke(cli, ["audit", "verify"])
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "audit chain intact: 3 events\n",
        "",
    )


@pytest.mark.parametrize(
    ("sql", "reported"),
    [
        (
            "UPDATE audit_event SET reason = 'nothing happened' WHERE id = 2",
            [f"BROKEN at event 2: {EDITED}"],
        ),
        (
            "DELETE FROM audit_event WHERE id = 2",
            ["BROKEN at event 3: events 2..2 are missing", f"BROKEN at event 3: {OUT_OF_ORDER}"],
        ),
        ("DELETE FROM audit_event WHERE id = 3", [f"BROKEN at event 3: {TAIL_DELETED}"]),
    ],
    ids=["edited", "deleted", "tail-deleted"],
)
def test_cli_reports_a_broken_chain(cli_database: Path, sql: str, reported: list[str]) -> None:
    with closing(sqlite3.connect(cli_database)) as connection, connection:
        assert connection.execute(sql).rowcount == 1
    result = runner.invoke(cli, ["audit", "verify"])
    checked = 3 if sql.startswith("UPDATE") else 2
    summary = f"audit chain BROKEN: {len(reported)} problem(s) in {checked} events"
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [*reported, summary]
