"""Console pages: the call log. Recent calls (a caller's number only as its last two digits),
one call with its ladder, classifying it, and revealing the full number or the voicemail's
address (each with a reason, audited; shown on the answer page only, never in a URL). Included by
`console.pages.duty`."""

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from console.forms import Form, act, parse, values
from console.pages.duty_common import (
    CALLER_TYPE_LABELS,
    MODE_LABELS,
    RUNG_LABELS,
    STATUS_LABELS,
    URGENCY_LABELS,
)
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.context import Context
from core.routing import Router
from hotline.deps import CaseworkCtx
from hotline.models import CallUpdate, Reason
from hotline.router import calls as calls_api
from hotline.router import hotlines as hotlines_api

router = Router(include_in_schema=False)  # included under PREFIX by console.pages.duty
CALLS = "/o/{org_id}/calls"

done_messages({"call_classified": N_("The call is classified.")})

LABELS: dict[str, Any] = {
    "caller_types": CALLER_TYPE_LABELS,
    "urgencies": URGENCY_LABELS,
    "modes": MODE_LABELS,
    "statuses": STATUS_LABELS,
    "rungs": RUNG_LABELS,
}


def _hotline_names(org_id: uuid.UUID, ctx: Context) -> dict[uuid.UUID, str]:
    """Hotline names (the reader route: the casework gate admits only readers)."""
    return {h.id: h.name for h in hotlines_api.list_hotlines_route(org_id, ctx)}


@router.get(CALLS)
def calls_page(request: Request, org_id: uuid.UUID, ctx: CaseworkCtx) -> Response:
    """The last seven days' calls, newest first."""
    calls = calls_api.list_calls(org_id, ctx, hotline_id=None, since=None, until=None, limit=100)
    return page(
        view_of(request, ctx),
        "duty/calls.html",
        active="calls",
        calls=calls,
        hotline_names=_hotline_names(org_id, ctx),
        **LABELS,
    )


def _call_page(
    request: Request,
    org_id: uuid.UUID,
    call_id: uuid.UUID,
    ctx: Context,
    status: int = 200,
    problem: str | None = None,
    revealed: str | None = None,
    voicemail: str | None = None,
) -> Response:
    call = calls_api.get_call(org_id, call_id, ctx)
    return page(
        view_of(request, ctx),
        "duty/call.html",
        status,
        active="calls",
        call=call,
        hotline_names=_hotline_names(org_id, ctx),
        problem_message=problem,
        revealed=revealed,
        voicemail=voicemail,
        **LABELS,
    )


@router.get(CALLS + "/{call_id}")
def call_page(
    request: Request, org_id: uuid.UUID, call_id: uuid.UUID, ctx: CaseworkCtx
) -> Response:
    return _call_page(request, org_id, call_id, ctx)


@router.post(CALLS + "/{call_id}")
def classify_form(
    request: Request, org_id: uuid.UUID, call_id: uuid.UUID, form: Form, ctx: CaseworkCtx
) -> Response:
    """Who called and how urgent it was (PATCH calls/{call_id})."""

    def work() -> Any:
        body = parse(CallUpdate, values(form))
        return calls_api.update_call(org_id, call_id, body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _call_page(request, org_id, call_id, ctx, status, message),
        redirect(f"{PREFIX}/o/{org_id}/calls/{call_id}", done="call_classified"),
    )


@router.post(CALLS + "/{call_id}/reveal-caller")
def reveal_form(
    request: Request, org_id: uuid.UUID, call_id: uuid.UUID, form: Form, ctx: CaseworkCtx
) -> Response:
    """The caller's full number, with a reason (audited): on this answer only."""

    def work() -> Any:
        body = parse(Reason, values(form))
        return calls_api.reveal_caller_route(org_id, call_id, body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _call_page(request, org_id, call_id, ctx, status, message),
        lambda found: _call_page(request, org_id, call_id, ctx, revealed=found.value),
    )


@router.post(CALLS + "/{call_id}/reveal-voicemail")
def reveal_voicemail_form(
    request: Request, org_id: uuid.UUID, call_id: uuid.UUID, form: Form, ctx: CaseworkCtx
) -> Response:
    """The voicemail's address at Twilio, with a reason (audited): on this answer only."""

    def work() -> Any:
        body = parse(Reason, values(form))
        return calls_api.reveal_voicemail_route(org_id, call_id, body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _call_page(request, org_id, call_id, ctx, status, message),
        lambda found: _call_page(request, org_id, call_id, ctx, voicemail=found.value),
    )
