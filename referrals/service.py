"""Referrals: the CSW directory, referrals and their decisions, and the deadline sweep.

Every emergency admission refers the client to the CSW of her municipality of residence in the
admission's own transaction (`refer_admission`), with the decision deadline of the stay, and
her children to its child-protection team with the same deadline. Reminders are rows made with
the referral and swept by `sweep`, which writes outbox rows in the transaction that marks the
reminders done: a sweep that dies leaves its rows pending for the next one, and two sweeps never
take the same row.
"""

from __future__ import annotations

import json
import logging
import secrets
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select, update

from core import audit
from core.audit import Actor
from core.crypto import FieldCipher, Sealed
from core.db import UnitOfWork
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Organisation, OrganisationKind
from notifications import service as outbox
from notifications.models import Purpose
from referrals.models import (
    OPEN_STATUSES,
    ConsentSet,
    DecisionCreate,
    Direction,
    LegalBasis,
    Municipality,
    MunicipalityCreate,
    PersonFacts,
    Referral,
    ReferralCreate,
    ReferralNote,
    ReferralReminder,
    ReferralStatus,
    ReminderKind,
    ReminderState,
    Source,
    Team,
)
from shelters import service as shelters
from shelters.time import add_local_days

DOSSIER_CONTEXT = "referral.dossier"
DECISION_CONTEXT = "referral.decision"
NOTE_CONTEXT = "referral.note"
NOT_FOUND = "Not found."
REMINDERS_BEFORE = ((ReminderKind.BEFORE_3_DAYS, 3), (ReminderKind.BEFORE_1_DAY, 1))
MAX_RESPONSE_TIME = timedelta(days=90)


# --- the directory ---------------------------------------------------------------------------


def fold(name: str) -> str:
    """A municipality's name without case, accents or extra spaces: "Nikšić" is "niksic"."""
    text = name.casefold().replace("đ", "dj")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def find_municipality(session: Session, *, country_code: str, name: str) -> Municipality | None:
    return session.exec(
        select(Municipality).where(
            Municipality.country_code == country_code, Municipality.name_key == fold(name)
        )
    ).first()


def get_municipality(session: Session, municipality_id: uuid.UUID) -> Municipality:
    found = session.get(Municipality, municipality_id)
    if found is None:
        raise NotFound("No such municipality.")
    return found


def list_municipalities(
    session: Session, *, country_code: str | None
) -> list[tuple[Municipality, str | None]]:
    query = select(Municipality, Organisation.name).outerjoin(
        Organisation, col(Organisation.id) == col(Municipality.csw_organisation_id)
    )
    if country_code:
        query = query.where(Municipality.country_code == country_code.upper())
    rows = session.exec(query.order_by(col(Municipality.country_code), col(Municipality.name_key)))
    return [(m, name) for m, name in rows.all()]


def _kind(session: Session, organisation_id: uuid.UUID) -> OrganisationKind | None:
    organisation = session.get(Organisation, organisation_id)
    return organisation.kind if organisation is not None else None


def _csw(session: Session, organisation_id: uuid.UUID) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or organisation.kind is not OrganisationKind.CSW:
        raise InvalidInput("The competent body must be a Center for Social Work (kind csw).")
    return organisation


def add_municipality(
    session: Session,
    *,
    now: datetime,
    data: MunicipalityCreate,
    csw_organisation_id: uuid.UUID,
    actor: Actor,
) -> Municipality:
    """A CSW adds a municipality it is competent for."""
    _csw(session, csw_organisation_id)
    if find_municipality(session, country_code=data.country_code, name=data.name) is not None:
        raise Conflict("That municipality is already in the directory.")
    municipality = Municipality(
        country_code=data.country_code,
        name=data.name,
        name_key=fold(data.name),
        csw_organisation_id=csw_organisation_id,
        created_at=now,
    )
    try:
        with session.begin_nested():  # two CSWs adding the same name at once: one wins
            session.add(municipality)
    except IntegrityError as exc:
        raise Conflict("That municipality is already in the directory.") from exc
    _directory_audit(session, now=now, actor=actor, municipality=municipality, action="added")
    return municipality


def claim_municipality(
    session: Session,
    *,
    now: datetime,
    municipality: Municipality,
    csw_organisation_id: uuid.UUID,
    actor: Actor,
) -> Municipality:
    """A CSW declares itself competent for a municipality that has no CSW yet.

    Taking a municipality from another CSW would redirect victims' referrals: only the operator
    does that (`sigurna referrals set-csw`).
    """
    _csw(session, csw_organisation_id)
    if municipality.csw_organisation_id == csw_organisation_id:
        return municipality
    if municipality.csw_organisation_id is not None:
        raise Conflict(
            "Another CSW is competent for this municipality; the operator changes competence "
            "(sigurna referrals set-csw)."
        )
    return set_competent_csw(
        session,
        now=now,
        municipality=municipality,
        csw_organisation_id=csw_organisation_id,
        actor=actor,
    )


