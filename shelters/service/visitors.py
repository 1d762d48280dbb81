"""Keeping people out: perpetrators recorded against residents, supervisors' entry approvals for
third parties (compared by name with every perpetrator, `shelters.names`), and the entry log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from core import audit
from core.audit import Actor
from core.crypto import FieldCipher, Sealed
from core.errors import Conflict, InvalidInput
from shelters import errors, names
from shelters.models import ApprovalCreate, EntryApproval, EntryLog, Perpetrator, Shelter, Stay
from shelters.service.common import (
    APPROVAL_CONTEXT,
    OVERRIDE_ACTION,
    PERPETRATOR_CONTEXT,
    audit_with_reason,
    get_within,
    lock_shelter,
)

MAX_APPROVAL = timedelta(days=92)


# --- perpetrators -----------------------------------------------------------------------------


def record_perpetrator(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    stay: Stay,
    name: str,
    cipher: FieldCipher,
    user_id: uuid.UUID,
    actor: Actor,
) -> Perpetrator:
    """Record a resident's perpetrator; any live approval under that name, or a name close to
    it, is revoked at once (a supervisor may approve a close name again, by an override)."""
    # Under the shelter's lock, like approvals, so that none can slip in meanwhile.
    shelter = lock_shelter(session, shelter)
    key_id, blob = cipher.seal_pair(name, context=PERPETRATOR_CONTEXT)
    row = Perpetrator(
        shelter_id=shelter.id,
        stay_id=stay.id,
        name_key_id=key_id,
        name_sealed=blob,
        recorded_by=user_id,
        created_at=now,
    )
    session.add(row)
    live = session.exec(
        select(EntryApproval).where(
            EntryApproval.shelter_id == shelter.id,
            col(EntryApproval.revoked_at).is_(None),
            col(EntryApproval.valid_until) > now,
        )
    ).all()
    revoked: list[EntryApproval] = []
    for approval in live:
        visitor = reveal_approval(cipher, approval).person_name
        if names.compare(name, visitor) is not names.NameMatch.NO_MATCH:
            approval.revoked_at = now
            approval.revoked_by = user_id
            session.add(approval)
            revoked.append(approval)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="shelter.perpetrator_recorded",
        subject_type="shelter_stay",
        subject_id=stay.id,
        organisation_id=shelter.organisation_id,
    )
    for approval in revoked:
        audit.record(
            session,
            now=now,
            actor=actor,
            action="shelter.entry_revoked",
            subject_type="shelter_entry_approval",
            subject_id=approval.id,
            organisation_id=shelter.organisation_id,
            reason="a perpetrator was recorded under this name or a close one",
        )
    return row


def list_perpetrators(session: Session, *, stay: Stay) -> list[Perpetrator]:
    return list(
        session.exec(
            select(Perpetrator)
            .where(Perpetrator.stay_id == stay.id)
            .order_by(col(Perpetrator.created_at), col(Perpetrator.id))
        ).all()
    )


def reveal_perpetrator(cipher: FieldCipher, row: Perpetrator) -> str:
    return cipher.open(Sealed(row.name_key_id, row.name_sealed), context=PERPETRATOR_CONTEXT)


def barred_verdict(
    session: Session, *, shelter: Shelter, name: str, cipher: FieldCipher
) -> names.NameMatch:
    """How close `name` comes to any perpetrator recorded against a resident of the shelter."""
    barred = session.exec(select(Perpetrator).where(Perpetrator.shelter_id == shelter.id)).all()
    return names.worst([names.compare(name, reveal_perpetrator(cipher, p)) for p in barred])


# --- entry approvals --------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalText:
    person_name: str
    organisation: str
    purpose: str


def reveal_approval(cipher: FieldCipher, approval: EntryApproval) -> ApprovalText:
    details = cipher.open_json(
        Sealed(approval.details_key_id, approval.details_sealed), context=APPROVAL_CONTEXT
    )
    return ApprovalText(details["person_name"], details["organisation"], details["purpose"])


def approve_entry(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    data: ApprovalCreate,
    cipher: FieldCipher,
    user_id: uuid.UUID,
    actor: Actor,
) -> EntryApproval:
    """A supervisor's approval for a third party; never for a resident's recorded perpetrator,
    and for a name close to one only by the supervisor's explicit override."""
    shelter = lock_shelter(session, shelter)
    if shelter.lockdown:
        raise Conflict(errors.LOCKDOWN)
    if data.valid_until <= now:
        raise InvalidInput(errors.APPROVAL_ENDS_PAST)
    if data.valid_until - data.valid_from > MAX_APPROVAL:
        raise InvalidInput(errors.APPROVAL_TOO_LONG)
    verdict = barred_verdict(session, shelter=shelter, name=data.person_name, cipher=cipher)
    if verdict is names.NameMatch.MATCH:
        raise Conflict(errors.REFUSED_ENTRY)
    if verdict is names.NameMatch.CLOSE and data.override_reason is None:
        raise errors.OverrideRequired(errors.NEEDS_OVERRIDE)
    details = {
        "person_name": data.person_name,
        "organisation": data.organisation,
        "purpose": data.purpose,
    }
    sealed = cipher.seal_json(details, context=APPROVAL_CONTEXT)
    approval = EntryApproval(
        shelter_id=shelter.id,
        details_key_id=sealed.key_id,
        details_sealed=sealed.blob,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        approved_by=user_id,
        created_at=now,
    )
    session.add(approval)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="shelter.entry_approved",
        subject_type="shelter_entry_approval",
        subject_id=approval.id,
        organisation_id=shelter.organisation_id,
    )
    if verdict is names.NameMatch.CLOSE and data.override_reason is not None:
        # A supervisor let in a name close to a barred person's: who, when and why.
        audit_with_reason(
            session,
            now=now,
            cipher=cipher,
            shelter=shelter,
            action=OVERRIDE_ACTION,
            subject_type="shelter_entry_approval",
            subject_id=approval.id,
            text=data.override_reason,
            actor=actor,
            context="name close to a barred person's; ",
        )
    return approval


