"""The call log and callback tasks, as the counselors and supervisors of the organisation work
them: list, classify, reveal (an audited act), hand over and close."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from core import audit
from core.audit import Actor
from core.context import Act
from core.crypto import FieldCipher
from core.errors import InvalidInput, NotFound
from core.models import User
from core.scoped import get_owned
from hotline.errors import (
    CALL_NOTHING_TO_CHANGE,
    NO_SUCH_COLLEAGUE,
    NOTHING_KEPT,
    OUTCOME_NEEDED,
    TASK_ALREADY_CLOSED,
    TASK_CLOSED,
    TASK_NOTHING_TO_CHANGE,
)
from hotline.models import (
    Call,
    CallbackTask,
    CallRung,
    CallUpdate,
    Hotline,
    TaskClose,
    TaskStatus,
    TaskUpdate,
)
from hotline.service.calls import reveal_caller, reveal_recording

MAX_TASKS_LISTED = 500


# --- calls ---------------------------------------------------------------------------------------


def list_calls(
    session: Session,
    *,
    organisation_id: uuid.UUID,
    hotline_id: uuid.UUID | None,
    since: datetime,
    until: datetime,
    limit: int,
) -> list[Call]:
    """The organisation's calls started in [since, until], newest first."""
    query = (
        select(Call)
        .join(Hotline, col(Hotline.id) == Call.hotline_id)
        .where(
            Hotline.organisation_id == organisation_id,
            col(Call.started_at) >= since,
            col(Call.started_at) <= until,
        )
    )
    if hotline_id is not None:
        query = query.where(Call.hotline_id == hotline_id)
    return list(session.exec(query.order_by(col(Call.started_at).desc()).limit(limit)).all())


def get_call(session: Session, *, organisation_id: uuid.UUID, call_id: uuid.UUID) -> Call:
    """A call to one of the organisation's hotlines; another organisation's answers as absent."""

    def owner(call: Call) -> uuid.UUID | None:
        hotline = session.get(Hotline, call.hotline_id)
        return hotline.organisation_id if hotline is not None else None

    return get_owned(session, Call, call_id, organisation_id=organisation_id, owner=owner)


def earlier_calls(session: Session, call: Call) -> int:
    """How many calls came from the same number before this one (by its keyed hash)."""
    if not call.caller_hash:
        return 0
    found = session.exec(
        select(func.count())
        .select_from(Call)
        .where(Call.caller_hash == call.caller_hash, col(Call.started_at) < call.started_at)
    ).one()
    return int(found)


def rungs_of(session: Session, call: Call) -> list[CallRung]:
    return list(
        session.exec(
            select(CallRung).where(CallRung.call_id == call.id).order_by(col(CallRung.index))
        ).all()
    )


def classify_call(
    act: Act, organisation_id: uuid.UUID, call_id: uuid.UUID, data: CallUpdate
) -> Call:
    """Record who called (victim, witness, institution, other) and how urgent it was."""
    session, now, actor, _, _ = act
    changes = _sent(data, CALL_NOTHING_TO_CHANGE)
    call = get_call(session, organisation_id=organisation_id, call_id=call_id)
    _apply(session, call, changes, now=now, actor=actor, action="call.classified")
    return call


def _sent(data: CallUpdate | TaskUpdate, nothing: str) -> dict[str, Any]:
    """The fields a PATCH sent with a value; `nothing` (an `InvalidInput`) when there are none."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise InvalidInput(nothing)
    return changes


def _apply(
    session: Session,
    row: Call | CallbackTask,
    changes: dict[str, Any],
    *,
    now: datetime,
    actor: Actor,
    action: str,
) -> None:
    """Set the fields a PATCH sent, audited with their names (never their values)."""
    row.sqlmodel_update(changes)
    session.add(row)
    audit.record(
        session,
        now,
        actor,
        action,
        "call" if isinstance(row, Call) else "callback_task",
        row.id,
        reason="set: " + ", ".join(sorted(changes)),
    )


def reveal(
    session: Session,
    cipher: FieldCipher,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    call_id: uuid.UUID,
    what: str,
    reason: str,
    actor: Actor,
) -> str:
    """The caller's full number (`what` "caller") or the voicemail's address ("voicemail"): an
    explicit act, audited with its reason."""
    call = get_call(session, organisation_id=organisation_id, call_id=call_id)
    value = reveal_caller(cipher, call) if what == "caller" else reveal_recording(cipher, call)
    if value is None:
        raise NotFound(NOTHING_KEPT)
    audit.record(session, now, actor, f"call.{what}_revealed", "call", call.id, reason=reason)
    return value


# --- callback tasks ------------------------------------------------------------------------------


def get_task(session: Session, *, organisation_id: uuid.UUID, task_id: uuid.UUID) -> CallbackTask:
    return get_owned(session, CallbackTask, task_id, organisation_id=organisation_id)


def list_tasks(
    session: Session, *, organisation_id: uuid.UUID, status: TaskStatus
) -> list[CallbackTask]:
    """The organisation's callback tasks in a status, soonest due first."""
    return list(
        session.exec(
            select(CallbackTask)
            .where(CallbackTask.organisation_id == organisation_id, CallbackTask.status == status)
            .order_by(col(CallbackTask.due_at))
            .limit(MAX_TASKS_LISTED)
        ).all()
    )


def update_task(
    act: Act, organisation_id: uuid.UUID, task_id: uuid.UUID, data: TaskUpdate
) -> CallbackTask:
    """Say whether calling back is safe, or hand the task to a colleague."""
    session, now, actor, _, _ = act
    changes = _sent(data, TASK_NOTHING_TO_CHANGE)
    task = get_task(session, organisation_id=organisation_id, task_id=task_id)
    if task.status == TaskStatus.CLOSED:
        raise InvalidInput(TASK_CLOSED)
    assignee = changes.get("assigned_user_id")
    if assignee is not None:
        user = session.get(User, assignee)
        if user is None or user.organisation_id != organisation_id or user.disabled_at is not None:
            raise InvalidInput(NO_SUCH_COLLEAGUE)
    _apply(session, task, changes, now=now, actor=actor, action="callback_task.updated")
    return task


def close_task(
    act: Act, organisation_id: uuid.UUID, task_id: uuid.UUID, data: TaskClose
) -> CallbackTask:
    """Close a task; it cannot be closed without saying how it ended."""
    session, now, actor, user_id, _ = act
    if data.outcome is None:
        raise InvalidInput(OUTCOME_NEEDED)
    task = get_task(session, organisation_id=organisation_id, task_id=task_id)
    if task.status == TaskStatus.CLOSED:
        raise InvalidInput(TASK_ALREADY_CLOSED)
    task.status = TaskStatus.CLOSED
    task.outcome = data.outcome
    task.closed_at = now
    task.closed_by_user_id = user_id
    session.add(task)
    audit.record(
        session,
        now,
        actor,
        "callback_task.closed",
        "callback_task",
        task.id,
        reason=f"outcome: {data.outcome}",
    )
    return task
