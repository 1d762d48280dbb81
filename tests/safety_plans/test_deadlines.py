"""Reassessment and step deadlines: the rows an assessment or a step makes (DST-exact), the sweep
that turns them into one e-mail each, and the work list that shows them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from core.db import UnitOfWork
from notifications import service as outbox
from notifications.models import OutboxMessage
from safety_plans.models import CaseDeadline, DeadlineKind, DeadlineState
from safety_plans.service import sweep
from tests.safety_plans.conftest import Clinic, all_no, ok

PODGORICA = ZoneInfo("Europe/Podgorica")
BASE_URL = "https://sigurna.example.org"
MICRO = timedelta(microseconds=1)


def local(year: int, month: int, day: int, hour: int) -> datetime:
    return datetime(year, month, day, hour, tzinfo=PODGORICA).astimezone(UTC)


def rows(db: Session) -> list[tuple[DeadlineKind, datetime, DeadlineState]]:
    db.expire_all()
    return [
        (r.kind, r.due_at, r.state)
        for r in db.exec(
            select(CaseDeadline).order_by(col(CaseDeadline.due_at), col(CaseDeadline.kind))
        ).all()
    ]


def row(db: Session, kind: DeadlineKind, state: DeadlineState = DeadlineState.PENDING) -> Any:
    db.expire_all()
    return db.exec(
        select(CaseDeadline).where(CaseDeadline.kind == kind, CaseDeadline.state == state)
    ).one()


def messages(db: Session) -> list[tuple[str, str, str | None, str]]:
    db.expire_all()
    return [
        (m.idempotency_key, m.recipient, m.subject, m.body)
        for m in db.exec(
            select(OutboxMessage)
            .where(
                col(OutboxMessage.topic).startswith("case.")
                & (OutboxMessage.topic != "case.break_glass")
            )
            .order_by(col(OutboxMessage.idempotency_key))
        ).all()
    ]


def assess(c: Clinic, **answers: str) -> dict[str, Any]:
    c.as_(c.owner)
    found: dict[str, Any] = ok(
        c.client.post(c.url + "/risk-assessments", json={"answers": all_no(**answers)}), 201
    )
    return found


@pytest.mark.parametrize(
    ("assessed", "soon", "due"),
    [
        # Before the March change: reminded at 10:00 CET, due at 10:00 CEST (167 h later).
        (local(2026, 3, 25, 10), local(2026, 3, 31, 10), local(2026, 4, 1, 10)),
        # Due on the day of the change: the reminder comes 23 hours before.
        (local(2026, 3, 22, 10), local(2026, 3, 28, 10), local(2026, 3, 29, 10)),
        # Before the October change: 10:00 CEST to 10:00 CET (169 h later).
        (local(2026, 10, 20, 10), local(2026, 10, 26, 10), local(2026, 10, 27, 10)),
        # Due the day after the October change: the reminder comes 25 hours before.
        (local(2026, 10, 19, 10), local(2026, 10, 25, 10), local(2026, 10, 26, 10)),
    ],
)
def test_a_high_assessment_makes_its_two_rows_at_local_instants(
    clinic: Clinic, db: Session, assessed: datetime, soon: datetime, due: datetime
) -> None:
    clinic.world.clock.set(assessed)
    clinic.case = clinic.open_case()
    made = assess(clinic, threat_to_kill="yes")
    assert made["reassess_by"] == due.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rows(db) == [
        (DeadlineKind.REASSESS_SOON, soon, DeadlineState.PENDING),
        (DeadlineKind.REASSESS_OVERDUE, due, DeadlineState.PENDING),
    ]
    assert soon.astimezone(PODGORICA).hour == due.astimezone(PODGORICA).hour == 10


def test_a_standard_assessment_is_due_in_thirty_local_days(clinic: Clinic, db: Session) -> None:
    clinic.world.clock.set(local(2026, 3, 10, 10))
    clinic.case = clinic.open_case()
    assess(clinic)
    assert rows(db) == [
        (DeadlineKind.REASSESS_SOON, local(2026, 4, 8, 10), DeadlineState.PENDING),
        (DeadlineKind.REASSESS_OVERDUE, local(2026, 4, 9, 10), DeadlineState.PENDING),
    ]


def test_a_new_assessment_cancels_the_old_rows(clinic: Clinic, db: Session) -> None:
    clock = clinic.world.clock
    clock.set(local(2026, 3, 2, 10))
    clinic.case = clinic.open_case()
    first = assess(clinic, weapon="yes")
    clock.advance(timedelta(days=2))
    second = assess(clinic)
    db.expire_all()
    found = db.exec(select(CaseDeadline).order_by(col(CaseDeadline.due_at))).all()
    assert [(str(r.subject_id), r.kind, r.state, r.done_at) for r in found] == [
        (first["id"], DeadlineKind.REASSESS_SOON, DeadlineState.CANCELLED, clock.now()),
        (first["id"], DeadlineKind.REASSESS_OVERDUE, DeadlineState.CANCELLED, clock.now()),
        (second["id"], DeadlineKind.REASSESS_SOON, DeadlineState.PENDING, None),
        (second["id"], DeadlineKind.REASSESS_OVERDUE, DeadlineState.PENDING, None),
    ]
    assert second["reassess_by"] == "2026-04-03T08:00:00Z"  # 10:00 CEST, 30 days on


def test_the_sweep_sends_one_email_to_the_owner_per_row_once(
    clinic: Clinic, db: Session, uow: UnitOfWork
) -> None:
    c = clinic
    c.world.clock.set(local(2026, 3, 25, 10))
    c.case = c.open_case()
    assess(c, strangulation="yes")
    soon = row(db, DeadlineKind.REASSESS_SOON)
    overdue = row(db, DeadlineKind.REASSESS_OVERDUE)
    number = c.case["number"]

    assert sweep.sweep(uow, now=local(2026, 3, 31, 10) - MICRO, base_url=BASE_URL) == 0
    assert messages(db) == []

    assert sweep.sweep(uow, now=local(2026, 3, 31, 10), base_url=BASE_URL) == 1
    first = (
        f"case-deadline:{soon.id}:u{c.owner.id}",
        "owner@ngo.example.org",
        f"Case {number}",
        f"Sigurna: the risk reassessment of case {number} is due tomorrow. Log in: {BASE_URL}/",
    )
    assert messages(db) == [first]
    assert sweep.sweep(uow, now=local(2026, 3, 31, 12), base_url=BASE_URL) == 0
    assert messages(db) == [first]
    assert row(db, DeadlineKind.REASSESS_SOON, DeadlineState.DONE).done_at == local(2026, 3, 31, 10)

    assert sweep.sweep(uow, now=local(2026, 4, 1, 10), base_url=BASE_URL) == 1
    assert sweep.sweep(uow, now=local(2026, 4, 1, 10), base_url=BASE_URL) == 0
    assert messages(db) == sorted(
        [
            first,
            (
                f"case-deadline:{overdue.id}:u{c.owner.id}",
                "owner@ngo.example.org",
                f"Case {number}",
                f"Sigurna: the risk reassessment of case {number} is overdue. Log in: {BASE_URL}/",
            ),
        ]
    )


def test_a_closed_cases_rows_are_cancelled_by_the_sweep(
    clinic: Clinic, db: Session, uow: UnitOfWork
) -> None:
    c = clinic
    c.case = c.open_case()
    assess(c, weapon="yes")
    ok(c.client.post(c.url + "/status", json={"status": "closed", "reason": "moved_away"}))
    at = c.now + timedelta(days=8)
    assert sweep.sweep(uow, now=at, base_url=BASE_URL) == 2
    assert [r[2] for r in rows(db)] == [DeadlineState.CANCELLED, DeadlineState.CANCELLED]
    assert messages(db) == []


def test_an_overdue_step_reminds_its_owner_and_a_done_step_nobody(
    clinic: Clinic, db: Session, uow: UnitOfWork
) -> None:
    c = clinic
    c.case = c.open_case()
    due = c.now + timedelta(days=2)
    step = ok(
        c.client.post(
            c.url + "/steps",
            json={
                "agency": "court",
                "what": "Hearing",
                "owner_id": str(c.member.id),
                "due_at": due.isoformat(),
            },
        ),
        201,
    )
    done = ok(
        c.client.post(
            c.url + "/steps",
            json={"agency": "csw", "what": "Form", "due_at": due.isoformat()},
        ),
        201,
    )
    ok(c.client.patch(f"{c.url}/steps/{done['id']}", json={"status": "done"}))
    pending = row(db, DeadlineKind.STEP_OVERDUE)
    assert str(pending.subject_id) == step["id"]
    assert pending.due_at == due

    assert sweep.sweep(uow, now=due, base_url=BASE_URL) == 1
    number = c.case["number"]
    assert messages(db) == [
        (
            f"case-deadline:{pending.id}:u{c.member.id}",
            "member@ngo.example.org",
            f"Case {number}",
            f"Sigurna: a step of the assistance plan of case {number} is overdue. "
            f"Log in: {BASE_URL}/",
        )
    ]


def test_a_sweep_that_fails_mid_way_leaves_its_rows_for_the_next_which_sends_each_once(
    clinic: Clinic, db: Session, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = clinic
    c.case = c.open_case()
    assess(c, weapon="yes")
    for days in (1, 2, 3):
        ok(
            c.client.post(
                c.url + "/steps",
                json={
                    "agency": "police",
                    "what": f"Step {days}",
                    "due_at": (c.now + timedelta(days=days)).isoformat(),
                },
            ),
            201,
        )
    at = c.now + timedelta(days=8)  # five rows due: three steps, two reassessment reminders
    real = outbox.enqueue_many
    calls = {"n": 0}

    def crash_on_the_third_batch(session: Session, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("killed")
        return int(real(session, **kwargs))

    monkeypatch.setattr(outbox, "enqueue_many", crash_on_the_third_batch)
    with pytest.raises(RuntimeError):
        sweep.sweep(uow, now=at, base_url=BASE_URL, batch=1)
    assert len(messages(db)) == 2
    assert [r[2] for r in rows(db)].count(DeadlineState.PENDING) == 3

    monkeypatch.setattr(outbox, "enqueue_many", real)
    assert sweep.sweep(uow, now=at, base_url=BASE_URL, batch=1) == 3
    assert sweep.sweep(uow, now=at, base_url=BASE_URL) == 0
    sent = messages(db)
    keys = [m[0] for m in sent]
    assert len(keys) == len(set(keys)) == 5
    ids = {uuid.UUID(k.split(":")[1]) for k in keys}
    assert ids == set(db.exec(select(CaseDeadline.id)).all())
    assert [r[2] for r in rows(db)] == [DeadlineState.DONE] * 5


def test_the_work_list_shows_overdue_reassessments_and_steps(clinic: Clinic) -> None:
    c = clinic
    c.world.clock.set(local(2026, 3, 25, 10))
    c.case = c.open_case()
    assess(c, escalation="yes")
    step = ok(
        c.client.post(
            c.url + "/steps",
            json={
                "agency": "health",
                "what": "Doctor",
                "due_at": (c.now + timedelta(days=1)).isoformat(),
            },
        ),
        201,
    )
    work = c.cases + "/work-list"

    nothing = ok(c.client.get(work))
    assert (nothing["reassessments_overdue"], nothing["steps_overdue"]) == ([], [])
    assert nothing["reassessments_due_soon"] == []  # due 1 April, more than 3 local days away

    c.world.clock.set(local(2026, 3, 29, 10))
    c.as_(c.owner)
    soon = ok(c.client.get(work))
    assert [i["id"] for i in soon["reassessments_due_soon"]] == [c.case["id"]]
    assert soon["reassessments_overdue"] == []
    assert [(s["id"], s["overdue"]) for s in soon["steps_overdue"]] == [(step["id"], True)]

    c.world.clock.set(local(2026, 4, 1, 10))
    c.as_(c.owner)
    late = ok(c.client.get(work))
    assert [(i["id"], i["reassessment_overdue"]) for i in late["reassessments_overdue"]] == [
        (c.case["id"], True)
    ]
    assert late["reassessments_due_soon"] == []
    assert late["tasks"] == []  # a counselor gets no supervisor's tasks

    c.as_(c.supervisor)
    sup = ok(c.client.get(work))
    assert sup["reassessments_overdue"] == []
    assert sup["steps_overdue"] == []
    assert [(t["case_id"], t["kind"]) for t in sup["tasks"]] == [(c.case["id"], "case_conference")]

    c.as_(c.other)
    other = ok(c.client.get(work))
    assert other == {
        "reassessments_overdue": [],
        "reassessments_due_soon": [],
        "steps_overdue": [],
        "tasks": [],
    }
