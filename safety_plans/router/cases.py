"""A case, its team, status, links, contacts and services."""

from __future__ import annotations

import uuid

from fastapi import Query

from core import audit
from core.routing import Router
from safety_plans.access import Basis
from safety_plans.deps import (
    CASE_SUBJECT,
    CaseManager,
    CaseReader,
    CaseStatusWriter,
    CaseWriter,
    Worker,
)
from safety_plans.models import (
    CaseCreate,
    CasePage,
    CasePublic,
    CaseStatus,
    CaseUpdate,
    ContactCreate,
    ContactPublic,
    LinkCreate,
    LinkPublic,
    MemberCreate,
    ServiceCreate,
    ServicePublic,
    StatusChangePublic,
    StatusCreate,
    WorkList,
)
from safety_plans.service import cases, records, sweep

router = Router(prefix="/organisations/{org_id}/cases", tags=["cases"])
CASE = "/{case_id}"


@router.get("")
def list_cases_route(
    org_id: uuid.UUID,
    ctx: Worker,
    status: CaseStatus | None = None,
    cursor: str | None = Query(default=None, max_length=200),
) -> CasePage:
    """The cases whose team the caller is on, most recently changed first, 50 a page."""
    page = cases.list_cases(
        ctx.session,
        now=ctx.now,
        user_id=ctx.user_id,
        cipher=ctx.cipher,
        status=status,
        cursor=cursor,
    )
    audit.record(ctx.session, ctx.now, ctx.actor, "case.listed", CASE_SUBJECT, None, org_id)
    return page


@router.post("", status_code=201)
def create_case_route(org_id: uuid.UUID, body: CaseCreate, ctx: Worker) -> CasePublic:
    """Open a case: the caller (or the named owner) owns it; the named colleagues are its team."""
    case = cases.create_case(
        ctx.session,
        now=ctx.now,
        organisation_id=org_id,
        user_id=ctx.user_id,
        data=body,
        cipher=ctx.cipher,
        actor=ctx.actor,
    )
    return cases.case_public(ctx.session, case, basis=Basis.TEAM, cipher=ctx.cipher, now=ctx.now)


@router.get("/work-list")
def work_list_route(org_id: uuid.UUID, ctx: Worker) -> WorkList:
    """Overdue and soon-due reassessments of the caller's cases, her overdue steps, and the
    open case-conference tasks for a supervisor."""
    found = sweep.work_list(
        ctx.session,
        now=ctx.now,
        organisation_id=org_id,
        user_id=ctx.user_id,
        roles=ctx.principal.roles,
        cipher=ctx.cipher,
    )
    audit.record(
        ctx.session,
        ctx.now,
        ctx.actor,
        "case.listed",
        CASE_SUBJECT,
        None,
        org_id,
        reason="work list",
    )
    return found


@router.get(CASE)
def get_case_route(gate: CaseReader) -> CasePublic:
    return cases.case_public(
        gate.session, gate.case, basis=gate.access.basis, cipher=gate.cipher, now=gate.now
    )


@router.patch(CASE)
def update_case_route(body: CaseUpdate, gate: CaseManager) -> CasePublic:
    """Change the case's card: her details, the do-not-disclose flag, the owner."""
    case = cases.update_case(gate.work, body)
    return cases.case_public(
        gate.session, case, basis=gate.access.basis, cipher=gate.cipher, now=gate.now
    )


@router.post(CASE + "/status")
def change_status_route(body: StatusCreate, gate: CaseStatusWriter) -> CasePublic:
    """Make the case dormant, close it with a reason, or reopen it; the history keeps all."""
    case = cases.change_status(gate.work, body)
    return cases.case_public(
        gate.session, case, basis=gate.access.basis, cipher=gate.cipher, now=gate.now
    )


@router.get(CASE + "/status")
def status_history_route(gate: CaseReader) -> list[StatusChangePublic]:
    return [
        StatusChangePublic.model_validate(row, from_attributes=True)
        for row in cases.status_history(gate.session, gate.case)
    ]


@router.post(CASE + "/team", status_code=201)
def add_member_route(body: MemberCreate, gate: CaseManager) -> list[uuid.UUID]:
    """Put a colleague on the case team."""
    return cases.add_member(gate.work, body.user_id)


@router.delete(CASE + "/team/{user_id}")
def remove_member_route(user_id: uuid.UUID, gate: CaseManager) -> list[uuid.UUID]:
    """Take a colleague off the case team (never its owner)."""
    return cases.remove_member(gate.work, user_id)


@router.get(CASE + "/links")
def list_links_route(gate: CaseReader) -> list[LinkPublic]:
    return [
        LinkPublic.model_validate(row, from_attributes=True)
        for row in cases.links(gate.session, gate.case)
    ]


@router.post(CASE + "/links", status_code=201)
def link_route(body: LinkCreate, gate: CaseWriter) -> LinkPublic:
    """Link a call, a callback task, a stay or a referral of the organisation to the case."""
    row = cases.link(gate.work, body)
    return LinkPublic.model_validate(row, from_attributes=True)


@router.get(CASE + "/contacts")
def list_contacts_route(gate: CaseReader) -> list[ContactPublic]:
    return [
        records.contact_public(row, gate.cipher)
        for row in records.contacts(gate.session, gate.case)
    ]


@router.post(CASE + "/contacts", status_code=201)
def add_contact_route(body: ContactCreate, gate: CaseWriter) -> ContactPublic:
    """Log a contact with her: an office call, a walk-in, an e-mail, a message, a routed call
    (by its call id) or an escort."""
    row = records.add_contact(gate.work, body)
    return records.contact_public(row, gate.cipher)


@router.get(CASE + "/services")
def list_services_route(gate: CaseReader) -> list[ServicePublic]:
    return [records.service_public(row) for row in records.services(gate.session, gate.case)]


@router.post(CASE + "/services", status_code=201)
def add_service_route(body: ServiceCreate, gate: CaseWriter) -> ServicePublic:
    """Log a service given: its kind, who, when and for how long (an escort: where, at night?)."""
    row = records.add_service(gate.work, body)
    return records.service_public(row)
