"""Console pages: API tokens (issue, shown once; revoke) and the organisation's settings (name,
country, time zone). Included by `console.pages.admin`."""

import uuid
import zoneinfo
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from console.forms import Form, act, local_instant, parse, values
from console.pages.duty_common import ROLE_LABELS
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core import router as api
from core.context import Context
from core.models import TOKEN_ROLES, ApiTokenCreate, ApiTokenCreated, OrganisationUpdate, Role
from core.routing import Router

router = Router(include_in_schema=False)  # included under PREFIX by console.pages.admin
TOKENS = "/o/{org_id}/tokens"
SETTINGS = "/o/{org_id}/settings"

done_messages(
    {
        "token_revoked": N_("The token is revoked; it stops working at once."),
        "settings_saved": N_("The organisation's settings are saved."),
    }
)


def _tokens_page(
    request: Request,
    org_id: uuid.UUID,
    ctx: Context,
    status: int = 200,
    problem: str | None = None,
    created: ApiTokenCreated | None = None,
) -> Response:
    return page(
        view_of(request, ctx),
        "admin/tokens.html",
        status,
        active="users",
        tokens=api.list_tokens_route(org_id, ctx),
        roles=[r for r in Role if r in TOKEN_ROLES],
        role_labels=ROLE_LABELS,
        problem_message=problem,
        created=created,
    )


@router.get(TOKENS)
def tokens_page(request: Request, org_id: uuid.UUID, ctx: api.OrgAdmin) -> Response:
    return _tokens_page(request, org_id, ctx)


@router.post(TOKENS)
def create_token_form(
    request: Request, org_id: uuid.UUID, form: Form, ctx: api.OrgAdmin
) -> Response:
    """Issue a token; its secret is shown on this answer only."""

    def work() -> Any:
        data = values(form)
        if "expires_at" in data:
            zone = view_of(request, ctx).formats.zone
            data["expires_at"] = local_instant(data["expires_at"], zone, "expires_at")
        body = parse(ApiTokenCreate, data)
        return api.create_token_route(org_id, body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _tokens_page(request, org_id, ctx, status, message),
        lambda created: _tokens_page(request, org_id, ctx, created=created),
    )


@router.post(TOKENS + "/{token_id}/revoke")
def revoke_token_form(
    request: Request, org_id: uuid.UUID, token_id: uuid.UUID, form: Form, ctx: api.OrgAdmin
) -> Response:
    def work() -> Any:
        body = parse(api.Reason, values(form))
        return api.revoke_token_route(org_id, token_id, ctx, body)

    return act(
        ctx.session,
        work,
        lambda status, message: _tokens_page(request, org_id, ctx, status, message),
        redirect(f"{PREFIX}/o/{org_id}/tokens", done="token_revoked"),
    )


def _settings_page(
    request: Request, org_id: uuid.UUID, ctx: Context, status: int = 200, problem: str | None = None
) -> Response:
    return page(
        view_of(request, ctx),
        "admin/settings.html",
        status,
        active="users",
        organisation=api.get_organisation_route(org_id, ctx.principal, ctx.session),
        zones=sorted(z for z in zoneinfo.available_timezones() if "/" in z),
        problem_message=problem,
    )


@router.get(SETTINGS)
def settings_page(request: Request, org_id: uuid.UUID, ctx: api.OrgAdmin) -> Response:
    """The organisation's settings (the organisation route; the form is the admin's PATCH)."""
    return _settings_page(request, org_id, ctx)


@router.post(SETTINGS)
def settings_form(request: Request, org_id: uuid.UUID, form: Form, ctx: api.OrgAdmin) -> Response:
    def work() -> Any:
        body = parse(OrganisationUpdate, values(form))
        return api.update_organisation_route(org_id, body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _settings_page(request, org_id, ctx, status, message),
        redirect(f"{PREFIX}/o/{org_id}/settings", done="settings_saved"),
    )
