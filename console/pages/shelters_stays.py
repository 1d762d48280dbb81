"""The stay page: the stay with its three clocks (needs assessment, planned end, the CSW's
decision), the referrals its admission sent and their decision, its extensions, needs
assessments and work plan revisions, and the forms that add to them or discharge her.

Mirrors GET .../stays/{stay_id} (WorkCtx) and the stay's lists; the forms mirror the POST routes
of the same gate (approving or rejecting an extension: DecideCtx). The referrals are read as
their sender reads them (GET .../referrals/{referral_id}, gate `referrals.deps.sent`, which
admits everyone WorkCtx does for the stays she may see).
"""

import re
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import col, select
from starlette.datastructures import FormData

from console.forms import Form, act, local_instant, local_value, parse, values
from console.pages.shelters_common import clock, shelter_url, shelter_values
from console.render import N_, done_messages, page, redirect, view_of
from core.errors import AppError
from core.models import Role
from core.routing import Router
from referrals.deps import sent
from referrals.models import Referral, ReferralPublic
from referrals.router import referrals as referrals_api
from shelters import service
from shelters.deps import DecideCtx, Gate, WorkCtx
from shelters.models import (
    AssessmentCreate,
    DischargeCreate,
    ExtensionCreate,
    ExtensionDecision,
    StayStatus,
    WorkPlanCreate,
)
from shelters.router import casework, configuration, stays

router = Router(include_in_schema=False)
STAY = "/o/{org_id}/shelters/{shelter_id}/stays/{stay_id}"
STEP = re.compile(r"^goals-(\d+)-(?:goal|steps-(\d+)-(what|who|by))$")

done_messages(
    {
        "extension_requested": N_("The extension is requested; a supervisor decides on it."),
        "extension_approved": N_("The extension is approved: the planned end has moved."),
        "extension_rejected": N_("The extension is rejected."),
        "assessment_saved": N_("The needs assessment is saved."),
        "work_plan_saved": N_("The work plan is saved."),
        "discharged": N_("The stay has ended; the beds are free."),
    }
)


def _referrals(ctx: Gate, stay_id: uuid.UUID) -> list[ReferralPublic]:
    """The referrals the stay's admission sent, as their sender reads them."""
    org_id = ctx.shelter.organisation_id
    ids = ctx.session.exec(
        select(Referral.id)
        .where(Referral.stay_id == stay_id, Referral.from_organisation_id == org_id)
        .order_by(col(Referral.team).desc())
    ).all()
    return [
        ReferralPublic.model_validate(referrals_api.read_sent(sent(org_id, rid, ctx)))
        for rid in ids
    ]


