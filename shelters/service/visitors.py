"""Keeping people out: perpetrators recorded against residents, supervisors' entry approvals for
third parties (compared by name with every perpetrator, `shelters.names`), and the entry log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from core.audit import Actor
from core.crypto import FieldCipher, Sealed
from core.errors import Conflict, InvalidInput
from shelters import errors, names
from shelters.models import ApprovalCreate, EntryApproval, EntryLog, Perpetrator, Shelter, Stay
from shelters.service.common import (
    APPROVAL_CONTEXT,
    OVERRIDE_ACTION,
    PERPETRATOR_CONTEXT,
    audit_act,
    audit_with_reason,
    get_within,
    list_within,
    lock_shelter,
)

MAX_APPROVAL = timedelta(days=92)
APPROVAL_SUBJECT = "shelter_entry_approval"
BARRED_REASON = "a perpetrator was recorded under this name or a close one"


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
            _revoke(session, approval, now=now, user_id=user_id)
            revoked.append(approval)
    audit_act(session, now, actor, "shelter.perpetrator_recorded", shelter, "shelter_stay", stay.id)
    for approval in revoked:
        _audit_approval(
            session, now, actor, "shelter.entry_revoked", shelter, approval.id, BARRED_REASON
        )
    return row


def list_perpetrators(session: Session, *, stay: Stay) -> list[Perpetrator]:
    oldest_first = (col(Perpetrator.created_at), col(Perpetrator.id))
    return list_within(
        session, Perpetrator, within=stay.id, column="stay_id", order_by=oldest_first
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


def _lock_open(session: Session, shelter: Shelter) -> Shelter:
    """The shelter, locked, refusing anyone in while it is in lockdown."""
    shelter = lock_shelter(session, shelter)
    if shelter.lockdown:
        raise Conflict(errors.LOCKDOWN)
    return shelter


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
    shelter = _lock_open(session, shelter)
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
    _audit_approval(session, now, actor, "shelter.entry_approved", shelter, approval.id)
    if verdict is names.NameMatch.CLOSE and data.override_reason is not None:
        # A supervisor let in a name close to a barred person's: who, when and why.
        audit_with_reason(
            session,
            now,
            actor,
            OVERRIDE_ACTION,
            shelter,
            APPROVAL_SUBJECT,
            approval.id,
            text=data.override_reason,
            cipher=cipher,
            context="name close to a barred person's; ",
        )
    return approval


def list_approvals(session: Session, *, shelter: Shelter) -> list[EntryApproval]:
    latest_first = (col(EntryApproval.valid_from).desc(), col(EntryApproval.id))
    return list_within(session, EntryApproval, within=shelter.id, order_by=latest_first, limit=500)


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
    _revoke(session, approval, now=now, user_id=user_id)
    _audit_approval(session, now, actor, "shelter.entry_revoked", shelter, approval.id)
    return approval


def _revoke(
    session: Session, approval: EntryApproval, *, now: datetime, user_id: uuid.UUID
) -> None:
    approval.revoked_at = now
    approval.revoked_by = user_id
    session.add(approval)


def _audit_approval(
    session: Session,
    now: datetime,
    actor: Actor,
    action: str,
    shelter: Shelter,
    approval_id: uuid.UUID,
    reason: str | None = None,
) -> None:
    """What happens to an approval and under it (entries, exits) is audited on the approval."""
    audit_act(session, now, actor, action, shelter, APPROVAL_SUBJECT, approval_id, reason=reason)


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
    shelter = _lock_open(session, shelter)
    if approval.revoked_at is not None:
        raise Conflict(errors.APPROVAL_REVOKED)
    if not approval.valid_from <= now < approval.valid_until:
        raise Conflict(errors.APPROVAL_NOT_NOW)
    entry = EntryLog(
        shelter_id=shelter.id, approval_id=approval.id, entered_at=now, recorded_by=user_id
    )
    session.add(entry)
    _audit_approval(session, now, actor, "shelter.entry_logged", shelter, approval.id)
    return entry


def record_exit(
    session: Session, *, now: datetime, shelter: Shelter, entry_id: uuid.UUID, actor: Actor
) -> EntryLog:
    entry = get_within(session, EntryLog, entry_id, within=shelter.id)
    if entry.exited_at is not None:
        raise Conflict(errors.EXIT_LOGGED)
    entry.exited_at = now
    session.add(entry)
    _audit_approval(session, now, actor, "shelter.exit_logged", shelter, entry.approval_id)
    return entry


def list_entries(session: Session, *, shelter: Shelter, limit: int = 500) -> list[EntryLog]:
    newest_first = (col(EntryLog.entered_at).desc(), col(EntryLog.id))
    return list_within(session, EntryLog, within=shelter.id, order_by=newest_first, limit=limit)