def set_competent_csw(
    session: Session,
    *,
    now: datetime,
    municipality: Municipality,
    csw_organisation_id: uuid.UUID | None,
    actor: Actor,
) -> Municipality:
    """Make a CSW (or none) competent for a municipality; referrals already made keep theirs."""
    if csw_organisation_id is not None:
        _csw(session, csw_organisation_id)
    municipality.csw_organisation_id = csw_organisation_id
    session.add(municipality)
    session.flush()
    _directory_audit(session, now=now, actor=actor, municipality=municipality, action="csw_set")
    return municipality


def _directory_audit(
    session: Session, *, now: datetime, actor: Actor, municipality: Municipality, action: str
) -> None:
    audit.record(
        session,
        now=now,
        actor=actor,
        action=f"referrals.municipality_{action}",
        subject_type="municipality",
        subject_id=municipality.id,
        organisation_id=municipality.csw_organisation_id,
    )


# --- making referrals ------------------------------------------------------------------------


def _new_reference(session: Session) -> str:
    while True:
        reference = "RF-" + secrets.token_hex(4).upper()
        if session.exec(select(Referral.id).where(Referral.reference == reference)).first() is None:
            return reference


def _seal(cipher: FieldCipher, value: object, context: str) -> Sealed:
    return cipher.seal(json.dumps(value, sort_keys=True), context=context)


def _open(cipher: FieldCipher, key_id: str, blob: bytes, context: str) -> Any:
    return json.loads(cipher.open(Sealed(key_id, blob), context=context))


def _person(person: PersonFacts) -> dict[str, Any]:
    return {"name": person.name, "sex": str(person.sex), "age": person.age}


def _zone(session: Session, organisation_id: uuid.UUID | None, fallback: str) -> str:
    if organisation_id is None:
        return fallback
    organisation = session.get(Organisation, organisation_id)
    return organisation.time_zone if organisation is not None else fallback


def _schedule(
    session: Session, *, now: datetime, referral: Referral, sender_zone: str
) -> list[ReferralReminder]:
    """The reminder rows of a new referral, at exact instants in the recipient's time zone."""
    zone = _zone(session, referral.to_organisation_id, sender_zone)
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