def list_approvals(session: Session, *, shelter: Shelter) -> list[EntryApproval]:
    return list(
        session.exec(
            select(EntryApproval)
            .where(EntryApproval.shelter_id == shelter.id)
            .order_by(col(EntryApproval.valid_from).desc(), col(EntryApproval.id))
            .limit(500)
        ).all()
    )


def get_approval(session: Session, *, shelter: Shelter, approval_id: uuid.UUID) -> EntryApproval:
    return get_within(session, EntryApproval, approval_id, within=shelter.id)


def revoke_approval(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    approval: EntryApproval,
    user_id: uuid.UUID,
    actor: Actor,
) -> EntryApproval:
    if approval.revoked_at is not None:
        raise Conflict(errors.ALREADY_REVOKED)
    approval.revoked_at = now
    approval.revoked_by = user_id
    session.add(approval)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="shelter.entry_revoked",
        subject_type="shelter_entry_approval",
        subject_id=approval.id,
        organisation_id=shelter.organisation_id,
    )
    return approval


# --- the entry log ----------------------------------------------------------------------------


def record_entry(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    approval: EntryApproval,
    user_id: uuid.UUID,
    actor: Actor,
) -> EntryLog:
    """Log a visitor coming in: only under a live approval, never during a lockdown."""
    shelter = lock_shelter(session, shelter)
    if shelter.lockdown:
        raise Conflict(errors.LOCKDOWN)
    if approval.revoked_at is not None:
        raise Conflict(errors.APPROVAL_REVOKED)
    if not approval.valid_from <= now < approval.valid_until:
        raise Conflict(errors.APPROVAL_NOT_NOW)
    entry = EntryLog(
        shelter_id=shelter.id, approval_id=approval.id, entered_at=now, recorded_by=user_id
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="shelter.entry_logged",
        subject_type="shelter_entry_approval",
        subject_id=approval.id,
        organisation_id=shelter.organisation_id,
    )
    return entry


def record_exit(
    session: Session, *, now: datetime, shelter: Shelter, entry_id: uuid.UUID, actor: Actor
) -> EntryLog:
    entry = get_within(session, EntryLog, entry_id, within=shelter.id)
    if entry.exited_at is not None:
        raise Conflict(errors.EXIT_LOGGED)
    entry.exited_at = now
    session.add(entry)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="shelter.exit_logged",
        subject_type="shelter_entry_approval",
        subject_id=entry.approval_id,
        organisation_id=shelter.organisation_id,
    )
    return entry


def list_entries(session: Session, *, shelter: Shelter, limit: int = 500) -> list[EntryLog]:
    return list(
        session.exec(
            select(EntryLog)
            .where(EntryLog.shelter_id == shelter.id)
            .order_by(col(EntryLog.entered_at).desc(), col(EntryLog.id))
            .limit(limit)
        ).all()
    )
