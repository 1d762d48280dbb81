"""HTTP routes of the core: health, login, organisations, accounts, API tokens and the audit log."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlmodel import SQLModel, col, select

from core import users
from core.access import ALL_ROLES, Policy, Public, Scope, allow
from core.audit import AuditEvent, AuditEventPublic
from core.auth import (
    LOGIN_FAILED_MESSAGE,
    SESSION_COOKIE,
    Principal,
    login,
    logout,
    set_session_cookie,
)
from core.context import Context, context
from core.db import READ_ONLY, current_revisions
from core.deps import ClockDep, HasherDep, RequestIdDep, SessionDep, SettingsDep
from core.errors import ServiceUnavailable, Unauthenticated, error_body
from core.models import (
    STRICT_BODY,
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenPublic,
    LoginRequest,
    Me,
    OrganisationPublic,
    OrganisationUpdate,
    PasswordChange,
    Role,
    User,
    UserCreate,
    UserCreated,
    UserPublic,
    UserUpdate,
)
from core.routing import Router
from core.throttle import source_of

# --- policies: who may call what (the matrix test in tests/core/test_access.py mirrors them) ----

ANY_USER = Policy(Scope.NETWORK, ALL_ROLES, while_password_change_pending=True)
ANY_CALLER = Policy(Scope.NETWORK, ALL_ROLES, allow_tokens=True, while_password_change_pending=True)
NETWORK_DIRECTORY = Policy(Scope.NETWORK, ALL_ROLES, allow_tokens=True)
MEMBER = Policy(Scope.ORGANISATION, ALL_ROLES, allow_tokens=True)
ORG_ADMIN = Policy(Scope.ORGANISATION, frozenset({Role.ADMIN}))
ORG_OVERSIGHT = Policy(Scope.ORGANISATION, frozenset({Role.ADMIN, Role.SUPERVISOR}))

AnyUser = Annotated[Context, Depends(context(ANY_USER))]
AnyCaller = Annotated[Context, Depends(context(ANY_CALLER))]
DirectoryReader = Annotated[Principal, allow(NETWORK_DIRECTORY)]
Member = Annotated[Principal, allow(MEMBER)]
OrgAdmin = Annotated[Context, Depends(context(ORG_ADMIN))]
OrgOversight = Annotated[Context, Depends(context(ORG_OVERSIGHT))]

router = Router()


class Status(SQLModel):
    status: str


class Reason(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    reason: str | None = Field(default=None, max_length=500)


class Revoked(SQLModel):
    revoked_sessions: int


class OneTimePassword(SQLModel):
    one_time_password: str


# --- health ----------------------------------------------------------------------------------


@router.get("/healthz", tags=["health"], dependencies=[Public])
def healthz() -> Status:
    """The process is alive."""
    return Status(status="ok")


@router.get(
    "/readyz",
    tags=["health"],
    dependencies=[Public],
    responses={503: {"description": "database unreachable or migrations not at head"}},
)
def readyz(request: Request) -> Status:
    """The database answers and its schema is at the code's migration head."""
    try:
        with request.app.state.engine.connect().execution_options(
            **{READ_ONLY: True}
        ) as connection:
            connection.execute(sa.text("SELECT 1"))
            current = current_revisions(connection)
    except sa.exc.SQLAlchemyError as exc:
        raise ServiceUnavailable("The database is unreachable.") from exc
    if current != request.app.state.head_revisions:
        raise ServiceUnavailable("The database schema is not at the latest migration.")
    return Status(status="ready")


# --- login -----------------------------------------------------------------------------------


def _me(session: SessionDep, principal: Principal, *, now: datetime) -> Me:
    organisation = users.get_organisation(session, principal.organisation_id)
    user = session.get(User, principal.user_id) if principal.user_id else None
    return Me(
        user=users.user_public(session, user, now=now) if user else None,
        organisation=OrganisationPublic.model_validate(organisation),
        roles=sorted(principal.roles),
        via=principal.via,
        session_expires_at=principal.session_expires_at,
    )


@router.post(
    "/auth/login",
    tags=["auth"],
    dependencies=[Public],
    response_model=Me,
    responses={
        401: {"description": "wrong e-mail or password, or account locked"},
        429: {"description": "too many failed logins from this address: wait Retry-After s"},
    },
)
def login_route(
    body: LoginRequest,
    request: Request,
    response: Response,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    hasher: HasherDep,
    request_id: RequestIdDep,
) -> Me | JSONResponse:
    """Open a session; the token travels only in an HttpOnly cookie."""
    now = clock.now()
    peer = request.client.host if request.client else None
    result = login(
        session,
        now=now,
        settings=settings,
        hasher=hasher,
        email=body.email,
        password=body.password,
        request_id=request_id,
        source=source_of(peer, request.headers.get("x-forwarded-for"), settings.trusted_proxies),
    )
    if result.retry_after is not None:
        seconds = max(1, math.ceil(result.retry_after.total_seconds()))
        return JSONResponse(
            error_body(
                "too_many_attempts",
                f"Too many failed logins from this address: wait {seconds} s before trying"
                " again. Logins from elsewhere are not affected.",
            ),
            status_code=429,
            headers={"Retry-After": str(seconds)},
        )
    if result.token is None or result.principal is None:
        # Returned, not raised: the failure count and the audit event must be committed.
        return JSONResponse(error_body("login_failed", LOGIN_FAILED_MESSAGE), status_code=401)
    set_session_cookie(response, result.token, settings)
    return _me(session, result.principal, now=now)


