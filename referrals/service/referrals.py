"""Making referrals and reading them.

Every emergency admission refers the client to the CSW of her municipality of residence in the
admission's own transaction (`refer_admission`, subscribed to `core.events.StayAdmitted`), with
the decision deadline of the stay, and her children to its child-protection team with the same
deadline. A hotline call or a counselling case refers with the client's consent, or on the legal
basis for referring without it (`create_referral`). Reminders are rows made with the referral
(`referrals.service.sweep` turns the due ones into messages).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from core import audit, events
from core.audit import Actor
from core.crypto import FieldCipher, Sealed
from core.errors import InvalidInput
from core.events import AdmittedPerson, CallOfOrganisation, CaseForReferral, CaseRef, StayAdmitted
from core.localtime import add_local_days
from core.models import Organisation, OrganisationKind
from core.scoped import get_owned, new_reference
from referrals import errors
from referrals.models import (
    ConsentSet,
    LegalBasis,
    PersonFacts,
    Referral,
    ReferralCreate,
    ReferralNote,
    ReferralReminder,
    ReferralStatus,
    ReminderKind,
    Source,
    Team,
)
from referrals.service.directory import (
    find_municipality,
    get_municipality,
    kind_of,
    zone_of,
)

DOSSIER_CONTEXT = "referral.dossier"
DECISION_CONTEXT = "referral.decision"
NOTE_CONTEXT = "referral.note"
REFERENCE_PREFIX = "RF-"
REMINDERS_BEFORE = ((ReminderKind.BEFORE_3_DAYS, 3), (ReminderKind.BEFORE_1_DAY, 1))
MAX_RESPONSE_TIME = timedelta(days=90)


def recorded(
    session: Session,
    now: datetime,
    actor: Actor,
    referral: Referral,
    action: str,
    *,
    organisation_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> Referral:
    """Store an act on a referral and audit it (`referral.<action>`), on the sender's side unless
    `organisation_id` names the recipient's."""
    session.add(referral)
    session.flush()
    audit.record(
        session,
        now,
        actor,
        f"referral.{action}",
        "referral",
        referral.id,
        organisation_id or referral.from_organisation_id,
        reason=reason,
    )
    return referral


# --- making referrals ------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A referral about to be made: to whom, about whom, by when, and on what ground."""

    to_organisation_id: uuid.UUID | None
    municipality_id: uuid.UUID | None
    source: Source
    team: Team
    dossier: dict[str, Any]
    people: int
    children: int
    deadline: datetime | None
    legal_basis: LegalBasis | None
    consent: ConsentSet | None = None
    legal_note: str | None = None
    stay_id: uuid.UUID | None = None
    call_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = None
    case_reference: str | None = None


def _person(person: PersonFacts | AdmittedPerson) -> dict[str, Any]:
    return {"name": person.name, "sex": str(person.sex), "age": person.age}


def _schedule(
    session: Session, *, now: datetime, referral: Referral, sender_zone: str
) -> list[ReferralReminder]:
    """The reminder rows of a new referral, at exact instants in the recipient's time zone."""
    zone = zone_of(session, referral.to_organisation_id, sender_zone)
    rows = [
        ReferralReminder(
            referral_id=referral.id,
            kind=ReminderKind.CREATED if referral.to_organisation_id else ReminderKind.UNADDRESSED,
            due_at=now,
        )
    ]
    if referral.deadline is not None:
        for kind, days in REMINDERS_BEFORE:
            due = add_local_days(referral.deadline, -days, zone)
            if due > now:
                rows.append(ReferralReminder(referral_id=referral.id, kind=kind, due_at=due))
        rows.append(
            ReferralReminder(
                referral_id=referral.id, kind=ReminderKind.DEADLINE, due_at=referral.deadline
            )
        )
        rows.append(
            ReferralReminder(
                referral_id=referral.id,
                kind=ReminderKind.OVERDUE,
                sequence=1,
                due_at=add_local_days(referral.deadline, 1, zone),
            )
        )
    session.add_all(rows)
    return rows


