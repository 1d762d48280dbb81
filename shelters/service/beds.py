"""The beds as they are now: the bed board and holds (a bed kept for someone on her way). The
free-bed counts across the network are in `free_beds`."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from core.audit import Actor
from core.crypto import FieldCipher, Sealed
from core.db import UTCDateTime
from core.errors import Conflict, InvalidInput, NotFound
from shelters import errors
from shelters.models import (
    Bed,
    BedKind,
    BedOccupancy,
    BedState,
    HoldCreate,
    MemberRole,
    OccupancyKind,
    Room,
    Shelter,
    Stay,
    StayMember,
)
from shelters.service import board_cache
from shelters.service.board_cache import Kept, Window
from shelters.service.common import (
    BED_REASON_CONTEXT,
    MEMBER_CONTEXT,
    NOTE_CONTEXT,
    audit_act,
    bed_taken,
    current,
    end_occupancy,
    flush_occupancies,
    get_within,
    lock_shelter,
    people_in,
    update_over_capacity,
)
from shelters.service.shelters import get_bed

MAX_HOLD = timedelta(hours=24)

# --- the bed board ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardBed:
    """A bed as the board shows it."""

    id: uuid.UUID
    room_id: uuid.UUID
    label: str
    kind: BedKind
    out_of_service: bool
    room_name: str
    reason: Sealed | None  # why it is out of service, still sealed (`reveal_board_reason`)


@dataclass(frozen=True, slots=True)
class BoardPeriod:
    """The period that holds a bed now: a person's stay, or a hold (no stay, no member)."""

    id: uuid.UUID
    kind: OccupancyKind
    stay_id: uuid.UUID | None
    member_id: uuid.UUID | None
    starts_at: datetime
    ends_at: datetime | None
    stay_reference: str | None  # the stay's, when it is this shelter's


@dataclass(frozen=True, slots=True)
class BoardPerson:
    """Who is in a bed: the stay member, her name still sealed."""

    id: uuid.UUID
    role: MemberRole
    name: Sealed


@dataclass(frozen=True, slots=True)
class BoardEntry:
    bed: BoardBed
    state: BedState
    occupancy: BoardPeriod | None
    member: BoardPerson | None


@functools.cache
def _board_query() -> Any:
    """One row a bed of the shelter `:shelter_id` (by label), with its room's name, the period
    holding it at `:now`, its person and its stay (when it is this shelter's), if any. Built
    once: a request only binds its values."""
    shelter_id = sa.bindparam("shelter_id", type_=sa.Uuid)
    now: sa.BindParameter[datetime] = sa.bindparam("now", type_=UTCDateTime)
    period = (
        sa.select(BedOccupancy)
        .where(col(BedOccupancy.shelter_id) == shelter_id, current(now))
        .subquery("period")
    )
    return (
        sa.select(
            col(Bed.id),
            col(Bed.room_id),
            col(Bed.label),
            col(Bed.kind),
            col(Bed.out_of_service),
            col(Room.name),
            col(Bed.out_of_service_reason_key_id),
            col(Bed.out_of_service_reason_sealed),
            period.c.id,
            period.c.kind,
            period.c.stay_id,
            period.c.member_id,
            period.c.starts_at,
            period.c.ends_at,
            col(Stay.reference),
            col(StayMember.role),
            col(StayMember.name_key_id),
            col(StayMember.name_sealed),
        )
        .join(Room, col(Room.id) == col(Bed.room_id))
        .outerjoin(period, period.c.bed_id == col(Bed.id))
        .outerjoin(StayMember, col(StayMember.id) == period.c.member_id)
        .outerjoin(
            Stay, sa.and_(col(Stay.id) == period.c.stay_id, col(Stay.shelter_id) == shelter_id)
        )
        .where(col(Bed.shelter_id) == shelter_id)
        .order_by(col(Bed.label), col(Bed.id))
    )


@functools.cache
def _version_query() -> Any:
    return sa.select(col(Shelter.board_version)).where(
        col(Shelter.id) == sa.bindparam("shelter_id", type_=sa.Uuid)
    )