@router.post("/auth/logout", tags=["auth"], status_code=204)
def logout_route(response: Response, ctx: AnyUser) -> None:
    """End this session at once."""
    logout(ctx.session, now=ctx.now, principal=ctx.principal)
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/auth/me", tags=["auth"])
def me_route(ctx: AnyCaller) -> Me:
    """Who the caller is."""
    return _me(ctx.session, ctx.principal, now=ctx.now)


@router.post("/auth/password", tags=["auth"], status_code=204)
def change_password_route(
    body: PasswordChange, ctx: AnyUser, settings: SettingsDep, hasher: HasherDep
) -> None:
    """Choose a new password; every other session of the account ends."""
    user = ctx.session.get(User, ctx.principal.user_id)
    if user is None:  # a session principal always has its user
        raise Unauthenticated("Your session has ended; please log in again.")
    users.change_own_password(
        ctx.session,
        now=ctx.now,
        settings=settings,
        hasher=hasher,
        user=user,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session=ctx.principal.session_id,
        actor=ctx.actor,
    )


# --- organisations ---------------------------------------------------------------------------


@router.get("/organisations", tags=["organisations"])
def list_organisations_route(_: DirectoryReader, session: SessionDep) -> list[OrganisationPublic]:
    """The network's organisations (names, kinds, countries: no case data)."""
    return [OrganisationPublic.model_validate(o) for o in users.list_organisations(session)]


@router.get("/organisations/{org_id}", tags=["organisations"])
def get_organisation_route(org_id: uuid.UUID, _: Member, session: SessionDep) -> OrganisationPublic:
    """One's own organisation."""
    return OrganisationPublic.model_validate(users.get_organisation(session, org_id))


@router.patch("/organisations/{org_id}", tags=["organisations"])
def update_organisation_route(
    org_id: uuid.UUID, body: OrganisationUpdate, ctx: OrgAdmin
) -> OrganisationPublic:
    """Rename an organisation or change its country or time zone."""
    organisation = users.update_organisation(
        ctx.session,
        now=ctx.now,
        organisation=users.get_organisation(ctx.session, org_id),
        data=body,
        actor=ctx.actor,
    )
    return OrganisationPublic.model_validate(organisation)


# --- users -----------------------------------------------------------------------------------


def _account(ctx: Context, org_id: uuid.UUID, user_id: uuid.UUID) -> User:
    """The account a user route names, in the organisation it names."""
    return users.get_user(ctx.session, organisation_id=org_id, user_id=user_id)


def _reason(body: Reason | None) -> str | None:
    return body.reason if body else None


@router.get("/organisations/{org_id}/users", tags=["users"])
def list_users_route(org_id: uuid.UUID, ctx: OrgOversight) -> list[UserPublic]:
    """The organisation's accounts."""
    return [
        users.user_public(ctx.session, u, now=ctx.now)
        for u in users.list_users(ctx.session, organisation_id=org_id)
    ]


@router.post("/organisations/{org_id}/users", tags=["users"], status_code=201)
def create_user_route(
    org_id: uuid.UUID, body: UserCreate, ctx: OrgAdmin, settings: SettingsDep, hasher: HasherDep
) -> UserCreated:
    """Create an account; it must choose its own password at first login."""
    user, one_time = users.create_user(
        ctx.session,
        now=ctx.now,
        settings=settings,
        hasher=hasher,
        organisation=users.get_organisation(ctx.session, org_id),
        data=body,
        actor=ctx.actor,
    )
    public = users.user_public(ctx.session, user, now=ctx.now)
    return UserCreated(**public.model_dump(), one_time_password=one_time)


@router.get("/organisations/{org_id}/users/{user_id}", tags=["users"])
def get_user_route(org_id: uuid.UUID, user_id: uuid.UUID, ctx: OrgOversight) -> UserPublic:
    """One account."""
    return users.user_public(ctx.session, _account(ctx, org_id, user_id), now=ctx.now)


@router.patch("/organisations/{org_id}/users/{user_id}", tags=["users"])
def update_user_route(
    org_id: uuid.UUID, user_id: uuid.UUID, body: UserUpdate, ctx: OrgAdmin
) -> UserPublic:
    """Change an account's name, volunteer flag or roles."""
    user = users.update_user(
        ctx.session,
        now=ctx.now,
        organisation=users.get_organisation(ctx.session, org_id),
        user=_account(ctx, org_id, user_id),
        data=body,
        actor=ctx.actor,
    )
    return users.user_public(ctx.session, user, now=ctx.now)


