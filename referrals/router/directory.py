"""The CSW directory over HTTP: anyone reads it; a CSW's admins keep their own municipalities."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Query

from core.context import Context
from core.routing import Router
from referrals import service
from referrals.deps import DirectoryKeeper, DirectoryReader
from referrals.models import Municipality, MunicipalityCreate, MunicipalityPublic
from referrals.router.answers import municipality_public

router = Router(tags=["referrals"])


@router.get("/municipalities", response_model=list[MunicipalityPublic])
def list_municipalities(
    ctx: DirectoryReader, country: Annotated[str | None, Query(min_length=2, max_length=2)] = None
) -> object:
    """Municipalities of residence and the CSW competent for each (Montenegro's ship as data)."""
    found = service.list_municipalities(ctx.session, country_code=country)
    return [municipality_public(m, name) for m, name in found]


@router.post("/municipalities", status_code=201, response_model=MunicipalityPublic)
def add_municipality(body: MunicipalityCreate, ctx: DirectoryKeeper) -> object:
    """A CSW adds a municipality it is competent for."""
    municipality = service.add_municipality(
        ctx.session,
        now=ctx.now,
        data=body,
        csw_organisation_id=ctx.principal.organisation_id,
        actor=ctx.actor,
    )
    return _kept(ctx, municipality)


@router.put("/municipalities/{municipality_id}/csw", response_model=MunicipalityPublic)
def claim_municipality(municipality_id: uuid.UUID, ctx: DirectoryKeeper) -> object:
    """A CSW declares itself competent for a municipality that has none yet."""
    municipality = service.claim_municipality(
        ctx.session,
        now=ctx.now,
        municipality=service.get_municipality(ctx.session, municipality_id),
        csw_organisation_id=ctx.principal.organisation_id,
        actor=ctx.actor,
    )
    return _kept(ctx, municipality)


def _kept(ctx: Context, municipality: Municipality) -> object:
    """A municipality the caller's CSW is now competent for."""
    csw_id = ctx.principal.organisation_id
    return municipality_public(municipality, service.names(ctx.session, [csw_id])[csw_id])