def _referral_audit(
    session: Session,
    *,
    now: datetime,
    actor: Actor,
    referral: Referral,
    action: str,
    organisation_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> None:
    audit.record(
        session,
        now=now,
        actor=actor,
        action=f"referral.{action}",
        subject_type="referral",
        subject_id=referral.id,
        organisation_id=organisation_id or referral.from_organisation_id,
        reason=reason,
    )


def _make(
    session: Session,
    *,
    now: datetime,
    cipher: FieldCipher,
    actor: Actor,
    sender: Organisation,
    to_organisation_id: uuid.UUID | None,
    municipality_id: uuid.UUID | None,
    source: Source,
    team: Team,
    dossier: dict[str, Any],
    people: int,
    children: int,
    deadline: datetime | None,
    consent: ConsentSet | None,
    legal_basis: LegalBasis | None,
    legal_note: str | None,
    user_id: uuid.UUID | None,
    stay_id: uuid.UUID | None = None,
    call_id: uuid.UUID | None = None,
    case_reference: str | None = None,
) -> Referral:
    if consent is not None and consent.circumstances:
        dossier = {**dossier, "circumstances": consent.circumstances}
    sealed = _seal(cipher, dossier, DOSSIER_CONTEXT)
    referral = Referral(
        reference=_new_reference(session),
        from_organisation_id=sender.id,
        to_organisation_id=to_organisation_id,
        municipality_id=municipality_id,
        source=source,
        team=team,
        stay_id=stay_id,
        call_id=call_id,
        case_reference=case_reference,
        people=people,
        children=children,
        deadline=deadline,
        consent_scope=list(consent.scope) if consent else [],
        consent_recorded_by=user_id if consent else None,
        consent_recorded_at=now if consent else None,
        legal_basis=legal_basis,
        legal_note=legal_note,
        dossier_key_id=sealed.key_id,
        dossier_sealed=sealed.blob,
        created_by=user_id,
        created_at=now,
    )
    session.add(referral)
    session.flush()
    _schedule(session, now=now, referral=referral, sender_zone=sender.time_zone)
    session.flush()
    _referral_audit(
        session,
        now=now,
        actor=actor,
        referral=referral,
        action="created",
        reason=f"source {source}; team {team}; "
        + (f"consent {','.join(referral.consent_scope) or 'none'}" if consent else "no consent")
        + (f"; basis {legal_basis}" if legal_basis else ""),
    )
    return referral


@dataclass(frozen=True)
class Admitted:
    """What an admission tells referrals: the stay and its people (the client first)."""

    stay_id: uuid.UUID
    organisation_id: uuid.UUID
    municipality: str
    decision_due_at: datetime
    client: PersonFacts
    children: Sequence[PersonFacts]


def refer_admission(
    session: Session,
    *,
    now: datetime,
    admitted: Admitted,
    cipher: FieldCipher,
    actor: Actor,
    user_id: uuid.UUID | None,
) -> list[Referral]:
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
    csw = municipality.csw_organisation_id if municipality else None
    made = [
        _make(
            session,
            now=now,
            cipher=cipher,
            actor=actor,
            sender=sender,
            to_organisation_id=csw,
            municipality_id=municipality.id if municipality else None,
            source=Source.ADMISSION,
            team=Team.GENERAL,
            dossier={
                "client": _person(admitted.client),
                "children": [_person(c) for c in admitted.children],
            },
            people=1 + len(admitted.children),
            children=len(admitted.children),
            deadline=admitted.decision_due_at,
            consent=None,
            legal_basis=LegalBasis.EMERGENCY_ACCOMMODATION,
            legal_note=None,
            user_id=user_id,
            stay_id=admitted.stay_id,
        )
    ]
    if admitted.children:
        made.append(
            _make(
                session,
                now=now,
                cipher=cipher,
                actor=actor,
                sender=sender,
                to_organisation_id=csw,
                municipality_id=municipality.id if municipality else None,
                source=Source.ADMISSION,
                team=Team.CHILD_PROTECTION,
                dossier={"children": [_person(c) for c in admitted.children]},
                people=len(admitted.children),
                children=len(admitted.children),
                # The team decides on the children by the stay's deadline too: same ladder.
                deadline=admitted.decision_due_at,
                consent=None,
                legal_basis=LegalBasis.CHILD_AT_RISK,
                legal_note=None,
                user_id=user_id,
                stay_id=admitted.stay_id,
            )
        )
    return made


def _recipient(session: Session, organisation_id: uuid.UUID, sender_id: uuid.UUID) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise InvalidInput("to_organisation_id: no such organisation.")
    if organisation.id == sender_id:
        raise InvalidInput("to_organisation_id: an organisation does not refer to itself.")
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
    if data.call_id is not None:
        from hotline.service import call_belongs_to

        if not call_belongs_to(session, call_id=data.call_id, organisation_id=organisation_id):
            raise InvalidInput("call_id: the organisation has no such call.")
    municipality_id = data.municipality_id
    if data.to_organisation_id is not None:
        to_id: uuid.UUID | None = _recipient(session, data.to_organisation_id, sender.id).id
    elif municipality_id is not None:
        to_id = get_municipality(session, municipality_id).csw_organisation_id
    else:  # the body's own check makes this unreachable
        raise InvalidInput("name either to_organisation_id or municipality_id")
    if data.respond_by is not None and not now < data.respond_by <= now + MAX_RESPONSE_TIME:
        raise InvalidInput("respond_by: must be in the future, and at most 90 days ahead.")
    if data.legal_basis is LegalBasis.CHILD_AT_RISK and (
        data.team is not Team.CHILD_PROTECTION
        or to_id is None
        or _kind(session, to_id) is not OrganisationKind.CSW
    ):
        raise InvalidInput(
            "legal_basis: a child at risk is referred to a CSW's child-protection team "
            "(team child_protection); anything else needs consent."
        )
    dossier: dict[str, Any] = {
        "client": _person(data.client) if data.client else None,
        "children": [_person(c) for c in data.children],
    }
    return _make(
        session,
        now=now,
        cipher=cipher,
        actor=actor,
        sender=sender,
        to_organisation_id=to_id,
        municipality_id=municipality_id,
        source=data.source,
        team=data.team,
        dossier=dossier,
        people=(1 if data.client else 0) + len(data.children),
        children=len(data.children),
        deadline=data.respond_by,
        consent=data.consent,
        legal_basis=data.legal_basis,
        legal_note=data.legal_note,
        user_id=user_id,
        call_id=data.call_id,
        case_reference=data.case_reference,
    )


# --- reading ---------------------------------------------------------------------------------


def _load(session: Session, referral_id: uuid.UUID, *, lock: bool) -> Referral | None:
    query = select(Referral).where(Referral.id == referral_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.exec(query).first()


def sent_referral(
    session: Session, *, organisation_id: uuid.UUID, referral_id: uuid.UUID, lock: bool = False
) -> Referral:
    """A referral the organisation made (404 for anything else)."""
    referral = _load(session, referral_id, lock=lock)
    if referral is None or referral.from_organisation_id != organisation_id:
        raise NotFound(NOT_FOUND)
    return referral


def received_referral(
    session: Session, *, organisation_id: uuid.UUID, referral_id: uuid.UUID, lock: bool = False
) -> Referral:
    """A referral addressed to the organisation (404 for anything else, withdrawn included)."""
    referral = _load(session, referral_id, lock=lock)
    if (
        referral is None
        or referral.to_organisation_id != organisation_id
        or referral.status is ReferralStatus.WITHDRAWN
    ):
        raise NotFound(NOT_FOUND)
    return referral


def list_sent(
    session: Session, *, organisation_id: uuid.UUID, status: ReferralStatus | None, limit: int
) -> list[Referral]:
    query = select(Referral).where(Referral.from_organisation_id == organisation_id)
    if status is not None:
        query = query.where(Referral.status == status)
    return list(session.exec(query.order_by(col(Referral.created_at).desc()).limit(limit)).all())


def list_received(
    session: Session, *, organisation_id: uuid.UUID, status: ReferralStatus | None, limit: int
) -> list[Referral]:
    query = select(Referral).where(
        Referral.to_organisation_id == organisation_id,
        Referral.status != ReferralStatus.WITHDRAWN,
    )
    if status is not None:
        query = query.where(Referral.status == status)
    return list(session.exec(query.order_by(col(Referral.created_at).desc()).limit(limit)).all())


def names(session: Session, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(
        select(Organisation.id, Organisation.name).where(col(Organisation.id).in_(wanted))
    )
    return dict(rows.all())


def municipality_names(session: Session, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(
        select(Municipality.id, Municipality.name).where(col(Municipality.id).in_(wanted))
    )
    return dict(rows.all())


def notes_of(session: Session, referral: Referral) -> list[ReferralNote]:
    return list(
        session.exec(
            select(ReferralNote)
            .where(ReferralNote.referral_id == referral.id)
            .order_by(col(ReferralNote.created_at), col(ReferralNote.id))
        ).all()
    )


def open_note(cipher: FieldCipher, note: ReferralNote) -> str:
    text: str = cipher.open(Sealed(note.key_id, note.sealed), context=NOTE_CONTEXT)
    return text


def reminders_of(session: Session, referral: Referral) -> list[ReferralReminder]:
    return list(
        session.exec(
            select(ReferralReminder)
            .where(ReferralReminder.referral_id == referral.id)
            .order_by(col(ReferralReminder.due_at), col(ReferralReminder.sequence))
        ).all()
    )


def dossier_of(cipher: FieldCipher, referral: Referral) -> dict[str, Any]:
    """The referral's sealed personal part, opened (what a reader may see is `disclosure`'s)."""
    opened: dict[str, Any] = _open(
        cipher, referral.dossier_key_id, referral.dossier_sealed, DOSSIER_CONTEXT
    )
    return opened


def decision_details(cipher: FieldCipher, referral: Referral) -> dict[str, Any]:
    if referral.decision_key_id is None or referral.decision_sealed is None:
        return {}
    details: dict[str, Any] = _open(
        cipher, referral.decision_key_id, referral.decision_sealed, DECISION_CONTEXT
    )
    return details


# --- the sender's acts -----------------------------------------------------------------------


def _still_open(referral: Referral) -> None:
    if referral.status not in OPEN_STATUSES:
        raise Conflict(f"This referral is {referral.status}: it can no longer change.")


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
        dossier = _open(cipher, referral.dossier_key_id, referral.dossier_sealed, DOSSIER_CONTEXT)
        sealed = _seal(cipher, {**dossier, "circumstances": data.circumstances}, DOSSIER_CONTEXT)
        referral.dossier_key_id, referral.dossier_sealed = sealed.key_id, sealed.blob
    session.add(referral)
    session.flush()
    _referral_audit(
        session,
        now=now,
        actor=actor,
        referral=referral,
        action="consent_recorded",
        reason=f"scope {','.join(referral.consent_scope) or 'none'}",
    )
    return referral


def add_note(
    session: Session,
    *,
    now: datetime,
    referral: Referral,
    direction: Direction,
    text: str,
    cipher: FieldCipher,
    actor: Actor,
) -> ReferralNote:
    sealed = cipher.seal(text.strip(), context=NOTE_CONTEXT)
    note = ReferralNote(
        referral_id=referral.id,
        direction=direction,
        key_id=sealed.key_id,
        sealed=sealed.blob,
        author=f"{actor.type}:{actor.id}",
        created_at=now,
    )
    session.add(note)
    session.flush()
    return note


def answer(
    session: Session,
    *,
    now: datetime,
    referral: Referral,
    text: str,
    cipher: FieldCipher,
    actor: Actor,
    base_url: str,
) -> ReferralNote:
    """The sender answers the recipient's request for information."""
    _still_open(referral)
    note = add_note(
        session,
        now=now,
        referral=referral,
        direction=Direction.ANSWER,
        text=text,
        cipher=cipher,
        actor=actor,
    )
    if referral.status is ReferralStatus.INFORMATION_REQUESTED:
        referral.status = ReferralStatus.ACKNOWLEDGED
        session.add(referral)
    if referral.to_organisation_id is not None:
        _notify_recipient(
            session,
            now=now,
            referral=referral,
            event="answered",
            key=f"note:{note.id}",
            base_url=base_url,
        )
    _referral_audit(session, now=now, actor=actor, referral=referral, action="answered")
    return note


def readdress(
    session: Session,
    *,
    now: datetime,
    referral: Referral,
    to_organisation_id: uuid.UUID,
    actor: Actor,
) -> Referral:
    """Send an unaddressed (or misaddressed) referral to its recipient; its reminders follow."""
    _still_open(referral)
    recipient = _recipient(session, to_organisation_id, referral.from_organisation_id)
    if referral.source is Source.ADMISSION:
        _csw(session, recipient.id)  # the CSW decides on accommodation, nobody else
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
    session.exec(
        update(ReferralReminder)
        .where(
            col(ReferralReminder.referral_id) == referral.id,
            col(ReferralReminder.state) == ReminderState.PENDING,
            col(ReferralReminder.kind).in_([ReminderKind.CREATED, ReminderKind.UNADDRESSED]),
        )
        .values(state=ReminderState.CANCELLED, done_at=now)
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
    session.flush()
    _referral_audit(session, now=now, actor=actor, referral=referral, action="addressed")
    return referral


def _cancel_reminders(session: Session, *, referral: Referral, now: datetime) -> None:
    session.exec(
        update(ReferralReminder)
        .where(
            col(ReferralReminder.referral_id) == referral.id,
            col(ReferralReminder.state) == ReminderState.PENDING,
        )
        .values(state=ReminderState.CANCELLED, done_at=now)
    )


def withdraw(
    session: Session, *, now: datetime, referral: Referral, reason: str, actor: Actor
) -> Referral:
    """The sender withdraws a referral (made in error, or no longer needed)."""
    _still_open(referral)
    referral.status = ReferralStatus.WITHDRAWN
    referral.withdrawn_at = now
    session.add(referral)
    _cancel_reminders(session, referral=referral, now=now)
    session.flush()
    _referral_audit(
        session, now=now, actor=actor, referral=referral, action="withdrawn", reason=reason
    )
    return referral


# --- the recipient's acts --------------------------------------------------------------------


def acknowledge(session: Session, *, now: datetime, referral: Referral, actor: Actor) -> Referral:
    _still_open(referral)
    if referral.acknowledged_at is None:
        referral.acknowledged_at = now
    if referral.status is ReferralStatus.OPEN:
        referral.status = ReferralStatus.ACKNOWLEDGED
    session.add(referral)
    session.flush()
    _referral_audit(
        session,
        now=now,
        actor=actor,
        referral=referral,
        action="acknowledged",
        organisation_id=referral.to_organisation_id,
    )
    return referral


def ask(
    session: Session,
    *,
    now: datetime,
    referral: Referral,
    text: str,
    cipher: FieldCipher,
    actor: Actor,
    base_url: str,
) -> ReferralNote:
    """The recipient asks the sender for information; the sender's supervisors are told."""
    _still_open(referral)
    note = add_note(
        session,
        now=now,
        referral=referral,
        direction=Direction.QUESTION,
        text=text,
        cipher=cipher,
        actor=actor,
    )
    referral.status = ReferralStatus.INFORMATION_REQUESTED
    if referral.acknowledged_at is None:
        referral.acknowledged_at = now
    session.add(referral)
    session.flush()
    _notify_sender(
        session,
        now=now,
        referral=referral,
        event="information_requested",
        key=f"note:{note.id}",
        base_url=base_url,
    )
    _referral_audit(
        session,
        now=now,
        actor=actor,
        referral=referral,
        action="information_requested",
        organisation_id=referral.to_organisation_id,
    )
    return note


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
    """Record the recipient's decision: it cancels pending reminders and updates the stay."""
    _still_open(referral)
    decides_stay = (
        referral.source is Source.ADMISSION
        and referral.team is Team.GENERAL
        and referral.stay_id is not None
    )
    if data.stay_until is not None and not decides_stay:
        raise InvalidInput("stay_until: only the CSW's decision on an admission moves a stay.")
    if decides_stay and referral.stay_id is not None:
        shelters.apply_csw_decision(
            session,
            now=now,
            stay_id=referral.stay_id,
            outcome=data.outcome.value,
            stay_until=data.stay_until,
            actor=actor,
        )
    sealed = _seal(cipher, {"placement": data.placement, "note": data.note}, DECISION_CONTEXT)
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
    _notify_sender(
        session, now=now, referral=referral, event="decided", key="decided", base_url=base_url
    )
    _referral_audit(
        session,
        now=now,
        actor=actor,
        referral=referral,
        action="decided",
        organisation_id=referral.to_organisation_id,
        reason=f"outcome {data.outcome}",
    )
    return referral


# --- messages --------------------------------------------------------------------------------


def _local(instant: datetime | None, zone: str) -> str:
    if instant is None:
        return "none"
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") + f" ({zone})"


_LINES = {
    ReminderKind.CREATED: "New referral {ref}. Decision due by {deadline}.",
    ReminderKind.BEFORE_3_DAYS: "Reminder: referral {ref} needs a decision by {deadline}.",
    ReminderKind.BEFORE_1_DAY: "Reminder: referral {ref} needs a decision by {deadline}.",
    ReminderKind.DEADLINE: "Deadline now: referral {ref} needed a decision by {deadline}.",
    ReminderKind.OVERDUE: "OVERDUE (day {day}): referral {ref} needed a decision by {deadline}.",
    ReminderKind.UNADDRESSED: (
        "Referral {ref} has no competent CSW in the directory: address it now. "
        "Decision due by {deadline}."
    ),
}
_KINDS = frozenset(k.value for k in ReminderKind)
_EVENTS = {
    "information_requested": "Referral {ref}: the recipient asks for information.",
    "answered": "Referral {ref}: the sender answered your request for information.",
    "decided": "Referral {ref}: the recipient recorded its decision.",
}


@dataclass(frozen=True)
class Wording:
    subject: str
    text: str
    payload: str


def wording(
    *, kind: str, reference: str, deadline: datetime | None, zone: str, base_url: str, day: int = 0
) -> Wording:
    """A message that says only the reference, the deadline and where to log in."""
    template = _LINES[ReminderKind(kind)] if kind in _KINDS else _EVENTS[kind]
    line = template.format(ref=reference, deadline=_local(deadline, zone), day=day)
    login = f"{base_url}/"
    if kind == ReminderKind.CREATED and deadline is None:
        line = f"New referral {reference}."
    payload = json.dumps(
        {
            "type": f"referral.{kind}",
            "referral": reference,
            "deadline": deadline.isoformat() if deadline else None,
            "overdue_day": day or None,
            "login": login,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return Wording(
        subject=f"Sigurna: referral {reference}",
        text=f"Sigurna: {line} Log in to see it: {login}",
        payload=payload,
    )


class Recipients:
    """The contacts of the organisations a batch of referrals involves, looked up once."""

    def __init__(self, session: Session, organisation_ids: Iterable[uuid.UUID]) -> None:
        ids = list(set(organisation_ids))
        self._session = session
        self._by_purpose = {
            purpose: outbox.contacts_for(session, organisation_ids=ids, purpose=purpose)
            for purpose in Purpose
        }
        self._alerts: dict[uuid.UUID, list[outbox.Recipient]] = {}

    def of(self, organisation_id: uuid.UUID, team: Team) -> list[outbox.Recipient]:
        """A recipient's contacts for a referral: its child-protection team for children (its
        referral desk when it has none), its referral desk otherwise."""
        by_purpose = self._by_purpose
        contacts: list[Any] = []
        if team is Team.CHILD_PROTECTION:
            contacts = by_purpose[Purpose.CHILD_PROTECTION].get(organisation_id, [])
        if not contacts:
            contacts = by_purpose[Purpose.REFERRALS].get(organisation_id, [])
        return outbox.contact_recipients(contacts)

    def heads(self, organisation_id: uuid.UUID) -> list[outbox.Recipient]:
        return outbox.contact_recipients(
            self._by_purpose[Purpose.ESCALATION].get(organisation_id, [])
        )

    def alerts(self, organisation_id: uuid.UUID) -> list[outbox.Recipient]:
        """The sender's supervisors and escalation contacts."""
        if organisation_id not in self._alerts:
            self._alerts[organisation_id] = outbox.alert_recipients(
                self._session, organisation_id=organisation_id
            )
        return self._alerts[organisation_id]


def _notify_recipient(
    session: Session, *, now: datetime, referral: Referral, event: str, key: str, base_url: str
) -> None:
    if referral.to_organisation_id is None:
        return
    zone = _zone(session, referral.to_organisation_id, "UTC")
    words = wording(
        kind=event,
        reference=referral.reference,
        deadline=referral.deadline,
        zone=zone,
        base_url=base_url,
    )
    recipients = Recipients(session, [referral.to_organisation_id])
    outbox.enqueue_many(
        session,
        now=now,
        messages=outbox.messages_for(
            recipients.of(referral.to_organisation_id, referral.team),
            key=f"referral:{referral.id}:{key}",
            topic=f"referral.{event}",
            organisation_id=referral.from_organisation_id,
            subject=words.subject,
            text=words.text,
            payload=words.payload,
        ),
    )


def _notify_sender(
    session: Session, *, now: datetime, referral: Referral, event: str, key: str, base_url: str
) -> None:
    zone = _zone(session, referral.from_organisation_id, "UTC")
    words = wording(
        kind=event,
        reference=referral.reference,
        deadline=referral.deadline,
        zone=zone,
        base_url=base_url,
    )
    outbox.enqueue_many(
        session,
        now=now,
        messages=outbox.alert_messages(
            session,
            organisation_id=referral.from_organisation_id,
            key=f"referral:{referral.id}:{key}",
            topic=f"referral.{event}",
            subject=words.subject,
            text=words.text,
            payload=words.payload,
        ),
    )


# --- the sweep -------------------------------------------------------------------------------

log = logging.getLogger("sigurna.referrals")

# Reminders about the deadline: when a scheduler catches up after a long stop and several of a
# referral's are due at once, only the latest goes out (a stale "3 days before" would only
# confuse); a reminder late by less than STALE_AFTER still goes out as it is.
STALE_AFTER = timedelta(hours=1)
_DEADLINE_KINDS = frozenset(
    {
        ReminderKind.BEFORE_3_DAYS,
        ReminderKind.BEFORE_1_DAY,
        ReminderKind.DEADLINE,
        ReminderKind.OVERDUE,
    }
)


def sweep(
    unit_of_work: UnitOfWork,
    *,
    now: datetime,
    base_url: str,
    batch: int = 500,
    max_batches: int = 100,
) -> int:
    """Turn every due reminder into outbox messages; how many reminders were handled.

    Each batch is one transaction: reminders claimed (`FOR UPDATE SKIP LOCKED` on PostgreSQL;
    SQLite's `BEGIN IMMEDIATE` makes the claim exclusive), their messages written, the reminders
    marked done and the next overdue day scheduled. A crash loses nothing (the batch is undone
    and swept again) and sends nothing twice (the outbox's keys are unique). A batch that fails
    is swept again one reminder at a time, so that one bad row cannot hold up the others.
    """
    total = 0
    for _ in range(max_batches):
        try:
            with unit_of_work() as session:
                handled = sweep_batch(session, now=now, base_url=base_url, limit=batch)
        except Exception as exc:
            log.error("referral sweep batch failed", extra={"error_type": type(exc).__name__})
            handled = _sweep_one_by_one(unit_of_work, now=now, base_url=base_url, limit=batch)
        total += handled
        if handled < batch:
            break
    return total


def _due(now: datetime) -> Any:
    return select(ReferralReminder).where(
        ReferralReminder.state == ReminderState.PENDING, col(ReferralReminder.due_at) <= now
    )


def _sweep_one_by_one(unit_of_work: UnitOfWork, *, now: datetime, base_url: str, limit: int) -> int:
    with unit_of_work() as session:
        due = session.exec(_due(now).order_by(col(ReferralReminder.due_at)).limit(limit))
        ids = [reminder.id for reminder in due.all()]
    handled = 0
    for reminder_id in ids:
        try:
            with unit_of_work() as session:
                handled += sweep_batch(
                    session, now=now, base_url=base_url, limit=1, only=reminder_id
                )
        except Exception as exc:  # left pending: retried on the next run, and logged each time
            log.error(
                "referral reminder could not be swept",
                extra={
                    "error_type": type(exc).__name__,
                    "subject_type": "referral_reminder",
                    "subject_id": str(reminder_id),
                },
            )
    return handled


def sweep_batch(
    session: Session,
    *,
    now: datetime,
    base_url: str,
    limit: int,
    only: uuid.UUID | None = None,
) -> int:
    query = _due(now).order_by(col(ReferralReminder.due_at)).limit(limit)
    if only is not None:
        query = query.where(ReferralReminder.id == only)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    reminders = list(session.exec(query).all())
    if not reminders:
        return 0
    referrals = {
        r.id: r
        for r in session.exec(
            select(Referral).where(col(Referral.id).in_({m.referral_id for m in reminders}))
        ).all()
    }
    organisations = {
        o.id: o
        for o in session.exec(
            select(Organisation).where(
                col(Organisation.id).in_(
                    {r.to_organisation_id for r in referrals.values() if r.to_organisation_id}
                    | {r.from_organisation_id for r in referrals.values()}
                )
            )
        ).all()
    }
    recipients = Recipients(
        session, [r.to_organisation_id for r in referrals.values() if r.to_organisation_id]
    )
    latest: dict[uuid.UUID, ReferralReminder] = {}
    for reminder in reminders:
        if reminder.kind in _DEADLINE_KINDS:
            latest[reminder.referral_id] = reminder  # ordered by due_at: the last one wins
    messages: list[outbox.NewMessage] = []
    done: list[uuid.UUID] = []
    cancelled: list[uuid.UUID] = []
    following: list[ReferralReminder] = []
    for reminder in reminders:
        referral = referrals[reminder.referral_id]
        if referral.status not in OPEN_STATUSES:
            cancelled.append(reminder.id)
            continue
        done.append(reminder.id)
        sender = organisations[referral.from_organisation_id]
        to = organisations.get(referral.to_organisation_id) if referral.to_organisation_id else None
        zone = to.time_zone if to is not None else sender.time_zone
        if reminder.kind is ReminderKind.OVERDUE:
            following.append(_next_overdue(referral, reminder, now=now, zone=zone))
        superseded = reminder.kind in _DEADLINE_KINDS and latest[referral.id] is not reminder
        if superseded and reminder.due_at < now - STALE_AFTER:
            continue  # long overdue, and a later reminder of this referral goes out now
        messages += _messages(reminder, referral, to, sender, recipients, zone, base_url)
    outbox.enqueue_many(session, now=now, messages=messages)
    for ids, state in ((done, ReminderState.DONE), (cancelled, ReminderState.CANCELLED)):
        if ids:
            session.exec(
                update(ReferralReminder)
                .where(col(ReferralReminder.id).in_(ids))
                .values(state=state, done_at=now)
                .execution_options(synchronize_session=False)
            )
    session.add_all(following)
    session.flush()
    return len(reminders)


def _next_overdue(
    referral: Referral, reminder: ReferralReminder, *, now: datetime, zone: str
) -> ReferralReminder:
    """The next overdue day still ahead (a scheduler that was down skips the days it missed)."""
    deadline = referral.deadline or now
    day = reminder.sequence + 1
    while add_local_days(deadline, day, zone) <= now:
        day += 1
    return ReferralReminder(
        referral_id=referral.id,
        kind=ReminderKind.OVERDUE,
        sequence=day,
        due_at=add_local_days(deadline, day, zone),
    )


def _messages(
    reminder: ReferralReminder,
    referral: Referral,
    to: Organisation | None,
    sender: Organisation,
    recipients: Recipients,
    zone: str,
    base_url: str,
) -> list[outbox.NewMessage]:
    """What one reminder sends: to the recipient's contacts (its head too when overdue), and to
    the sender's supervisors when overdue, unaddressed, or when the recipient has no contact."""
    words = wording(
        kind=reminder.kind,
        reference=referral.reference,
        deadline=referral.deadline,
        zone=zone,
        base_url=base_url,
        day=reminder.sequence,
    )
    key = f"referral:{reminder.id}"
    topic = f"referral.{reminder.kind}"
    targets: list[outbox.Recipient] = []
    if to is not None and reminder.kind is not ReminderKind.UNADDRESSED:
        targets = recipients.of(to.id, referral.team)
        if targets and reminder.kind is ReminderKind.OVERDUE:
            known = {t.ref for t in targets}
            targets += [h for h in recipients.heads(to.id) if h.ref not in known]
    messages = outbox.messages_for(
        targets,
        key=key,
        topic=topic,
        organisation_id=referral.from_organisation_id,
        subject=words.subject,
        text=words.text,
        payload=words.payload,
    )
    unreachable = to is not None and reminder.kind is not ReminderKind.UNADDRESSED and not targets
    if unreachable:
        words = Wording(
            subject=words.subject,
            text=f"Sigurna: referral {referral.reference} could not be sent: its recipient "
            f"has no notification contact. Call them, and log in: {base_url}/",
            payload=words.payload,
        )
    if unreachable or reminder.kind in (ReminderKind.OVERDUE, ReminderKind.UNADDRESSED):
        messages += outbox.messages_for(
            recipients.alerts(sender.id),
            key=f"{key}:sender",
            topic=topic,
            organisation_id=sender.id,
            subject=words.subject,
            text=words.text,
            payload=words.payload,
            alert_on_dead=False,
        )
    return messages