def _set_disabled(
    ctx: Context, org_id: uuid.UUID, user_id: uuid.UUID, body: Reason | None, *, disabled: bool
) -> UserPublic:
    user = users.set_disabled(
        ctx.session,
        now=ctx.now,
        user=_account(ctx, org_id, user_id),
        disabled=disabled,
        actor=ctx.actor,
        reason=_reason(body),
    )
    return users.user_public(ctx.session, user, now=ctx.now)


@router.post("/organisations/{org_id}/users/{user_id}/disable", tags=["users"])
def disable_user_route(
    org_id: uuid.UUID, user_id: uuid.UUID, ctx: OrgAdmin, body: Reason | None = None
) -> UserPublic:
    """Disable an account; its sessions end at once."""
    return _set_disabled(ctx, org_id, user_id, body, disabled=True)


@router.post("/organisations/{org_id}/users/{user_id}/enable", tags=["users"])
def enable_user_route(
    org_id: uuid.UUID, user_id: uuid.UUID, ctx: OrgAdmin, body: Reason | None = None
) -> UserPublic:
    """Enable a disabled account."""
    return _set_disabled(ctx, org_id, user_id, body, disabled=False)


@router.post("/organisations/{org_id}/users/{user_id}/revoke-sessions", tags=["users"])
def revoke_sessions_route(
    org_id: uuid.UUID, user_id: uuid.UUID, ctx: OrgAdmin, body: Reason | None = None
) -> Revoked:
    """Log an account out everywhere, at once."""
    count = users.revoke_user_sessions(
        ctx.session,
        now=ctx.now,
        user=_account(ctx, org_id, user_id),
        actor=ctx.actor,
        reason=_reason(body),
    )
    return Revoked(revoked_sessions=count)


@router.post("/organisations/{org_id}/users/{user_id}/reset-password", tags=["users"])
def reset_password_route(
    org_id: uuid.UUID, user_id: uuid.UUID, ctx: OrgAdmin, hasher: HasherDep
) -> OneTimePassword:
    """Give an account a one-time password, shown once; its sessions end at once."""
    password = users.reset_password(
        ctx.session,
        now=ctx.now,
        hasher=hasher,
        user=_account(ctx, org_id, user_id),
        actor=ctx.actor,
    )
    return OneTimePassword(one_time_password=password)


@router.post("/organisations/{org_id}/users/{user_id}/unlock", tags=["users"], status_code=204)
def unlock_route(
    org_id: uuid.UUID, user_id: uuid.UUID, ctx: OrgAdmin, settings: SettingsDep
) -> None:
    """Lift an account's lock and every source's wait on it (after an attack has passed)."""
    users.unlock(
        ctx.session,
        now=ctx.now,
        settings=settings,
        user=_account(ctx, org_id, user_id),
        actor=ctx.actor,
    )


# --- API tokens ------------------------------------------------------------------------------


@router.get("/organisations/{org_id}/tokens", tags=["tokens"])
def list_tokens_route(org_id: uuid.UUID, ctx: OrgAdmin) -> list[ApiTokenPublic]:
    """The organisation's API tokens (never their secrets)."""
    found = users.list_tokens(ctx.session, organisation_id=org_id)
    return [ApiTokenPublic.model_validate(t) for t in found]


@router.post("/organisations/{org_id}/tokens", tags=["tokens"], status_code=201)
def create_token_route(org_id: uuid.UUID, body: ApiTokenCreate, ctx: OrgAdmin) -> ApiTokenCreated:
    """Issue a token for a machine client; the secret is in this answer only."""
    token, secret = users.create_token(
        ctx.session,
        now=ctx.now,
        organisation=users.get_organisation(ctx.session, org_id),
        data=body,
        created_by=ctx.principal.user_id,
        actor=ctx.actor,
    )
    return ApiTokenCreated(**ApiTokenPublic.model_validate(token).model_dump(), token=secret)


@router.post("/organisations/{org_id}/tokens/{token_id}/revoke", tags=["tokens"])
def revoke_token_route(
    org_id: uuid.UUID, token_id: uuid.UUID, ctx: OrgAdmin, body: Reason | None = None
) -> ApiTokenPublic:
    """Revoke a token; it stops working at once."""
    token = users.revoke_token(
        ctx.session,
        now=ctx.now,
        organisation_id=org_id,
        token_id=token_id,
        actor=ctx.actor,
        reason=_reason(body),
    )
    return ApiTokenPublic.model_validate(token)


# --- audit -----------------------------------------------------------------------------------


@router.get("/organisations/{org_id}/audit", tags=["audit"])
def list_audit_route(
    org_id: uuid.UUID,
    ctx: OrgOversight,
    # An id is a BIGINT: a larger number cannot be compared with one (it answered 500).
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditEventPublic]:
    """The organisation's audit events, newest first."""
    query = select(AuditEvent).where(AuditEvent.organisation_id == org_id)
    if before_id is not None:
        query = query.where(col(AuditEvent.id) < before_id)
    rows = ctx.session.exec(query.order_by(col(AuditEvent.id).desc()).limit(limit)).all()
    return [AuditEventPublic.model_validate(r) for r in rows]