def _make(
    session: Session,
    *,
    now: datetime,
    cipher: FieldCipher,
    actor: Actor,
    sender: Organisation,
    draft: Draft,
    user_id: uuid.UUID | None,
) -> Referral:
    consent = draft.consent
    dossier = draft.dossier
    if consent is not None and consent.circumstances:
        dossier = {**dossier, "circumstances": consent.circumstances}
    sealed = cipher.seal_json(dossier, context=DOSSIER_CONTEXT)
    referral = Referral(
        reference=new_reference(session, Referral.reference, REFERENCE_PREFIX),
        from_organisation_id=sender.id,
        to_organisation_id=draft.to_organisation_id,
        municipality_id=draft.municipality_id,
        source=draft.source,
        team=draft.team,
        stay_id=draft.stay_id,
        call_id=draft.call_id,
        case_id=draft.case_id,
        case_reference=draft.case_reference,
        people=draft.people,
        children=draft.children,
        deadline=draft.deadline,
        consent_scope=list(consent.scope) if consent else [],
        consent_recorded_by=user_id if consent else None,
        consent_recorded_at=now if consent else None,
        legal_basis=draft.legal_basis,
        legal_note=draft.legal_note,
        dossier_key_id=sealed.key_id,
        dossier_sealed=sealed.blob,
        created_by=user_id,
        created_at=now,
    )
    session.add(referral)
    session.flush()
    _schedule(session, now=now, referral=referral, sender_zone=sender.time_zone)
    reason = (
        f"source {draft.source}; team {draft.team}; "
        + (f"consent {','.join(referral.consent_scope) or 'none'}" if consent else "no consent")
        + (f"; basis {draft.legal_basis}" if draft.legal_basis else "")
    )
    return recorded(session, now, actor, referral, "created", reason=reason)


def refer_admission(session: Session, admitted: StayAdmitted) -> None:
    """Refer an emergency admission to the competent CSW, in the admission's transaction.

    The CSW must decide by the stay's decision deadline; the referral carries what the law
    obliges (emergency accommodation) until the client's consent widens it. Her children are
    referred to the CSW's child-protection team (a child at risk: the law obliges), with the
    same deadline and reminders; only that team reads their names (`disclosure`). When the
    municipality has no competent CSW in the directory, the referral waits unaddressed and the
    organisation's supervisors are alerted to address it: the admission never waits.
    """
    sender = session.get_one(Organisation, admitted.organisation_id)
    municipality = find_municipality(
        session, country_code=sender.country_code, name=admitted.municipality
    )
    children = [_person(c) for c in admitted.children]
    general = Draft(
        to_organisation_id=municipality.csw_organisation_id if municipality else None,
        municipality_id=municipality.id if municipality else None,
        source=Source.ADMISSION,
        team=Team.GENERAL,
        dossier={"client": _person(admitted.client), "children": children},
        people=1 + len(children),
        children=len(children),
        deadline=admitted.decision_due_at,
        legal_basis=LegalBasis.EMERGENCY_ACCOMMODATION,
        stay_id=admitted.stay_id,
    )
    drafts = [general]
    if children:
        # The team decides on the children by the stay's deadline too: the same ladder.
        drafts.append(
            replace(
                general,
                team=Team.CHILD_PROTECTION,
                dossier={"children": children},
                people=len(children),
                legal_basis=LegalBasis.CHILD_AT_RISK,
            )
        )
    now = admitted.entered_at
    for draft in drafts:
        _make(
            session,
            now=now,
            cipher=admitted.cipher,
            actor=admitted.actor,
            sender=sender,
            draft=draft,
            user_id=admitted.user_id,
        )


def check_recipient(
    session: Session, organisation_id: uuid.UUID, sender_id: uuid.UUID
) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise InvalidInput(errors.NO_SUCH_RECIPIENT)
    if organisation.id == sender_id:
        raise InvalidInput(errors.SELF_REFERRAL)
    return organisation


def create_referral(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    data: ReferralCreate,
    cipher: FieldCipher,
    actor: Actor,
    user_id: uuid.UUID | None,
) -> Referral:
    """A referral from a hotline call or a counselling case, to a CSW or a partner service."""
    sender = session.get_one(Organisation, organisation_id)
    if data.call_id is not None and not events.ask(
        session, CallOfOrganisation(call_id=data.call_id, organisation_id=organisation_id)
    ):
        raise InvalidInput(errors.NO_SUCH_CALL)
    if data.to_organisation_id is not None:
        to_id: uuid.UUID | None = check_recipient(session, data.to_organisation_id, sender.id).id
    elif data.municipality_id is not None:
        to_id = get_municipality(session, data.municipality_id).csw_organisation_id
    else:  # the body's own check makes this unreachable
        raise InvalidInput(errors.NO_RECIPIENT)
    if data.respond_by is not None and not now < data.respond_by <= now + MAX_RESPONSE_TIME:
        raise InvalidInput(errors.RESPOND_BY)
    if data.legal_basis is LegalBasis.CHILD_AT_RISK and (
        data.team is not Team.CHILD_PROTECTION
        or to_id is None
        or kind_of(session, to_id) is not OrganisationKind.CSW
    ):
        raise InvalidInput(errors.CHILD_AT_RISK_TO_TEAM)
    case = _case(session, data, organisation_id, user_id)
    # While she asked that nothing reveal her, a referral carries no identity, whatever the consent.
    withheld = case is not None and case.do_not_disclose
    draft = Draft(
        to_organisation_id=to_id,
        municipality_id=data.municipality_id,
        source=data.source,
        team=data.team,
        dossier={
            "client": _person(data.client) if data.client and not withheld else None,
            "children": [] if withheld else [_person(c) for c in data.children],
        },
        people=(1 if data.client else 0) + len(data.children),
        children=len(data.children),
        deadline=data.respond_by,
        legal_basis=data.legal_basis,
        consent=data.consent,
        legal_note=data.legal_note,
        call_id=data.call_id,
        case_id=data.case_id,
        case_reference=case.number if case is not None else None,
    )
    return _make(
        session, now=now, cipher=cipher, actor=actor, sender=sender, draft=draft, user_id=user_id
    )


