"""The call log and callback tasks, for the counselors and supervisors of the organisation."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from sqlmodel import Field, Session, SQLModel, col, func, select

from core import audit
from core.access import Policy, Scope, allow
from core.audit import Actor
from core.auth import Principal
from core.crypto import FieldCipher
from core.deps import CipherDep, ClockDep, RequestIdDep, SessionDep
from core.errors import InvalidInput, NotFound
from core.models import STRICT_BODY, Role, User
from hotline.models import (
    Call,
    CallbackOutcome,
    CallbackTask,
    CallerType,
    CallRung,
    Hotline,
    SafeToCallBack,
    TaskStatus,
    Urgency,
)
from hotline.service import reveal_caller, reveal_recording

# Case content: the people who answer and supervise calls, never account admins.
CASEWORK = Policy(Scope.ORGANISATION, frozenset({Role.COUNSELOR, Role.SUPERVISOR}))
Casework = Annotated[Principal, allow(CASEWORK)]

router = APIRouter(tags=["calls"])


class RungPublic(SQLModel):
    index: int
    kind: str
    started_at: datetime
    ended_at: datetime | None
    dial_status: str | None
    accepted_by_user_id: uuid.UUID | None


class CallPublic(SQLModel):
    id: uuid.UUID
    hotline_id: uuid.UUID
    started_at: datetime
    ended_at: datetime | None
    mode: str
    status: str
    accepted_by_user_id: uuid.UUID | None
    caller_last_two_digits: str | None
    earlier_calls_from_same_number: int
    caller_type: CallerType | None
    urgency: Urgency | None
    has_voicemail: bool
    rungs: list[RungPublic] = []


class CallUpdate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    caller_type: CallerType | None = None
    urgency: Urgency | None = None


class Reason(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    reason: str = Field(min_length=5, max_length=300)


class Revealed(SQLModel):
    value: str


class TaskPublic(SQLModel):
    id: uuid.UUID
    call_id: uuid.UUID
    hotline_id: uuid.UUID
    short_ref: str
    due_at: datetime
    overdue: bool
    assigned_user_id: uuid.UUID | None
    safe_to_call_back: SafeToCallBack
    status: TaskStatus
    outcome: CallbackOutcome | None
    closed_at: datetime | None


class TaskUpdate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    safe_to_call_back: SafeToCallBack | None = None
    assigned_user_id: uuid.UUID | None = None


class TaskClose(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    outcome: CallbackOutcome | None = None


def _call(session: Session, org_id: uuid.UUID, call_id: uuid.UUID) -> tuple[Call, Hotline]:
    found = session.exec(
        select(Call, Hotline)
        .join(Hotline, col(Hotline.id) == Call.hotline_id)
        .where(Call.id == call_id, Hotline.organisation_id == org_id)
    ).first()
    if found is None:
        raise NotFound("Not found.")
    return found


def _public(session: Session, call: Call, *, with_rungs: bool) -> CallPublic:
    earlier = 0
    if call.caller_hash:
        earlier = session.exec(
            select(func.count())
            .select_from(Call)
            .where(Call.caller_hash == call.caller_hash, col(Call.started_at) < call.started_at)
        ).one()
    rungs: list[RungPublic] = []
    if with_rungs:
        rows = session.exec(
            select(CallRung).where(CallRung.call_id == call.id).order_by(col(CallRung.index))
        ).all()
        rungs = [RungPublic.model_validate(r, from_attributes=True) for r in rows]
    return CallPublic(
        id=call.id,
        hotline_id=call.hotline_id,
        started_at=call.started_at,
        ended_at=call.ended_at,
        mode=str(call.mode),
        status=str(call.status),
        accepted_by_user_id=call.accepted_by_user_id,
        caller_last_two_digits=call.caller_last2,
        earlier_calls_from_same_number=int(earlier),
        caller_type=call.caller_type,
        urgency=call.urgency,
        has_voicemail=call.recording_sid is not None,
        rungs=rungs,
    )


@router.get("/organisations/{org_id}/calls")
def list_calls(
    org_id: uuid.UUID,
    _: Casework,
    session: SessionDep,
    clock: ClockDep,
    hotline_id: uuid.UUID | None = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CallPublic]:
    """Recent calls, newest first; a caller's number shows only as its last two digits."""
    until = until or clock.now()
    since = since or until - timedelta(days=7)
    query = (
        select(Call)
        .join(Hotline, col(Hotline.id) == Call.hotline_id)
        .where(
            Hotline.organisation_id == org_id,
            col(Call.started_at) >= since,
            col(Call.started_at) <= until,
        )
    )
    if hotline_id is not None:
        query = query.where(Call.hotline_id == hotline_id)
    rows = session.exec(query.order_by(col(Call.started_at).desc()).limit(limit)).all()
    return [_public(session, c, with_rungs=False) for c in rows]


@router.get("/organisations/{org_id}/calls/{call_id}")
def get_call(org_id: uuid.UUID, call_id: uuid.UUID, _: Casework, session: SessionDep) -> CallPublic:
    """One call with every rung of its ladder."""
    call, _hotline = _call(session, org_id, call_id)
    return _public(session, call, with_rungs=True)


