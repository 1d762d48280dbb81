"""Organisations, accounts and API tokens: the service functions behind the admin routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pwdlib import PasswordHash
from sqlmodel import Session, col, delete, select

from core import audit, throttle
from core.audit import Actor
from core.auth import (
    TOKEN_PREFIX,
    new_secret,
    revoke_sessions,
    roles_of,
    token_digest,
)
from core.config import Settings
from core.errors import Conflict, InvalidInput, NotFound
from core.models import (
    ROLES_BY_KIND,
    TOKEN_ROLES,
    ApiToken,
    ApiTokenCreate,
    LoginFailure,
    Organisation,
    OrganisationCreate,
    OrganisationKind,
    OrganisationUpdate,
    Role,
    User,
    UserCreate,
    UserPublic,
    UserRole,
    UserUpdate,
)
from core.passwords import generate_password, password_problem

# --- organisations -------------------------------------------------------------------------


def create_organisation(
    session: Session, *, now: datetime, data: OrganisationCreate, actor: Actor
) -> Organisation:
    """Register an organisation of the network."""
    if session.exec(select(Organisation).where(Organisation.name == data.name)).first():
        raise Conflict("An organisation with this name already exists.")
    organisation = Organisation.model_validate(data, update={"created_at": now})
    session.add(organisation)
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "organisation.created",
        "organisation",
        organisation.id,
        organisation.id,
    )
    return organisation


def get_organisation(session: Session, organisation_id: uuid.UUID) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound("Not found.")
    return organisation


def list_organisations(session: Session) -> list[Organisation]:
    return list(session.exec(select(Organisation).order_by(col(Organisation.name))).all())


def update_organisation(
    session: Session,
    *,
    now: datetime,
    organisation: Organisation,
    data: OrganisationUpdate,
    actor: Actor,
) -> Organisation:
    """Change an organisation's name, country or time zone."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise InvalidInput("Nothing to change: send name, country_code or time_zone.")
    new_name = changes.get("name")
    if new_name and new_name != organisation.name:
        clash = session.exec(select(Organisation).where(Organisation.name == new_name)).first()
        if clash is not None:
            raise Conflict("An organisation with this name already exists.")
    organisation.sqlmodel_update(changes)
    session.add(organisation)
    audit.record(
        session,
        now,
        actor,
        "organisation.updated",
        "organisation",
        organisation.id,
        reason="changed: " + ", ".join(sorted(changes)),
    )
    return organisation


# --- users ---------------------------------------------------------------------------------


def user_public(session: Session, user: User, *, now: datetime) -> UserPublic:
    return UserPublic(
        id=user.id,
        organisation_id=user.organisation_id,
        email=user.email,
        display_name=user.display_name,
        is_volunteer=user.is_volunteer,
        roles=sorted(roles_of(session, user.id)),
        must_change_password=user.must_change_password,
        disabled=user.disabled_at is not None,
        locked=user.locked_until is not None and user.locked_until > now,
        created_at=user.created_at,
    )


