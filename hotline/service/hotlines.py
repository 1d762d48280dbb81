"""Hotlines, their closures and the duty phones of the people who stand duty.

Plain functions taking `session` and `now` keyword-only; they flush, never commit, and audit
every change in the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, func, select

from core import audit
from core.audit import Actor
from core.context import Act
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Organisation, User
from core.scoped import get_owned
from hotline.errors import (
    CLOSURE_TAKEN,
    CODE_EXPIRED,
    CODE_NOT_PENDING,
    CODE_TOO_MANY,
    CODE_WRONG,
    NO_DUTY_PHONE,
    NO_SMS_SENDER,
    NOT_FOUND,
    NOTHING_TO_CHANGE,
    NUMBER_TAKEN,
)
from hotline.models import (
    ClosureCreate,
    DutyPhone,
    Hotline,
    HotlineClosure,
    HotlineCreate,
    HotlineUpdate,
)
from notifications.models import OutboxMessage
from notifications.service import enqueue_sms

CODE_TTL = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
DUTY_PHONE_CODE_TOPIC = "hotline.duty_phone_code"


def audit_hotline(
    session: Session,
    now: datetime,
    actor: Actor,
    action: str,
    hotline: Hotline,
    shift_id: uuid.UUID | None = None,
    *,
    reason: str | None = None,
) -> None:
    """Audit a change to a hotline's configuration (its subject is the hotline) or to one of its
    shifts (the shift), as an event of the hotline's organisation."""
    subject = ("hotline", hotline.id) if shift_id is None else ("shift", shift_id)
    audit.record(session, now, actor, action, *subject, hotline.organisation_id, reason=reason)


def digest(secret: str) -> str:
    """How a one-time secret (a duty phone's code, a feed's token) is stored: its SHA-256."""
    return hashlib.sha256(secret.encode()).hexdigest()


# --- hotlines --------------------------------------------------------------------------------


def list_hotlines(session: Session, *, organisation_id: uuid.UUID) -> list[Hotline]:
    return list(
        session.exec(
            select(Hotline)
            .where(Hotline.organisation_id == organisation_id)
            .order_by(col(Hotline.name), col(Hotline.id))
        ).all()
    )


def get_hotline(
    session: Session, *, organisation_id: uuid.UUID, hotline_id: uuid.UUID, lock: bool = False
) -> Hotline:
    """A hotline of the organisation; another organisation's answers as absent."""
    return get_owned(session, Hotline, hotline_id, organisation_id=organisation_id, lock=lock)


def _number_taken(session: Session, number: str, *, other_than: uuid.UUID | None = None) -> bool:
    query = select(Hotline.id).where(Hotline.twilio_number == number)
    if other_than is not None:
        query = query.where(Hotline.id != other_than)
    return session.exec(query).first() is not None


def create_hotline(
    session: Session,
    *,
    now: datetime,
    organisation: Organisation,
    data: HotlineCreate,
    actor: Actor,
) -> Hotline:
    if _number_taken(session, data.twilio_number):
        raise Conflict(NUMBER_TAKEN)
    values = data.model_dump()
    values["time_zone"] = data.time_zone or organisation.time_zone
    values["holiday_country"] = data.holiday_country or organisation.country_code
    hotline = Hotline(**values, organisation_id=organisation.id, created_at=now, updated_at=now)
    session.add(hotline)
    session.flush()
    audit_hotline(session, now, actor, "hotline.created", hotline)
    return hotline


_NULLABLE_HOTLINE_FIELDS = frozenset({"last_resort_number"})


def update_hotline(act: Act, hotline: Hotline, data: HotlineUpdate) -> Hotline:
    session, now, actor, _, _ = act
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput(NOTHING_TO_CHANGE)
    for name in sorted(changes):
        if changes[name] is None and name not in _NULLABLE_HOTLINE_FIELDS:
            raise InvalidInput(f"{name}: must not be null.")
    number = changes.get("twilio_number")
    if number is not None and _number_taken(session, number, other_than=hotline.id):
        raise Conflict(NUMBER_TAKEN)
    changed = sorted(name for name, value in changes.items() if getattr(hotline, name) != value)
    for name in changed:
        setattr(hotline, name, changes[name])
    if changed:
        hotline.updated_at = now
        session.add(hotline)
        session.flush()
        audit_hotline(
            session, now, actor, "hotline.updated", hotline, reason="changed: " + ", ".join(changed)
        )
    return hotline


# --- closures --------------------------------------------------------------------------------


def list_closures(session: Session, *, hotline: Hotline) -> list[HotlineClosure]:
    return list(
        session.exec(
            select(HotlineClosure)
            .where(HotlineClosure.hotline_id == hotline.id)
            .order_by(col(HotlineClosure.day))
        ).all()
    )


def add_closure(act: Act, hotline: Hotline, data: ClosureCreate) -> HotlineClosure:
    session, now, actor, user_id, _ = act
    taken = session.exec(
        select(HotlineClosure.id).where(
            HotlineClosure.hotline_id == hotline.id, HotlineClosure.day == data.day
        )
    ).first()
    if taken is not None:
        raise Conflict(CLOSURE_TAKEN)
    closure = HotlineClosure(
        hotline_id=hotline.id,
        day=data.day,
        reason=" ".join(data.reason.split()),
        created_by_user_id=user_id,
        created_at=now,
    )
    session.add(closure)
    session.flush()
    audit_hotline(session, now, actor, "hotline.closure_added", hotline, reason=f"day: {data.day}")
    return closure


