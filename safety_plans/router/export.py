"""The whole case in one document: for printing, or for handing over when she asks for her file.
The gate audits it like every read (its route names it an export)."""

from __future__ import annotations

from sqlmodel import SQLModel

from core.routing import Router
from safety_plans.deps import CaseReader
from safety_plans.models import (
    AssessmentPublic,
    CasePublic,
    ConsentPublic,
    ContactPublic,
    LinkPublic,
    PlanRevisionPublic,
    ServicePublic,
    StatusChangePublic,
    StepPublic,
)
from safety_plans.service import cases, plans, records, sharing

router = Router(prefix="/organisations/{org_id}/cases/{case_id}", tags=["cases"])


class CaseExport(SQLModel):
    case: CasePublic
    status_history: list[StatusChangePublic]
    links: list[LinkPublic]
    contacts: list[ContactPublic]
    services: list[ServicePublic]
    risk_assessments: list[AssessmentPublic]
    plan_revisions: list[PlanRevisionPublic]
    steps: list[StepPublic]
    consents: list[ConsentPublic]


@router.get("/export")
def export_route(gate: CaseReader) -> CaseExport:
    """Everything on the case, every revision included (the print view)."""
    session, case, cipher, now = gate.session, gate.case, gate.cipher, gate.now
    return CaseExport(
        case=cases.case_public(session, case, basis=gate.access.basis, cipher=cipher, now=now),
        status_history=[
            StatusChangePublic.model_validate(r, from_attributes=True)
            for r in cases.status_history(session, case)
        ],
        links=[
            LinkPublic.model_validate(r, from_attributes=True) for r in cases.links(session, case)
        ],
        contacts=[records.contact_public(r, cipher) for r in records.contacts(session, case)],
        services=[records.service_public(r) for r in records.services(session, case)],
        risk_assessments=[
            plans.assessment_public(r, cipher) for r in plans.assessments(session, case)
        ],
        plan_revisions=[plans.revision_public(r, cipher) for r in plans.revisions(session, case)],
        steps=[plans.step_public(s, cipher, now) for s in plans.steps(session, case)],
        consents=[sharing.consent_public(c, cipher, now) for c in sharing.consents(session, case)],
    )
