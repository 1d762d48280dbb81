"""Who is calling: password login, server-side sessions, API tokens and the resulting principal."""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pwdlib import PasswordHash
from sqlmodel import Session, col, delete, func, select, update
from starlette.responses import Response

from core import audit, events, throttle
from core.audit import Actor
from core.config import Mode, Settings
from core.errors import Unauthenticated
from core.events import AccountUnderAttack
from core.models import (
    ApiToken,
    AuthSession,
    LoginFailure,
    Organisation,
    OrganisationKind,
    Role,
    User,
    UserRole,
)

SESSION_COOKIE = "sigurna_session"
TOKEN_PREFIX = "sgn_"  # noqa: S105 (a marker, not a secret)
LOGIN_FAILED_MESSAGE = (
    "Login failed: the e-mail address or password is wrong, or the account is temporarily "
    "locked after too many attempts. Try again, or ask your administrator."
)


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    """The session travels only in this HttpOnly cookie (the API's login and the console's)."""
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_absolute_hours * 3600,
        httponly=True,
        secure=settings.mode is not Mode.DEVELOPMENT,
        samesite="lax",
        path="/",
    )


def new_secret() -> str:
    """A random 256-bit token, URL-safe."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the database keeps of a token: its SHA-256 (the token itself has 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    via: str  # "session" or "token"
    organisation_id: uuid.UUID
    organisation_kind: OrganisationKind
    roles: frozenset[Role]
    user_id: uuid.UUID | None = None
    session_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    must_change_password: bool = False
    session_expires_at: datetime | None = None
    # The session passed its second factor (TOTP or a recovery code) after the password.
    second_factor: bool = False
    # The request this principal was resolved for (set by the access check).
    request_id: str | None = None

    def actor(self, request_id: str | None = None) -> Actor:
        """This principal as the actor of an audit event (of its own request by default)."""
        request_id = request_id or self.request_id
        if self.user_id is not None:
            return Actor("user", str(self.user_id), self.organisation_id, request_id)
        return Actor("api_token", str(self.token_id), self.organisation_id, request_id)


def roles_of(session: Session, user_id: uuid.UUID) -> frozenset[Role]:
    """The roles a user holds now."""
    rows = session.exec(select(UserRole.role).where(UserRole.user_id == user_id)).all()
    return frozenset(Role(r) for r in rows)


# --- login ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginResult:
    """A session token and its principal; or neither when the login failed, with how long this
    source must wait when it is being throttled."""

    token: str | None = None
    principal: Principal | None = None
    retry_after: timedelta | None = None


def login(
    session: Session,
    *,
    now: datetime,
    settings: Settings,
    hasher: PasswordHash,
    email: str,
    password: str,
    request_id: str | None,
    source: str = "unknown",
) -> LoginResult:
    """Check a password and open a session; failures are recorded, never raised, so they commit.

    A source that keeps failing on an account waits ever longer (`core.throttle`), whether the
    account exists or not; other sources are not held up. The account is locked for everyone
    only by failures from many sources (`login_max_failures` in the window).
    """
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    try_keys = throttle.keys(account=throttle.account_key(secret, email), source=source)
    wait_until = throttle.blocked_until(session, now=now, try_keys=try_keys)
    if wait_until is not None:
        return LoginResult(retry_after=wait_until - now)
    user = session.exec(
        select(User).where(User.email == email.strip().lower()).with_for_update()
    ).first()
    limits = throttle.Limits.of(settings)
    if user is None:
        # Spend the same time as a real check, so the answer's timing reveals nothing.
        hasher.verify(password, _dummy_hash(hasher))
        throttle.record_failure(session, now=now, limits=limits, try_keys=try_keys)
        _failed(session, now, Actor("anonymous", request_id=request_id), None, "unknown account")
        return LoginResult()

    actor = Actor("anonymous", request_id=request_id, organisation_id=user.organisation_id)
    if user.locked_until is not None and user.locked_until > now:
        hasher.verify(password, _dummy_hash(hasher))
        throttle.record_failure(session, now=now, limits=limits, try_keys=try_keys)
        _failed(session, now, actor, user, "account locked")
        return LoginResult()

    valid, new_hash = hasher.verify_and_update(password, user.password_hash)
    if not valid or user.disabled_at is not None:
        if not valid:
            throttle.record_failure(session, now=now, limits=limits, try_keys=try_keys)
            _count_failure(session, user=user, now=now, settings=settings, actor=actor)
        _failed(session, now, actor, user, "account disabled" if valid else "wrong password")
        return LoginResult()

    if new_hash is not None:
        user.password_hash = new_hash
    user.locked_until = None
    session.exec(delete(LoginFailure).where(col(LoginFailure.user_id) == user.id))
    throttle.forget(session, try_keys=try_keys)
    session.add(user)
    return _open_session(
        session,
        now=now,
        settings=settings,
        user=user,
        request_id=request_id,
        rehashed=bool(new_hash),
    )


def _failed(session: Session, now: datetime, actor: Actor, user: User | None, reason: str) -> None:
    audit.record(
        session,
        now,
        actor,
        "auth.login_failed",
        "user" if user is not None else "login",
        user.id if user is not None else None,
        reason=reason,
    )


def _open_session(
    session: Session,
    *,
    now: datetime,
    settings: Settings,
    user: User,
    request_id: str | None,
    rehashed: bool,
) -> LoginResult:
    token = new_secret()
    auth_session = AuthSession(
        user_id=user.id,
        token_hash=token_digest(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_absolute_hours),
    )
    session.add(auth_session)
    session.flush()
    audit.record(
        session,
        now,
        Actor("user", str(user.id), user.organisation_id, request_id),
        "auth.login",
        "auth_session",
        auth_session.id,
        reason="password rehashed" if rehashed else None,
    )
    organisation = session.get(Organisation, user.organisation_id)
    if organisation is None:  # the foreign key forbids it
        raise LookupError("account without organisation")
    principal = _session_principal(
        session,
        settings=settings,
        auth_session=auth_session,
        user=user,
        organisation=organisation,
    )
    return LoginResult(token=token, principal=principal)


def _session_principal(
    session: Session,
    *,
    settings: Settings,
    auth_session: AuthSession,
    user: User,
    organisation: Organisation,
) -> Principal:
    """The principal of a session just opened (at login)."""
    idle = timedelta(minutes=settings.session_idle_minutes)
    return Principal(
        via="session",
        organisation_id=organisation.id,
        organisation_kind=OrganisationKind(organisation.kind),
        roles=roles_of(session, user.id),
        user_id=user.id,
        session_id=auth_session.id,
        must_change_password=user.must_change_password,
        second_factor=auth_session.second_factor_at is not None,
        session_expires_at=min(auth_session.expires_at, auth_session.last_seen_at + idle),
    )


def _count_failure(
    session: Session, *, user: User, now: datetime, settings: Settings, actor: Actor
) -> None:
    """Failures on the account from every source: an alert at `login_alert_failures`, a lock
    for everyone at `login_max_failures` (far above what one source can reach)."""
    window_start = now - timedelta(minutes=settings.login_failure_window_minutes)
    session.add(LoginFailure(user_id=user.id, at=now))
    session.exec(
        delete(LoginFailure).where(
            col(LoginFailure.user_id) == user.id, col(LoginFailure.at) <= window_start
        )
    )
    session.flush()
    recent, first = session.exec(
        select(func.count(), func.min(LoginFailure.at)).where(
            col(LoginFailure.user_id) == user.id, col(LoginFailure.at) > window_start
        )
    ).one()
    locked = recent >= settings.login_max_failures
    if locked:
        user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
        session.exec(delete(LoginFailure).where(col(LoginFailure.user_id) == user.id))
        session.add(user)
        audit.record(
            session,
            now,
            actor,
            "auth.account_locked",
            "user",
            user.id,
            reason=f"{recent} failed logins within {settings.login_failure_window_minutes} minutes",
        )
    if locked or recent == settings.login_alert_failures:
        events.publish(
            session,
            AccountUnderAttack(
                user_id=user.id,
                organisation_id=user.organisation_id,
                at=now,
                failures=int(recent),
                window_started_at=first or now,
                locked_until=user.locked_until if locked else None,
            ),
        )


_DUMMY_HASHES: dict[int, str] = {}


def _dummy_hash(hasher: PasswordHash) -> str:
    key = id(hasher)
    if key not in _DUMMY_HASHES:
        _DUMMY_HASHES[key] = hasher.hash(new_secret())
    return _DUMMY_HASHES[key]


def logout(session: Session, *, now: datetime, principal: Principal) -> None:
    """End the caller's session at once."""
    if principal.session_id is None:
        return
    auth_session = session.get(AuthSession, principal.session_id)
    if auth_session is not None and auth_session.revoked_at is None:
        auth_session.revoked_at = now
        auth_session.revoked_reason = "logout"
        session.add(auth_session)
    audit.record(
        session, now, principal.actor(), "auth.logout", "auth_session", principal.session_id
    )


