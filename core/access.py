"""Access control: every route declares a policy; a route without one cannot be served.

A policy names the roles that may call a route and how the route's data is scoped to an
organisation. The check runs in one dependency, `require`, so each domain's rules live in its
`deps.py` as policies, never as ad-hoc checks inside handlers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts

from core.auth import (
    SESSION_COOKIE,
    Principal,
    principal_from_api_token,
    principal_from_session_token,
)
from core.deps import ClockDep, SessionDep, SettingsDep
from core.errors import Forbidden, NotFound, Unauthenticated
from core.logs import current_request_id
from core.models import Role

POLICY_ATTRIBUTE = "__sigurna_policy__"
ALL_ROLES = frozenset(Role)
SECOND_FACTOR_NEEDED = (
    "This needs your second factor: set it up (POST /auth/mfa/enrol) or enter your code "
    "(POST /auth/mfa/verify)."
)


class Scope(StrEnum):
    PUBLIC = "public"  # no caller needed (health checks, login)
    SIGNED = "signed"  # a machine caller proves itself with a request signature the route checks
    NETWORK = "network"  # any authenticated caller, whatever the organisation
    ORGANISATION = "organisation"  # the organisation the route names must be the caller's own


OrganisationResolver = Callable[[Request, Any], uuid.UUID | None]


def organisation_from_path(request: Request, _session: Any) -> uuid.UUID | None:
    """The organisation named by the route's `org_id` path parameter."""
    raw = request.path_params.get("org_id")
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        return None


@dataclass(frozen=True)
class Policy:
    """Who may call a route."""

    scope: Scope
    roles: frozenset[Role] = field(default_factory=frozenset)
    allow_tokens: bool = False
    # The few routes a user with a one-time password may call before choosing their own.
    while_password_change_pending: bool = False
    organisation_of: OrganisationResolver = organisation_from_path
    # Routes to case content: only for a session that has passed its second factor (TOTP).
    needs_second_factor: bool = False

    def describe(self) -> str:
        roles = ",".join(sorted(self.roles)) or "-"
        mfa = ":mfa" if self.needs_second_factor else ""
        return f"{self.scope}:{roles}:{'tokens' if self.allow_tokens else 'no-tokens'}{mfa}"


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    return value.strip()


def authenticate(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Principal | None:
    """The caller of a request, from an API token or a session cookie, or None."""
    now = clock.now()
    bearer = _bearer(request)
    if bearer is not None:
        return principal_from_api_token(session, now=now, token=bearer)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return principal_from_session_token(session, now=now, settings=settings, token=cookie)
    return None


def require(policy: Policy) -> Callable[..., Principal]:
    """The dependency that enforces `policy`; it is the only gate to a route."""
    if policy.scope in (Scope.PUBLIC, Scope.SIGNED):
        raise ValueError("declare such routes with dependencies=[Public] or [Signed]")

    def check(
        request: Request,
        session: SessionDep,
        clock: ClockDep,
        settings: SettingsDep,
    ) -> Principal:
        principal = authenticate(request, session, clock, settings)
        if principal is None:
            raise Unauthenticated("Log in, or send an API token, to use this route.")
        if principal.via == "token" and not policy.allow_tokens:
            raise Forbidden("API tokens cannot use this route.")
        if principal.must_change_password and not policy.while_password_change_pending:
            raise Forbidden("Choose a new password first (POST /auth/password).")
        # Another organisation's data is answered as absent, never as forbidden, so that its
        # existence is not confirmed.
        if (
            policy.scope is Scope.ORGANISATION
            and policy.organisation_of(request, session) != principal.organisation_id
        ):
            raise NotFound("Not found.")
        if not policy.roles & principal.roles:
            raise Forbidden("Your role does not allow this action.")
        if policy.needs_second_factor and not principal.second_factor:
            raise Forbidden(SECOND_FACTOR_NEEDED)
        return replace(principal, request_id=current_request_id())

    return declare(check, policy)


def declare(dependency: Callable[..., Any], policy: Policy) -> Callable[..., Any]:
    """Mark `dependency` as the one that enforces `policy` (what the route matrix looks for).

    A domain's gate that needs the checked caller may call `require(policy)`'s function itself,
    in its own worker thread, instead of depending on it: one hop to a worker thread a request
    instead of two. It then declares the policy with this, so that each route still has
    exactly one."""
    setattr(dependency, POLICY_ATTRIBUTE, policy)
    return dependency


def allow(policy: Policy) -> Any:
    """`Annotated[Principal, allow(policy)]` for a route parameter."""
    return Depends(require(policy))


PUBLIC = Policy(scope=Scope.PUBLIC)


async def _public() -> None:
    """Anyone may call the route; it must protect itself some other way if it needs to."""


setattr(_public, POLICY_ATTRIBUTE, PUBLIC)

# For `dependencies=[...]` of a route that is open to anyone.
Public = Depends(_public)

SIGNED = Policy(scope=Scope.SIGNED)


async def _signed() -> None:
    """The route verifies a request signature itself (e.g. Twilio's) and refuses without it."""


setattr(_signed, POLICY_ATTRIBUTE, SIGNED)

# For `dependencies=[...]` of a route whose caller signs its requests.
Signed = Depends(_signed)


def policy_of(dependant: Any) -> list[Policy]:
    """Every policy declared in a route's dependency tree (exactly one is valid)."""
    found: list[Policy] = []

    def walk(node: Any) -> None:
        for dependency in node.dependencies:
            policy = getattr(dependency.call, POLICY_ATTRIBUTE, None)
            if policy is not None:
                found.append(policy)
            walk(dependency)

    walk(dependant)
    return found


@dataclass(frozen=True)
class ServedRoute:
    path: str
    methods: frozenset[str]
    policies: tuple[Policy, ...]
    is_api: bool


def served_routes(app: FastAPI) -> list[ServedRoute]:
    """Every route the app serves, as it serves it (included routers flattened)."""
    found: list[ServedRoute] = []
    for context in iter_route_contexts(app.routes):
        is_api = isinstance(context.original_route, APIRoute)
        found.append(
            ServedRoute(
                path=context.path or "",
                methods=frozenset(context.methods or ()),
                policies=tuple(policy_of(context.dependant)) if is_api else (),
                is_api=is_api,
            )
        )
    return found


def undeclared_routes(app: FastAPI) -> list[str]:
    """Routes with no policy, or more than one; the app refuses to start while any exist."""
    problems: list[str] = []
    for route in served_routes(app):
        if route.is_api:
            if len(route.policies) != 1:
                problems.append(f"{sorted(route.methods)} {route.path}")
        elif route.path not in app.state.non_api_routes:
            problems.append(f"non-API route {route.path}")
    return problems
