"""Perpetrators, entry approvals, the entry log, and the reasons given for acts."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from core.clock import ensure_utc
from core.deps import CipherDep, NowDep, SessionDep
from shelters import service
from shelters.deps import (
    DecideGate,
    WorkGate,
)
from shelters.models import (
    ApprovalCreate,
    ApprovalPublic,
    EntryPublic,
    PerpetratorCreate,
    PerpetratorPublic,
    ReasonPublic,
)
from shelters.router.answers import (
    approvals_public,
)
from shelters.router.paths import SHELTER, STAY

router = APIRouter(tags=["shelters"])


# --- perpetrators, entry approvals, entries --------------------------------------------------


@router.get(STAY + "/perpetrators")
def list_perpetrators_route(
    stay_id: uuid.UUID, gate: WorkGate, session: SessionDep, cipher: CipherDep
) -> list[PerpetratorPublic]:
    stay = service.get_stay(session, shelter=gate.shelter, stay_id=stay_id)
    return [
        PerpetratorPublic(
            id=p.id,
            stay_id=p.stay_id,
            name=service.reveal_perpetrator(cipher, p),
            created_at=p.created_at,
        )
        for p in service.list_perpetrators(session, stay=stay)
    ]


@router.post(STAY + "/perpetrators", status_code=201)
def record_perpetrator_route(
    stay_id: uuid.UUID,
    body: PerpetratorCreate,
    gate: WorkGate,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> PerpetratorPublic:
    """Record a resident's perpetrator: never approved to enter; live approvals are revoked."""
    row = service.record_perpetrator(
        session,
        now=now,
        shelter=gate.shelter,
        stay=service.get_stay(session, shelter=gate.shelter, stay_id=stay_id),
        name=body.name,
        cipher=cipher,
        user_id=gate.user_id,
        actor=gate.principal.actor(),
    )
    return PerpetratorPublic(
        id=row.id, stay_id=row.stay_id, name=body.name, created_at=row.created_at
    )


@router.get(SHELTER + "/entry-approvals")
def list_approvals_route(
    gate: WorkGate, session: SessionDep, cipher: CipherDep
) -> list[ApprovalPublic]:
    approvals = service.list_approvals(session, shelter=gate.shelter)
    return approvals_public(session, approvals, cipher=cipher)


@router.post(SHELTER + "/entry-approvals", status_code=201)
def approve_entry_route(
    body: ApprovalCreate,
    gate: DecideGate,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> ApprovalPublic:
    """A supervisor lets a third party in, for a stated period and purpose.

    Never a resident's recorded perpetrator (409). A name close to one (an initial, a word more
    or less, a letter or two apart) needs the supervisor's explicit override: `override_reason`
    (409 `override_required` without it); who, when and why are kept and audited.
    """
    approval = service.approve_entry(
        session,
        now=now,
        shelter=gate.shelter,
        data=body.model_copy(
            update={
                "valid_from": ensure_utc(body.valid_from),
                "valid_until": ensure_utc(body.valid_until),
            }
        ),
        cipher=cipher,
        user_id=gate.user_id,
        actor=gate.principal.actor(),
    )
    return approvals_public(session, [approval], cipher=cipher)[0]


@router.post(SHELTER + "/entry-approvals/{approval_id}/revoke")
def revoke_approval_route(
    approval_id: uuid.UUID,
    gate: DecideGate,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> ApprovalPublic:
    approval = service.revoke_approval(
        session,
        now=now,
        shelter=gate.shelter,
        approval=service.get_approval(session, shelter=gate.shelter, approval_id=approval_id),
        user_id=gate.user_id,
        actor=gate.principal.actor(),
    )
    return approvals_public(session, [approval], cipher=cipher)[0]


@router.get(SHELTER + "/entries")
def list_entries_route(gate: WorkGate, session: SessionDep) -> list[EntryPublic]:
    """Who came in under which approval, and when they left (newest first)."""
    return [
        EntryPublic.model_validate(e, from_attributes=True)
        for e in service.list_entries(session, shelter=gate.shelter)
    ]


@router.post(SHELTER + "/entry-approvals/{approval_id}/entries", status_code=201)
def record_entry_route(
    approval_id: uuid.UUID,
    gate: WorkGate,
    session: SessionDep,
    now: NowDep,
) -> EntryPublic:
    """Log a visitor coming in under a live approval."""
    entry = service.record_entry(
        session,
        now=now,
        shelter=gate.shelter,
        approval=service.get_approval(session, shelter=gate.shelter, approval_id=approval_id),
        user_id=gate.user_id,
        actor=gate.principal.actor(),
    )
    return EntryPublic.model_validate(entry, from_attributes=True)


@router.post(SHELTER + "/entries/{entry_id}/exit")
def record_exit_route(
    entry_id: uuid.UUID,
    gate: WorkGate,
    session: SessionDep,
    now: NowDep,
) -> EntryPublic:
    entry = service.record_exit(
        session,
        now=now,
        shelter=gate.shelter,
        entry_id=entry_id,
        actor=gate.principal.actor(),
    )
    return EntryPublic.model_validate(entry, from_attributes=True)


# --- reasons ---------------------------------------------------------------------------------


@router.get(SHELTER + "/reasons")
def list_reasons_route(
    gate: WorkGate,
    session: SessionDep,
    cipher: CipherDep,
    subject_id: uuid.UUID | None = None,
) -> list[ReasonPublic]:
    """Why things were done here (transfers, discharges, lockdowns, beds out of service,
    overrides), newest first: the audit log names these rows and never carries the text."""
    return [
        ReasonPublic(
            id=row.id,
            action=row.action,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            reason=service.reveal_reason(cipher, row),
            recorded_by=row.recorded_by,
            created_at=row.created_at,
        )
        for row in service.list_reasons(session, shelter=gate.shelter, subject_id=subject_id)
    ]