def revoke_sessions(
    session: Session,
    *,
    now: datetime,
    user_id: uuid.UUID,
    reason: str,
    keep: uuid.UUID | None = None,
) -> int:
    """Revoke every open session of a user (but `keep`); returns how many were open."""
    conditions = [
        col(AuthSession.user_id) == user_id,
        col(AuthSession.revoked_at).is_(None),
        col(AuthSession.expires_at) > now,
    ]
    if keep is not None:
        conditions.append(col(AuthSession.id) != keep)
    result = session.exec(
        update(AuthSession).where(*conditions).values(revoked_at=now, revoked_reason=reason)
    )
    return int(result.rowcount)


# --- resolving the caller ------------------------------------------------------------------


# A session's idle timer is written at most this often: a request within a minute of the last
# write reads the session without writing it, so that its transaction commits nothing (no
# row update, no WAL flush). The idle limit counts from the written time, so a session may
# end up to this much sooner than "idle minutes after the last request", never later.
SESSION_TOUCH = timedelta(minutes=1)


@functools.cache
def _session_query() -> Any:
    """The session of the token digest `:digest` with what a principal needs of its user, her
    organisation and her roles (a row a role; one row with no role when she has none). Built
    once: a request only binds its digest."""
    return (
        sa.select(
            col(AuthSession.id),
            col(AuthSession.last_seen_at),
            col(AuthSession.expires_at),
            col(AuthSession.revoked_at),
            col(AuthSession.second_factor_at),
            col(User.id),
            col(User.must_change_password),
            col(User.disabled_at),
            col(Organisation.id),
            col(Organisation.kind),
            col(UserRole.role),
        )
        .join(User, col(User.id) == col(AuthSession.user_id))
        .join(Organisation, col(Organisation.id) == col(User.organisation_id))
        .outerjoin(UserRole, col(UserRole.user_id) == col(User.id))
        .where(col(AuthSession.token_hash) == sa.bindparam("digest", type_=sa.String))
    )


