"""Needs assessments, work plans and what needs attention."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlmodel import SQLModel

from core.routing import Router
from shelters import service
from shelters.deps import Gate, WorkCtx
from shelters.models import (
    AssessmentCreate,
    AssessmentPublic,
    Revision,
    WorkPlanCreate,
    WorkPlanPublic,
)
from shelters.router.answers import (
    AttentionPublic,
    EndingStay,
    OverdueAssessment,
    extension_public,
)
from shelters.router.paths import SHELTER, STAY

router = Router(tags=["shelters"])


# --- assessments and work plans --------------------------------------------------------------


P = TypeVar("P", AssessmentPublic, WorkPlanPublic)


def _public(public: type[P], row: Revision, content: dict[str, Any]) -> P:
    return public(
        id=row.id,
        revision=row.revision,
        author_id=row.author_id,
        created_at=row.created_at,
        **content,
    )


def _revisions(
    document: service.Revisions, public: type[P], stay_id: uuid.UUID, ctx: Gate
) -> list[P]:
    """Every revision of the stay's document, oldest first."""
    return [
        _public(public, row, service.open_revision(ctx.cipher, document, row))
        for row in service.list_revisions(ctx.session, document, stay=ctx.stay(stay_id))
    ]


def _revise(
    document: service.Revisions, public: type[P], stay_id: uuid.UUID, body: SQLModel, ctx: Gate
) -> P:
    """Record a new revision of the stay's document."""
    row = service.add_revision(
        ctx.session,
        document,
        now=ctx.now,
        shelter=ctx.shelter,
        stay=ctx.stay(stay_id),
        content=body,
        cipher=ctx.cipher,
        user_id=ctx.user_id,
        actor=ctx.actor,
    )
    return _public(public, row, body.model_dump())


@router.get(STAY + "/assessments")
def list_assessments_route(stay_id: uuid.UUID, ctx: WorkCtx) -> list[AssessmentPublic]:
    """Every revision of the needs assessment, oldest first."""
    return _revisions(service.ASSESSMENTS, AssessmentPublic, stay_id, ctx)


@router.post(STAY + "/assessments", status_code=201)
def add_assessment_route(
    stay_id: uuid.UUID, body: AssessmentCreate, ctx: WorkCtx
) -> AssessmentPublic:
    """Record a (new revision of the) needs assessment."""
    return _revise(service.ASSESSMENTS, AssessmentPublic, stay_id, body, ctx)


@router.get(STAY + "/work-plans")
def list_work_plans_route(stay_id: uuid.UUID, ctx: WorkCtx) -> list[WorkPlanPublic]:
    """Every revision of the individual work plan, oldest first."""
    return _revisions(service.WORK_PLANS, WorkPlanPublic, stay_id, ctx)


@router.post(STAY + "/work-plans", status_code=201)
def add_work_plan_route(stay_id: uuid.UUID, body: WorkPlanCreate, ctx: WorkCtx) -> WorkPlanPublic:
    """Record a (new revision of the) individual work plan: goals, steps, who, by when."""
    return _revise(service.WORK_PLANS, WorkPlanPublic, stay_id, body, ctx)


@router.get(SHELTER + "/attention")
def attention_route(ctx: WorkCtx) -> AttentionPublic:
    """Overdue needs assessments, stays ending within 24 hours, extensions awaiting a decision."""
    found = service.attention(ctx.session, shelter=ctx.shelter, now=ctx.now)
    return AttentionPublic(
        assessments_overdue=[
            OverdueAssessment(stay_id=s.id, reference=s.reference, due_at=due)
            for s, due in found.assessments_overdue
        ],
        ending_within_24h=[
            EndingStay(stay_id=s.id, reference=s.reference, planned_end=s.planned_end)
            for s in found.ending_soon
        ],
        extensions_pending=[extension_public(ctx.cipher, e) for e in found.extensions_pending],
        nights_over_hard_capacity=found.over_capacity_nights,
    )
