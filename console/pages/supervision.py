"""Console pages: a supervisor's attention list, across the shelters of her organisation.

For every shelter she may see (`GET /organisations/{org_id}/shelters`), what its attention
route answers (`GET .../shelters/{shelter_id}/attention`: assessments overdue, stays ending,
extensions waiting, nights over capacity) and its live entry approvals (`GET
.../entry-approvals`; the API has no approvals waiting for a decision: a supervisor approves an
entry when she records it). The page's policy is the attention route's (`shelters.deps.WORK`);
each shelter is then admitted by the rule of those routes' shelter gate (`admit_to_shelter`),
so she sees exactly the shelters, and the items, the API would answer her.

The forms act through the routes that decide (`shelters.deps.DecideCtx`): approve or reject an
extension (with the supervisor's justification), revoke an entry approval. The notifications'
delivery page is `supervision_notifications`, whose router this one includes.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from console.forms import Form, act, parse, values
from console.pages import supervision_notifications
from console.pages.inbox_common import EXTENSION_STATUS
from console.pages.shelters_common import her_shelters
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.context import Context, context
from core.routing import Router
from shelters.deps import WORK, DecideCtx
from shelters.models import ApprovalPublic, ExtensionDecision, ShelterPublic
from shelters.router import casework, stays, visitors
from shelters.router.answers import AttentionPublic

router = Router(prefix=PREFIX, include_in_schema=False)
router.include_router(supervision_notifications.router)

ATTENTION = "/o/{org_id}/attention"
SHELTER = ATTENTION + "/{shelter_id}"
EXTENSION = SHELTER + "/stays/{stay_id}/extensions/{extension_id}"

# The attention route's policy, for a page over all her shelters; each is then admitted by the
# attention route's own shelter gate.
Worker = Annotated[Context, Depends(context(WORK))]

done_messages(
    {
        "extension_approved": N_("The extension is approved: the planned end has moved."),
        "extension_rejected": N_("The extension is rejected."),
        "entry_approval_revoked": N_("The entry approval is revoked."),
    }
)


@dataclass(frozen=True)
class ShelterAttention:
    """What one shelter's routes answer her, and where its forms post."""

    shelter: ShelterPublic
    attention: AttentionPublic
    approvals: list[ApprovalPublic]
    base: str

    @property
    def quiet(self) -> bool:
        found = self.attention
        return not (
            found.assessments_overdue
            or found.ending_within_24h
            or found.extensions_pending
            or found.nights_over_hard_capacity
            or self.approvals
        )


def _attention(org_id: uuid.UUID, ctx: Context) -> list[ShelterAttention]:
    """Each shelter she may see, as its attention and approvals routes answer her."""
    found: list[ShelterAttention] = []
    for shelter, gate in her_shelters(org_id, ctx):
        live = [
            a
            for a in visitors.list_approvals_route(gate)
            if a.revoked_at is None and a.valid_until > ctx.now
        ]
        base = f"{PREFIX}/o/{org_id}/attention/{shelter.id}"
        found.append(ShelterAttention(shelter, casework.attention_route(gate), live, base))
    return found


def _show(
    request: Request,
    org_id: uuid.UUID,
    ctx: Context,
    status: int = 200,
    message: str | None = None,
    failed: uuid.UUID | None = None,
) -> Response:
    """The attention page; after a refused form, the API's message by the form that failed
    (at the top when that form is no longer there: an extension decided meanwhile)."""
    shelters = _attention(org_id, ctx)
    forms = {e.id for s in shelters for e in s.attention.extensions_pending}
    forms |= {a.id for s in shelters for a in s.approvals}
    return page(
        view_of(request, ctx),
        "supervision/attention.html",
        status,
        active="attention",
        shelters=shelters,
        org=f"{PREFIX}/o/{org_id}",
        message=message,
        failed=failed if failed in forms else None,
        extension_statuses=EXTENSION_STATUS,
    )


@router.get(ATTENTION)
def attention_page(request: Request, org_id: uuid.UUID, ctx: Worker) -> Response:
    return _show(request, org_id, ctx)


def _failed(request: Request, ctx: DecideCtx, subject: uuid.UUID) -> Callable[[int, str], Response]:
    """Refused: the attention page with the API's message by the form that failed."""

    def failed(status: int, message: str) -> Response:
        return _show(request, ctx.shelter.organisation_id, ctx, status, message, subject)

    return failed


def _back(ctx: DecideCtx, done: str) -> Response:
    return redirect(f"{PREFIX}/o/{ctx.shelter.organisation_id}/attention", done=done)


def _decide(
    request: Request,
    form: Form,
    ctx: DecideCtx,
    stay_id: uuid.UUID,
    extension_id: uuid.UUID,
    approve: bool,
) -> Response:
    data = values(form)

    def work() -> object:
        body = parse(ExtensionDecision, data)
        route = stays.approve_extension_route if approve else stays.reject_extension_route
        return route(stay_id, extension_id, body, ctx)

    done = "extension_approved" if approve else "extension_rejected"
    return act(ctx.session, work, _failed(request, ctx, extension_id), _back(ctx, done))


@router.post(EXTENSION + "/approve")
def approve_extension_form(
    request: Request, form: Form, stay_id: uuid.UUID, extension_id: uuid.UUID, ctx: DecideCtx
) -> Response:
    return _decide(request, form, ctx, stay_id, extension_id, approve=True)


@router.post(EXTENSION + "/reject")
def reject_extension_form(
    request: Request, form: Form, stay_id: uuid.UUID, extension_id: uuid.UUID, ctx: DecideCtx
) -> Response:
    return _decide(request, form, ctx, stay_id, extension_id, approve=False)


@router.post(SHELTER + "/entry-approvals/{approval_id}/revoke")
def revoke_approval_form(
    request: Request, form: Form, approval_id: uuid.UUID, ctx: DecideCtx
) -> Response:
    def work() -> object:
        return visitors.revoke_approval_route(approval_id, ctx)

    failed = _failed(request, ctx, approval_id)
    return act(ctx.session, work, failed, _back(ctx, "entry_approval_revoked"))
