"""The second factor of a login: TOTP (RFC 6238, `pyotp`) with one-time recovery codes.

It is a step of the session flow, not a second login: the password opens a session, and the
session then passes its second factor (`verify`) before any route that needs one (case content)
lets it in. A user enrols once (`enrol`, then `confirm` with a first code, which gives the ten
recovery codes, shown that once). Codes are accepted within one 30-second step either side, and
never twice (the last accepted step is kept). Five wrong codes end the session: the password
login, with its own throttle, is needed again.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyotp
from sqlmodel import Session, col, select, update

from core import audit
from core.context import Act
from core.crypto import FieldCipher
from core.errors import Conflict, InvalidInput
from core.models import AuthSession, SecondFactor, User

SECRET_CONTEXT = "user_second_factor.secret"  # noqa: S105 (associated data, not a secret)
ISSUER = "Sigurna"
RECOVERY_CODES = 10
MAX_FAILURES = 5
STEP_SECONDS = 30

ALREADY_ENROLLED = "A second factor is already set up: ask an administrator to reset it."
NOT_ENROLLING = "Start by setting up a second factor (POST /auth/mfa/enrol)."
NOT_ENROLLED = "Set up a second factor first (POST /auth/mfa/enrol)."
WRONG_CODE = "That code is not valid: enter the current code from your app, or a recovery code."
TOO_MANY = "Too many wrong codes: this session has ended. Log in again."


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str


@dataclass(frozen=True)
class Verified:
    ok: bool
    session_ended: bool = False
    recovery_codes_left: int | None = None


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def new_recovery_codes() -> list[str]:
    """Ten codes like "7f3a-91c2-e04b" (48 random bits each)."""
    return ["-".join(secrets.token_hex(2) for _ in range(3)) for _ in range(RECOVERY_CODES)]


def factor_of(session: Session, user_id: uuid.UUID) -> SecondFactor | None:
    return session.get(SecondFactor, user_id)


def is_enrolled(session: Session, user_id: uuid.UUID) -> bool:
    factor = factor_of(session, user_id)
    return factor is not None and factor.confirmed_at is not None


def enrol(act: Act, user: User) -> Enrolment:
    """A new TOTP secret, to confirm with a first code (it replaces an unconfirmed one)."""
    session, now, actor, _, cipher = act
    factor = factor_of(session, user.id)
    if factor is not None and factor.confirmed_at is not None:
        raise Conflict(ALREADY_ENROLLED)
    secret = pyotp.random_base32()
    key_id, sealed = cipher.seal_pair(secret, context=SECRET_CONTEXT)
    if factor is None:
        factor = SecondFactor(
            user_id=user.id, secret_key_id=key_id, secret_sealed=sealed, created_at=now
        )
    else:
        factor.secret_key_id, factor.secret_sealed, factor.created_at = key_id, sealed, now
    session.add(factor)
    session.flush()
    audit.record(session, now, actor, "auth.second_factor_enrolling", "user", user.id)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(secret=secret, uri=uri)


def pending(session: Session, user: User, cipher: FieldCipher) -> Enrolment | None:
    """The enrolment started and not yet confirmed (to show its secret again after a typo)."""
    factor = factor_of(session, user.id)
    if factor is None or factor.confirmed_at is not None:
        return None
    secret = _secret(factor, cipher)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(secret=secret, uri=uri)


def _secret(factor: SecondFactor, cipher: FieldCipher) -> str:
    return (
        cipher.open_pair(factor.secret_key_id, factor.secret_sealed, context=SECRET_CONTEXT) or ""
    )


def _totp_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step a TOTP code belongs to (now, or one step either side), if not used yet."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current, current - 1, current + 1):
        if secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step if last_step is None or step > last_step else None
    return None


def confirm(act: Act, user: User, auth_session: AuthSession, code: str) -> list[str]:
    """Confirm enrolment with a first code; the session passes its second factor; the recovery
    codes are returned (only their digests are kept)."""
    session, now, actor, _, cipher = act
    factor = factor_of(session, user.id)
    if factor is None:
        raise Conflict(NOT_ENROLLING)
    if factor.confirmed_at is not None:
        raise Conflict(ALREADY_ENROLLED)
    step = _totp_step(_secret(factor, cipher), code, now, None)
    if step is None:
        raise InvalidInput(WRONG_CODE)
    codes = new_recovery_codes()
    factor.confirmed_at, factor.last_step = now, step
    factor.recovery_digests = [_digest(c) for c in codes]
    auth_session.second_factor_at = now
    session.add_all([factor, auth_session])
    session.flush()
    audit.record(session, now, actor, "auth.second_factor_enrolled", "user", user.id)
    return codes


def _locked(session: Session, model: Any, key: Any, value: uuid.UUID) -> Any:
    return session.exec(
        select(model)
        .where(key == value)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def verify(act: Act, user: User, auth_session: AuthSession, code: str) -> Verified:
    """Pass the session's second factor with a TOTP code or a recovery code (used up).

    Never raises for a wrong code, so that the failure it records commits; the fifth failure
    ends the session.
    """
    session, now, actor, _, cipher = act
    # Both rows locked (and read afresh): two codes sent at once are checked one after the other,
    # so a code, a recovery code or the failure count cannot be used twice by racing.
    factor = _locked(session, SecondFactor, SecondFactor.user_id, user.id)
    auth_session = _locked(session, AuthSession, AuthSession.id, auth_session.id) or auth_session
    if factor is None or factor.confirmed_at is None:
        raise Conflict(NOT_ENROLLED)
    step = _totp_step(_secret(factor, cipher), code, now, factor.last_step)
    used_recovery = False
    if step is None and _digest(code) in factor.recovery_digests:
        factor.recovery_digests = [d for d in factor.recovery_digests if d != _digest(code)]
        used_recovery = True
    if step is None and not used_recovery:
        auth_session.second_factor_failures += 1
        ended = auth_session.second_factor_failures >= MAX_FAILURES
        if ended:
            auth_session.revoked_at, auth_session.revoked_reason = now, "second factor failures"
        session.add(auth_session)
        audit.record(
            session, now, actor, "auth.second_factor_failed", "auth_session", auth_session.id
        )
        return Verified(ok=False, session_ended=ended)
    if step is not None:
        factor.last_step = step
    auth_session.second_factor_at, auth_session.second_factor_failures = now, 0
    session.add_all([factor, auth_session])
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "auth.second_factor",
        "auth_session",
        auth_session.id,
        reason="recovery code" if used_recovery else None,
    )
    return Verified(ok=True, recovery_codes_left=len(factor.recovery_digests))


def reset(act: Act, user: User) -> None:
    """An administrator removes a user's second factor (a lost phone); she enrols again."""
    session, now, actor, _, _ = act
    factor = factor_of(session, user.id)
    if factor is None:
        raise Conflict(NOT_ENROLLED)
    session.delete(factor)
    # Every session of hers ends: the next login enrols anew, from a password typed after the
    # reset (a session opened before it, or a stolen cookie, cannot claim the new factor).
    session.exec(
        update(AuthSession)
        .where(col(AuthSession.user_id) == user.id, col(AuthSession.revoked_at).is_(None))
        .values(second_factor_at=None, revoked_at=now, revoked_reason="second factor reset")
        .execution_options(synchronize_session=False)
    )
    session.flush()
    audit.record(session, now, actor, "auth.second_factor_reset", "user", user.id)


def enrol_with_secret(
    session: Session, *, now: datetime, user: User, secret: str, cipher: FieldCipher
) -> list[str]:
    """Enrol a user with a given secret, confirmed (the demo accounts' enrolment): the recovery
    codes, to print once."""
    key_id, sealed = cipher.seal_pair(secret, context=SECRET_CONTEXT)
    codes = new_recovery_codes()
    session.add(
        SecondFactor(
            user_id=user.id,
            secret_key_id=key_id,
            secret_sealed=sealed,
            created_at=now,
            confirmed_at=now,
            recovery_digests=[_digest(c) for c in codes],
        )
    )
    session.flush()
    return codes