def delete_closure(
    session: Session, *, now: datetime, hotline: Hotline, closure_id: uuid.UUID, actor: Actor
) -> None:
    closure = session.get(HotlineClosure, closure_id)
    if closure is None or closure.hotline_id != hotline.id:
        raise NotFound(NOT_FOUND)
    day = closure.day
    session.delete(closure)
    session.flush()
    audit_hotline(session, now, actor, "hotline.closure_removed", hotline, reason=f"day: {day}")


# --- duty phones -----------------------------------------------------------------------------


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def set_duty_phone(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    user_id: uuid.UUID,
    number: str,
    actor: Actor,
) -> str:
    """Store the caller's mobile, unverified, with a fresh code; return the code to send."""
    code = new_code()
    phone = session.exec(select(DutyPhone).where(DutyPhone.user_id == user_id)).first()
    if phone is None:
        phone = DutyPhone(
            organisation_id=organisation_id, user_id=user_id, number=number, created_at=now
        )
    phone.organisation_id = organisation_id
    phone.number = number
    phone.verified_at = None
    phone.code_hash = digest(code)
    phone.code_expires_at = now + CODE_TTL
    phone.code_attempts = 0
    _save_phone(session, phone, now=now, actor=actor, action="duty_phone.set")
    return code


def _save_phone(
    session: Session, phone: DutyPhone, *, now: datetime, actor: Actor, action: str
) -> None:
    """Write a duty phone's change, audited as an event of its owner's account."""
    session.add(phone)
    session.flush()
    audit.record(session, now, actor, action, "user", phone.user_id, phone.organisation_id)


def any_hotline_number(session: Session, organisation_id: uuid.UUID) -> str | None:
    """One of the organisation's hotline numbers, to send staff SMS from."""
    return session.exec(
        select(Hotline.twilio_number)
        .where(Hotline.organisation_id == organisation_id)
        .order_by(col(Hotline.created_at))
    ).first()


def send_duty_phone_code(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    number: str,
    code: str,
    sender: str | None,
) -> None:
    """Text the code to the phone, from `sender` or else one of the organisation's hotlines; it is
    committed with the code it carries and delivered by the outbox job."""
    sms_from = sender or any_hotline_number(session, organisation_id)
    if sms_from is None:
        raise Conflict(NO_SMS_SENDER)
    enqueue_sms(
        session,
        now=now,
        organisation_id=organisation_id,
        to=number,
        sender=sms_from,
        body=f"Sigurna: your duty phone code is {code}. It expires in 10 minutes.",
        idempotency_key=f"duty-phone-code:{uuid.uuid4()}",
        topic=DUTY_PHONE_CODE_TOPIC,
    )


class Verification(StrEnum):
    VERIFIED = "verified"
    NO_CODE = "no_code"
    TOO_MANY = "too_many"
    EXPIRED = "expired"
    WRONG = "wrong"


VERIFICATION_MESSAGES = {
    Verification.NO_CODE: CODE_NOT_PENDING,
    Verification.TOO_MANY: CODE_TOO_MANY,
    Verification.EXPIRED: CODE_EXPIRED,
    Verification.WRONG: CODE_WRONG,
}


def verify_duty_phone(
    session: Session, *, now: datetime, user_id: uuid.UUID, code: str, actor: Actor
) -> Verification:
    """Check a code. A wrong one is counted, so callers must commit whatever this returns."""
    phone = session.exec(
        select(DutyPhone).where(DutyPhone.user_id == user_id).with_for_update()
    ).first()
    if phone is None or phone.code_hash is None or phone.code_expires_at is None:
        return Verification.NO_CODE
    if phone.code_attempts >= MAX_CODE_ATTEMPTS:
        return Verification.TOO_MANY
    if now >= phone.code_expires_at:
        return Verification.EXPIRED
    if not hmac.compare_digest(phone.code_hash, digest(code)):
        phone.code_attempts += 1
        _save_phone(session, phone, now=now, actor=actor, action="duty_phone.verification_failed")
        return Verification.WRONG
    phone.verified_at = now
    phone.code_hash = None
    phone.code_expires_at = None
    phone.code_attempts = 0
    _save_phone(session, phone, now=now, actor=actor, action="duty_phone.verified")
    return Verification.VERIFIED


# Belongs with the messages in hotline/errors.py; kept here until that module takes it.


def own_duty_phone(
    session: Session, *, organisation_id: uuid.UUID, user_id: uuid.UUID
) -> DutyPhone:
    """The caller's own duty mobile in this organisation; none is a 404 that says so."""
    phone = session.exec(
        select(DutyPhone).where(
            DutyPhone.user_id == user_id, DutyPhone.organisation_id == organisation_id
        )
    ).first()
    if phone is None:
        raise NotFound(NO_DUTY_PHONE)
    return phone


def list_duty_phones(session: Session, *, organisation_id: uuid.UUID) -> list[DutyPhone]:
    return list(
        session.exec(
            select(DutyPhone)
            .join(User, col(User.id) == DutyPhone.user_id)
            .where(DutyPhone.organisation_id == organisation_id)
            .order_by(col(User.display_name), col(User.id))
        ).all()
    )


def pending_duty_phone_code(session: Session, *, email: str) -> str | None:
    """The code in the latest duty-phone text to this account's phone, if still pending (for
    development without Twilio: the text is never delivered)."""
    phone = session.exec(
        select(DutyPhone)
        .join(User, col(User.id) == DutyPhone.user_id)
        .where(func.lower(User.email) == email, col(DutyPhone.code_hash).is_not(None))
    ).first()
    if phone is None:
        return None
    body = session.exec(
        select(OutboxMessage.body)
        .where(
            OutboxMessage.topic == DUTY_PHONE_CODE_TOPIC, OutboxMessage.recipient == phone.number
        )
        .order_by(col(OutboxMessage.created_at).desc())
    ).first()
    found = re.search(r"\b(\d{6})\b", body or "")
    return found.group(1) if found else None
