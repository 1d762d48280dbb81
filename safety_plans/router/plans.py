"""Risk assessments, the safety plan's revisions and their comparison, the assistance plan."""

from __future__ import annotations

import uuid

from fastapi import Path, Query

from core.errors import InvalidInput
from core.routing import Router
from safety_plans.deps import CaseReader, CaseWriter
from safety_plans.models import (
    AssessmentCreate,
    AssessmentPublic,
    PlanContent,
    PlanDiff,
    PlanRevisionPublic,
    StepCreate,
    StepPublic,
    StepUpdate,
)
from safety_plans.service import plans

router = Router(prefix="/organisations/{org_id}/cases/{case_id}", tags=["cases"])
MAX_REVISION = 1_000_000  # far beyond any plan's revisions, well inside int64


@router.get("/risk-assessments")
def list_assessments_route(gate: CaseReader) -> list[AssessmentPublic]:
    """Every risk assessment of the case, oldest first."""
    return [
        plans.assessment_public(r, gate.cipher) for r in plans.assessments(gate.session, gate.case)
    ]


@router.post("/risk-assessments", status_code=201)
def assess_route(body: AssessmentCreate, gate: CaseWriter) -> AssessmentPublic:
    """Answer the instrument; the level is computed (raised, never lowered, by judgement), the
    reassessment falls due in 30 days (7 when high), and a high level calls a case conference."""
    row = plans.assess(gate.work, body)
    return plans.assessment_public(row, gate.cipher)


@router.get("/plan")
def current_plan_route(gate: CaseReader) -> PlanRevisionPublic:
    """The safety plan as it now stands (its latest revision)."""
    return plans.revision_public(plans.revision(gate.session, gate.case), gate.cipher)


@router.post("/plan", status_code=201)
def revise_plan_route(body: PlanContent, gate: CaseWriter) -> PlanRevisionPublic:
    """Record the whole plan as a new revision; earlier revisions are kept unchanged."""
    row = plans.revise_plan(gate.work, body)
    return plans.revision_public(row, gate.cipher)


@router.get("/plan/revisions")
def list_revisions_route(gate: CaseReader) -> list[PlanRevisionPublic]:
    return [plans.revision_public(r, gate.cipher) for r in plans.revisions(gate.session, gate.case)]


@router.get("/plan/revisions/{number}")
def get_revision_route(
    gate: CaseReader, number: int = Path(ge=1, le=MAX_REVISION)
) -> PlanRevisionPublic:
    return plans.revision_public(plans.revision(gate.session, gate.case, number), gate.cipher)


@router.get("/plan/diff")
def diff_route(
    gate: CaseReader,
    from_revision: int = Query(alias="from", ge=1, le=MAX_REVISION),
    to_revision: int = Query(alias="to", ge=1, le=MAX_REVISION),
) -> PlanDiff:
    """Two revisions compared field by field."""
    if from_revision == to_revision:
        raise InvalidInput("from and to: name two different revisions.")
    before = plans.revision_public(
        plans.revision(gate.session, gate.case, from_revision), gate.cipher
    )
    after = plans.revision_public(plans.revision(gate.session, gate.case, to_revision), gate.cipher)
    return plans.diff(before.plan, after.plan, from_revision=from_revision, to_revision=to_revision)


@router.get("/steps")
def list_steps_route(gate: CaseReader) -> list[StepPublic]:
    """The victim assistance plan: every step, soonest due first."""
    return [
        plans.step_public(s, gate.cipher, gate.now) for s in plans.steps(gate.session, gate.case)
    ]


@router.post("/steps", status_code=201)
def add_step_route(body: StepCreate, gate: CaseWriter) -> StepPublic:
    """Add a step: which agency does what, whose it is and by when (reminded when overdue)."""
    step = plans.add_step(gate.work, body)
    return plans.step_public(step, gate.cipher, gate.now)


@router.patch("/steps/{step_id}")
def update_step_route(step_id: uuid.UUID, body: StepUpdate, gate: CaseWriter) -> StepPublic:
    """Move a step on (in progress, done, cancelled), change its due date or its owner."""
    step = plans.update_step(gate.work, plans.get_step(gate.session, gate.case, step_id), body)
    return plans.step_public(step, gate.cipher, gate.now)
