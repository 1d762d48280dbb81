"""Referrals over HTTP: the directory, the sender's side and the recipient's inbox.

Thin handlers: the policies and gates in `referrals.deps` decide who gets in; the service
decides what happens. A recipient sees a referral's personal part only as far as the client's
consent (or the law, for a child at risk: to the child-protection team) allows, and every answer
that carries it is an audited read (`referrals.disclosure`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import Session

from core.config import Settings
from core.crypto import FieldCipher
from core.deps import CipherDep, ClockDep, RequestIdDep, SessionDep, SettingsDep
from referrals import disclosure, service
from referrals.deps import (
    DirectoryKeeper,
    DirectoryReader,
    Held,
    ReceivedReferral,
    Recipient,
    Sender,
    SentReferral,
    SteeredReferral,
    visible,
)
from referrals.models import (
    ConsentSet,
    DecisionCreate,
    DecisionPublic,
    IncomingReferral,
    IncomingSummary,
    MunicipalityCreate,
    MunicipalityPublic,
    NoteCreate,
    NotePublic,
    Readdress,
    Referral,
    ReferralCreate,
    ReferralNote,
    ReferralPublic,
    ReferralStatus,
    ReminderPublic,
    SharedPerson,
    Withdraw,
)

router = APIRouter(tags=["referrals"])

SENT = "/organisations/{org_id}/referrals"
ONE = SENT + "/{referral_id}"
INBOX = "/referrals/inbox"
RECEIVED = INBOX + "/{referral_id}"
Limit = Annotated[int, Query(ge=1, le=500)]


def _base_url(settings: Settings) -> str:
    return str(settings.public_base_url).rstrip("/")


def _fields(row: Referral, names: set[str]) -> dict[str, Any]:
    # Read the attributes, not model_dump(): a table model's JSON columns come back as plain
    # strings, which its serializer would warn about; the answer model validates them.
    return {name: getattr(row, name) for name in names}


def _decision(cipher: FieldCipher, referral: Referral) -> DecisionPublic | None:
    if referral.outcome is None or referral.decision_date is None or referral.decided_at is None:
        return None
    details = service.decision_details(cipher, referral)
    return DecisionPublic(
        outcome=referral.outcome,
        decision_date=referral.decision_date,
        decision_number=referral.decision_number,
        placement=details.get("placement"),
        note=details.get("note"),
        decided_at=referral.decided_at,
    )


def _note_public(note: ReferralNote, text: str) -> NotePublic:
    return NotePublic(
        id=note.id,
        direction=note.direction,
        text=text,
        author=note.author,
        created_at=note.created_at,
    )


def _notes(session: Session, cipher: FieldCipher, referral: Referral) -> list[NotePublic]:
    return [
        _note_public(n, service.open_note(cipher, n)) for n in service.notes_of(session, referral)
    ]


def _sent_public(session: Session, cipher: FieldCipher, referral: Referral) -> ReferralPublic:
    organisations = service.names(session, [referral.to_organisation_id])
    municipalities = service.municipality_names(session, [referral.municipality_id])
    return ReferralPublic(
        **_fields(
            referral,
            {
                "id",
                "reference",
                "source",
                "team",
                "to_organisation_id",
                "stay_id",
                "call_id",
                "case_reference",
                "people",
                "children",
                "deadline",
                "status",
                "consent_scope",
                "consent_recorded_at",
                "legal_basis",
                "legal_note",
                "created_at",
                "acknowledged_at",
                "withdrawn_at",
            },
        ),
        to_organisation_name=organisations.get(referral.to_organisation_id)
        if referral.to_organisation_id
        else None,
        municipality=municipalities.get(referral.municipality_id)
        if referral.municipality_id
        else None,
        decision=_decision(cipher, referral),
        notes=_notes(session, cipher, referral),
        reminders=[
            ReminderPublic.model_validate(r, from_attributes=True)
            for r in service.reminders_of(session, referral)
        ],
    )


def _incoming(
    session: Session, cipher: FieldCipher, held: Held, now: datetime, request_id: str | None
) -> IncomingReferral:
    """The referral as this reader may see it; every such answer is an audited read."""
    referral = held.referral
    shared = disclosure.disclose(
        session,
        now=now,
        cipher=cipher,
        referral=referral,
        actor=held.principal.actor(request_id),
        on_team=held.on_team,
    )
    sender = service.names(session, [referral.from_organisation_id])
    municipalities = service.municipality_names(session, [referral.municipality_id])
    return IncomingReferral(
        **_fields(
            referral,
            {
                "id",
                "reference",
                "source",
                "team",
                "from_organisation_id",
                "people",
                "children",
                "deadline",
                "status",
                "consent_scope",
                "legal_basis",
                "legal_note",
                "created_at",
                "acknowledged_at",
            },
        ),
        from_organisation_name=sender[referral.from_organisation_id],
        municipality=municipalities.get(referral.municipality_id)
        if referral.municipality_id
        else None,
        client=SharedPerson(**shared.client) if shared.client else None,
        shared_children=[SharedPerson(**c) for c in shared.children]
        if shared.children is not None
        else None,
        children_ages=shared.children_ages,
        names_withheld=shared.names_withheld,
        circumstances=shared.circumstances,
        decision=_decision(cipher, referral),
        notes=_notes(session, cipher, referral),
    )


# --- the directory ---------------------------------------------------------------------------


def _municipality_public(municipality: object, csw_name: str | None) -> MunicipalityPublic:
    return MunicipalityPublic.model_validate(
        municipality, from_attributes=True, update={"csw_name": csw_name}
    )


@router.get("/municipalities", response_model=list[MunicipalityPublic])
def list_municipalities(
    principal: DirectoryReader,
    session: SessionDep,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
) -> object:
    """Municipalities of residence and the CSW competent for each (Montenegro's ship as data)."""
    return [
        _municipality_public(m, name)
        for m, name in service.list_municipalities(session, country_code=country)
    ]


@router.post("/municipalities", status_code=201, response_model=MunicipalityPublic)
def add_municipality(
    body: MunicipalityCreate,
    principal: DirectoryKeeper,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> object:
    """A CSW adds a municipality it is competent for."""
    municipality = service.add_municipality(
        session,
        now=clock.now(),
        data=body,
        csw_organisation_id=principal.organisation_id,
        actor=principal.actor(request_id),
    )
    return _municipality_public(
        municipality, service.names(session, [principal.organisation_id])[principal.organisation_id]
    )


@router.put("/municipalities/{municipality_id}/csw", response_model=MunicipalityPublic)
def claim_municipality(
    municipality_id: uuid.UUID,
    principal: DirectoryKeeper,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> object:
    """A CSW declares itself competent for a municipality that has none yet."""
    municipality = service.claim_municipality(
        session,
        now=clock.now(),
        municipality=service.get_municipality(session, municipality_id),
        csw_organisation_id=principal.organisation_id,
        actor=principal.actor(request_id),
    )
    return _municipality_public(
        municipality, service.names(session, [principal.organisation_id])[principal.organisation_id]
    )


# --- the sender's side -----------------------------------------------------------------------


@router.get(SENT, response_model=list[ReferralPublic])
def list_sent(
    org_id: uuid.UUID,
    principal: Sender,
    session: SessionDep,
    cipher: CipherDep,
    status: ReferralStatus | None = None,
    limit: Limit = 100,
) -> object:
    """The organisation's referrals, newest first."""
    found = service.list_sent(session, organisation_id=org_id, status=status, limit=limit)
    return [_sent_public(session, cipher, r) for r in visible(session, principal, found)]


@router.post(SENT, status_code=201, response_model=ReferralPublic)
def create_referral(
    org_id: uuid.UUID,
    body: ReferralCreate,
    principal: Sender,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> object:
    """Refer from a hotline call or a counselling case, with the client's consent or the
    legal basis for referring without it."""
    referral = service.create_referral(
        session,
        now=clock.now(),
        organisation_id=org_id,
        data=body,
        cipher=cipher,
        actor=principal.actor(request_id),
        user_id=principal.user_id,
    )
    return _sent_public(session, cipher, referral)


@router.get(ONE, response_model=ReferralPublic)
def read_sent(held: SentReferral, session: SessionDep, cipher: CipherDep) -> object:
    """One referral: where it stands, its notes, its reminders and any decision."""
    return _sent_public(session, cipher, held.referral)


@router.put(ONE + "/consent", response_model=ReferralPublic)
def record_consent(
    body: ConsentSet,
    held: SentReferral,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> object:
    """The client's consent as she gives it now: what the recipient may see (scope [] shares
    nothing beyond what the law obliges)."""
    referral = service.record_consent(
        session,
        now=clock.now(),
        referral=held.referral,
        data=body,
        cipher=cipher,
        user_id=held.principal.user_id,
        actor=held.principal.actor(request_id),
    )
    return _sent_public(session, cipher, referral)


@router.post(ONE + "/answers", status_code=201, response_model=NotePublic)
def answer(
    body: NoteCreate,
    held: SentReferral,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> object:
    """Answer the recipient's request for information."""
    note = service.answer(
        session,
        now=clock.now(),
        referral=held.referral,
        text=body.text,
        cipher=cipher,
        actor=held.principal.actor(request_id),
        base_url=_base_url(settings),
    )
    return _note_public(note, body.text)


@router.put(ONE + "/recipient", response_model=ReferralPublic)
def readdress(
    body: Readdress,
    held: SteeredReferral,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> object:
    """Address a referral that has no (or the wrong) recipient."""
    referral = service.readdress(
        session,
        now=clock.now(),
        referral=held.referral,
        to_organisation_id=body.to_organisation_id,
        actor=held.principal.actor(request_id),
    )
    return _sent_public(session, cipher, referral)


@router.post(ONE + "/withdraw", response_model=ReferralPublic)
def withdraw(
    body: Withdraw,
    held: SteeredReferral,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> object:
    """Withdraw a referral; its pending reminders are cancelled."""
    referral = service.withdraw(
        session,
        now=clock.now(),
        referral=held.referral,
        reason=body.reason,
        actor=held.principal.actor(request_id),
    )
    return _sent_public(session, cipher, referral)


# --- the recipient's side --------------------------------------------------------------------


@router.get(INBOX, response_model=list[IncomingSummary])
def list_received(
    principal: Recipient,
    session: SessionDep,
    status: ReferralStatus | None = None,
    limit: Limit = 100,
) -> object:
    """Referrals addressed to the caller's organisation, newest first (nothing personal)."""
    found = service.list_received(
        session, organisation_id=principal.organisation_id, status=status, limit=limit
    )
    senders = service.names(session, [r.from_organisation_id for r in found])
    municipalities = service.municipality_names(session, [r.municipality_id for r in found])
    return [
        IncomingSummary(
            **_fields(
                r,
                {
                    "id",
                    "reference",
                    "team",
                    "people",
                    "children",
                    "deadline",
                    "status",
                    "created_at",
                },
            ),
            from_organisation_name=senders[r.from_organisation_id],
            municipality=municipalities.get(r.municipality_id) if r.municipality_id else None,
        )
        for r in found
    ]


@router.get(RECEIVED, response_model=IncomingReferral)
def read_received(
    held: ReceivedReferral,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> object:
    """One referral, with what the consent (or the law) lets the reader see; audited."""
    return _incoming(session, cipher, held, clock.now(), request_id)


@router.post(RECEIVED + "/acknowledge", response_model=IncomingReferral)
def acknowledge(
    held: ReceivedReferral,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> object:
    """Say the referral has been received and is being handled."""
    service.acknowledge(
        session, now=clock.now(), referral=held.referral, actor=held.principal.actor(request_id)
    )
    return _incoming(session, cipher, held, clock.now(), request_id)


@router.post(RECEIVED + "/information-requests", status_code=201, response_model=NotePublic)
def ask(
    body: NoteCreate,
    held: ReceivedReferral,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> object:
    """Ask the sender for information (the sender's supervisors are told)."""
    note = service.ask(
        session,
        now=clock.now(),
        referral=held.referral,
        text=body.text,
        cipher=cipher,
        actor=held.principal.actor(request_id),
        base_url=_base_url(settings),
    )
    return _note_public(note, body.text)


@router.post(RECEIVED + "/decision", response_model=IncomingReferral)
def decide(
    body: DecisionCreate,
    held: ReceivedReferral,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    settings: SettingsDep,
    request_id: RequestIdDep,
) -> object:
    """Record the decision: longer-term accommodation (where), another measure, or declined.
    It cancels the pending reminders and updates the stay (outcome, and planned end if given)."""
    service.decide(
        session,
        now=clock.now(),
        referral=held.referral,
        data=body,
        cipher=cipher,
        actor=held.principal.actor(request_id),
        base_url=_base_url(settings),
    )
    return _incoming(session, cipher, held, clock.now(), request_id)