@functools.cache
def _next_start_query() -> Any:
    """The first start after `:now` of a period of the shelter that has not ended by then (one
    only a writer's clock ahead of this process's can have written): its index range."""
    now: sa.BindParameter[datetime] = sa.bindparam("now", type_=UTCDateTime)
    ends_at = col(BedOccupancy.ends_at)
    return sa.select(sa.func.min(col(BedOccupancy.starts_at))).where(
        col(BedOccupancy.shelter_id) == sa.bindparam("shelter_id", type_=sa.Uuid),
        sa.or_(ends_at.is_(None), ends_at > now),
        col(BedOccupancy.starts_at) > now,
    )


# Each process's kept boards (`board_cache`): by shelter, while its version and the next hold's
# end allow.
BOARDS: Kept[uuid.UUID, list[BoardEntry]] = Kept(board_cache.BOARDS)


def bed_board(session: Session, *, shelter: Shelter, now: datetime) -> list[BoardEntry]:
    """Every bed of the shelter (by label) with its state now and, if taken, who holds it, names
    still sealed (`reveal_occupant`): as kept (`board_cache`) while the shelter's board version
    and the next hold's end allow, else one query."""
    if not board_cache.may_keep(session):
        return _read_board(session, shelter=shelter, now=now)
    params = {"shelter_id": shelter.id}
    version: int = session.connection().execute(_version_query(), params).scalar_one()
    kept = BOARDS.get(shelter.id, version=version, now=now)
    if kept is not None:
        return list(kept)
    board = _read_board(session, shelter=shelter, now=now)
    changes = [entry.occupancy.ends_at for entry in board if entry.occupancy is not None]
    changes.append(
        session.connection().execute(_next_start_query(), params | {"now": now}).scalar()
    )
    BOARDS.put(shelter.id, Window(version, now, board_cache.window_until(now, changes)), board)
    return list(board)


def _read_board(session: Session, *, shelter: Shelter, now: datetime) -> list[BoardEntry]:
    board: dict[uuid.UUID, BoardEntry] = {}
    params = {"shelter_id": shelter.id, "now": now}
    for row in session.connection().execute(_board_query(), params).all():
        reason_key_id, reason_sealed = row[6:8]
        reason = Sealed(reason_key_id, reason_sealed) if reason_sealed is not None else None
        bed_id, room_id, label, bed_kind, out_of_service, room_name = row[:6]
        bed = BoardBed(bed_id, room_id, label, bed_kind, out_of_service, room_name, reason)
        period_id, kind, stay_id, member_id, starts_at, ends_at, reference = row[8:15]
        role, name_key_id, name_sealed = row[15:]
        occupancy = member = None
        if period_id is None:
            state = BedState.OUT_OF_SERVICE if bed.out_of_service else BedState.FREE
        else:
            occupancy = BoardPeriod(
                period_id, kind, stay_id, member_id, starts_at, ends_at, reference
            )
            occupied = kind is OccupancyKind.OCCUPIED
            state = BedState.OCCUPIED if occupied else BedState.RESERVED
            if member_id is not None and role is not None:
                member = BoardPerson(member_id, role, Sealed(name_key_id, name_sealed))
        board[bed.id] = BoardEntry(bed, state, occupancy, member)  # one period a bed holds now
    return list(board.values())


def reveal_occupant(cipher: FieldCipher, person: BoardPerson) -> str:
    return cipher.open(person.name, context=MEMBER_CONTEXT)


def reveal_board_reason(cipher: FieldCipher, bed: BoardBed) -> str | None:
    """Why a bed of the board is out of service (None when it is in service)."""
    if not bed.out_of_service or bed.reason is None:
        return None
    return cipher.open(bed.reason, context=BED_REASON_CONTEXT)


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
    shelter = lock_shelter(session, shelter)
    bed_id = hold.bed_id
    end_occupancy(session, hold, now)
    session.flush()
    update_over_capacity(session, shelter, now=now)
    audit_act(session, now, actor, "shelter.bed_released", shelter, "shelter_bed", bed_id)
