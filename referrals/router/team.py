"""A CSW's child-protection team over HTTP: its admins and supervisors say who is on it."""

from __future__ import annotations

import uuid
from datetime import datetime

from core.models import User
from core.routing import Router
from referrals import team
from referrals.deps import TeamKeeper
from referrals.models import TeamMember

router = Router(tags=["referrals"])

TEAM = "/referrals/child-protection-team"


@router.get(TEAM, response_model=list[TeamMember])
def list_team(ctx: TeamKeeper) -> object:
    """Who at the centre reads the identity of children referred to it as at risk."""
    found = team.members(ctx.session, organisation_id=ctx.principal.organisation_id)
    return [_member(user, since) for user, since in found]


@router.put(TEAM + "/{user_id}", response_model=TeamMember)
def add_to_team(user_id: uuid.UUID, ctx: TeamKeeper) -> object:
    """Put one of the centre's officers or supervisors on its team (idempotent; audited)."""
    user, since = team.add(
        ctx.session,
        now=ctx.now,
        organisation_id=ctx.principal.organisation_id,
        user_id=user_id,
        actor=ctx.actor,
    )
    return _member(user, since)


@router.delete(TEAM + "/{user_id}", status_code=204)
def remove_from_team(user_id: uuid.UUID, ctx: TeamKeeper) -> None:
    """Take someone off the team: from their next request they read no child's name."""
    team.remove(
        ctx.session,
        now=ctx.now,
        organisation_id=ctx.principal.organisation_id,
        user_id=user_id,
        actor=ctx.actor,
    )


def _member(user: User, since: datetime) -> TeamMember:
    return TeamMember(user_id=user.id, display_name=user.display_name, since=since)