def principal_from_session_token(
    session: Session, *, now: datetime, settings: Settings, token: str
) -> Principal:
    """The principal of a session cookie; refresh its idle timer (at most once a minute).
    Raises when it is not valid. One query, of columns only: this runs on every request."""
    rows = session.connection().execute(_session_query(), {"digest": token_digest(token)}).all()
    if not rows:
        raise Unauthenticated("Your session is not valid; please log in.")
    (session_id, last_seen_at, expires_at, revoked_at, second_factor_at) = rows[0][:5]
    user_id, must_change_password, disabled_at, organisation_id, kind = rows[0][5:10]
    idle = timedelta(minutes=settings.session_idle_minutes)
    ended = revoked_at is not None or disabled_at is not None
    if ended or expires_at <= now or last_seen_at + idle <= now:
        raise Unauthenticated("Your session has ended; please log in again.")
    if now - last_seen_at >= SESSION_TOUCH:
        last_seen_at = now
        session.connection().execute(
            update(AuthSession).where(col(AuthSession.id) == session_id).values(last_seen_at=now)
        )
    return Principal(
        via="session",
        organisation_id=organisation_id,
        organisation_kind=OrganisationKind(kind),
        roles=frozenset(Role(row[-1]) for row in rows if row[-1] is not None),
        user_id=user_id,
        session_id=session_id,
        must_change_password=must_change_password,
        second_factor=second_factor_at is not None,
        session_expires_at=min(expires_at, last_seen_at + idle),
    )


def principal_from_api_token(session: Session, *, now: datetime, token: str) -> Principal:
    """The principal of an API token. Raises when it is unknown, revoked or expired."""
    found = session.exec(
        select(ApiToken, Organisation)
        .join(Organisation, col(Organisation.id) == ApiToken.organisation_id)
        .where(ApiToken.token_hash == token_digest(token))
    ).first()
    if found is None:
        raise Unauthenticated("The API token is not valid.")
    api_token, organisation = found
    if api_token.revoked_at is not None or (
        api_token.expires_at is not None and api_token.expires_at <= now
    ):
        raise Unauthenticated("The API token has been revoked or has expired.")
    api_token.last_used_at = now
    session.add(api_token)
    return Principal(
        via="token",
        organisation_id=organisation.id,
        organisation_kind=OrganisationKind(organisation.kind),
        roles=frozenset({Role(api_token.role)}),
        token_id=api_token.id,
    )
