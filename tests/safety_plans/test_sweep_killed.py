"""The case deadline sweep killed with SIGKILL in the middle of its transaction (its reminders
written to the outbox, the rows not yet marked): nothing is lost, and the next sweep sends each
reminder exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, func, select

from core.audit import Actor
from core.crypto import cipher_from_settings
from core.db import create_db_engine, unit_of_work, upgrade
from core.models import Organisation, OrganisationKind, Role, User, UserRole
from notifications.models import OutboxMessage
from safety_plans.models import AssessmentCreate, CaseCreate, CaseDeadline, DeadlineState
from safety_plans.risk import Answer, instrument
from safety_plans.service import cases, plans
from safety_plans.service.cases import Work
from tests.conftest import make_settings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CASES = 12  # two deadline rows each (the day before and the day of the reassessment)
AFTER_ALL = T0 + timedelta(days=40)

CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import datetime
    from core.db import create_db_engine, unit_of_work
    from notifications import service as outbox
    from safety_plans.service import sweep
    from tests.conftest import make_settings

    engine = create_db_engine(make_settings(sys.argv[1]))
    enqueue = outbox.enqueue_many

    def enqueue_then_hang(*args, **kwargs):
        count = enqueue(*args, **kwargs)
        session = kwargs["session"] if "session" in kwargs else args[0]
        session.flush()
        print("enqueued", count, flush=True)
        time.sleep(120)  # killed here, inside the transaction
        return count

    sweep.outbox.enqueue_many = enqueue_then_hang
    with unit_of_work(engine) as session:
        now = datetime.fromisoformat(sys.argv[2])
        sweep.sweep_batch(session, now=now, base_url="https://x.example", limit=500)
    """
)


def _seed(url: str) -> None:
    settings = make_settings(url)
    engine = create_db_engine(settings)
    upgrade(settings, engine)
    cipher = cipher_from_settings(settings)
    answers = {q.id: Answer.NO for q in instrument().questions}
    with unit_of_work(engine) as session:
        ngo = Organisation(
            name="SOS Kill Line", kind=OrganisationKind.NGO, country_code="ME", created_at=T0
        )
        session.add(ngo)
        session.flush()
        owner = User(
            organisation_id=ngo.id,
            email="owner@example.org",
            display_name="Test Owner",
            password_hash="-",
            created_at=T0,
            password_changed_at=T0,
        )
        session.add(owner)
        session.flush()
        session.add(UserRole(user_id=owner.id, role=Role.COUNSELOR))
        actor = Actor("user", str(owner.id), ngo.id)
        for n in range(CASES):
            case = cases.create_case(
                session,
                now=T0,
                organisation_id=ngo.id,
                user_id=owner.id,
                data=CaseCreate(name=f"Test Client {n}"),
                cipher=cipher,
                actor=actor,
            )
            plans.assess(
                Work(session, T0, case, owner.id, cipher, actor), AssessmentCreate(answers=answers)
            )
    engine.dispose()


def _counts(url: str) -> tuple[int, int, int]:
    engine = create_db_engine(make_settings(url))
    with Session(engine) as session:
        messages = session.exec(select(func.count()).select_from(OutboxMessage)).one()
        keys = session.exec(select(func.count(func.distinct(OutboxMessage.idempotency_key)))).one()
        pending = session.exec(
            select(func.count())
            .select_from(CaseDeadline)
            .where(col(CaseDeadline.state) == DeadlineState.PENDING)
        ).one()
    engine.dispose()
    return int(messages), int(keys), int(pending)


def test_a_sweep_killed_inside_its_transaction_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    _seed(url)
    assert _counts(url) == (0, 0, 2 * CASES)

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(  # noqa: S603 (our own interpreter and script)
        [sys.executable, "-c", CHILD, url, AFTER_ALL.isoformat()],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.split() == ["enqueued", str(2 * CASES)], line
    child.kill()  # SIGKILL: no handler, no rollback, no goodbye
    child.wait(timeout=30)
    child.stdout.close()
    assert _counts(url) == (0, 0, 2 * CASES)  # its writes died with it

    engine = create_db_engine(make_settings(url))
    from safety_plans.service import sweep

    handled = sweep.sweep(lambda: unit_of_work(engine), now=AFTER_ALL, base_url="https://x.example")
    again = sweep.sweep(lambda: unit_of_work(engine), now=AFTER_ALL, base_url="https://x.example")
    engine.dispose()
    assert (handled, again) == (2 * CASES, 0)
    assert _counts(url) == (2 * CASES, 2 * CASES, 0)