def _case(
    session: Session, data: ReferralCreate, organisation_id: uuid.UUID, user_id: uuid.UUID | None
) -> CaseRef | None:
    """The case a referral is made from: the organisation's, with the caller on its team."""
    if data.case_id is None:
        return None
    found = events.ask(session, CaseForReferral(data.case_id, organisation_id, user_id))
    if found is None:
        raise InvalidInput(errors.NO_SUCH_CASE)
    return found


# --- reading ---------------------------------------------------------------------------------


def _sender(referral: Referral) -> uuid.UUID:
    return referral.from_organisation_id


def _recipient(referral: Referral) -> uuid.UUID | None:
    """A withdrawn referral is no longer its recipient's."""
    if referral.status is ReferralStatus.WITHDRAWN:
        return None
    return referral.to_organisation_id


def _owned(
    session: Session,
    referral_id: uuid.UUID,
    organisation_id: uuid.UUID,
    owner: Callable[[Referral], uuid.UUID | None],
    lock: bool,
) -> Referral:
    return get_owned(
        session, Referral, referral_id, organisation_id=organisation_id, owner=owner, lock=lock
    )


def sent_referral(
    session: Session, *, organisation_id: uuid.UUID, referral_id: uuid.UUID, lock: bool = False
) -> Referral:
    """A referral the organisation made (404 for anything else)."""
    return _owned(session, referral_id, organisation_id, _sender, lock)


def received_referral(
    session: Session, *, organisation_id: uuid.UUID, referral_id: uuid.UUID, lock: bool = False
) -> Referral:
    """A referral addressed to the organisation (404 for anything else, withdrawn included)."""
    return _owned(session, referral_id, organisation_id, _recipient, lock)


def _newest(
    session: Session, query: SelectOfScalar[Referral], status: ReferralStatus | None, limit: int
) -> list[Referral]:
    """The referrals `query` finds (of `status`, if named), newest first, at most `limit`."""
    if status is not None:
        query = query.where(Referral.status == status)
    return list(session.exec(query.order_by(col(Referral.created_at).desc()).limit(limit)).all())


def list_sent(
    session: Session, *, organisation_id: uuid.UUID, status: ReferralStatus | None, limit: int
) -> list[Referral]:
    query = select(Referral).where(Referral.from_organisation_id == organisation_id)
    return _newest(session, query, status, limit)


def list_received(
    session: Session, *, organisation_id: uuid.UUID, status: ReferralStatus | None, limit: int
) -> list[Referral]:
    query = select(Referral).where(
        Referral.to_organisation_id == organisation_id,
        Referral.status != ReferralStatus.WITHDRAWN,
    )
    return _newest(session, query, status, limit)


def notes_of(session: Session, referral: Referral) -> list[ReferralNote]:
    query = select(ReferralNote).where(ReferralNote.referral_id == referral.id)
    return list(session.exec(query.order_by(col(ReferralNote.created_at), col(ReferralNote.id))))


def open_note(cipher: FieldCipher, note: ReferralNote) -> str:
    return cipher.open(Sealed(note.key_id, note.sealed), context=NOTE_CONTEXT)


def reminders_of(session: Session, referral: Referral) -> list[ReferralReminder]:
    query = select(ReferralReminder).where(ReferralReminder.referral_id == referral.id)
    order = (col(ReferralReminder.due_at), col(ReferralReminder.sequence))
    return list(session.exec(query.order_by(*order)))


def dossier_of(cipher: FieldCipher, referral: Referral) -> dict[str, Any]:
    """The referral's sealed personal part, opened (what a reader may see is `disclosure`'s)."""
    sealed = Sealed(referral.dossier_key_id, referral.dossier_sealed)
    opened: dict[str, Any] = cipher.open_json(sealed, context=DOSSIER_CONTEXT)
    return opened


def decision_details(cipher: FieldCipher, referral: Referral) -> dict[str, Any]:
    if referral.decision_key_id is None or referral.decision_sealed is None:
        return {}
    sealed = Sealed(referral.decision_key_id, referral.decision_sealed)
    details: dict[str, Any] = cipher.open_json(sealed, context=DECISION_CONTEXT)
    return details
