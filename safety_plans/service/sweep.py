"""The deadline sweep (reassessments soon due and overdue, assistance steps overdue) and the work
list that shows the same deadlines to the people who own them.

Deadline rows are made with the assessment or the step. The sweep writes the reminder to the
outbox in the transaction that marks its row done: a sweep killed at any point leaves its rows
pending for the next one, and the outbox's unique keys make a reminder go out once.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlmodel import Session, col, select

from core.crypto import FieldCipher
from core.db import UnitOfWork, claim, settle
from core.localtime import add_local_days
from core.models import Role, User
from core.scoped import by_id
from notifications import service as outbox
from notifications.models import Channel
from safety_plans.models import (
    OPEN_STEP_STATUSES,
    AssistanceStep,
    CaseDeadline,
    CaseMember,
    CaseStatus,
    DeadlineKind,
    DeadlineState,
    SafetyCase,
    WorkList,
)
from safety_plans.service import plans, sharing
from safety_plans.service.cases import list_item

log = logging.getLogger("sigurna.safety_plans")

DUE_SOON_DAYS = 3

_TEXT = {
    DeadlineKind.REASSESS_SOON: "Sigurna: the risk reassessment of case {number} is due tomorrow.",
    DeadlineKind.REASSESS_OVERDUE: "Sigurna: the risk reassessment of case {number} is overdue.",
    DeadlineKind.STEP_OVERDUE: (
        "Sigurna: a step of the assistance plan of case {number} is overdue."
    ),
}


def sweep(
    unit_of_work: UnitOfWork,
    *,
    now: datetime,
    base_url: str,
    batch: int = 500,
    max_batches: int = 100,
) -> int:
    """Turn every due deadline row into its reminder; how many rows were handled."""
    total = 0
    for _ in range(max_batches):
        with unit_of_work() as session:
            handled = sweep_batch(session, now=now, base_url=base_url, limit=batch)
        total += handled
        if handled < batch:
            break
    return total


def sweep_batch(session: Session, *, now: datetime, base_url: str, limit: int) -> int:
    query = (
        select(CaseDeadline)
        .where(CaseDeadline.state == DeadlineState.PENDING, col(CaseDeadline.due_at) <= now)
        .order_by(col(CaseDeadline.due_at), col(CaseDeadline.id))
        .limit(limit)
    )
    rows: list[CaseDeadline] = claim(session, query)
    if not rows:
        return 0
    cases = by_id(session, SafetyCase, (r.case_id for r in rows))
    step_rows = by_id(session, AssistanceStep, (r.subject_id for r in rows))
    messages: list[outbox.NewMessage] = []
    done: list[uuid.UUID] = []
    cancelled: list[uuid.UUID] = []
    for row in rows:
        case = cases[row.case_id]
        step = step_rows.get(row.subject_id)
        if case.status is CaseStatus.CLOSED or (
            row.kind is DeadlineKind.STEP_OVERDUE
            and (step is None or step.status not in OPEN_STEP_STATUSES)
        ):
            cancelled.append(row.id)
            continue
        done.append(row.id)
        owner_id = (
            step.owner_id if row.kind is DeadlineKind.STEP_OVERDUE and step else case.owner_id
        )
        owner = session.get(User, owner_id)
        if owner is None or owner.disabled_at is not None:
            owner = session.get(User, case.owner_id)
        if owner is None:
            continue
        text = _TEXT[row.kind].format(number=case.number) + f" Log in: {base_url}/"
        messages += outbox.messages_for(
            [outbox.Recipient(f"u{owner.id}", Channel.EMAIL, owner.email)],
            key=f"case-deadline:{row.id}",
            topic=f"case.{row.kind.value}",
            organisation_id=case.organisation_id,
            subject=f"Case {case.number}",
            text=text,
            payload=f'{{"event":"case.{row.kind.value}","case":"{case.number}"}}',
        )
    outbox.enqueue_many(session, now=now, messages=messages)
    settle(
        session,
        CaseDeadline,
        {DeadlineState.DONE: done, DeadlineState.CANCELLED: cancelled},
        now=now,
    )
    session.flush()
    return len(rows)


def work_list(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    user_id: uuid.UUID,
    roles: frozenset[Role],
    cipher: FieldCipher,
) -> WorkList:
    """The caller's overdue and soon-due reassessments, her overdue steps, and (for a supervisor)
    the open case-conference tasks."""
    zone = plans.zone_of(session, organisation_id)
    soon = add_local_days(now, DUE_SOON_DAYS, zone)
    mine = (
        select(SafetyCase)
        .join(CaseMember, col(CaseMember.case_id) == col(SafetyCase.id))
        .where(
            CaseMember.user_id == user_id,
            SafetyCase.organisation_id == organisation_id,
            SafetyCase.status != CaseStatus.CLOSED,
            col(SafetyCase.reassess_by).is_not(None),
            col(SafetyCase.reassess_by) <= soon,
        )
        .order_by(col(SafetyCase.reassess_by))
    )
    due = [list_item(c, cipher, now) for c in session.exec(mine).all()]
    steps = session.exec(
        select(AssistanceStep)
        .join(SafetyCase, col(SafetyCase.id) == col(AssistanceStep.case_id))
        .join(
            CaseMember,
            (col(CaseMember.case_id) == col(AssistanceStep.case_id))
            & (col(CaseMember.user_id) == user_id),
        )
        .where(
            AssistanceStep.owner_id == user_id,
            SafetyCase.status != CaseStatus.CLOSED,
            SafetyCase.organisation_id == organisation_id,
            col(AssistanceStep.status).in_(OPEN_STEP_STATUSES),
            col(AssistanceStep.due_at) <= now,
        )
        .order_by(col(AssistanceStep.due_at))
    ).all()
    return WorkList(
        reassessments_overdue=[c for c in due if c.reassessment_overdue],
        reassessments_due_soon=[c for c in due if not c.reassessment_overdue],
        steps_overdue=[plans.step_public(s, cipher, now) for s in steps],
        tasks=sharing.tasks(session, organisation_id=organisation_id)
        if Role.SUPERVISOR in roles
        else [],
    )
