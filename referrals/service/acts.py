"""What the two sides do with a referral once it is made.

The sender records the client's consent, answers the recipient's questions (a question and its
answer are one `exchange`), addresses a referral that has no (or the wrong) recipient, and
withdraws one. The recipient acknowledges it, asks for information and records its decision; the
CSW's decision on an admission is published (`core.events.CswDecisionRecorded`) for the stay to
record, in the same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, col, select, update

from core import events
from core.audit import Actor
from core.context import Act
from core.crypto import FieldCipher, Sealed
from core.errors import Conflict, InvalidInput
from core.events import CswDecisionRecorded
from referrals import errors
from referrals.models import (
    OPEN_STATUSES,
    ConsentSet,
    DecisionCreate,
    Direction,
    Referral,
    ReferralNote,
    ReferralReminder,
    ReferralStatus,
    ReminderKind,
    ReminderState,
    Source,
    Team,
)
from referrals.service.directory import competent_csw
from referrals.service.messages import notify_recipient, notify_sender
from referrals.service.referrals import (
    DECISION_CONTEXT,
    DOSSIER_CONTEXT,
    NOTE_CONTEXT,
    check_recipient,
    recorded,
)


def _still_open(referral: Referral) -> None:
    if referral.status not in OPEN_STATUSES:
        raise Conflict(errors.ALREADY_CLOSED.format(status=referral.status))


# --- the sender's acts -----------------------------------------------------------------------


def record_consent(
    session: Session,
    *,
    now: datetime,
    referral: Referral,
    data: ConsentSet,
    cipher: FieldCipher,
    user_id: uuid.UUID | None,
    actor: Actor,
) -> Referral:
    """The client's consent as she gives it now (widened, narrowed or withdrawn: scope [])."""
    _still_open(referral)
    referral.consent_scope = list(data.scope)
    referral.consent_recorded_by = user_id
    referral.consent_recorded_at = now
    if data.circumstances is not None:
        dossier = cipher.open_json(
            Sealed(referral.dossier_key_id, referral.dossier_sealed), context=DOSSIER_CONTEXT
        )
        sealed = cipher.seal_json(
            {**dossier, "circumstances": data.circumstances}, context=DOSSIER_CONTEXT
        )
        referral.dossier_key_id, referral.dossier_sealed = sealed.key_id, sealed.blob
    scope = ",".join(referral.consent_scope) or "none"
    return recorded(session, now, actor, referral, "consent_recorded", reason=f"scope {scope}")


def exchange(
    session: Session,
    *,
    now: datetime,
    referral: Referral,
    direction: Direction,
    text: str,
    cipher: FieldCipher,
    actor: Actor,
    base_url: str,
) -> ReferralNote:
    """A note on an open referral, sealed: the recipient asks the sender for information (a
    question: the sender's supervisors are told), or the sender answers it (an answer: the
    recipient's contacts are told)."""
    _still_open(referral)
    key_id, sealed = cipher.seal_pair(text.strip(), context=NOTE_CONTEXT)
    note = ReferralNote(
        referral_id=referral.id,
        direction=direction,
        key_id=key_id,
        sealed=sealed,
        author=f"{actor.type}:{actor.id}",
        created_at=now,
    )
    session.add(note)
    session.flush()
    key = f"note:{note.id}"
    if direction is Direction.QUESTION:
        referral.status = ReferralStatus.INFORMATION_REQUESTED
        if referral.acknowledged_at is None:
            referral.acknowledged_at = now
        session.add(referral)
        session.flush()
        event, organisation_id = "information_requested", referral.to_organisation_id
        notify_sender(session, now=now, referral=referral, event=event, key=key, base_url=base_url)
    else:
        if referral.status is ReferralStatus.INFORMATION_REQUESTED:
            referral.status = ReferralStatus.ACKNOWLEDGED
        event, organisation_id = "answered", None
        notify_recipient(
            session, now=now, referral=referral, event=event, key=key, base_url=base_url
        )
    recorded(session, now, actor, referral, event, organisation_id=organisation_id)
    return note


