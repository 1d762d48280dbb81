"""Console page: a Centre for Social Work's child-protection team, who at the centre reads the
identity of children referred to it as at risk (its admins and supervisors keep it).

Mirrors GET /referrals/child-protection-team and its PUT and DELETE of a member (gate
`referrals.deps.TeamKeeper`). Whom she may add is read as GET /organisations/{her org}/users
answers her: that route's policy (`core.router.ORG_OVERSIGHT`) admits the same roles, admins and
supervisors, in her own organisation; the API then refuses anyone it does not take (an officer
or supervisor of the centre, not disabled), and the page shows its refusal.
"""

import uuid
from typing import cast

from fastapi import Request
from fastapi.responses import Response

from console.forms import Form, act, values
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.errors import InvalidInput
from core.models import Role
from core.router import list_users_route
from core.routing import Router
from referrals.deps import TeamKeeper
from referrals.models import TeamMember
from referrals.router import team as api

router = Router(prefix=PREFIX, include_in_schema=False)
TEAM = "/child-protection-team"
ELIGIBLE = (Role.CSW_OFFICER, Role.SUPERVISOR)  # as `referrals.team.ELIGIBLE`: the API decides

done_messages(
    {
        "csw_team_added": N_("She is on the team: she reads children's names from now on."),
        "csw_team_removed": N_("She is off the team: she reads no child's name from now on."),
    }
)


def _team_page(
    request: Request, ctx: TeamKeeper, status: int = 200, message: str | None = None
) -> Response:
    members = cast(list[TeamMember], api.list_team(ctx))
    on_team = {m.user_id for m in members}
    colleagues = list_users_route(ctx.principal.organisation_id, ctx)
    candidates = [
        u
        for u in colleagues
        if u.id not in on_team and not u.disabled and any(r in ELIGIBLE for r in u.roles)
    ]
    return page(
        view_of(request, ctx),
        "inbox/team.html",
        status,
        members=members,
        candidates=sorted(candidates, key=lambda u: (u.display_name, str(u.id))),
        message=message,
        active="team",
    )


@router.get(TEAM)
def team_page(request: Request, ctx: TeamKeeper) -> Response:
    """Mirrors GET /referrals/child-protection-team (TeamKeeper)."""
    return _team_page(request, ctx)


@router.post(TEAM)
def add_form(request: Request, form: Form, ctx: TeamKeeper) -> Response:
    """Mirrors PUT /referrals/child-protection-team/{user_id} (TeamKeeper)."""
    chosen = str(values(form).get("user_id") or "")

    def work() -> object:
        try:
            user_id = uuid.UUID(chosen)
        except ValueError:
            raise InvalidInput("user_id: choose a colleague to put on the team.") from None
        return api.add_to_team(user_id, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _team_page(request, ctx, status, message),
        redirect(PREFIX + TEAM, done="csw_team_added"),
    )


@router.post(TEAM + "/{user_id}/remove")
def remove_form(request: Request, user_id: uuid.UUID, form: Form, ctx: TeamKeeper) -> Response:
    """Mirrors DELETE /referrals/child-protection-team/{user_id} (TeamKeeper)."""
    return act(
        ctx.session,
        lambda: api.remove_from_team(user_id, ctx),
        lambda status, message: _team_page(request, ctx, status, message),
        redirect(PREFIX + TEAM, done="csw_team_removed"),
    )
