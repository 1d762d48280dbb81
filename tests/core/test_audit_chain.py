"""The audit log is a hash chain: an edited, deleted or truncated row is detected."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, func, select

from core import audit
from core.audit import Actor, AuditEvent
from core.clock import FrozenClock
from core.db import unit_of_work


def _record(db: Session, clock: FrozenClock, count: int) -> list[int]:
    """Append `count` events; returns their ids (the rows may be tampered with afterwards)."""
    events = []
    for index in range(count):
        events.append(
            audit.record(
                db,
                now=clock.advance(timedelta(seconds=1)),
                actor=Actor.system("test"),
                action="test.event",
                subject_type="thing",
                subject_id=index,
                reason=f"event {index}",
            )
        )
    db.flush()
    return [event.id for event in events]


def _tamper(db: Session, backend: str, sql: str, **params: object) -> None:
    """Change the log behind the application's back (on PostgreSQL, past its triggers)."""
    connection = db.connection()
    if backend == "postgresql":
        connection.exec_driver_sql("ALTER TABLE audit_event DISABLE TRIGGER USER")
    connection.execute(sa.text(sql), params)
    if backend == "postgresql":
        connection.exec_driver_sql("ALTER TABLE audit_event ENABLE TRIGGER USER")
    db.expire_all()


def test_an_untouched_chain_verifies(db: Session, clock: FrozenClock) -> None:
    before, _ = audit.verify(db)
    ids = _record(db, clock, 5)
    checked, problems = audit.verify(db)
    assert problems == []
    assert checked == before + 5
    events = [db.get(AuditEvent, i) for i in ids]
    assert [e.prev_hash for e in events[1:] if e] == [e.hash for e in events[:-1] if e]


def test_an_edited_row_is_detected(db: Session, clock: FrozenClock, backend: str) -> None:
    events = _record(db, clock, 4)
    _tamper(
        db,
        backend,
        "UPDATE audit_event SET reason = 'nothing happened' WHERE id = :id",
        id=events[1],
    )
    _, problems = audit.verify(db)
    assert [(p.event_id, p.problem) for p in problems] == [
        (events[1], "content does not match its hash (edited)")
    ]


def test_a_deleted_row_is_detected(db: Session, clock: FrozenClock, backend: str) -> None:
    events = _record(db, clock, 4)
    _tamper(db, backend, "DELETE FROM audit_event WHERE id = :id", id=events[1])
    _, problems = audit.verify(db)
    messages = [(p.event_id, p.problem) for p in problems]
    assert (events[2], f"events {events[1]}..{events[1]} are missing") in messages
    assert (events[2], "does not follow the event before it (deleted or reordered)") in messages


def test_a_deleted_tail_is_detected(db: Session, clock: FrozenClock, backend: str) -> None:
    events = _record(db, clock, 3)
    _tamper(db, backend, "DELETE FROM audit_event WHERE id = :id", id=events[-1])
    _, problems = audit.verify(db)
    assert [(p.event_id, p.problem) for p in problems] == [
        (events[-1], "the chain head does not match the last event (tail deleted)")
    ]


@pytest.mark.postgresql_only
@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_event SET reason = 'x'", "DELETE FROM audit_event", "TRUNCATE audit_event"],
)
def test_postgresql_refuses_to_change_the_log(
    db: Session, clock: FrozenClock, backend: str, statement: str
) -> None:
    _record(db, clock, 1)
    savepoint = db.begin_nested()
    with pytest.raises(DBAPIError, match="append-only"):
        db.connection().execute(sa.text(statement))
    savepoint.rollback()


@pytest.mark.postgresql_only
def test_concurrent_writers_never_fork_the_chain(
    engine: Engine, backend: str, clock: FrozenClock
) -> None:
    with unit_of_work(engine) as session:
        before = session.exec(select(func.count()).select_from(AuditEvent)).one()

    def write() -> None:
        for index in range(25):
            with unit_of_work(engine) as session:
                audit.record(
                    session,
                    now=clock.now(),
                    actor=Actor.system("test"),
                    action="test.concurrent",
                    subject_type="thing",
                    subject_id=index,
                )

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with unit_of_work(engine) as session:
        checked, problems = audit.verify(session)
        after = session.exec(select(func.count()).select_from(AuditEvent)).one()
    assert problems == []
    assert after - before == 200
    assert checked == after