def _stay_page(
    request: Request,
    ctx: Gate,
    stay_id: uuid.UUID,
    status: int = 200,
    message: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    stay = stays.get_stay_route(stay_id, ctx)
    assessments = casework.list_assessments_route(stay_id, ctx)
    plans = casework.list_work_plans_route(stay_id, ctx)
    ended = stay.status is StayStatus.ENDED
    clocks = [
        clock(
            N_("Needs assessment (within 24 hours)"),
            stay.admitted_at + service.ASSESSMENT_DUE,
            ctx.now,
            done=bool(assessments),
            done_label=N_("Done"),
        ),
        clock(
            N_("Planned end of the stay"),
            stay.planned_end,
            ctx.now,
            done=ended,
            done_label=N_("The stay has ended"),
        ),
        clock(
            N_("Decision of the Centre for Social Work due"),
            stay.decision_due_at,
            ctx.now,
            done=stay.csw_outcome is not None,
            done_label=N_("Decided"),
        ),
    ]
    view = view_of(request, ctx)
    latest = plans[-1].goals if plans else []
    return page(
        view,
        "shelters/stay.html",
        status,
        stay=stay,
        clocks=clocks,
        now=ctx.now,
        extensions=stays.list_extensions_route(stay_id, ctx),
        assessments=assessments,
        plans=plans,
        referrals=_referrals(ctx, stay_id),
        bed_labels={b.id: b.label for b in configuration.list_beds_route(ctx)},
        goal_rows=_goal_rows(latest, view.formats.zone),
        message=message,
        entered=entered or {},
        decides=Role.SUPERVISOR in ctx.principal.roles,
        stay_url=shelter_url(ctx.shelter.organisation_id, ctx.shelter.id) + f"/stays/{stay_id}",
        **shelter_values(ctx),
    )


def _goal_rows(goals: list[Any], zone: Any) -> list[dict[str, Any]]:
    """The work plan form's rows: the latest revision's goals and steps, one blank step under
    each, and one blank goal."""
    rows = [
        {
            "goal": g.goal,
            "steps": [
                {"what": s.what, "who": s.who, "by": local_value(s.by, zone)} for s in g.steps
            ]
            + [{"what": "", "who": "", "by": ""}],
        }
        for g in goals
    ]
    blank = {"goal": "", "steps": [{"what": "", "who": "", "by": ""} for _ in range(3)]}
    return [*rows, blank]


@router.get(STAY)
def stay_page(request: Request, stay_id: uuid.UUID, ctx: WorkCtx) -> Response:
    """Mirrors GET .../stays/{stay_id}, .../extensions, .../assessments, .../work-plans."""
    return _stay_page(request, ctx, stay_id)


def _failed(
    request: Request, ctx: Gate, stay_id: uuid.UUID, shown: dict[str, Any]
) -> Callable[[int, str], Response]:
    """The stay page again with the problem and what she entered."""

    def failed(status: int, message: str) -> Response:
        return _stay_page(request, ctx, stay_id, status, message, shown)

    return failed


def _back(ctx: Gate, stay_id: uuid.UUID, done: str) -> Response:
    url = shelter_url(ctx.shelter.organisation_id, ctx.shelter.id) + f"/stays/{stay_id}"
    return redirect(url, done=done)


@router.post(STAY + "/extensions")
def extension_form(request: Request, stay_id: uuid.UUID, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors POST .../stays/{stay_id}/extensions (WorkCtx)."""
    entered = values(form)

    def work() -> object:
        data = dict(entered)
        data["new_end"] = local_instant(data.get("new_end"), view_of(request, ctx).formats.zone)
        body = parse(ExtensionCreate, {k: v for k, v in data.items() if v is not None})
        return stays.request_extension_route(stay_id, body, ctx)

    failed = _failed(request, ctx, stay_id, entered)
    return act(ctx.session, work, failed, _back(ctx, stay_id, "extension_requested"))


def _decide(
    request: Request,
    ctx: Gate,
    stay_id: uuid.UUID,
    extension_id: uuid.UUID,
    form: FormData,
    approve: bool,
) -> Response:
    route = stays.approve_extension_route if approve else stays.reject_extension_route
    data = values(form)
    return act(
        ctx.session,
        lambda: route(stay_id, extension_id, parse(ExtensionDecision, data), ctx),
        _failed(request, ctx, stay_id, data),
        _back(ctx, stay_id, "extension_approved" if approve else "extension_rejected"),
    )


@router.post(STAY + "/extensions/{extension_id}/approve")
def approve_form(
    request: Request, stay_id: uuid.UUID, extension_id: uuid.UUID, form: Form, ctx: DecideCtx
) -> Response:
    """Mirrors POST .../extensions/{extension_id}/approve (DecideCtx)."""
    return _decide(request, ctx, stay_id, extension_id, form, approve=True)


@router.post(STAY + "/extensions/{extension_id}/reject")
def reject_form(
    request: Request, stay_id: uuid.UUID, extension_id: uuid.UUID, form: Form, ctx: DecideCtx
) -> Response:
    """Mirrors POST .../extensions/{extension_id}/reject (DecideCtx)."""
    return _decide(request, ctx, stay_id, extension_id, form, approve=False)


@router.post(STAY + "/assessments")
def assessment_form(request: Request, stay_id: uuid.UUID, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors POST .../stays/{stay_id}/assessments (WorkCtx)."""
    data = values(form)
    return act(
        ctx.session,
        lambda: casework.add_assessment_route(stay_id, parse(AssessmentCreate, data), ctx),
        _failed(request, ctx, stay_id, data),
        _back(ctx, stay_id, "assessment_saved"),
    )


def _goals(data: dict[str, Any], zone: Any) -> dict[str, Any]:
    """The work plan's body from the rows `goals-G-goal`, `goals-G-steps-S-what|who|by`."""
    goals: dict[int, dict[str, Any]] = {}
    for key, value in data.items():
        found = STEP.match(key)
        if not found:
            continue
        goal = goals.setdefault(int(found[1]), {"steps": {}})
        if found[2] is None:
            goal["goal"] = value
        else:
            step = goal["steps"].setdefault(int(found[2]), {})
            step[found[3]] = local_instant(value, zone) if found[3] == "by" else value
    return {
        "goals": [
            {
                **{k: v for k, v in g.items() if k != "steps"},
                "steps": [g["steps"][s] for s in sorted(g["steps"])],
            }
            for _, g in sorted(goals.items())
        ]
    }


@router.post(STAY + "/work-plans")
def work_plan_form(request: Request, stay_id: uuid.UUID, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors POST .../stays/{stay_id}/work-plans (WorkCtx)."""
    data = values(form)
    try:
        body = _goals(data, view_of(request, ctx).formats.zone)
    except AppError as exc:
        return _stay_page(request, ctx, stay_id, exc.status_code, exc.message, data)
    return act(
        ctx.session,
        lambda: casework.add_work_plan_route(stay_id, parse(WorkPlanCreate, body), ctx),
        _failed(request, ctx, stay_id, body),
        _back(ctx, stay_id, "work_plan_saved"),
    )


@router.post(STAY + "/discharge")
def discharge_form(request: Request, stay_id: uuid.UUID, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors POST .../stays/{stay_id}/discharge (WorkCtx)."""
    data = values(form)
    return act(
        ctx.session,
        lambda: stays.discharge_route(stay_id, parse(DischargeCreate, data), ctx),
        _failed(request, ctx, stay_id, data),
        _back(ctx, stay_id, "discharged"),
    )
