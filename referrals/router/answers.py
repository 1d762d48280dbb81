"""The answers the referral routes give: a referral as its sender sees it, and as its recipient
may (every such answer carries a personal part, and is an audited read: `referrals.disclosure`);
and how long a list may be.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from sqlmodel import Session

from core.config import Settings
from core.crypto import FieldCipher
from referrals import disclosure, service
from referrals.deps import Held
from referrals.models import (
    DecisionPublic,
    Direction,
    IncomingReferral,
    IncomingSummary,
    MunicipalityPublic,
    NoteCreate,
    NotePublic,
    Referral,
    ReferralNote,
    ReferralPublic,
    ReminderPublic,
    SharedPerson,
)

# How many referrals a list answers with at most.
Limit = Annotated[int, Query(ge=1, le=500)]

# What each answer copies from the row as it is.
_COMMON = {
    "id",
    "reference",
    "team",
    "people",
    "children",
    "deadline",
    "status",
    "created_at",
}
_SUMMARY = _COMMON
_BOTH_SIDES = _COMMON | {
    "source",
    "consent_scope",
    "legal_basis",
    "legal_note",
    "acknowledged_at",
}
_SENT = _BOTH_SIDES | {
    "to_organisation_id",
    "stay_id",
    "call_id",
    "case_reference",
    "consent_recorded_at",
    "withdrawn_at",
}
_INCOMING = _BOTH_SIDES | {"from_organisation_id"}


def base_url(settings: Settings) -> str:
    return str(settings.public_base_url).rstrip("/")


def _fields(row: Referral, names: set[str]) -> dict[str, Any]:
    # Read the attributes, not model_dump(): a table model's JSON columns come back as plain
    # strings, which its serializer would warn about; the answer model validates them.
    return {name: getattr(row, name) for name in names}


def municipality_public(municipality: object, csw_name: str | None) -> MunicipalityPublic:
    return MunicipalityPublic.model_validate(
        municipality, from_attributes=True, update={"csw_name": csw_name}
    )


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


def note_public(note: ReferralNote, text: str) -> NotePublic:
    return NotePublic(
        id=note.id,
        direction=note.direction,
        text=text,
        author=note.author,
        created_at=note.created_at,
    )


def exchanged(held: Held, body: NoteCreate, direction: Direction, settings: Settings) -> NotePublic:
    """A question to the sender or an answer to the recipient, as the note it wrote."""
    note = service.exchange(
        held.session,
        now=held.now,
        referral=held.referral,
        direction=direction,
        text=body.text,
        cipher=held.cipher,
        actor=held.actor,
        base_url=base_url(settings),
    )
    return note_public(note, body.text)


def _notes(session: Session, cipher: FieldCipher, referral: Referral) -> list[NotePublic]:
    return [
        note_public(n, service.open_note(cipher, n)) for n in service.notes_of(session, referral)
    ]


def _municipality(session: Session, referral: Referral) -> str | None:
    if referral.municipality_id is None:
        return None
    return service.municipality_names(session, [referral.municipality_id]).get(
        referral.municipality_id
    )


def sent_public(session: Session, cipher: FieldCipher, referral: Referral) -> ReferralPublic:
    """The referral as its sender sees it: where it stands, its notes, reminders and decision."""
    to = referral.to_organisation_id
    return ReferralPublic(
        **_fields(referral, _SENT),
        to_organisation_name=service.names(session, [to]).get(to) if to else None,
        municipality=_municipality(session, referral),
        decision=_decision(cipher, referral),
        notes=_notes(session, cipher, referral),
        reminders=[
            ReminderPublic.model_validate(r, from_attributes=True)
            for r in service.reminders_of(session, referral)
        ],
    )


def incoming(held: Held) -> IncomingReferral:
    """The referral as this reader may see it; every such answer is an audited read."""
    session, cipher, referral = held.session, held.cipher, held.referral
    shared = disclosure.disclose(
        session,
        now=held.now,
        cipher=cipher,
        referral=referral,
        actor=held.actor,
        on_team=held.on_team,
    )
    sender = service.names(session, [referral.from_organisation_id])
    return IncomingReferral(
        **_fields(referral, _INCOMING),
        from_organisation_name=sender[referral.from_organisation_id],
        municipality=_municipality(session, referral),
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


def summaries(session: Session, found: list[Referral]) -> list[IncomingSummary]:
    """The inbox list: the same for every reader, with nothing personal."""
    senders = service.names(session, [r.from_organisation_id for r in found])
    municipalities = service.municipality_names(session, [r.municipality_id for r in found])
    return [
        IncomingSummary(
            **_fields(r, _SUMMARY),
            from_organisation_name=senders[r.from_organisation_id],
            municipality=municipalities.get(r.municipality_id) if r.municipality_id else None,
        )
        for r in found
    ]