def get_user(session: Session, *, organisation_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None or user.organisation_id != organisation_id:
        raise NotFound("Not found.")
    return user


def list_users(session: Session, *, organisation_id: uuid.UUID) -> list[User]:
    return list(
        session.exec(
            select(User)
            .where(User.organisation_id == organisation_id)
            .order_by(col(User.display_name))
        ).all()
    )


def _check_roles(organisation: Organisation, roles: list[Role]) -> set[Role]:
    allowed = ROLES_BY_KIND[OrganisationKind(organisation.kind)]
    wanted = set(roles)
    refused = sorted(wanted - allowed)
    if refused:
        raise InvalidInput(
            f"A {organisation.kind} organisation cannot give the role(s) {', '.join(refused)}; "
            f"allowed: {', '.join(sorted(allowed))}."
        )
    return wanted


def _check_password(settings: Settings, password: str, *personal: str) -> None:
    problem = password_problem(
        password, min_length=settings.password_min_length, personal=tuple(personal)
    )
    if problem:
        raise InvalidInput(f"password: {problem}.")


def create_user(
    session: Session,
    *,
    now: datetime,
    settings: Settings,
    hasher: PasswordHash,
    organisation: Organisation,
    data: UserCreate,
    actor: Actor,
    must_change_password: bool = True,
) -> tuple[User, str | None]:
    """Create an account; returns it with the generated one-time password, if one was made."""
    email = str(data.email).strip().lower()
    roles = _check_roles(organisation, data.roles)
    generated: str | None = None
    if data.password is None:
        generated = password = generate_password()
    else:
        password = data.password
        _check_password(settings, password, email, data.display_name)
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise Conflict("An account with this e-mail address already exists.")
    user = User(
        organisation_id=organisation.id,
        email=email,
        display_name=data.display_name,
        is_volunteer=data.is_volunteer,
        password_hash=hasher.hash(password),
        must_change_password=must_change_password,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    for role in sorted(roles):
        session.add(UserRole(user_id=user.id, role=role))
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "user.created",
        "user",
        user.id,
        organisation.id,
        reason="roles: " + ", ".join(sorted(roles)),
    )
    return user, generated


def update_user(
    session: Session,
    *,
    now: datetime,
    organisation: Organisation,
    user: User,
    data: UserUpdate,
    actor: Actor,
) -> User:
    """Change a user's name, volunteer flag or roles; role changes apply to the next request."""
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise InvalidInput("Nothing to change: send display_name, is_volunteer or roles.")
    roles = changes.pop("roles", None)
    if roles is not None:
        wanted = _check_roles(organisation, [Role(r) for r in roles])
        if actor.id == str(user.id) and Role.ADMIN not in wanted:
            raise InvalidInput("You cannot remove your own admin role; ask another admin.")
        for existing in session.exec(select(UserRole).where(UserRole.user_id == user.id)).all():
            if existing.role not in wanted:
                session.delete(existing)
        have = roles_of(session, user.id)
        for role in sorted(wanted - have):
            session.add(UserRole(user_id=user.id, role=role))
    user.sqlmodel_update(changes)
    session.add(user)
    session.flush()
    fields = sorted([*changes, *(["roles"] if roles is not None else [])])
    audit.record(
        session,
        now,
        actor,
        "user.updated",
        "user",
        user.id,
        organisation.id,
        reason="changed: " + ", ".join(fields),
    )
    return user


def set_disabled(
    session: Session,
    *,
    now: datetime,
    user: User,
    disabled: bool,
    actor: Actor,
    reason: str | None,
) -> User:
    """Disable (and log out everywhere at once) or re-enable an account."""
    if disabled and actor.id == str(user.id):
        raise InvalidInput("You cannot disable your own account.")
    if disabled:
        if user.disabled_at is None:
            user.disabled_at = now
        revoke_sessions(session, now=now, user_id=user.id, reason="disabled")
        # API tokens a disabled admin created stay valid: they belong to the organisation.
    else:
        user.disabled_at = None
    session.add(user)
    _audit_user(
        session,
        now=now,
        actor=actor,
        user=user,
        action="user.disabled" if disabled else "user.enabled",
        reason=reason,
    )
    return user


def revoke_user_sessions(
    session: Session, *, now: datetime, user: User, actor: Actor, reason: str | None
) -> int:
    """Log a user out everywhere at once."""
    count = revoke_sessions(session, now=now, user_id=user.id, reason="revoked by admin")
    _audit_user(
        session, now=now, actor=actor, user=user, action="user.sessions_revoked", reason=reason
    )
    return count


def reset_password(
    session: Session, *, now: datetime, hasher: PasswordHash, user: User, actor: Actor
) -> str:
    """Give a user a one-time password (to change at next login) and end their sessions."""
    password = generate_password()
    user.password_hash = hasher.hash(password)
    user.must_change_password = True
    user.password_changed_at = now
    user.locked_until = None
    session.add(user)
    revoke_sessions(session, now=now, user_id=user.id, reason="password reset")
    _audit_user(session, now=now, actor=actor, user=user, action="user.password_reset")
    return password


def unlock(
    session: Session, *, now: datetime, settings: Settings, user: User, actor: Actor
) -> None:
    """Lift an account's lock and forget every source's failed logins on it."""
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    user.locked_until = None
    session.add(user)
    session.exec(delete(LoginFailure).where(col(LoginFailure.user_id) == user.id))
    throttle.forget_account(session, account=throttle.account_key(secret, user.email))
    _audit_user(session, now=now, actor=actor, user=user, action="user.unlocked")


def change_own_password(
    session: Session,
    *,
    now: datetime,
    settings: Settings,
    hasher: PasswordHash,
    user: User,
    current_password: str,
    new_password: str,
    keep_session: uuid.UUID | None,
    actor: Actor,
) -> None:
    """Replace one's own password; every other session of the account ends."""
    if not hasher.verify(current_password, user.password_hash):
        raise InvalidInput("current_password: the current password is wrong.")
    if new_password == current_password:
        raise InvalidInput("new_password: the new password must differ from the current one.")
    _check_password(settings, new_password, user.email, user.display_name)
    user.password_hash = hasher.hash(new_password)
    user.must_change_password = False
    user.password_changed_at = now
    session.add(user)
    revoke_sessions(session, now=now, user_id=user.id, reason="password changed", keep=keep_session)
    _audit_user(session, now=now, actor=actor, user=user, action="user.password_changed")


def _audit_user(
    session: Session,
    *,
    now: datetime,
    actor: Actor,
    user: User,
    action: str,
    reason: str | None = None,
) -> None:
    audit.record(session, now, actor, action, "user", user.id, user.organisation_id, reason=reason)


# --- API tokens ----------------------------------------------------------------------------


def create_token(
    session: Session,
    *,
    now: datetime,
    organisation: Organisation,
    data: ApiTokenCreate,
    created_by: uuid.UUID | None,
    actor: Actor,
) -> tuple[ApiToken, str]:
    """Issue a token for a machine client; the secret is returned here and never again."""
    role = Role(data.role)
    if role not in TOKEN_ROLES:
        raise InvalidInput("role: API tokens cannot be given the admin role.")
    _check_roles(organisation, [role])
    if data.expires_at is not None and data.expires_at <= now:
        raise InvalidInput("expires_at: the expiry must be in the future.")
    secret = TOKEN_PREFIX + new_secret()
    token = ApiToken(
        organisation_id=organisation.id,
        name=data.name,
        role=role,
        expires_at=data.expires_at,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        token_hash=token_digest(secret),
        created_by_user_id=created_by,
        created_at=now,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "api_token.created",
        "api_token",
        token.id,
        organisation.id,
        reason=f"role: {role}",
    )
    return token, secret


def list_tokens(session: Session, *, organisation_id: uuid.UUID) -> list[ApiToken]:
    return list(
        session.exec(
            select(ApiToken)
            .where(ApiToken.organisation_id == organisation_id)
            .order_by(col(ApiToken.created_at))
        ).all()
    )


def revoke_token(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    token_id: uuid.UUID,
    actor: Actor,
    reason: str | None,
) -> ApiToken:
    """Revoke a token at once; revoking twice changes nothing."""
    token = session.get(ApiToken, token_id)
    if token is None or token.organisation_id != organisation_id:
        raise NotFound("Not found.")
    if token.revoked_at is None:
        token.revoked_at = now
        session.add(token)
        audit.record(
            session,
            now,
            actor,
            "api_token.revoked",
            "api_token",
            token.id,
            organisation_id,
            reason=reason,
        )
    return token
