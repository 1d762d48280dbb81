"""Console pages: the days a hotline's office is closed beyond public holidays (calls go to the
duty ladder), listed, added and removed through the hotline's closure routes. For supervisors
and admins, from the rota; included by `console.pages.duty`."""

import uuid
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response

from console.forms import Form, act, parse, values
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.context import Context
from core.routing import Router
from hotline.deps import OversightCtx, roster_follows_changes
from hotline.models import ClosureCreate
from hotline.router import hotlines as hotlines_api

# Included under PREFIX by console.pages.duty. A change to a closure rebuilds the cached roster
# once committed, as the API's routes do.
router = Router(include_in_schema=False, dependencies=[Depends(roster_follows_changes)])
CLOSURES = "/o/{org_id}/rota/{hotline_id}/closures"

done_messages(
    {
        "closure_added": N_("The closed day is added: calls that day go to the duty rota."),
        "closure_removed": N_("The closed day is removed: the office hours apply again."),
    }
)


def _closures_page(
    request: Request,
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    ctx: Context,
    status: int = 200,
    problem: str | None = None,
) -> Response:
    closures = hotlines_api.list_closures_route(org_id, hotline_id, ctx)
    # The reader route: every caller the oversight gate admits, the hotline reader gate admits.
    hotline = hotlines_api.get_hotline_route(org_id, hotline_id, ctx)
    return page(
        view_of(request, ctx),
        "duty/closures.html",
        status,
        active="rota",
        hotline=hotline,
        closures=closures,
        problem_message=problem,
    )


def _back(org_id: uuid.UUID, hotline_id: uuid.UUID, done: str) -> Response:
    return redirect(f"{PREFIX}/o/{org_id}/rota/{hotline_id}/closures", done=done)


@router.get(CLOSURES)
def closures_page(
    request: Request, org_id: uuid.UUID, hotline_id: uuid.UUID, ctx: OversightCtx
) -> Response:
    """The hotline's closed days, earliest first (GET hotlines/{hotline_id}/closures)."""
    return _closures_page(request, org_id, hotline_id, ctx)


@router.post(CLOSURES)
def add_closure_form(
    request: Request, org_id: uuid.UUID, hotline_id: uuid.UUID, form: Form, ctx: OversightCtx
) -> Response:
    """Close the office on a day (POST hotlines/{hotline_id}/closures)."""

    def work() -> Any:
        body = parse(ClosureCreate, values(form))
        return hotlines_api.add_closure_route(org_id, hotline_id, body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _closures_page(request, org_id, hotline_id, ctx, status, message),
        _back(org_id, hotline_id, "closure_added"),
    )


@router.post(CLOSURES + "/{closure_id}/remove")
def remove_closure_form(
    request: Request,
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    closure_id: uuid.UUID,
    form: Form,
    ctx: OversightCtx,
) -> Response:
    """Reopen the office on a closed day (DELETE hotlines/{hotline_id}/closures/{closure_id})."""

    def work() -> None:
        hotlines_api.delete_closure_route(org_id, hotline_id, closure_id, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _closures_page(request, org_id, hotline_id, ctx, status, message),
        _back(org_id, hotline_id, "closure_removed"),
    )
