"""What is logged on a case: contacts with her (whatever their channel) and services given."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from core import events
from core.crypto import FieldCipher
from core.errors import InvalidInput
from core.events import CallOfOrganisation
from safety_plans import errors
from safety_plans.models import (
    CaseContact,
    CaseService,
    ContactCreate,
    ContactPublic,
    SafetyCase,
    ServiceCreate,
    ServicePublic,
)
from safety_plans.service.cases import MEMBER_ROLES, Work, _audit, _check_colleague, touch

NOTE_CONTEXT = "safety_case_contact.note"


def _not_future(value: datetime, now: datetime, field: str) -> None:
    if value > now:
        raise InvalidInput(errors.NOT_IN_FUTURE.format(field=field))


def add_contact(work: Work, data: ContactCreate) -> CaseContact:
    """Log a contact: a routed call names its call (of this organisation); others need none."""
    session, now, case, user_id, cipher, actor = work
    _not_future(data.occurred_at, now, "occurred_at")
    if data.call_id is not None and not events.ask(
        session, CallOfOrganisation(data.call_id, case.organisation_id)
    ):
        raise InvalidInput(errors.NO_SUCH_CALL)
    key_id, sealed = cipher.seal_optional(data.note, context=NOTE_CONTEXT)
    row = CaseContact(
        case_id=case.id,
        channel=data.channel,
        occurred_at=data.occurred_at,
        duration_minutes=data.duration_minutes,
        call_id=data.call_id,
        counselor_id=user_id,
        note_key_id=key_id,
        note_sealed=sealed,
        recorded_at=now,
    )
    session.add(row)
    touch(session, case, now)
    session.flush()
    _audit(session, now, actor, "case.contact_logged", case, reason=data.channel.value)
    return row


def contact_public(row: CaseContact, cipher: FieldCipher) -> ContactPublic:
    return ContactPublic(
        id=row.id,
        channel=row.channel,
        occurred_at=row.occurred_at,
        duration_minutes=row.duration_minutes,
        call_id=row.call_id,
        counselor_id=row.counselor_id,
        note=cipher.open_pair(row.note_key_id, row.note_sealed, context=NOTE_CONTEXT),
    )


def contacts(session: Session, case: SafetyCase) -> list[CaseContact]:
    return list(
        session.exec(
            select(CaseContact)
            .where(CaseContact.case_id == case.id)
            .order_by(col(CaseContact.occurred_at), col(CaseContact.id))
        ).all()
    )


def add_service(work: Work, data: ServiceCreate) -> CaseService:
    """Log a service given: who gave it (the caller unless named), when, for how long."""
    session, now, case, user_id, _, actor = work
    _not_future(data.given_at, now, "given_at")
    given_by = data.given_by or user_id
    if given_by != user_id:
        _check_colleague(
            session, case.organisation_id, given_by, MEMBER_ROLES, errors.GIVER_NOT_A_COLLEAGUE
        )
    row = CaseService(
        case_id=case.id,
        kind=data.kind,
        given_at=data.given_at,
        given_by=given_by,
        duration_minutes=data.duration_minutes,
        escort_place=data.escort_place,
        at_night=data.at_night,
        recorded_at=now,
    )
    session.add(row)
    touch(session, case, now)
    session.flush()
    _audit(session, now, actor, "case.service_logged", case, reason=data.kind.value)
    return row


def service_public(row: CaseService) -> ServicePublic:
    return ServicePublic.model_validate(row, from_attributes=True)


def services(session: Session, case: SafetyCase) -> list[CaseService]:
    return list(
        session.exec(
            select(CaseService)
            .where(CaseService.case_id == case.id)
            .order_by(col(CaseService.given_at), col(CaseService.id))
        ).all()
    )
