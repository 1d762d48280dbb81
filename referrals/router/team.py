"""A CSW's child-protection team over HTTP: its admins and supervisors say who is on it."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from core.deps import NowDep, SessionDep
from referrals import team
from referrals.deps import TeamKeeper
from referrals.models import TeamMember

router = APIRouter(tags=["referrals"])

TEAM = "/referrals/child-protection-team"


@router.get(TEAM, response_model=list[TeamMember])
def list_team(principal: TeamKeeper, session: SessionDep) -> object:
    """Who at the centre reads the identity of children referred to it as at risk."""
    return [
        TeamMember(user_id=user.id, display_name=user.display_name, since=since)
        for user, since in team.members(session, organisation_id=principal.organisation_id)
    ]


@router.put(TEAM + "/{user_id}", response_model=TeamMember)
def add_to_team(
    user_id: uuid.UUID, principal: TeamKeeper, session: SessionDep, now: NowDep
) -> object:
    """Put one of the centre's officers or supervisors on its team (idempotent; audited)."""
    user, since = team.add(
        session,
        now=now,
        organisation_id=principal.organisation_id,
        user_id=user_id,
        actor=principal.actor(),
    )
    return TeamMember(user_id=user.id, display_name=user.display_name, since=since)


@router.delete(TEAM + "/{user_id}", status_code=204)
def remove_from_team(
    user_id: uuid.UUID, principal: TeamKeeper, session: SessionDep, now: NowDep
) -> None:
    """Take someone off the team: from their next request they read no child's name."""
    team.remove(
        session,
        now=now,
        organisation_id=principal.organisation_id,
        user_id=user_id,
        actor=principal.actor(),
    )
