"""Console pages: the counselor on duty. Who is on duty per hotline now and next, the open
callback tasks (safe to call back? close with an outcome), her own shifts with her calendar
link, and her duty phone (its number and whether it is confirmed). The call log is in
`duty_calls`, a hotline's closed days in `duty_closures` (both included here)."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from console.forms import Form, act, parse, values
from console.pages import duty_calls, duty_closures
from console.pages.duty_common import OUTCOME_LABELS, POSITION_LABELS, SAFE_LABELS
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.context import Context
from core.deps import SettingsDep
from core.errors import AppError, NotFound
from core.routing import Router
from hotline.deps import CaseworkCtx, DutyStaffCtx, roster_follows_changes
from hotline.models import (
    DutyPhonePublic,
    DutyPhoneSet,
    DutyPhoneVerify,
    HotlinePublic,
    TaskClose,
    TaskUpdate,
)
from hotline.router import calls as calls_api
from hotline.router import feeds as feeds_api
from hotline.router import hotlines as hotlines_api
from hotline.router import rota as rota_api

router = Router(prefix=PREFIX, include_in_schema=False)
DUTY = "/o/{org_id}/duty"
# A change to a duty phone rebuilds the cached roster once committed, as the API's does.
ROSTER = [Depends(roster_follows_changes)]

done_messages(
    {
        "task_saved": N_("The callback task is saved."),
        "task_closed": N_("The callback task is closed."),
        "phone_code_sent": N_("A code was sent to your duty phone by SMS. Enter it below."),
        "phone_verified": N_("Your duty phone is confirmed: it will ring when you are on duty."),
    }
)


@dataclass(frozen=True)
class HotlineDuty:
    hotline: HotlinePublic
    current: rota_api.OnDutyPublic
    next_shift: rota_api.ShiftPublic | None
    upcoming: rota_api.OnDutyPublic | None


def _board(org_id: uuid.UUID, ctx: Context) -> list[HotlineDuty]:
    """Who is on duty now and at the start of the next shift, per hotline (the reader routes:
    every caller the casework gate admits, the hotline reader gate admits too)."""
    board = []
    for hotline in hotlines_api.list_hotlines_route(org_id, ctx):
        current = rota_api.on_duty_route(org_id, hotline.id, ctx, at=None)
        shifts = rota_api.list_shifts_route(org_id, hotline.id, ctx, start=None, until=None)
        later = [s for s in shifts if s.starts_at > ctx.now]
        upcoming = (
            rota_api.on_duty_route(org_id, hotline.id, ctx, at=later[0].starts_at)
            if later
            else None
        )
        board.append(HotlineDuty(hotline, current, later[0] if later else None, upcoming))
    return board


def _duty_page(
    request: Request, org_id: uuid.UUID, ctx: Context, status: int = 200, problem: str | None = None
) -> Response:
    tasks = calls_api.list_tasks(org_id, ctx)
    tasks.sort(key=lambda t: (not t.overdue, t.due_at))
    names = {h.id: h.name for h in hotlines_api.list_hotlines_route(org_id, ctx)}
    return page(
        view_of(request, ctx),
        "duty/index.html",
        status,
        active="duty",
        board=_board(org_id, ctx),
        tasks=tasks,
        hotline_names=names,
        safe_labels=SAFE_LABELS,
        outcome_labels=OUTCOME_LABELS,
        problem_message=problem,
    )


@router.get(DUTY)
def duty_page(request: Request, org_id: uuid.UUID, ctx: CaseworkCtx) -> Response:
    return _duty_page(request, org_id, ctx)


@router.post(DUTY + "/tasks/{task_id}")
def task_form(
    request: Request, org_id: uuid.UUID, task_id: uuid.UUID, form: Form, ctx: CaseworkCtx
) -> Response:
    """Say whether calling back is safe (PATCH callback-tasks/{task_id})."""

    def work() -> Any:
        body = parse(TaskUpdate, values(form))
        return calls_api.update_task(org_id, task_id, body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _duty_page(request, org_id, ctx, status, message),
        redirect(f"{PREFIX}/o/{org_id}/duty", done="task_saved"),
    )


@router.post(DUTY + "/tasks/{task_id}/close")
def close_task_form(
    request: Request, org_id: uuid.UUID, task_id: uuid.UUID, form: Form, ctx: CaseworkCtx
) -> Response:
    """Close a task with how it ended (POST callback-tasks/{task_id}/close)."""

    def work() -> Any:
        body = parse(TaskClose, values(form))
        return calls_api.close_task(org_id, task_id, body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _duty_page(request, org_id, ctx, status, message),
        redirect(f"{PREFIX}/o/{org_id}/duty", done="task_closed"),
    )


# --- her own shifts and calendar link ------------------------------------------------------------


@dataclass(frozen=True)
class MyShift:
    hotline: str
    shift: rota_api.ShiftPublic
    positions: list[str]  # the positions the rota gives her (primary, backup)
    overrides: list[rota_api.OverridePublic]  # covers and swaps on this shift that concern her


def _my_shifts(org_id: uuid.UUID, ctx: Context) -> list[MyShift]:
    mine = []
    for hotline in hotlines_api.list_hotlines_route(org_id, ctx):
        shifts = rota_api.list_shifts_route(org_id, hotline.id, ctx, start=None, until=None)
        for shift in shifts:
            positions = [
                position
                for position, holder in (
                    ("primary", shift.primary_user_id),
                    ("backup", shift.backup_user_id),
                )
                if holder == ctx.user_id
            ]
            concerning = [
                o for o in shift.overrides if o.user_id == ctx.user_id or o.position in positions
            ]
            if positions or concerning:
                mine.append(MyShift(hotline.name, shift, positions, concerning))
    mine.sort(key=lambda m: m.shift.starts_at)
    return mine


def _rota_page(
    request: Request, org_id: uuid.UUID, ctx: Context, feed_url: str | None = None
) -> Response:
    return page(
        view_of(request, ctx),
        "duty/rota.html",
        active="duty",
        shifts=_my_shifts(org_id, ctx),
        position_labels=POSITION_LABELS,
        feed_url=feed_url,
        me=ctx.user_id,
    )


@router.get(DUTY + "/rota")
def my_rota_page(request: Request, org_id: uuid.UUID, ctx: DutyStaffCtx) -> Response:
    """Her shifts of the next 14 days (the shifts route, for each hotline)."""
    return _rota_page(request, org_id, ctx)


@router.post(DUTY + "/rota/calendar-feed")
def calendar_feed_form(
    request: Request, org_id: uuid.UUID, form: Form, ctx: DutyStaffCtx
) -> Response:
    """A new private calendar link to her shifts, shown on this answer only."""
    found = feeds_api.create_own_feed_route(org_id, request, ctx)
    return _rota_page(request, org_id, ctx, feed_url=found.url)


# --- her duty phone ----------------------------------------------------------------------------


def _phone_page(
    request: Request,
    org_id: uuid.UUID,
    ctx: Context,
    status: int = 200,
    problem: str | None = None,
) -> Response:
    """Her number and whether it is confirmed (GET duty-phones/me; none yet: None)."""
    try:
        phone: DutyPhonePublic | None = hotlines_api.get_own_duty_phone_route(org_id, ctx)
    except NotFound:
        phone = None
    return page(
        view_of(request, ctx),
        "duty/phone.html",
        status,
        active="duty",
        phone=phone,
        problem_message=problem,
    )


@router.get(DUTY + "/phone")
def phone_page(request: Request, org_id: uuid.UUID, ctx: DutyStaffCtx) -> Response:
    return _phone_page(request, org_id, ctx)


@router.post(DUTY + "/phone", dependencies=ROSTER)
def phone_form(
    request: Request, org_id: uuid.UUID, form: Form, ctx: DutyStaffCtx, settings: SettingsDep
) -> Response:
    """Set her duty mobile (PUT duty-phones/me); a code goes to it by SMS."""

    def work() -> Any:
        body = parse(DutyPhoneSet, values(form))
        return hotlines_api.set_duty_phone_route(org_id, body, ctx, settings)

    return act(
        ctx.session,
        work,
        lambda status, message: _phone_page(request, org_id, ctx, status, message),
        redirect(f"{PREFIX}/o/{org_id}/duty/phone", done="phone_code_sent"),
    )


@router.post(DUTY + "/phone/verify", dependencies=ROSTER)
def verify_form(request: Request, org_id: uuid.UUID, form: Form, ctx: DutyStaffCtx) -> Response:
    """Confirm the code (POST duty-phones/me/verify); a wrong code counts, and is committed."""
    try:
        body = parse(DutyPhoneVerify, values(form))
    except AppError as exc:
        return _phone_page(request, org_id, ctx, exc.status_code, exc.message)
    result = hotlines_api.verify_duty_phone_route(org_id, body, ctx)
    if isinstance(result, JSONResponse):
        answer: dict[str, Any] = json.loads(bytes(result.body))
        message = str(answer.get("message", ""))
        return _phone_page(request, org_id, ctx, result.status_code, message)
    return redirect(f"{PREFIX}/o/{org_id}/duty/phone", done="phone_verified")


router.include_router(duty_calls.router)
router.include_router(duty_closures.router)
