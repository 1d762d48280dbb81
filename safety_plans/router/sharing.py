"""Consents, the recipient's view, break-glass and its review, tasks, "who saw this case"."""

from __future__ import annotations

import uuid

from core.deps import SettingsDep
from core.routing import Router
from safety_plans.deps import (
    CaseManager,
    CaseOwner,
    CaseReader,
    SharedCaseReader,
    Supervisor,
    desk,
)
from safety_plans.models import (
    BreakGlassCreate,
    BreakGlassPublic,
    ConsentCreate,
    ConsentPublic,
    ReadEvent,
    SharedCase,
    SignOff,
    TaskPublic,
)
from safety_plans.service import sharing

router = Router(tags=["cases"])
ORG = "/organisations/{org_id}"
CASE = ORG + "/cases/{case_id}"


@router.get(CASE + "/consents")
def list_consents_route(gate: CaseReader) -> list[ConsentPublic]:
    return [
        sharing.consent_public(c, gate.cipher, gate.now)
        for c in sharing.consents(gate.session, gate.case)
    ]


@router.post(CASE + "/consents", status_code=201)
def record_consent_route(body: ConsentCreate, gate: CaseManager) -> ConsentPublic:
    """Record her consent to share sections of the case with one organisation until a date."""
    row = sharing.record_consent(gate.work, body)
    return sharing.consent_public(row, gate.cipher, gate.now)


@router.post(CASE + "/consents/{consent_id}/withdraw")
def withdraw_consent_route(consent_id: uuid.UUID, gate: CaseManager) -> ConsentPublic:
    """She withdraws a consent: the recipient's next read is refused."""
    row = sharing.withdraw_consent(gate.work, consent_id)
    return sharing.consent_public(row, gate.cipher, gate.now)


@router.get(CASE + "/readers")
def readers_route(gate: CaseOwner) -> list[ReadEvent]:
    """Who saw this case: every read, list, export and refused attempt (the owner's report)."""
    return sharing.readers(gate.session, case=gate.case)


@router.get("/shared-cases/{case_id}")
def shared_case_route(gate: SharedCaseReader) -> SharedCase:
    """A case another organisation shared with the caller's under a live consent, cut to the
    sections the consent names."""
    return sharing.shared_view(
        gate.session,
        case=gate.case,
        access=gate.access,
        organisation_id=gate.ctx.principal.organisation_id,
        cipher=gate.cipher,
        now=gate.now,
    )


@router.post(ORG + "/break-glass", status_code=201)
def break_glass_route(
    org_id: uuid.UUID, body: BreakGlassCreate, ctx: Supervisor, settings: SettingsDep
) -> BreakGlassPublic:
    """Open a case outside your team for one hour, with a written reason (alerted, reviewed)."""
    base_url = str(settings.public_base_url).rstrip("/")
    row = sharing.open_break_glass(desk(ctx, org_id), body, base_url=base_url)
    return sharing.break_glass_public(ctx.session, row, ctx.cipher)


@router.get(ORG + "/break-glass")
def break_glass_list_route(
    org_id: uuid.UUID, ctx: Supervisor, pending: bool = True
) -> list[BreakGlassPublic]:
    """The break-glass review list (openings no second supervisor has signed off yet)."""
    rows = sharing.reviews(ctx.session, organisation_id=org_id, pending_only=pending)
    return [sharing.break_glass_public(ctx.session, r, ctx.cipher) for r in rows]


@router.post(ORG + "/break-glass/{opening_id}/sign-off")
def sign_off_route(
    org_id: uuid.UUID, opening_id: uuid.UUID, body: SignOff, ctx: Supervisor
) -> BreakGlassPublic:
    """A second supervisor signs a break-glass opening off with a note."""
    row = sharing.sign_off(desk(ctx, org_id), opening_id, body)
    return sharing.break_glass_public(ctx.session, row, ctx.cipher)


@router.get(ORG + "/case-tasks")
def tasks_route(org_id: uuid.UUID, ctx: Supervisor, open_only: bool = True) -> list[TaskPublic]:
    """Case conferences to call (a high risk assessment asks for one)."""
    return sharing.tasks(ctx.session, organisation_id=org_id, open_only=open_only)


@router.post(ORG + "/case-tasks/{task_id}/done")
def finish_task_route(org_id: uuid.UUID, task_id: uuid.UUID, ctx: Supervisor) -> TaskPublic:
    task = sharing.finish_task(desk(ctx, org_id), task_id)
    return next(
        t
        for t in sharing.tasks(ctx.session, organisation_id=org_id, open_only=False)
        if t.id == task.id
    )