@router.patch("/organisations/{org_id}/calls/{call_id}")
def update_call(
    org_id: uuid.UUID,
    call_id: uuid.UUID,
    body: CallUpdate,
    principal: Casework,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> CallPublic:
    """Record who called (victim, witness, institution, other) and how urgent it was."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise InvalidInput("Nothing to change: send caller_type or urgency.")
    call, _hotline = _call(session, org_id, call_id)
    call.sqlmodel_update(changes)
    session.add(call)
    audit.record(
        session,
        now=clock.now(),
        actor=principal.actor(request_id),
        action="call.classified",
        subject_type="call",
        subject_id=call.id,
        reason="set: " + ", ".join(sorted(changes)),
    )
    return _public(session, call, with_rungs=True)


def _reveal(
    session: Session,
    cipher: FieldCipher,
    *,
    org_id: uuid.UUID,
    call_id: uuid.UUID,
    what: str,
    reason: str,
    actor: Actor,
    now: datetime,
) -> Revealed:
    call, _hotline = _call(session, org_id, call_id)
    value = reveal_caller(cipher, call) if what == "caller" else reveal_recording(cipher, call)
    if value is None:
        raise NotFound(
            "Nothing is kept for this call (withheld, none left, or deleted after retention)."
        )
    audit.record(
        session,
        now=now,
        actor=actor,
        action=f"call.{what}_revealed",
        subject_type="call",
        subject_id=call.id,
        reason=reason,
    )
    return Revealed(value=value)


@router.post("/organisations/{org_id}/calls/{call_id}/reveal-caller")
def reveal_caller_route(
    org_id: uuid.UUID,
    call_id: uuid.UUID,
    body: Reason,
    principal: Casework,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> Revealed:
    """Show the caller's full number: an explicit act, audited with its reason."""
    return _reveal(
        session,
        cipher,
        org_id=org_id,
        call_id=call_id,
        what="caller",
        reason=body.reason,
        actor=principal.actor(request_id),
        now=clock.now(),
    )


@router.post("/organisations/{org_id}/calls/{call_id}/reveal-voicemail")
def reveal_voicemail_route(
    org_id: uuid.UUID,
    call_id: uuid.UUID,
    body: Reason,
    principal: Casework,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> Revealed:
    """The voicemail's address at Twilio: an explicit act, audited with its reason."""
    return _reveal(
        session,
        cipher,
        org_id=org_id,
        call_id=call_id,
        what="voicemail",
        reason=body.reason,
        actor=principal.actor(request_id),
        now=clock.now(),
    )


# --- callback tasks ----------------------------------------------------------------------------


def _task(session: Session, org_id: uuid.UUID, task_id: uuid.UUID) -> CallbackTask:
    task = session.get(CallbackTask, task_id)
    if task is None or task.organisation_id != org_id:
        raise NotFound("Not found.")
    return task


def _task_public(task: CallbackTask, now: datetime) -> TaskPublic:
    return TaskPublic(
        id=task.id,
        call_id=task.call_id,
        hotline_id=task.hotline_id,
        short_ref=task.short_ref,
        due_at=task.due_at,
        overdue=task.status == TaskStatus.OPEN and task.due_at <= now,
        assigned_user_id=task.assigned_user_id,
        safe_to_call_back=task.safe_to_call_back,
        status=task.status,
        outcome=task.outcome,
        closed_at=task.closed_at,
    )


@router.get("/organisations/{org_id}/callback-tasks")
def list_tasks(
    org_id: uuid.UUID,
    _: Casework,
    session: SessionDep,
    clock: ClockDep,
    status: TaskStatus = TaskStatus.OPEN,
) -> list[TaskPublic]:
    """Callback tasks, soonest due first."""
    rows = session.exec(
        select(CallbackTask)
        .where(CallbackTask.organisation_id == org_id, CallbackTask.status == status)
        .order_by(col(CallbackTask.due_at))
        .limit(500)
    ).all()
    now = clock.now()
    return [_task_public(t, now) for t in rows]


@router.patch("/organisations/{org_id}/callback-tasks/{task_id}")
def update_task(
    org_id: uuid.UUID,
    task_id: uuid.UUID,
    body: TaskUpdate,
    principal: Casework,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> TaskPublic:
    """Say whether calling back is safe, or hand the task to a colleague."""
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise InvalidInput("Nothing to change: send safe_to_call_back or assigned_user_id.")
    task = _task(session, org_id, task_id)
    if task.status == TaskStatus.CLOSED:
        raise InvalidInput("The task is closed.")
    assignee = changes.get("assigned_user_id")
    if assignee is not None:
        user = session.get(User, assignee)
        if user is None or user.organisation_id != org_id or user.disabled_at is not None:
            raise InvalidInput("assigned_user_id: no active colleague with that id.")
    task.sqlmodel_update(changes)
    session.add(task)
    now = clock.now()
    audit.record(
        session,
        now=now,
        actor=principal.actor(request_id),
        action="callback_task.updated",
        subject_type="callback_task",
        subject_id=task.id,
        reason="set: " + ", ".join(sorted(changes)),
    )
    return _task_public(task, now)


@router.post("/organisations/{org_id}/callback-tasks/{task_id}/close")
def close_task(
    org_id: uuid.UUID,
    task_id: uuid.UUID,
    body: TaskClose,
    principal: Casework,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> TaskPublic:
    """Close a task; it cannot be closed without saying how it ended."""
    if body.outcome is None:
        raise InvalidInput(
            "outcome: a callback task cannot be closed without an outcome "
            "(reached, no_answer, not_safe, wrong_number, other)."
        )
    task = _task(session, org_id, task_id)
    if task.status == TaskStatus.CLOSED:
        raise InvalidInput("The task is already closed.")
    now = clock.now()
    task.status = TaskStatus.CLOSED
    task.outcome = body.outcome
    task.closed_at = now
    task.closed_by_user_id = principal.user_id
    session.add(task)
    audit.record(
        session,
        now=now,
        actor=principal.actor(request_id),
        action="callback_task.closed",
        subject_type="callback_task",
        subject_id=task.id,
        reason=f"outcome: {body.outcome}",
    )
    return _task_public(task, now)
