"""The beds as they are now: the bed board, holds (a bed kept for someone on her way) and the
free-bed counts across the network."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from core.audit import Actor
from core.crypto import FieldCipher
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Organisation
from shelters import errors
from shelters.models import (
    Bed,
    BedKind,
    BedOccupancy,
    BedState,
    Group,
    HoldCreate,
    OccupancyKind,
    Sex,
    Shelter,
    StayMember,
)
from shelters.service.common import (
    NOTE_CONTEXT,
    audit_act,
    bed_taken,
    current,
    current_occupancies,
    end_occupancy,
    flush_occupancies,
    get_within,
    lock_shelter,
    people_in,
    update_over_capacity,
)
from shelters.service.placement import Criteria, eligibility_failures
from shelters.service.shelters import get_bed, list_beds

MAX_HOLD = timedelta(hours=24)
MAX_ALTERNATIVES = 50

# --- the bed board ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardEntry:
    bed: Bed
    state: BedState
    occupancy: BedOccupancy | None
    member: StayMember | None


def bed_board(session: Session, *, shelter: Shelter, now: datetime) -> list[BoardEntry]:
    """Every bed of the shelter with its state now and, if taken, who holds it."""
    beds = list_beds(session, shelter_id=shelter.id)
    by_bed = {o.bed_id: o for o in current_occupancies(session, shelter_id=shelter.id, now=now)}
    member_ids = [o.member_id for o in by_bed.values() if o.member_id is not None]
    members = (
        {
            m.id: m
            for m in session.exec(
                select(StayMember).where(col(StayMember.id).in_(member_ids))
            ).all()
        }
        if member_ids
        else {}
    )
    board: list[BoardEntry] = []
    for bed in beds:
        occupancy = by_bed.get(bed.id)
        if occupancy is not None:
            state = (
                BedState.OCCUPIED if occupancy.kind is OccupancyKind.OCCUPIED else BedState.RESERVED
            )
        elif bed.out_of_service:
            state = BedState.OUT_OF_SERVICE
        else:
            state = BedState.FREE
        member = members.get(occupancy.member_id) if occupancy and occupancy.member_id else None
        board.append(BoardEntry(bed, state, occupancy, member))
    return board


# --- holds (reservations) ---------------------------------------------------------------------


def hold_bed(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    data: HoldCreate,
    cipher: FieldCipher,
    actor: Actor,
) -> BedOccupancy:
    """Reserve a free bed for someone on their way, until a stated time (at most 24 h)."""
    until = data.until
    if until <= now or until - now > MAX_HOLD:
        raise InvalidInput(errors.HOLD_UNTIL)
    shelter = lock_shelter(session, shelter)
    bed = get_bed(session, shelter=shelter, bed_id=data.bed_id)
    if bed.out_of_service:
        raise Conflict(errors.BED_OUT_OF_SERVICE)
    if bed_taken(session, bed.id, now=now):
        raise Conflict(errors.BED_TAKEN)
    if people_in(session, shelter_id=shelter.id, now=now) + 1 > shelter.hard_capacity:
        raise Conflict(errors.AT_CAPACITY)
    key_id, blob = cipher.seal_pair(data.note, context=NOTE_CONTEXT)
    hold = BedOccupancy(
        shelter_id=shelter.id,
        bed_id=bed.id,
        kind=OccupancyKind.RESERVED,
        note_key_id=key_id,
        note_sealed=blob,
        starts_at=now,
        ends_at=until,
    )
    session.add(hold)
    flush_occupancies(session)
    audit_act(session, now, actor, "shelter.bed_reserved", shelter, "shelter_bed", bed.id)
    return hold


def reveal_note(cipher: FieldCipher, occupancy: BedOccupancy) -> str | None:
    return cipher.open_pair(occupancy.note_key_id, occupancy.note_sealed, context=NOTE_CONTEXT)


def release_hold(
    session: Session, *, now: datetime, shelter: Shelter, hold_id: uuid.UUID, actor: Actor
) -> None:
    hold = get_within(session, BedOccupancy, hold_id, within=shelter.id)
    if hold.kind is not OccupancyKind.RESERVED:
        raise NotFound(errors.NOT_FOUND)
    if hold.ends_at is not None and hold.ends_at <= now:
        raise Conflict(errors.HOLD_ENDED)
    bed_id = hold.bed_id
    end_occupancy(session, hold, now)
    session.flush()
    update_over_capacity(session, lock_shelter(session, shelter), now=now)
    audit_act(session, now, actor, "shelter.bed_released", shelter, "shelter_bed", bed_id)


# --- free beds across the network -------------------------------------------------------------


@dataclass(frozen=True)
class Availability:
    shelter_id: uuid.UUID
    shelter_name: str
    organisation_id: uuid.UUID
    organisation_name: str
    free_beds: int
    free_cots: int


def _free_beds_query(now: datetime) -> Any:
    """Free, in-service beds and cots per shelter now (one aggregate over the beds)."""
    taken = select(BedOccupancy.bed_id).where(current(now))
    is_cot = col(Bed.kind) == BedKind.COT
    return (
        select(
            col(Bed.shelter_id).label("shelter_id"),
            func.sum(sa.case((is_cot, 0), else_=1)).label("beds"),
            func.sum(sa.case((is_cot, 1), else_=0)).label("cots"),
        )
        .where(col(Bed.out_of_service).is_(False), col(Bed.id).not_in(taken))
        .group_by(col(Bed.shelter_id))
    )


def free_bed_counts(
    session: Session, *, now: datetime, shelter_ids: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, tuple[int, int]]:
    """Free, in-service (beds, cots) per shelter."""
    query = _free_beds_query(now)
    if shelter_ids is not None:
        query = query.where(col(Bed.shelter_id).in_(list(shelter_ids)))
    return {
        shelter_id: (int(beds), int(cots)) for shelter_id, beds, cots in session.exec(query).all()
    }


def network_availability(
    session: Session,
    *,
    now: datetime,
    sex: Sex,
    age: int,
    group: Group | None,
    children: int,
    infants: int = 0,
    exclude: uuid.UUID | None = None,
) -> list[Availability]:
    """Shelters of the whole network with enough free eligible beds: counts, never places.

    Children under three (`infants`) may take cots, everyone else needs a bed. The 50 shelters
    with most free places are listed.
    """
    free = _free_beds_query(now).subquery()
    rows = (
        session.connection()
        .execute(
            sa.select(
                col(Shelter.id),
                col(Shelter.name),
                col(Shelter.organisation_id),
                col(Organisation.name),
                col(Shelter.sexes),
                col(Shelter.min_age),
                col(Shelter.max_age),
                col(Shelter.groups),
                col(Shelter.accepts_children),
                free.c.beds,
                free.c.cots,
            )
            .join(free, free.c.shelter_id == col(Shelter.id))
            .join(Organisation, col(Organisation.id) == col(Shelter.organisation_id))
        )
        .all()
    )
    infants = min(infants, children)
    found: list[Availability] = []
    for row in rows:
        shelter_id, name, organisation_id, organisation_name = row[:4]
        sexes, min_age, max_age, groups, accepts_children, beds, cots = row[4:]
        if shelter_id == exclude:
            continue
        criteria = Criteria(
            [Sex(x) for x in sexes], min_age, max_age, [Group(g) for g in groups], accepts_children
        )
        if eligibility_failures(criteria, sex=sex, age=age, group=group, children=children):
            continue
        beds, cots = int(beds), int(cots)
        needs_bed = 1 + children - infants
        if beds < needs_bed or beds + min(cots, infants) < 1 + children:
            continue
        found.append(Availability(shelter_id, name, organisation_id, organisation_name, beds, cots))
    found.sort(key=lambda a: (-(a.free_beds + a.free_cots), a.shelter_name, a.shelter_id))
    return found[:MAX_ALTERNATIVES]
