"""The call log and callback tasks, for the counselors and supervisors of the organisation."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Query
from pydantic import AwareDatetime
from sqlmodel import Session, SQLModel

from core import events
from core.context import Context
from core.events import SafeToCallBack as SafeToCallBackQuestion
from core.routing import Router
from hotline import service
from hotline.deps import CaseworkCtx
from hotline.models import (
    Call,
    CallbackOutcome,
    CallbackTask,
    CallerType,
    CallUpdate,
    Reason,
    SafeToCallBack,
    TaskClose,
    TaskStatus,
    TaskUpdate,
    Urgency,
)

router = Router(tags=["calls"])

CALL = "/organisations/{org_id}/calls/{call_id}"
TASK = "/organisations/{org_id}/callback-tasks/{task_id}"


# --- response shapes -----------------------------------------------------------------------------


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
    # The counselor's answer, read together with the safety plan: when the call belongs to a
    # case whose plan says she may not be called, "no" whatever was answered before (the plan
    # itself, and whether there is one, stays with the case team).
    safe_to_call_back: SafeToCallBack
    status: TaskStatus
    outcome: CallbackOutcome | None
    closed_at: datetime | None


def _public(session: Session, call: Call, *, with_rungs: bool) -> CallPublic:
    rungs = (
        [
            RungPublic.model_validate(r, from_attributes=True)
            for r in service.rungs_of(session, call)
        ]
        if with_rungs
        else []
    )
    return CallPublic(
        id=call.id,
        hotline_id=call.hotline_id,
        started_at=call.started_at,
        ended_at=call.ended_at,
        mode=str(call.mode),
        status=str(call.status),
        accepted_by_user_id=call.accepted_by_user_id,
        caller_last_two_digits=call.caller_last2,
        earlier_calls_from_same_number=service.earlier_calls(session, call),
        caller_type=call.caller_type,
        urgency=call.urgency,
        has_voicemail=call.recording_sid is not None,
        rungs=rungs,
    )


def _safe(answered: SafeToCallBack, per_plan: bool | None) -> SafeToCallBack:
    if per_plan is False:
        return SafeToCallBack.NO
    if per_plan is True and answered is SafeToCallBack.UNKNOWN:
        return SafeToCallBack.YES
    return answered


def _task_public(ctx: Context, task: CallbackTask) -> TaskPublic:
    now = ctx.now
    per_plan = events.ask(ctx.session, SafeToCallBackQuestion(task.call_id, ctx.cipher))
    return TaskPublic(
        id=task.id,
        call_id=task.call_id,
        hotline_id=task.hotline_id,
        short_ref=task.short_ref,
        due_at=task.due_at,
        overdue=task.status == TaskStatus.OPEN and task.due_at <= now,
        assigned_user_id=task.assigned_user_id,
        safe_to_call_back=_safe(task.safe_to_call_back, per_plan),
        status=task.status,
        outcome=task.outcome,
        closed_at=task.closed_at,
    )


# --- calls ---------------------------------------------------------------------------------------


@router.get("/organisations/{org_id}/calls")
def list_calls(
    org_id: uuid.UUID,
    ctx: CaseworkCtx,
    hotline_id: uuid.UUID | None = None,
    since: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CallPublic]:
    """Recent calls, newest first; a caller's number shows only as its last two digits."""
    until = until or ctx.now
    since = since or until - timedelta(days=7)
    calls = service.list_calls(
        ctx.session,
        organisation_id=org_id,
        hotline_id=hotline_id,
        since=since,
        until=until,
        limit=limit,
    )
    return [_public(ctx.session, c, with_rungs=False) for c in calls]


@router.get(CALL)
def get_call(org_id: uuid.UUID, call_id: uuid.UUID, ctx: CaseworkCtx) -> CallPublic:
    """One call with every rung of its ladder."""
    call = service.get_call(ctx.session, organisation_id=org_id, call_id=call_id)
    return _public(ctx.session, call, with_rungs=True)


@router.patch(CALL)
def update_call(
    org_id: uuid.UUID, call_id: uuid.UUID, body: CallUpdate, ctx: CaseworkCtx
) -> CallPublic:
    """Record who called (victim, witness, institution, other) and how urgent it was."""
    call = service.classify_call(ctx.act, org_id, call_id, body)
    return _public(ctx.session, call, with_rungs=True)


@router.post(CALL + "/reveal-caller")
def reveal_caller_route(
    org_id: uuid.UUID, call_id: uuid.UUID, body: Reason, ctx: CaseworkCtx
) -> Revealed:
    """Show the caller's full number: an explicit act, audited with its reason."""
    return _reveal(ctx, org_id, call_id, "caller", body)


@router.post(CALL + "/reveal-voicemail")
def reveal_voicemail_route(
    org_id: uuid.UUID, call_id: uuid.UUID, body: Reason, ctx: CaseworkCtx
) -> Revealed:
    """The voicemail's address at Twilio: an explicit act, audited with its reason."""
    return _reveal(ctx, org_id, call_id, "voicemail", body)


def _reveal(
    ctx: Context, org_id: uuid.UUID, call_id: uuid.UUID, what: str, body: Reason
) -> Revealed:
    value = service.reveal(
        ctx.session,
        ctx.cipher,
        now=ctx.now,
        organisation_id=org_id,
        call_id=call_id,
        what=what,
        reason=body.reason,
        actor=ctx.actor,
    )
    return Revealed(value=value)


# --- callback tasks ------------------------------------------------------------------------------


@router.get("/organisations/{org_id}/callback-tasks")
def list_tasks(
    org_id: uuid.UUID, ctx: CaseworkCtx, status: TaskStatus = TaskStatus.OPEN
) -> list[TaskPublic]:
    """Callback tasks, soonest due first."""
    tasks = service.list_tasks(ctx.session, organisation_id=org_id, status=status)
    return [_task_public(ctx, t) for t in tasks]


@router.patch(TASK)
def update_task(
    org_id: uuid.UUID, task_id: uuid.UUID, body: TaskUpdate, ctx: CaseworkCtx
) -> TaskPublic:
    """Say whether calling back is safe, or hand the task to a colleague."""
    task = service.update_task(ctx.act, org_id, task_id, body)
    return _task_public(ctx, task)


@router.post(TASK + "/close")
def close_task(
    org_id: uuid.UUID, task_id: uuid.UUID, body: TaskClose, ctx: CaseworkCtx
) -> TaskPublic:
    """Close a task; it cannot be closed without saying how it ended."""
    task = service.close_task(ctx.act, org_id, task_id, body)
    return _task_public(ctx, task)
