"""Supervisors' case desk: break-glass (open a case outside the team, the review list, sign-off)
and case-conference tasks, behind the `Supervisor` gate; and a consent recipient's view of a
shared case (`GET /shared-cases/{case_id}`, the `SharedCaseReader` gate)."""

import uuid

from fastapi import Request
from fastapi.responses import Response

from console.forms import Form, act, parse, values
from console.pages.cases_common import (
    ESCAPE_FIELDS,
    LABELS,
    PLAN_FIELDS,
    PLAN_TEXTS,
    case_url,
    org_url,
)
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.deps import SettingsDep
from core.routing import Router
from safety_plans.deps import SharedCaseReader, Supervisor
from safety_plans.models import BreakGlassCreate, SignOff
from safety_plans.router import sharing as api

router = Router(prefix=PREFIX, include_in_schema=False)

done_messages(
    {
        "break_glass_opened": N_(
            "The case is open to you for one hour. The owner and the other supervisors are told."
        ),
        "break_glass_signed": N_("The opening is signed off."),
        "case_task_done": N_("The task is marked done."),
    }
)


def _break_glass_page(
    request: Request,
    org_id: uuid.UUID,
    ctx: Supervisor,
    *,
    code: int = 200,
    failed: str | None = None,
    failed_form: str | None = None,
    entered: dict[str, str] | None = None,
) -> Response:
    """The review list (`GET …/break-glass`) and the form that opens a case."""
    return page(
        view_of(request, ctx),
        "cases/break_glass.html",
        code,
        active="cases",
        org_id=org_id,
        openings=api.break_glass_list_route(org_id, ctx, pending=True),
        failed=failed,
        failed_form=failed_form,
        entered=entered or {},
    )


@router.get("/o/{org_id}/break-glass")
def break_glass_page(request: Request, org_id: uuid.UUID, ctx: Supervisor) -> Response:
    return _break_glass_page(request, org_id, ctx)


@router.post("/o/{org_id}/break-glass")
def break_glass_form(
    request: Request, form: Form, org_id: uuid.UUID, ctx: Supervisor, settings: SettingsDep
) -> Response:
    """Open a case by its number with a written reason (`POST …/break-glass`); then the case."""
    data = values(form)
    return act(
        ctx.session,
        lambda: api.break_glass_route(org_id, parse(BreakGlassCreate, data), ctx, settings),
        lambda status, message: _break_glass_page(
            request,
            org_id,
            ctx,
            code=status,
            failed=message,
            failed_form="open",
            entered={k: str(v) for k, v in data.items()},
        ),
        lambda made: redirect(case_url(org_id, made.case_id), done="break_glass_opened"),
    )


@router.post("/o/{org_id}/break-glass/{opening_id}/sign-off")
def sign_off_form(
    request: Request, form: Form, org_id: uuid.UUID, opening_id: uuid.UUID, ctx: Supervisor
) -> Response:
    """A second supervisor signs an opening off with a note."""
    data = values(form)
    return act(
        ctx.session,
        lambda: api.sign_off_route(org_id, opening_id, parse(SignOff, data), ctx),
        lambda status, message: _break_glass_page(
            request,
            org_id,
            ctx,
            code=status,
            failed=message,
            failed_form=str(opening_id),
        ),
        redirect(org_url(org_id) + "/break-glass", done="break_glass_signed"),
    )


@router.get("/o/{org_id}/case-tasks")
def tasks_page(request: Request, org_id: uuid.UUID, ctx: Supervisor) -> Response:
    """Case conferences to call (`GET …/case-tasks`)."""
    return page(
        view_of(request, ctx),
        "cases/tasks.html",
        active="cases",
        tasks=api.tasks_route(org_id, ctx, open_only=True),
        labels=LABELS,
        failed=None,
    )


@router.post("/o/{org_id}/case-tasks/{task_id}/done")
def task_done_form(
    request: Request, form: Form, org_id: uuid.UUID, task_id: uuid.UUID, ctx: Supervisor
) -> Response:
    return act(
        ctx.session,
        lambda: api.finish_task_route(org_id, task_id, ctx),
        lambda status, message: page(
            view_of(request, ctx),
            "cases/tasks.html",
            status,
            active="cases",
            tasks=api.tasks_route(org_id, ctx, open_only=True),
            labels=LABELS,
            failed=message,
        ),
        redirect(org_url(org_id) + "/case-tasks", done="case_task_done"),
    )


@router.get("/shared-cases/{case_id}")
def shared_case_page(request: Request, gate: SharedCaseReader) -> Response:
    """A case another organisation shared under her consent, cut to the consented sections."""
    return page(
        view_of(request, gate.ctx),
        "cases/shared.html",
        active="cases",
        shared=api.shared_case_route(gate),
        plan_fields=PLAN_FIELDS,
        plan_texts=PLAN_TEXTS,
        escape_fields=ESCAPE_FIELDS,
        labels=LABELS,
    )