def readdress(act: Act, referral: Referral, to_organisation_id: uuid.UUID) -> Referral:
    """Send an unaddressed (or misaddressed) referral to its recipient; its reminders follow."""
    session, now, actor, _, _ = act
    _still_open(referral)
    recipient = check_recipient(session, to_organisation_id, referral.from_organisation_id)
    if referral.source is Source.ADMISSION:
        competent_csw(session, recipient.id)  # the CSW decides on accommodation, nobody else
    if referral.to_organisation_id == recipient.id:
        return referral
    referral.to_organisation_id = recipient.id
    referral.status = ReferralStatus.OPEN
    referral.acknowledged_at = None
    # She consented to share with the former recipient, not with this one: ask her again.
    referral.consent_scope = []
    referral.consent_recorded_by = None
    referral.consent_recorded_at = None
    session.add(referral)
    _cancel_reminders(
        session, referral=referral, now=now, kinds=(ReminderKind.CREATED, ReminderKind.UNADDRESSED)
    )
    sequence = len(
        session.exec(
            select(ReferralReminder.id).where(
                ReferralReminder.referral_id == referral.id,
                ReferralReminder.kind == ReminderKind.CREATED,
            )
        ).all()
    )
    session.add(
        ReferralReminder(
            referral_id=referral.id, kind=ReminderKind.CREATED, sequence=sequence, due_at=now
        )
    )
    return recorded(session, now, actor, referral, "addressed")


def _cancel_reminders(
    session: Session,
    *,
    referral: Referral,
    now: datetime,
    kinds: tuple[ReminderKind, ...] | None = None,
) -> None:
    """Cancel the referral's pending reminders (of these kinds; all when none are named)."""
    query = update(ReferralReminder).where(
        col(ReferralReminder.referral_id) == referral.id,
        col(ReferralReminder.state) == ReminderState.PENDING,
    )
    if kinds is not None:
        query = query.where(col(ReferralReminder.kind).in_(kinds))
    session.exec(query.values(state=ReminderState.CANCELLED, done_at=now))


def withdraw(
    session: Session, *, now: datetime, referral: Referral, reason: str, actor: Actor
) -> Referral:
    """The sender withdraws a referral (made in error, or no longer needed)."""
    _still_open(referral)
    referral.status = ReferralStatus.WITHDRAWN
    referral.withdrawn_at = now
    _cancel_reminders(session, referral=referral, now=now)
    return recorded(session, now, actor, referral, "withdrawn", reason=reason)


# --- the recipient's acts --------------------------------------------------------------------


def acknowledge(session: Session, *, now: datetime, referral: Referral, actor: Actor) -> Referral:
    _still_open(referral)
    if referral.acknowledged_at is None:
        referral.acknowledged_at = now
    if referral.status is ReferralStatus.OPEN:
        referral.status = ReferralStatus.ACKNOWLEDGED
    return recorded(
        session, now, actor, referral, "acknowledged", organisation_id=referral.to_organisation_id
    )


def decide(
    session: Session,
    *,
    now: datetime,
    referral: Referral,
    data: DecisionCreate,
    cipher: FieldCipher,
    actor: Actor,
    base_url: str,
) -> Referral:
    """Record the recipient's decision: it cancels pending reminders and, for the CSW's decision
    on an admission, is published for the stay to record (`CswDecisionRecorded`)."""
    _still_open(referral)
    # The stay this decision decides: only the CSW's own decision on an admission has one.
    decides_stay = referral.source is Source.ADMISSION and referral.team is Team.GENERAL
    stay_id = referral.stay_id if decides_stay else None
    if data.stay_until is not None and stay_id is None:
        raise InvalidInput(errors.STAY_UNTIL_ONLY_ADMISSION)
    if stay_id is not None:
        events.publish(
            session,
            CswDecisionRecorded(
                stay_id=stay_id,
                outcome=data.outcome.value,
                stay_until=data.stay_until,
                at=now,
                actor=actor,
            ),
        )
    sealed = cipher.seal_json(
        {"placement": data.placement, "note": data.note}, context=DECISION_CONTEXT
    )
    referral.outcome = data.outcome
    referral.decision_date = data.decision_date
    referral.decision_number = data.decision_number.strip()
    referral.decision_key_id, referral.decision_sealed = sealed.key_id, sealed.blob
    referral.decided_at = now
    referral.decided_by = f"{actor.type}:{actor.id}"
    referral.status = ReferralStatus.DECIDED
    if referral.acknowledged_at is None:
        referral.acknowledged_at = now
    session.add(referral)
    _cancel_reminders(session, referral=referral, now=now)
    session.flush()
    notify_sender(
        session, now=now, referral=referral, event="decided", key="decided", base_url=base_url
    )
    return recorded(
        session,
        now,
        actor,
        referral,
        "decided",
        organisation_id=referral.to_organisation_id,
        reason=f"outcome {data.outcome}",
    )
