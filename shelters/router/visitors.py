"""Perpetrators, entry approvals, the entry log, and the reasons given for acts."""

from __future__ import annotations

import uuid

from core.clock import ensure_utc
from core.routing import Router
from shelters import service
from shelters.deps import DecideCtx, WorkCtx
from shelters.models import (
    ApprovalCreate,
    ApprovalPublic,
    EntryPublic,
    PerpetratorCreate,
    PerpetratorPublic,
    ReasonPublic,
)
from shelters.router.answers import approvals_public
from shelters.router.paths import SHELTER, STAY

router = Router(tags=["shelters"])


# --- perpetrators, entry approvals, entries --------------------------------------------------


@router.get(STAY + "/perpetrators")
def list_perpetrators_route(stay_id: uuid.UUID, ctx: WorkCtx) -> list[PerpetratorPublic]:
    return [
        PerpetratorPublic(
            id=p.id,
            stay_id=p.stay_id,
            name=service.reveal_perpetrator(ctx.cipher, p),
            created_at=p.created_at,
        )
        for p in service.list_perpetrators(ctx.session, stay=ctx.stay(stay_id))
    ]


@router.post(STAY + "/perpetrators", status_code=201)
def record_perpetrator_route(
    stay_id: uuid.UUID, body: PerpetratorCreate, ctx: WorkCtx
) -> PerpetratorPublic:
    """Record a resident's perpetrator: never approved to enter; live approvals are revoked."""
    row = service.record_perpetrator(
        ctx.session,
        now=ctx.now,
        shelter=ctx.shelter,
        stay=ctx.stay(stay_id),
        name=body.name,
        cipher=ctx.cipher,
        user_id=ctx.user_id,
        actor=ctx.actor,
    )
    return PerpetratorPublic(
        id=row.id, stay_id=row.stay_id, name=body.name, created_at=row.created_at
    )


@router.get(SHELTER + "/entry-approvals")
def list_approvals_route(ctx: WorkCtx) -> list[ApprovalPublic]:
    approvals = service.list_approvals(ctx.session, shelter=ctx.shelter)
    return approvals_public(ctx.session, approvals, cipher=ctx.cipher)


@router.post(SHELTER + "/entry-approvals", status_code=201)
def approve_entry_route(body: ApprovalCreate, ctx: DecideCtx) -> ApprovalPublic:
    """A supervisor lets a third party in, for a stated period and purpose.

    Never a resident's recorded perpetrator (409). A name close to one (an initial, a word more
    or less, a letter or two apart) needs the supervisor's explicit override: `override_reason`
    (409 `override_required` without it); who, when and why are kept and audited.
    """
    period = {
        "valid_from": ensure_utc(body.valid_from),
        "valid_until": ensure_utc(body.valid_until),
    }
    approval = service.approve_entry(
        ctx.session,
        now=ctx.now,
        shelter=ctx.shelter,
        data=body.model_copy(update=period),
        cipher=ctx.cipher,
        user_id=ctx.user_id,
        actor=ctx.actor,
    )
    return approvals_public(ctx.session, [approval], cipher=ctx.cipher)[0]


@router.post(SHELTER + "/entry-approvals/{approval_id}/revoke")
def revoke_approval_route(approval_id: uuid.UUID, ctx: DecideCtx) -> ApprovalPublic:
    approval = service.revoke_approval(
        ctx.session,
        now=ctx.now,
        shelter=ctx.shelter,
        approval=service.get_approval(ctx.session, shelter=ctx.shelter, approval_id=approval_id),
        user_id=ctx.user_id,
        actor=ctx.actor,
    )
    return approvals_public(ctx.session, [approval], cipher=ctx.cipher)[0]


@router.get(SHELTER + "/entries")
def list_entries_route(ctx: WorkCtx) -> list[EntryPublic]:
    """Who came in under which approval, and when they left (newest first)."""
    return [
        EntryPublic.model_validate(e, from_attributes=True)
        for e in service.list_entries(ctx.session, shelter=ctx.shelter)
    ]


@router.post(SHELTER + "/entry-approvals/{approval_id}/entries", status_code=201)
def record_entry_route(approval_id: uuid.UUID, ctx: WorkCtx) -> EntryPublic:
    """Log a visitor coming in under a live approval."""
    entry = service.record_entry(
        ctx.session,
        now=ctx.now,
        shelter=ctx.shelter,
        approval=service.get_approval(ctx.session, shelter=ctx.shelter, approval_id=approval_id),
        user_id=ctx.user_id,
        actor=ctx.actor,
    )
    return EntryPublic.model_validate(entry, from_attributes=True)


@router.post(SHELTER + "/entries/{entry_id}/exit")
def record_exit_route(entry_id: uuid.UUID, ctx: WorkCtx) -> EntryPublic:
    entry = service.record_exit(
        ctx.session, now=ctx.now, shelter=ctx.shelter, entry_id=entry_id, actor=ctx.actor
    )
    return EntryPublic.model_validate(entry, from_attributes=True)


# --- reasons ---------------------------------------------------------------------------------


@router.get(SHELTER + "/reasons")
def list_reasons_route(ctx: WorkCtx, subject_id: uuid.UUID | None = None) -> list[ReasonPublic]:
    """Why things were done here (transfers, discharges, lockdowns, beds out of service,
    overrides), newest first: the audit log names these rows and never carries the text."""
    return [
        ReasonPublic(
            id=row.id,
            action=row.action,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            reason=service.reveal_reason(ctx.cipher, row),
            recorded_by=row.recorded_by,
            created_at=row.created_at,
        )
        for row in service.list_reasons(ctx.session, shelter=ctx.shelter, subject_id=subject_id)
    ]
