"""HTTP routes of the second factor: enrol, confirm, verify (a step of the session flow), and an
administrator's reset for a lost phone."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from fastapi.responses import JSONResponse
from sqlmodel import SQLModel

from core import second_factor
from core.access import ALL_ROLES, Policy, Scope
from core.context import Context, context
from core.errors import Unauthenticated, error_body
from core.models import AuthSession, Role, User
from core.routing import Router
from core.scoped import get_owned

# Any signed-in person (not a token), even before the second factor: this is how it is passed.
SESSION_USER = Policy(Scope.NETWORK, ALL_ROLES)
ORG_ADMIN = Policy(Scope.ORGANISATION, frozenset({Role.ADMIN}))
SessionUser = Annotated[Context, Depends(context(SESSION_USER))]
OrgAdmin = Annotated[Context, Depends(context(ORG_ADMIN))]

router = Router(prefix="/auth/mfa", tags=["auth"])
admin_router = Router(tags=["users"])


class Code(SQLModel):
    code: str

    model_config = {"extra": "forbid"}


class EnrolmentPublic(SQLModel):
    secret: str  # base32, for typing into an authenticator app
    uri: str  # otpauth://..., for a QR code


class RecoveryCodes(SQLModel):
    recovery_codes: list[str]  # shown this once: each works once in place of a code


class SecondFactorStatus(SQLModel):
    enrolled: bool
    passed: bool
    recovery_codes_left: int | None = None


def _mine(ctx: Context) -> tuple[User, AuthSession]:
    user = ctx.session.get(User, ctx.user_id)
    auth_session = ctx.session.get(AuthSession, ctx.principal.session_id)
    if user is None or auth_session is None:
        raise Unauthenticated("Your session has ended; please log in again.")
    return user, auth_session


@router.get("")
def status_route(ctx: SessionUser) -> SecondFactorStatus:
    """Whether the caller has a second factor and whether this session has passed it."""
    factor = second_factor.factor_of(ctx.session, ctx.user_id)
    enrolled = factor is not None and factor.confirmed_at is not None
    return SecondFactorStatus(
        enrolled=enrolled,
        passed=ctx.principal.second_factor,
        recovery_codes_left=len(factor.recovery_digests) if factor and enrolled else None,
    )


@router.post("/enrol", status_code=201)
def enrol_route(ctx: SessionUser) -> EnrolmentPublic:
    """Start setting up TOTP: a secret for the authenticator app (confirm it with a code)."""
    user, _ = _mine(ctx)
    found = second_factor.enrol(ctx.act, user)
    return EnrolmentPublic(secret=found.secret, uri=found.uri)


@router.post("/confirm")
def confirm_route(body: Code, ctx: SessionUser) -> RecoveryCodes:
    """Finish setting up with the app's first code: this session passes, and the ten recovery
    codes are shown (this once)."""
    user, auth_session = _mine(ctx)
    codes = second_factor.confirm(ctx.act, user, auth_session, body.code)
    return RecoveryCodes(recovery_codes=codes)


@router.post(
    "/verify",
    response_model=SecondFactorStatus,
    responses={401: {"description": "wrong code (the fifth ends the session)"}},
)
def verify_route(body: Code, ctx: SessionUser) -> SecondFactorStatus | JSONResponse:
    """Pass this session's second factor with the app's code or a recovery code."""
    user, auth_session = _mine(ctx)
    result = second_factor.verify(ctx.act, user, auth_session, body.code)
    if not result.ok:  # answered, not raised: the failure's record commits
        message = second_factor.TOO_MANY if result.session_ended else second_factor.WRONG_CODE
        return JSONResponse(error_body("second_factor_failed", message), status_code=401)
    return SecondFactorStatus(
        enrolled=True, passed=True, recovery_codes_left=result.recovery_codes_left
    )


@admin_router.post("/organisations/{org_id}/users/{user_id}/second-factor/reset", status_code=204)
def reset_route(org_id: uuid.UUID, user_id: uuid.UUID, ctx: OrgAdmin) -> None:
    """Remove an account's second factor (a lost phone): it must enrol again before cases."""
    user = get_owned(ctx.session, User, user_id, organisation_id=org_id)
    second_factor.reset(ctx.act, user)
