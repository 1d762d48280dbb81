"""Turn-aways, the network's free beds and the organisation's figures."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Query

from core.deps import NowDep, SessionDep
from core.errors import InvalidInput
from core.routing import Router
from shelters import errors, service
from shelters.deps import FiguresReader, NetworkReader, WorkCtx
from shelters.models import Group, Sex, TurnAwayPublic, TurnAwayUpdate
from shelters.router.answers import AvailabilityPublic, FiguresPublic, availability_public
from shelters.router.paths import SHELTER

router = Router(tags=["shelters"])


# --- turn-aways, network availability, figures -----------------------------------------------


@router.get(SHELTER + "/turn-aways")
def list_turn_aways_route(ctx: WorkCtx) -> list[TurnAwayPublic]:
    return [
        TurnAwayPublic.model_validate(t, from_attributes=True)
        for t in service.list_turn_aways(ctx.session, shelter=ctx.shelter)
    ]


@router.patch(SHELTER + "/turn-aways/{turn_away_id}")
def update_turn_away_route(
    turn_away_id: uuid.UUID, body: TurnAwayUpdate, ctx: WorkCtx
) -> TurnAwayPublic:
    """Record where a person we could not take was sent."""
    row = service.update_turn_away(
        ctx.session,
        now=ctx.now,
        shelter=ctx.shelter,
        turn_away_id=turn_away_id,
        data=body,
        actor=ctx.actor,
    )
    return TurnAwayPublic.model_validate(row, from_attributes=True)


@router.get("/network/shelter-availability")
def network_availability_route(
    _: NetworkReader,
    session: SessionDep,
    now: NowDep,
    sex: Sex = Sex.FEMALE,
    age: Annotated[int, Query(ge=0, le=120)] = 30,
    children: Annotated[int, Query(ge=0, le=12)] = 0,
    infants: Annotated[int, Query(ge=0, le=12, description="children under three")] = 0,
    group: Group | None = None,
) -> list[AvailabilityPublic]:
    """Shelters across the network with enough free eligible beds: counts only, no places.

    The 50 shelters with most free places; `infants` of the `children` may sleep in cots.
    """
    if infants > children:
        raise InvalidInput(errors.INFANTS_OVER_CHILDREN)
    found = service.network_availability(
        session,
        now=now,
        sex=sex,
        age=age,
        group=group,
        children=children,
        infants=infants,
    )
    return availability_public(found)


@router.get("/organisations/{org_id}/shelter-figures")
def figures_route(
    org_id: uuid.UUID,
    _: FiguresReader,
    session: SessionDep,
    now: NowDep,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
) -> list[FiguresPublic]:
    """Per shelter: bed nights (in a bed at 00:00 local), occupancy, stays, turn-aways."""
    shelters = service.list_shelters(session, organisation_id=org_id)
    return [
        FiguresPublic(**{**f.__dict__, "occupancy_rate": f.occupancy_rate})
        for f in service.figures(session, shelters=shelters, first=first, last=last, now=now)
    ]
