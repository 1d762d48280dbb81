"""The CSW directory over HTTP: anyone reads it; a CSW's admins keep their own municipalities."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import Session

from core.deps import NowDep, SessionDep
from referrals import service
from referrals.deps import DirectoryKeeper, DirectoryReader
from referrals.models import Municipality, MunicipalityCreate, MunicipalityPublic
from referrals.router.answers import municipality_public

router = APIRouter(tags=["referrals"])


@router.get("/municipalities", response_model=list[MunicipalityPublic])
def list_municipalities(
    principal: DirectoryReader,
    session: SessionDep,
    country: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
) -> object:
    """Municipalities of residence and the CSW competent for each (Montenegro's ship as data)."""
    return [
        municipality_public(m, name)
        for m, name in service.list_municipalities(session, country_code=country)
    ]


@router.post("/municipalities", status_code=201, response_model=MunicipalityPublic)
def add_municipality(
    body: MunicipalityCreate, principal: DirectoryKeeper, session: SessionDep, now: NowDep
) -> object:
    """A CSW adds a municipality it is competent for."""
    municipality = service.add_municipality(
        session,
        now=now,
        data=body,
        csw_organisation_id=principal.organisation_id,
        actor=principal.actor(),
    )
    return _kept(session, municipality, principal.organisation_id)


@router.put("/municipalities/{municipality_id}/csw", response_model=MunicipalityPublic)
def claim_municipality(
    municipality_id: uuid.UUID, principal: DirectoryKeeper, session: SessionDep, now: NowDep
) -> object:
    """A CSW declares itself competent for a municipality that has none yet."""
    municipality = service.claim_municipality(
        session,
        now=now,
        municipality=service.get_municipality(session, municipality_id),
        csw_organisation_id=principal.organisation_id,
        actor=principal.actor(),
    )
    return _kept(session, municipality, principal.organisation_id)


def _kept(session: Session, municipality: Municipality, csw_id: uuid.UUID) -> object:
    """A municipality the caller's CSW is now competent for."""
    return municipality_public(municipality, service.names(session, [csw_id])[csw_id])
