"""The CSW directory: municipalities of residence and the Center for Social Work competent for
each, and the organisations a referral names (their names, kinds and time zones)."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from core import audit
from core.audit import Actor
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Organisation, OrganisationKind
from referrals import errors
from referrals.models import Municipality, MunicipalityCreate


def fold(name: str) -> str:
    """A municipality's name without case, accents or extra spaces: "Nikšić" is "niksic"."""
    text = name.casefold().replace("đ", "dj")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())


def find_municipality(session: Session, *, country_code: str, name: str) -> Municipality | None:
    return session.exec(
        select(Municipality).where(
            Municipality.country_code == country_code, Municipality.name_key == fold(name)
        )
    ).first()


def get_municipality(session: Session, municipality_id: uuid.UUID) -> Municipality:
    found = session.get(Municipality, municipality_id)
    if found is None:
        raise NotFound(errors.MUNICIPALITY_NOT_FOUND)
    return found


def list_municipalities(
    session: Session, *, country_code: str | None
) -> list[tuple[Municipality, str | None]]:
    query = select(Municipality, Organisation.name).outerjoin(
        Organisation, col(Organisation.id) == col(Municipality.csw_organisation_id)
    )
    if country_code:
        query = query.where(Municipality.country_code == country_code.upper())
    rows = session.exec(query.order_by(col(Municipality.country_code), col(Municipality.name_key)))
    return [(m, name) for m, name in rows.all()]


def add_municipality(
    session: Session,
    *,
    now: datetime,
    data: MunicipalityCreate,
    csw_organisation_id: uuid.UUID,
    actor: Actor,
) -> Municipality:
    """A CSW adds a municipality it is competent for."""
    competent_csw(session, csw_organisation_id)
    if find_municipality(session, country_code=data.country_code, name=data.name) is not None:
        raise Conflict(errors.MUNICIPALITY_EXISTS)
    municipality = Municipality(
        country_code=data.country_code,
        name=data.name,
        name_key=fold(data.name),
        csw_organisation_id=csw_organisation_id,
        created_at=now,
    )
    try:
        with session.begin_nested():  # two CSWs adding the same name at once: one wins
            session.add(municipality)
    except IntegrityError as exc:
        raise Conflict(errors.MUNICIPALITY_EXISTS) from exc
    audit.record(
        session,
        now,
        actor,
        "referrals.municipality_added",
        "municipality",
        municipality.id,
        municipality.csw_organisation_id,
    )
    return municipality


def claim_municipality(
    session: Session,
    *,
    now: datetime,
    municipality: Municipality,
    csw_organisation_id: uuid.UUID,
    actor: Actor,
) -> Municipality:
    """A CSW declares itself competent for a municipality that has no CSW yet.

    Taking a municipality from another CSW would redirect victims' referrals: only the operator
    does that (`sigurna referrals set-csw`).
    """
    competent_csw(session, csw_organisation_id)
    if municipality.csw_organisation_id == csw_organisation_id:
        return municipality
    if municipality.csw_organisation_id is not None:
        raise Conflict(errors.ANOTHER_CSW)
    return set_competent_csw(
        session,
        now=now,
        municipality=municipality,
        csw_organisation_id=csw_organisation_id,
        actor=actor,
    )


def set_competent_csw(
    session: Session,
    *,
    now: datetime,
    municipality: Municipality,
    csw_organisation_id: uuid.UUID | None,
    actor: Actor,
) -> Municipality:
    """Make a CSW (or none) competent for a municipality; referrals already made keep theirs."""
    if csw_organisation_id is not None:
        competent_csw(session, csw_organisation_id)
    municipality.csw_organisation_id = csw_organisation_id
    session.add(municipality)
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "referrals.municipality_csw_set",
        "municipality",
        municipality.id,
        municipality.csw_organisation_id,
    )
    return municipality


def municipality_names(session: Session, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    return _names(session, Municipality, ids)


# --- the organisations a referral names --------------------------------------------------------


def names(session: Session, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    return _names(session, Organisation, ids)


def _names(
    session: Session,
    model: type[Organisation] | type[Municipality],
    ids: Iterable[uuid.UUID | None],
) -> dict[uuid.UUID, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(model.id, model.name).where(col(model.id).in_(wanted)))
    return dict(rows.all())


def kind_of(session: Session, organisation_id: uuid.UUID) -> OrganisationKind | None:
    organisation = session.get(Organisation, organisation_id)
    return organisation.kind if organisation is not None else None


def competent_csw(session: Session, organisation_id: uuid.UUID) -> Organisation:
    """The organisation, which must be a Center for Social Work."""
    organisation = session.get(Organisation, organisation_id)
    if organisation is None or organisation.kind is not OrganisationKind.CSW:
        raise InvalidInput(errors.NOT_A_CSW)
    return organisation


def zone_of(session: Session, organisation_id: uuid.UUID | None, fallback: str) -> str:
    """The organisation's time zone (`fallback` for none)."""
    if organisation_id is None:
        return fallback
    organisation = session.get(Organisation, organisation_id)
    return organisation.time_zone if organisation is not None else fallback
