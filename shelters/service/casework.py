"""Casework on a stay: the needs assessment and the individual work plan, each kept in revisions
(one mechanism for both), and what the shelter's staff must act on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, SQLModel, col, func, select

from core.audit import Actor
from core.crypto import FieldCipher, Sealed
from core.errors import Conflict
from shelters.models import (
    ExtensionStatus,
    NeedsAssessment,
    Revision,
    Shelter,
    Stay,
    StayExtension,
    StayStatus,
    WorkPlan,
)
from shelters.service.common import (
    ASSESSMENT_CONTEXT,
    WORK_PLAN_CONTEXT,
    audit_act,
    list_within,
    nights_over_capacity,
    people_in,
)
from shelters.service.stays import get_stay, list_stays

ASSESSMENT_DUE = timedelta(hours=24)
ENDING_SOON = timedelta(hours=24)


@dataclass(frozen=True)
class Revisions:
    """A case document a stay keeps in revisions, never overwritten: its table, the context its
    sealed JSON is bound to, the action each revision is audited as, and the document it is
    made from (which must have a revision first)."""

    model: type[Revision]
    context: str
    action: str
    based_on: Revisions | None = None
    missing_base: str = ""


ASSESSMENTS = Revisions(NeedsAssessment, ASSESSMENT_CONTEXT, "shelter.assessment_revised")
WORK_PLANS = Revisions(
    WorkPlan,
    WORK_PLAN_CONTEXT,
    "shelter.work_plan_revised",
    based_on=ASSESSMENTS,
    missing_base="Record the needs assessment first: the work plan is based on it.",
)


def add_revision(
    session: Session,
    document: Revisions,
    *,
    now: datetime,
    shelter: Shelter,
    stay: Stay,
    content: SQLModel,
    cipher: FieldCipher,
    user_id: uuid.UUID,
    actor: Actor,
) -> Revision:
    """A new revision of the stay's document; earlier ones stay as they were."""
    stay = get_stay(session, shelter=shelter, stay_id=stay.id, lock=True)
    base = document.based_on
    if base is not None and not list_revisions(session, base, stay=stay):
        raise Conflict(document.missing_base)
    model = document.model
    latest = session.exec(
        select(func.max(col(model.revision))).where(col(model.stay_id) == stay.id)
    ).one()
    sealed = cipher.seal_json(content.model_dump(mode="json"), context=document.context)
    row = model(
        stay_id=stay.id,
        revision=(latest or 0) + 1,
        key_id=sealed.key_id,
        sealed=sealed.blob,
        author_id=user_id,
        created_at=now,
    )
    session.add(row)
    reason = f"revision {row.revision}"
    audit_act(session, now, actor, document.action, shelter, "shelter_stay", stay.id, reason=reason)
    return row


def list_revisions(session: Session, document: Revisions, *, stay: Stay) -> list[Revision]:
    """Every revision of the stay's document, oldest first."""
    model = document.model
    return list_within(
        session, model, within=stay.id, column="stay_id", order_by=(col(model.revision),)
    )


def open_revision(cipher: FieldCipher, document: Revisions, row: Revision) -> dict[str, Any]:
    content: dict[str, Any] = cipher.open_json(
        Sealed(row.key_id, row.sealed), context=document.context
    )
    return content


# --- what needs attention ---------------------------------------------------------------------


@dataclass(frozen=True)
class Attention:
    assessments_overdue: list[tuple[Stay, datetime]]
    ending_soon: list[Stay]
    extensions_pending: list[StayExtension]
    over_capacity_nights: int


def attention(session: Session, *, shelter: Shelter, now: datetime) -> Attention:
    """What the shelter's staff must act on: late assessments, stays ending within 24 hours."""
    active = list_stays(session, shelter=shelter, status=StayStatus.ACTIVE, limit=10_000)
    ids = [s.id for s in active]
    assessed = (
        set(
            session.exec(
                select(NeedsAssessment.stay_id).where(col(NeedsAssessment.stay_id).in_(ids))
            ).all()
        )
        if ids
        else set()
    )
    overdue = sorted(
        (
            (stay, stay.admitted_at + ASSESSMENT_DUE)
            for stay in active
            if stay.id not in assessed and stay.admitted_at + ASSESSMENT_DUE <= now
        ),
        key=lambda pair: pair[1],
    )
    ending = sorted(
        (s for s in active if s.planned_end <= now + ENDING_SOON), key=lambda s: s.planned_end
    )
    pending = (
        list(
            session.exec(
                select(StayExtension)
                .where(
                    col(StayExtension.stay_id).in_(ids),
                    StayExtension.status == ExtensionStatus.PENDING,
                )
                .order_by(col(StayExtension.requested_at))
            ).all()
        )
        if ids
        else []
    )
    over = people_in(session, shelter_id=shelter.id, now=now) > shelter.hard_capacity
    return Attention(
        overdue, ending, pending, nights_over_capacity(shelter, now=now) if over else 0
    )
