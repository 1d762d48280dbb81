"""Console pages: the administrator's desk. Accounts and their roles (create, edit, disable and
enable, a one-time password, unlock, reset the second factor, log out everywhere); API tokens
and the organisation's settings are in `admin_tokens`, hotlines in `admin_hotlines` (both
included here)."""

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from console.forms import Form, act, parse, values
from console.pages import admin_hotlines, admin_tokens
from console.pages.duty_common import ROLE_LABELS
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core import router as api
from core import second_factor_router as factor_api
from core.context import Context
from core.deps import HasherDep, SettingsDep
from core.models import ROLES_BY_KIND, Role, UserCreate, UserUpdate
from core.routing import Router

router = Router(prefix=PREFIX, include_in_schema=False)
USERS = "/o/{org_id}/users"
USER = USERS + "/{user_id}"

done_messages(
    {
        "user_saved": N_("The account is saved."),
        "user_disabled": N_("The account is disabled; its sessions have ended."),
        "user_enabled": N_("The account is enabled."),
        "user_unlocked": N_("The account is unlocked."),
        "second_factor_reset": N_(
            "The second factor is removed; the person sets it up again at the next login."
        ),
        "sessions_revoked": N_("The account is logged out everywhere."),
    }
)


def _roles(org_id: uuid.UUID, ctx: Context) -> list[Role]:
    """The roles this organisation's kind can give (the organisation route: every member)."""
    organisation = api.get_organisation_route(org_id, ctx.principal, ctx.session)
    return [r for r in Role if r in ROLES_BY_KIND[organisation.kind]]


def _users_page(
    request: Request, org_id: uuid.UUID, ctx: Context, status: int = 200, problem: str | None = None
) -> Response:
    return page(
        view_of(request, ctx),
        "admin/users.html",
        status,
        active="users",
        users=api.list_users_route(org_id, ctx),
        roles=_roles(org_id, ctx),
        role_labels=ROLE_LABELS,
        problem_message=problem,
    )


@router.get(USERS)
def users_page(request: Request, org_id: uuid.UUID, ctx: api.OrgOversight) -> Response:
    return _users_page(request, org_id, ctx)


def _account_data(form: FormData) -> dict[str, Any]:
    data = values(form, lists=("roles",))
    data["is_volunteer"] = "is_volunteer" in data
    return data


@router.post(USERS)
def create_user_form(
    request: Request,
    org_id: uuid.UUID,
    form: Form,
    ctx: api.OrgAdmin,
    settings: SettingsDep,
    hasher: HasherDep,
) -> Response:
    """Create an account; its one-time password is shown on this answer only."""

    def work() -> Any:
        body = parse(UserCreate, _account_data(form))
        return api.create_user_route(org_id, body, ctx, settings, hasher)

    return act(
        ctx.session,
        work,
        lambda status, message: _users_page(request, org_id, ctx, status, message),
        lambda created: page(
            view_of(request, ctx),
            "admin/one_time_password.html",
            active="users",
            user=created,
            password=created.one_time_password,
            created=True,
        ),
    )


def _user_page(
    request: Request,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    ctx: Context,
    status: int = 200,
    problem: str | None = None,
) -> Response:
    return page(
        view_of(request, ctx),
        "admin/user.html",
        status,
        active="users",
        user=api.get_user_route(org_id, user_id, ctx),
        roles=_roles(org_id, ctx),
        role_labels=ROLE_LABELS,
        problem_message=problem,
    )


@router.get(USER)
def user_page(
    request: Request, org_id: uuid.UUID, user_id: uuid.UUID, ctx: api.OrgOversight
) -> Response:
    return _user_page(request, org_id, user_id, ctx)


@router.post(USER)
def update_user_form(
    request: Request, org_id: uuid.UUID, user_id: uuid.UUID, form: Form, ctx: api.OrgAdmin
) -> Response:
    """Change the name, volunteer flag or roles (PATCH users/{user_id})."""

    def work() -> Any:
        data = _account_data(form)
        data.setdefault("roles", [])  # every box unchecked: no roles, which is refused
        body = parse(UserUpdate, data)
        return api.update_user_route(org_id, user_id, body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _user_page(request, org_id, user_id, ctx, status, message),
        redirect(f"{PREFIX}/o/{org_id}/users/{user_id}", done="user_saved"),
    )


def _reason_form(
    request: Request,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    form: FormData,
    ctx: Context,
    action: str,
) -> Response:
    """Disable, enable or log out everywhere, with an optional reason for the audit log."""
    actions = {
        "disable": (api.disable_user_route, "user_disabled"),
        "enable": (api.enable_user_route, "user_enabled"),
        "revoke-sessions": (api.revoke_sessions_route, "sessions_revoked"),
    }
    route, done = actions[action]

    def work() -> Any:
        body = parse(api.Reason, values(form))
        return route(org_id, user_id, ctx, body)

    return act(
        ctx.session,
        work,
        lambda status, message: _user_page(request, org_id, user_id, ctx, status, message),
        redirect(f"{PREFIX}/o/{org_id}/users/{user_id}", done=done),
    )


@router.post(USER + "/disable")
def disable_form(
    request: Request, org_id: uuid.UUID, user_id: uuid.UUID, form: Form, ctx: api.OrgAdmin
) -> Response:
    return _reason_form(request, org_id, user_id, form, ctx, "disable")


@router.post(USER + "/enable")
def enable_form(
    request: Request, org_id: uuid.UUID, user_id: uuid.UUID, form: Form, ctx: api.OrgAdmin
) -> Response:
    return _reason_form(request, org_id, user_id, form, ctx, "enable")


@router.post(USER + "/revoke-sessions")
def revoke_sessions_form(
    request: Request, org_id: uuid.UUID, user_id: uuid.UUID, form: Form, ctx: api.OrgAdmin
) -> Response:
    return _reason_form(request, org_id, user_id, form, ctx, "revoke-sessions")


@router.post(USER + "/reset-password")
def reset_password_form(
    request: Request,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    form: Form,
    ctx: api.OrgAdmin,
    hasher: HasherDep,
) -> Response:
    """A one-time password, shown on this answer only; the account's sessions end."""
    found = api.reset_password_route(org_id, user_id, ctx, hasher)
    return page(
        view_of(request, ctx),
        "admin/one_time_password.html",
        active="users",
        user=api.get_user_route(org_id, user_id, ctx),
        password=found.one_time_password,
        created=False,
    )


@router.post(USER + "/unlock")
def unlock_form(
    request: Request,
    org_id: uuid.UUID,
    user_id: uuid.UUID,
    form: Form,
    ctx: api.OrgAdmin,
    settings: SettingsDep,
) -> Response:
    api.unlock_route(org_id, user_id, ctx, settings)
    return redirect(f"{PREFIX}/o/{org_id}/users/{user_id}", done="user_unlocked")


@router.post(USER + "/second-factor/reset")
def reset_second_factor_form(
    request: Request, org_id: uuid.UUID, user_id: uuid.UUID, form: Form, ctx: factor_api.OrgAdmin
) -> Response:
    """Remove a lost second factor (POST users/{user_id}/second-factor/reset)."""
    return act(
        ctx.session,
        lambda: factor_api.reset_route(org_id, user_id, ctx),
        lambda status, message: _user_page(request, org_id, user_id, ctx, status, message),
        redirect(f"{PREFIX}/o/{org_id}/users/{user_id}", done="second_factor_reset"),
    )


router.include_router(admin_tokens.router)
router.include_router(admin_hotlines.router)
