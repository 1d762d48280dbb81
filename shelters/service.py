"""Shelter services: configuration, the bed board, stays, assessments, visitors and figures.

Plain functions taking `session` and `now` keyword-only; they flush, never commit. Messages
never echo input and never name a person or an address. Every change is audited with who and,
where the change needs one, why.
"""

from __future__ import annotations

import json
import secrets
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, or_, select

from core import audit
from core.audit import Actor
from core.crypto import FieldCipher, Sealed
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import Organisation, Role, User, UserRole
from shelters.models import (
    AdmissionCreate,
    ApprovalCreate,
    AssessmentCreate,
    Bed,
    BedCreate,
    BedKind,
    BedOccupancy,
    BedState,
    Channel,
    CswOutcome,
    DischargeCreate,
    EntryApproval,
    EntryLog,
    ExtensionCreate,
    ExtensionStatus,
    Group,
    HoldCreate,
    MemberRole,
    NeedsAssessment,
    OccupancyKind,
    Perpetrator,
    PersonIn,
    Room,
    RoomCreate,
    Sex,
    Shelter,
    ShelterCreate,
    ShelterStaff,
    ShelterUpdate,
    Stay,
    StayExtension,
    StayMember,
    StayStatus,
    TransferCreate,
    TurnAway,
    TurnAwayUpdate,
    WorkPlan,
    WorkPlanCreate,
    check_capacity,
    check_eligibility,
)
from shelters.time import add_local_days, local_midnight, nights

NOT_FOUND = "Not found."
ADDRESS_CONTEXT = "shelter.address"
MEMBER_CONTEXT = "shelter_stay_member.name"
PERPETRATOR_CONTEXT = "shelter_perpetrator.name"
ASSESSMENT_CONTEXT = "shelter_needs_assessment"
WORK_PLAN_CONTEXT = "shelter_work_plan"
NAME_PURPOSE = "person-name"
CSW_DECISION_DAYS = 7
ASSESSMENT_DUE = timedelta(hours=24)
ENDING_SOON = timedelta(hours=24)
MAX_EXTENDED_STAY_DAYS = 90
MAX_HOLD = timedelta(hours=24)
MAX_FIGURES_DAYS = 366
CRIB_AGE = 3  # cots are for children under three
ADMISSION_ROLES = frozenset({Role.SUPERVISOR, Role.SHELTER_STAFF})


# --- small helpers ---------------------------------------------------------------------------


def _audit(
    session: Session,
    *,
    now: datetime,
    actor: Actor,
    action: str,
    subject_type: str,
    subject_id: object,
    organisation_id: uuid.UUID,
    reason: str | None = None,
) -> None:
    audit.record(
        session,
        now=now,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        organisation_id=organisation_id,
        reason=reason,
    )


def _seal(cipher: FieldCipher, value: str, context: str) -> tuple[str, bytes]:
    sealed = cipher.seal(value, context=context)
    return sealed.key_id, sealed.blob


def _open(cipher: FieldCipher, key_id: str, blob: bytes, context: str) -> str:
    return cipher.open(Sealed(key_id, blob), context=context)


def normalise_name(name: str) -> str:
    """Case, accents, spacing and word order removed, so that one person matches themself."""
    text = name.casefold().replace("đ", "dj").replace("ß", "ss")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    words = "".join(c if c.isalnum() else " " for c in text).split()
    return " ".join(sorted(words))


def name_hash(cipher: FieldCipher, name: str) -> str:
    return cipher.keyed_hash(normalise_name(name), purpose=NAME_PURPOSE)


def _end_occupancy(session: Session, occupancy: BedOccupancy, now: datetime) -> None:
    """End a period at `now`; one that began at this very instant never existed and goes."""
    if occupancy.starts_at >= now:
        session.delete(occupancy)
    else:
        occupancy.ends_at = now
        session.add(occupancy)


def _current(now: datetime) -> Any:
    """Occupancies in force at `now` (periods are half-open)."""
    return sa.and_(
        col(BedOccupancy.starts_at) <= now,
        or_(col(BedOccupancy.ends_at).is_(None), col(BedOccupancy.ends_at) > now),
    )


# --- shelters --------------------------------------------------------------------------------


def list_shelters(session: Session, *, organisation_id: uuid.UUID) -> list[Shelter]:
    return list(
        session.exec(
            select(Shelter)
            .where(Shelter.organisation_id == organisation_id)
            .order_by(col(Shelter.name), col(Shelter.id))
        ).all()
    )


def get_shelter(
    session: Session, *, organisation_id: uuid.UUID, shelter_id: uuid.UUID, lock: bool = False
) -> Shelter:
    """A shelter of the organisation; another organisation's answers as absent."""
    query = select(Shelter).where(Shelter.id == shelter_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    shelter = session.exec(query).first()
    if shelter is None or shelter.organisation_id != organisation_id:
        raise NotFound(NOT_FOUND)
    return shelter


def lock_shelter(session: Session, shelter: Shelter) -> Shelter:
    """Serialise changes to one shelter's beds and capacity (row lock; SQLite locks at BEGIN)."""
    return get_shelter(
        session, organisation_id=shelter.organisation_id, shelter_id=shelter.id, lock=True
    )


def reveal_address(cipher: FieldCipher, shelter: Shelter) -> str:
    return _open(cipher, shelter.address_key_id, shelter.address_sealed, ADDRESS_CONTEXT)


def create_shelter(
    session: Session,
    *,
    now: datetime,
    organisation: Organisation,
    data: ShelterCreate,
    cipher: FieldCipher,
    actor: Actor,
) -> Shelter:
    values = data.model_dump(exclude={"address"})
    key_id, blob = _seal(cipher, data.address, ADDRESS_CONTEXT)
    shelter = Shelter(
        **values,
        organisation_id=organisation.id,
        address_key_id=key_id,
        address_sealed=blob,
        created_at=now,
        updated_at=now,
    )
    session.add(shelter)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.created",
        subject_type="shelter",
        subject_id=shelter.id,
        organisation_id=organisation.id,
    )
    return shelter


def update_shelter(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    data: ShelterUpdate,
    cipher: FieldCipher,
    actor: Actor,
) -> Shelter:
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput("Nothing to change: send at least one field of the shelter.")
    for name in sorted(changes):
        if changes[name] is None and name not in {"max_age", "soft_capacity"}:
            raise InvalidInput(f"{name}: must not be null.")
    shelter = lock_shelter(session, shelter)
    checked = ("sexes", "min_age", "max_age", "hard_capacity", "soft_capacity")
    merged = {name: getattr(shelter, name) for name in (*checked, "soft_capacity_max_nights")}
    merged.update({k: v for k, v in changes.items() if k in merged})
    try:
        check_eligibility(merged["sexes"], merged["min_age"], merged["max_age"])
        check_capacity(
            merged["hard_capacity"], merged["soft_capacity"], merged["soft_capacity_max_nights"]
        )
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    address = changes.pop("address", None)
    if address is not None:
        shelter.address_key_id, shelter.address_sealed = _seal(cipher, address, ADDRESS_CONTEXT)
    for name, value in changes.items():
        setattr(shelter, name, value)
    shelter.updated_at = now
    session.add(shelter)
    session.flush()
    _update_over_capacity(session, shelter, now=now)
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.updated",
        subject_type="shelter",
        subject_id=shelter.id,
        organisation_id=shelter.organisation_id,
        reason="fields: " + ",".join(sorted([*changes, *(["address"] if address else [])])),
    )
    return shelter


def set_lockdown(
    session: Session, *, now: datetime, shelter: Shelter, on: bool, reason: str, actor: Actor
) -> Shelter:
    """Suspend (or restore) every entry approval of the shelter."""
    shelter = lock_shelter(session, shelter)
    if shelter.lockdown != on:
        shelter.lockdown = on
        shelter.lockdown_changed_at = now
        session.add(shelter)
        session.flush()
        _audit(
            session,
            now=now,
            actor=actor,
            action="shelter.lockdown_on" if on else "shelter.lockdown_off",
            subject_type="shelter",
            subject_id=shelter.id,
            organisation_id=shelter.organisation_id,
            reason=reason,
        )
    return shelter


# --- staff -----------------------------------------------------------------------------------


def is_staff(session: Session, *, shelter_id: uuid.UUID, user_id: uuid.UUID | None) -> bool:
    if user_id is None:
        return False
    return (
        session.exec(
            select(ShelterStaff.user_id).where(
                ShelterStaff.shelter_id == shelter_id, ShelterStaff.user_id == user_id
            )
        ).first()
        is not None
    )


def list_staff(session: Session, *, shelter: Shelter) -> list[User]:
    return list(
        session.exec(
            select(User)
            .join(ShelterStaff, col(ShelterStaff.user_id) == col(User.id))
            .where(ShelterStaff.shelter_id == shelter.id)
            .order_by(col(User.display_name), col(User.id))
        ).all()
    )


def assign_staff(
    session: Session, *, now: datetime, shelter: Shelter, user_id: uuid.UUID, actor: Actor
) -> User:
    user = session.get(User, user_id)
    if user is None or user.organisation_id != shelter.organisation_id:
        raise NotFound(NOT_FOUND)
    roles = session.exec(select(UserRole.role).where(UserRole.user_id == user_id)).all()
    if Role.SHELTER_STAFF not in roles:
        raise InvalidInput("Only users with the shelter_staff role can be assigned to a shelter.")
    if not is_staff(session, shelter_id=shelter.id, user_id=user_id):
        session.add(ShelterStaff(shelter_id=shelter.id, user_id=user_id, created_at=now))
        session.flush()
        _audit(
            session,
            now=now,
            actor=actor,
            action="shelter.staff_assigned",
            subject_type="shelter",
            subject_id=shelter.id,
            organisation_id=shelter.organisation_id,
            reason=f"user {user_id}",
        )
    return user


def remove_staff(
    session: Session, *, now: datetime, shelter: Shelter, user_id: uuid.UUID, actor: Actor
) -> None:
    row = session.get(ShelterStaff, (shelter.id, user_id))
    if row is None:
        raise NotFound(NOT_FOUND)
    session.delete(row)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.staff_removed",
        subject_type="shelter",
        subject_id=shelter.id,
        organisation_id=shelter.organisation_id,
        reason=f"user {user_id}",
    )


# --- rooms and beds --------------------------------------------------------------------------


def list_rooms(session: Session, *, shelter: Shelter) -> list[Room]:
    return list(
        session.exec(
            select(Room).where(Room.shelter_id == shelter.id).order_by(col(Room.name))
        ).all()
    )


def add_room(
    session: Session, *, now: datetime, shelter: Shelter, data: RoomCreate, actor: Actor
) -> Room:
    taken = session.exec(
        select(Room.id).where(Room.shelter_id == shelter.id, Room.name == data.name)
    ).first()
    if taken is not None:
        raise Conflict("name: the shelter already has a room of that name.")
    room = Room(shelter_id=shelter.id, name=data.name, created_at=now)
    session.add(room)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.room_added",
        subject_type="shelter_room",
        subject_id=room.id,
        organisation_id=shelter.organisation_id,
    )
    return room


def list_beds(session: Session, *, shelter_id: uuid.UUID) -> list[Bed]:
    return list(
        session.exec(
            select(Bed).where(Bed.shelter_id == shelter_id).order_by(col(Bed.label), col(Bed.id))
        ).all()
    )


def get_bed(session: Session, *, shelter: Shelter, bed_id: uuid.UUID) -> Bed:
    bed = session.get(Bed, bed_id)
    if bed is None or bed.shelter_id != shelter.id:
        raise NotFound(NOT_FOUND)
    return bed


def add_bed(
    session: Session, *, now: datetime, shelter: Shelter, data: BedCreate, actor: Actor
) -> Bed:
    room = session.get(Room, data.room_id)
    if room is None or room.shelter_id != shelter.id:
        raise InvalidInput("room_id: the shelter has no such room.")
    taken = session.exec(
        select(Bed.id).where(Bed.shelter_id == shelter.id, Bed.label == data.label)
    ).first()
    if taken is not None:
        raise Conflict("label: the shelter already has a bed with that label.")
    bed = Bed(
        shelter_id=shelter.id, room_id=room.id, label=data.label, kind=data.kind, created_at=now
    )
    session.add(bed)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.bed_added",
        subject_type="shelter_bed",
        subject_id=bed.id,
        organisation_id=shelter.organisation_id,
    )
    return bed


def set_bed_service(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    bed_id: uuid.UUID,
    out_of_service: bool,
    reason: str,
    actor: Actor,
) -> Bed:
    """Take a bed out of service (only while nobody is in it or holds it) or bring it back."""
    shelter = lock_shelter(session, shelter)
    bed = get_bed(session, shelter=shelter, bed_id=bed_id)
    if out_of_service and _bed_taken(session, bed.id, now=now):
        raise Conflict("The bed is occupied or reserved: move the person or end the hold first.")
    bed.out_of_service = out_of_service
    bed.out_of_service_reason = reason if out_of_service else None
    session.add(bed)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.bed_out_of_service" if out_of_service else "shelter.bed_in_service",
        subject_type="shelter_bed",
        subject_id=bed.id,
        organisation_id=shelter.organisation_id,
        reason=reason,
    )
    return bed


def _bed_taken(session: Session, bed_id: uuid.UUID, *, now: datetime) -> bool:
    return (
        session.exec(
            select(BedOccupancy.id).where(BedOccupancy.bed_id == bed_id, _current(now))
        ).first()
        is not None
    )


# --- the bed board ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardEntry:
    bed: Bed
    state: BedState
    occupancy: BedOccupancy | None
    member: StayMember | None


def current_occupancies(
    session: Session, *, shelter_id: uuid.UUID, now: datetime
) -> list[BedOccupancy]:
    return list(
        session.exec(
            select(BedOccupancy).where(BedOccupancy.shelter_id == shelter_id, _current(now))
        ).all()
    )


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


def reveal_member_name(cipher: FieldCipher, member: StayMember) -> str:
    return _open(cipher, member.name_key_id, member.name_sealed, MEMBER_CONTEXT)


# --- eligibility and network availability ----------------------------------------------------


def eligibility_failures(
    shelter: Shelter | _Criteria, *, sex: Sex, age: int, group: Group | None, children: int
) -> list[str]:
    """Which of the shelter's criteria a request fails (empty when eligible)."""
    failed: list[str] = []
    if sex not in shelter.sexes:
        failed.append("sex")
    if age < shelter.min_age or (shelter.max_age is not None and age > shelter.max_age):
        failed.append("age")
    if group is not None and shelter.groups and group not in shelter.groups:
        failed.append("group")
    if children and not shelter.accepts_children:
        failed.append("children")
    return failed


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
    taken = select(BedOccupancy.bed_id).where(_current(now))
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


@dataclass(frozen=True)
class _Criteria:
    """The eligibility columns of a shelter, without loading the shelter."""

    sexes: list[Sex]
    min_age: int
    max_age: int | None
    groups: list[Group]
    accepts_children: bool


MAX_ALTERNATIVES = 50


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
        criteria = _Criteria(
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


# --- capacity --------------------------------------------------------------------------------


def people_in(session: Session, *, shelter_id: uuid.UUID, now: datetime) -> int:
    """Beds occupied or reserved now: what capacity counts."""
    return session.exec(
        select(func.count())
        .select_from(BedOccupancy)
        .where(BedOccupancy.shelter_id == shelter_id, _current(now))
    ).one()


def nights_over_capacity(shelter: Shelter, *, now: datetime) -> int:
    if shelter.over_capacity_since is None:
        return 0
    # Still over capacity at `now`: a midnight that is now counts.
    return nights(shelter.over_capacity_since, now + timedelta(microseconds=1), shelter.time_zone)


def _update_over_capacity(session: Session, shelter: Shelter, *, now: datetime) -> None:
    over = people_in(session, shelter_id=shelter.id, now=now) > shelter.hard_capacity
    if over and shelter.over_capacity_since is None:
        shelter.over_capacity_since = now
    elif not over and shelter.over_capacity_since is not None:
        shelter.over_capacity_since = None
    else:
        return
    session.add(shelter)
    session.flush()


def _check_capacity(
    session: Session,
    *,
    shelter: Shelter,
    now: datetime,
    adding: int,
    use_soft: bool,
    actor_roles: frozenset[Role],
) -> str | None:
    """None when `adding` more people fit; otherwise why not (for a turn-away)."""
    # A hold that lapsed may have ended an over-capacity period without anyone writing it.
    _update_over_capacity(session, shelter, now=now)
    after = people_in(session, shelter_id=shelter.id, now=now) + adding
    if after <= shelter.hard_capacity:
        return None
    if not use_soft:
        return "capacity"
    if Role.SUPERVISOR not in actor_roles:
        raise Forbidden("Only a supervisor may use the shelter's soft capacity.")
    if shelter.soft_capacity is None or after > shelter.soft_capacity:
        return "capacity"
    if nights_over_capacity(shelter, now=now) >= shelter.soft_capacity_max_nights:
        return "soft_capacity_nights"
    return None


# --- admission -------------------------------------------------------------------------------


@dataclass
class TurnedAway:
    turn_away: TurnAway
    failed: list[str]
    alternatives: list[Availability]


@dataclass
class Admitted:
    stay: Stay
    members: list[StayMember] = field(default_factory=list)


def _new_reference(session: Session) -> str:
    while True:
        reference = "ST-" + secrets.token_hex(4).upper()
        if session.exec(select(Stay.id).where(Stay.reference == reference)).first() is None:
            return reference


def _pick_beds(
    session: Session, *, shelter: Shelter, people: list[PersonIn], now: datetime
) -> list[uuid.UUID] | None:
    """A bed for each person (theirs if named), or None when not everyone fits.

    A named bed that is taken is a conflict (someone else got there first), not a turn-away.
    A named bed that is reserved is the one kept for this person: the hold gives way.
    """
    current = current_occupancies(session, shelter_id=shelter.id, now=now)
    held = {o.bed_id for o in current if o.kind is OccupancyKind.RESERVED}
    taken = {o.bed_id for o in current}
    beds = [b for b in list_beds(session, shelter_id=shelter.id) if not b.out_of_service]
    by_id = {b.id: b for b in beds}
    chosen: list[uuid.UUID | None] = []
    for person in people:
        if person.bed_id is None:
            chosen.append(None)
            continue
        bed = by_id.get(person.bed_id)
        if bed is None:
            raise InvalidInput("bed_id: the shelter has no such bed in service.")
        if bed.kind is BedKind.COT and person.age >= CRIB_AGE:
            raise InvalidInput("bed_id: a cot is for a child under three.")
        if bed.id in taken and bed.id not in held:
            raise Conflict("That bed is already taken: choose another or refresh the bed board.")
        held.discard(bed.id)
        taken.add(bed.id)
        chosen.append(bed.id)
    free = [b for b in beds if b.id not in taken]
    for index, person in enumerate(people):
        if chosen[index] is not None:
            continue
        preference = (
            [BedKind.COT, BedKind.BED, BedKind.EMERGENCY]
            if person.age < CRIB_AGE
            else [BedKind.BED, BedKind.EMERGENCY]
        )
        pick = next(
            (b for kind in preference for b in free if b.kind is kind),
            None,
        )
        if pick is None:
            return None
        free.remove(pick)
        chosen[index] = pick.id
    return [c for c in chosen if c is not None]


def _flush_occupancies(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        # The database's own guard (exclusion constraint or trigger): a race was lost.
        if "no_overlap" in str(exc.orig):
            raise Conflict(
                "That bed is already taken: choose another or refresh the bed board."
            ) from None
        raise


def _record_turn_away(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    data: AdmissionCreate,
    failed: list[str],
    actor: Actor,
    user_id: uuid.UUID | None,
) -> TurnedAway:
    turn_away = TurnAway(
        shelter_id=shelter.id,
        occurred_at=now,
        group_size=1 + len(data.children),
        children=len(data.children),
        failed=failed,
        recorded_by=user_id,
    )
    session.add(turn_away)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.turn_away",
        subject_type="shelter_turn_away",
        subject_id=turn_away.id,
        organisation_id=shelter.organisation_id,
        reason="failed: " + ",".join(failed),
    )
    alternatives = network_availability(
        session,
        now=now,
        sex=data.client.sex,
        age=data.client.age,
        group=data.group,
        children=len(data.children),
        infants=sum(1 for child in data.children if child.age < CRIB_AGE),
        exclude=shelter.id,
    )
    return TurnedAway(turn_away, failed, alternatives)


def admit(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    data: AdmissionCreate,
    cipher: FieldCipher,
    actor: Actor,
    actor_roles: frozenset[Role],
    user_id: uuid.UUID | None,
) -> Admitted | TurnedAway:
    """Emergency admission by urgent procedure: no one's decision is awaited.

    The shelter's row lock serialises admissions to one shelter, so capacity and beds are
    decided on what is really there; the database's overlap guard backs that up.
    """
    if data.call_id is not None:
        _check_call(session, call_id=data.call_id, organisation_id=shelter.organisation_id)
    shelter = lock_shelter(session, shelter)
    people = [data.client, *data.children]
    failed = eligibility_failures(
        shelter,
        sex=data.client.sex,
        age=data.client.age,
        group=data.group,
        children=len(data.children),
    )
    if failed:
        return _record_turn_away(
            session,
            now=now,
            shelter=shelter,
            data=data,
            failed=failed,
            actor=actor,
            user_id=user_id,
        )
    beds: list[uuid.UUID] = []
    if not data.at_distance:
        # People arriving into beds held for them are already counted by their holds.
        holds = {
            o.bed_id
            for o in current_occupancies(session, shelter_id=shelter.id, now=now)
            if o.kind is OccupancyKind.RESERVED
        }
        arriving = sum(1 for p in people if p.bed_id is None or p.bed_id not in holds)
        problem = _check_capacity(
            session,
            shelter=shelter,
            now=now,
            adding=arriving,
            use_soft=data.use_soft_capacity,
            actor_roles=actor_roles,
        )
        picked = None if problem else _pick_beds(session, shelter=shelter, people=people, now=now)
        if picked is None:
            return _record_turn_away(
                session,
                now=now,
                shelter=shelter,
                data=data,
                failed=[problem or "no_free_bed"],
                actor=actor,
                user_id=user_id,
            )
        beds = picked
    stay = Stay(
        organisation_id=shelter.organisation_id,
        shelter_id=shelter.id,
        reference=_new_reference(session),
        channel=data.channel,
        call_id=data.call_id,
        municipality=data.municipality,
        at_distance=data.at_distance,
        people=len(people),
        children=len(data.children),
        admitted_at=now,
        contract_days=data.contract_days,
        planned_end=add_local_days(now, data.contract_days, shelter.time_zone),
        decision_due_at=add_local_days(now, CSW_DECISION_DAYS, shelter.time_zone),
        admitted_by=user_id,
        created_at=now,
    )
    session.add(stay)
    session.flush()
    members: list[StayMember] = []
    for index, person in enumerate(people):
        key_id, blob = _seal(cipher, person.name, MEMBER_CONTEXT)
        member = StayMember(
            stay_id=stay.id,
            role=MemberRole.CLIENT if index == 0 else MemberRole.CHILD,
            name_key_id=key_id,
            name_sealed=blob,
            sex=person.sex,
            age=person.age,
        )
        session.add(member)
        members.append(member)
    session.flush()
    _end_holds(session, bed_ids=beds, now=now)
    for member, bed_id in zip(members, beds, strict=False):
        session.add(_occupy(shelter.id, bed_id, stay.id, member, now))
    _flush_occupancies(session)
    _update_over_capacity(session, shelter, now=now)
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.stay_admitted",
        subject_type="shelter_stay",
        subject_id=stay.id,
        organisation_id=shelter.organisation_id,
        reason=f"channel {data.channel}; people {len(people)}"
        + ("; at distance" if data.at_distance else ""),
    )
    _refer(session, now=now, stay=stay, data=data, cipher=cipher, actor=actor, user_id=user_id)
    return Admitted(stay, members)


def _refer(
    session: Session,
    *,
    now: datetime,
    stay: Stay,
    data: AdmissionCreate,
    cipher: FieldCipher,
    actor: Actor,
    user_id: uuid.UUID | None,
) -> None:
    """Every emergency admission reaches the competent CSW, in this same transaction."""
    from referrals import service as referrals
    from referrals.models import PersonFacts, PersonSex

    def facts(person: PersonIn) -> PersonFacts:
        return PersonFacts(name=person.name, sex=PersonSex(person.sex.value), age=person.age)

    referrals.refer_admission(
        session,
        now=now,
        admitted=referrals.Admitted(
            stay_id=stay.id,
            organisation_id=stay.organisation_id,
            municipality=stay.municipality,
            decision_due_at=stay.decision_due_at,
            client=facts(data.client),
            children=[facts(child) for child in data.children],
        ),
        cipher=cipher,
        actor=actor,
        user_id=user_id,
    )


def _occupy(
    shelter_id: uuid.UUID, bed_id: uuid.UUID, stay_id: uuid.UUID, member: StayMember, now: datetime
) -> BedOccupancy:
    return BedOccupancy(
        shelter_id=shelter_id,
        bed_id=bed_id,
        kind=OccupancyKind.OCCUPIED,
        stay_id=stay_id,
        member_id=member.id,
        child=member.role is MemberRole.CHILD,
        starts_at=now,
    )


def _end_holds(session: Session, *, bed_ids: Iterable[uuid.UUID], now: datetime) -> None:
    """A reserved bed taken by an admission: the hold ends as the stay begins."""
    ids = list(bed_ids)
    if not ids:
        return
    holds = session.exec(
        select(BedOccupancy).where(
            col(BedOccupancy.bed_id).in_(ids),
            BedOccupancy.kind == OccupancyKind.RESERVED,
            _current(now),
        )
    ).all()
    for hold in holds:
        _end_occupancy(session, hold, now)
    session.flush()


def _check_call(session: Session, *, call_id: uuid.UUID, organisation_id: uuid.UUID) -> None:
    """A hotline call id must be one of the organisation's calls (hotline's own table)."""
    from hotline.service import call_belongs_to

    if not call_belongs_to(session, call_id=call_id, organisation_id=organisation_id):
        raise InvalidInput("call_id: the organisation has no such call.")


# --- stays -----------------------------------------------------------------------------------


def get_stay(session: Session, *, shelter: Shelter, stay_id: uuid.UUID, lock: bool = False) -> Stay:
    query = select(Stay).where(Stay.id == stay_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    stay = session.exec(query).first()
    if stay is None or stay.shelter_id != shelter.id:
        raise NotFound(NOT_FOUND)
    return stay


def shelters_of_stays(session: Session, stay_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Shelter]:
    """The shelter of each stay (for other domains' access rules about a stay)."""
    wanted = set(stay_ids)
    if not wanted:
        return {}
    rows = session.exec(
        select(Stay.id, Shelter)
        .join(Shelter, col(Shelter.id) == col(Stay.shelter_id))
        .where(col(Stay.id).in_(wanted))
    ).all()
    return dict(rows)


def _active(stay: Stay) -> None:
    if stay.status is not StayStatus.ACTIVE:
        raise Conflict("The stay has ended.")


def list_stays(
    session: Session, *, shelter: Shelter, status: StayStatus | None, limit: int = 200
) -> list[Stay]:
    query = select(Stay).where(Stay.shelter_id == shelter.id)
    if status is not None:
        query = query.where(Stay.status == status)
    return list(
        session.exec(query.order_by(col(Stay.admitted_at).desc(), col(Stay.id)).limit(limit)).all()
    )


def members_of(
    session: Session, stay_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[StayMember]]:
    found: dict[uuid.UUID, list[StayMember]] = defaultdict(list)
    if not stay_ids:
        return found
    rows = session.exec(select(StayMember).where(col(StayMember.stay_id).in_(list(stay_ids)))).all()
    for member in sorted(rows, key=lambda m: (m.role is not MemberRole.CLIENT, -m.age, str(m.id))):
        found[member.stay_id].append(member)
    return found


def beds_of(
    session: Session, stay_ids: Sequence[uuid.UUID], *, now: datetime
) -> dict[uuid.UUID, uuid.UUID]:
    """member id -> the bed they are in now."""
    if not stay_ids:
        return {}
    rows = session.exec(
        select(BedOccupancy).where(col(BedOccupancy.stay_id).in_(list(stay_ids)), _current(now))
    ).all()
    return {o.member_id: o.bed_id for o in rows if o.member_id is not None}


def request_extension(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    stay: Stay,
    data: ExtensionCreate,
    user_id: uuid.UUID,
    actor: Actor,
) -> StayExtension:
    # The stay's lock makes "one pending request at a time" hold under concurrent requests.
    stay = get_stay(session, shelter=shelter, stay_id=stay.id, lock=True)
    _active(stay)
    new_end = data.new_end
    if new_end <= stay.planned_end:
        raise InvalidInput("new_end: must be after the stay's planned end.")
    if new_end > add_local_days(stay.admitted_at, MAX_EXTENDED_STAY_DAYS, shelter.time_zone):
        raise InvalidInput(
            f"new_end: an emergency stay cannot run beyond {MAX_EXTENDED_STAY_DAYS} days."
        )
    pending = session.exec(
        select(StayExtension.id).where(
            StayExtension.stay_id == stay.id, StayExtension.status == ExtensionStatus.PENDING
        )
    ).first()
    if pending is not None:
        raise Conflict("An extension of this stay is already waiting for a decision.")
    extension = StayExtension(
        stay_id=stay.id,
        previous_end=stay.planned_end,
        new_end=new_end,
        justification=data.justification.strip(),
        requested_by=user_id,
        requested_at=now,
    )
    session.add(extension)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.extension_requested",
        subject_type="shelter_stay",
        subject_id=stay.id,
        organisation_id=shelter.organisation_id,
        reason=f"extension {extension.id}",
    )
    return extension


def get_extension(session: Session, *, stay: Stay, extension_id: uuid.UUID) -> StayExtension:
    extension = session.get(StayExtension, extension_id)
    if extension is None or extension.stay_id != stay.id:
        raise NotFound(NOT_FOUND)
    return extension


def list_extensions(session: Session, *, stay: Stay) -> list[StayExtension]:
    return list(
        session.exec(
            select(StayExtension)
            .where(StayExtension.stay_id == stay.id)
            .order_by(col(StayExtension.requested_at), col(StayExtension.id))
        ).all()
    )


def decide_extension(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    stay: Stay,
    extension: StayExtension,
    approve: bool,
    note: str | None,
    user_id: uuid.UUID,
    actor: Actor,
) -> StayExtension:
    """A supervisor's decision; approval moves the stay's planned end to the stated new end."""
    stay = get_stay(session, shelter=shelter, stay_id=stay.id, lock=True)
    # Read again under the stay's lock: a decision made meanwhile must be seen.
    extension = session.exec(
        select(StayExtension)
        .where(StayExtension.id == extension.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if extension.status is not ExtensionStatus.PENDING:
        raise Conflict("This extension has already been decided.")
    _active(stay)
    if approve and extension.previous_end != stay.planned_end:
        raise Conflict("The stay's planned end changed since the request: ask again.")
    extension.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REJECTED
    extension.decided_by = user_id
    extension.decided_at = now
    extension.decision_note = note
    session.add(extension)
    if approve:
        stay.planned_end = extension.new_end
        session.add(stay)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.extension_approved" if approve else "shelter.extension_rejected",
        subject_type="shelter_stay",
        subject_id=stay.id,
        organisation_id=shelter.organisation_id,
        reason=f"extension {extension.id}",
    )
    return extension


def apply_csw_decision(
    session: Session,
    *,
    now: datetime,
    stay_id: uuid.UUID,
    outcome: str,
    stay_until: datetime | None,
    actor: Actor,
) -> Stay:
    """The competent CSW decided (through its referral): the stay records the outcome, and the
    decision may end the stay earlier or extend it (no extension request is needed: it is the
    CSW's decision, which the law gives it)."""
    stay = session.exec(
        select(Stay)
        .where(Stay.id == stay_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    shelter = session.get_one(Shelter, stay.shelter_id)
    stay.csw_outcome = CswOutcome(outcome)
    stay.csw_decided_at = now
    if stay_until is not None:
        if stay.status is not StayStatus.ACTIVE:
            raise Conflict("stay_until: the stay has already ended.")
        if stay_until <= now:
            raise InvalidInput("stay_until: must be in the future.")
        if stay_until > add_local_days(stay.admitted_at, MAX_EXTENDED_STAY_DAYS, shelter.time_zone):
            raise InvalidInput(
                f"stay_until: an emergency stay cannot run beyond {MAX_EXTENDED_STAY_DAYS} days."
            )
        stay.planned_end = stay_until
    session.add(stay)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.csw_decision_applied",
        subject_type="shelter_stay",
        subject_id=stay.id,
        organisation_id=stay.organisation_id,
        reason=f"outcome {outcome}" + ("; planned end changed" if stay_until else ""),
    )
    return stay


def transfer(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    target: Shelter,
    stay: Stay,
    data: TransferCreate,
    actor: Actor,
) -> Stay:
    """Move people to other beds, here or in another of the organisation's shelters.

    A stay group moves between shelters together: every member must be given a bed there.
    """
    stay = get_stay(session, shelter=shelter, stay_id=stay.id, lock=True)
    _active(stay)
    # Lock both shelters in a fixed order so that two opposite transfers cannot deadlock.
    for locked in sorted(
        {shelter.id: shelter, target.id: target}.values(), key=lambda s: str(s.id)
    ):
        lock_shelter(session, locked)
    members = {m.id: m for m in members_of(session, [stay.id])[stay.id]}
    current = {
        o.member_id: o
        for o in session.exec(
            select(BedOccupancy).where(BedOccupancy.stay_id == stay.id, _current(now))
        ).all()
    }
    moving_shelter = target.id != shelter.id
    for move in data.moves:
        if move.member_id not in members:
            raise InvalidInput("moves: member_id is not a person of this stay.")
    if moving_shelter and {m.member_id for m in data.moves} != set(members):
        raise InvalidInput("moves: a stay moves to another shelter with all its people.")
    newly_bedded = sum(1 for m in data.moves if m.member_id not in current)
    incoming = len(data.moves) if moving_shelter else newly_bedded
    if incoming and (
        people_in(session, shelter_id=target.id, now=now) + incoming > target.hard_capacity
    ):
        raise Conflict("The receiving shelter is at capacity.")
    target_beds = {b.id: b for b in list_beds(session, shelter_id=target.id)}
    leaving = {m.member_id for m in data.moves}
    for move in data.moves:
        bed = target_beds.get(move.bed_id)
        if bed is None or bed.out_of_service:
            raise InvalidInput("moves: bed_id is not a bed in service in the receiving shelter.")
        if bed.kind is BedKind.COT and members[move.member_id].age >= CRIB_AGE:
            raise InvalidInput("moves: a cot is for a child under three.")
        holder = session.exec(
            select(BedOccupancy).where(BedOccupancy.bed_id == bed.id, _current(now))
        ).first()
        if holder is not None and not (holder.member_id in leaving and holder.stay_id == stay.id):
            raise Conflict("That bed is already taken: choose another or refresh the bed board.")
    for move in data.moves:
        old = current.get(move.member_id)
        if old is not None and old.bed_id == move.bed_id:
            raise InvalidInput("moves: the person is already in that bed.")
    for move in data.moves:
        old = current.get(move.member_id)
        if old is not None:
            _end_occupancy(session, old, now)
    session.flush()
    for move in data.moves:
        session.add(_occupy(target.id, move.bed_id, stay.id, members[move.member_id], now))
    if moving_shelter:
        stay.shelter_id = target.id
        stay.at_distance = False
    elif newly_bedded and len(current) + newly_bedded >= len(members):
        stay.at_distance = False
    session.add(stay)
    _flush_occupancies(session)
    for touched in {shelter.id: shelter, target.id: target}.values():
        _update_over_capacity(session, touched, now=now)
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.stay_transferred",
        subject_type="shelter_stay",
        subject_id=stay.id,
        organisation_id=shelter.organisation_id,
        reason=(f"to shelter {target.id}; " if moving_shelter else "") + data.reason,
    )
    return stay


def discharge(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    stay: Stay,
    data: DischargeCreate,
    actor: Actor,
) -> Stay:
    """End a stay: every bed its people held is freed now."""
    stay = get_stay(session, shelter=shelter, stay_id=stay.id, lock=True)
    _active(stay)
    lock_shelter(session, shelter)
    for occupancy in session.exec(
        select(BedOccupancy).where(BedOccupancy.stay_id == stay.id, _current(now))
    ).all():
        _end_occupancy(session, occupancy, now)
    stay.status = StayStatus.ENDED
    stay.ended_at = now
    stay.destination = data.destination
    session.add(stay)
    session.flush()
    _update_over_capacity(session, shelter, now=now)
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.stay_discharged",
        subject_type="shelter_stay",
        subject_id=stay.id,
        organisation_id=shelter.organisation_id,
        reason=f"destination {data.destination}; {data.reason}",
    )
    return stay


# --- holds (reservations) --------------------------------------------------------------------


def hold_bed(
    session: Session, *, now: datetime, shelter: Shelter, data: HoldCreate, actor: Actor
) -> BedOccupancy:
    """Reserve a free bed for someone on their way, until a stated time (at most 24 h)."""
    until = data.until
    if until <= now or until - now > MAX_HOLD:
        raise InvalidInput("until: must be in the future and at most 24 hours from now.")
    shelter = lock_shelter(session, shelter)
    bed = get_bed(session, shelter=shelter, bed_id=data.bed_id)
    if bed.out_of_service:
        raise Conflict("The bed is out of service.")
    if _bed_taken(session, bed.id, now=now):
        raise Conflict("That bed is already taken: choose another or refresh the bed board.")
    if people_in(session, shelter_id=shelter.id, now=now) + 1 > shelter.hard_capacity:
        raise Conflict("The shelter is at capacity.")
    hold = BedOccupancy(
        shelter_id=shelter.id,
        bed_id=bed.id,
        kind=OccupancyKind.RESERVED,
        note=data.note,
        starts_at=now,
        ends_at=until,
    )
    session.add(hold)
    _flush_occupancies(session)
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.bed_reserved",
        subject_type="shelter_bed",
        subject_id=bed.id,
        organisation_id=shelter.organisation_id,
    )
    return hold


def release_hold(
    session: Session, *, now: datetime, shelter: Shelter, hold_id: uuid.UUID, actor: Actor
) -> None:
    hold = session.get(BedOccupancy, hold_id)
    if hold is None or hold.shelter_id != shelter.id or hold.kind is not OccupancyKind.RESERVED:
        raise NotFound(NOT_FOUND)
    if hold.ends_at is not None and hold.ends_at <= now:
        raise Conflict("The hold has already ended.")
    bed_id = hold.bed_id
    _end_occupancy(session, hold, now)
    session.flush()
    _update_over_capacity(session, lock_shelter(session, shelter), now=now)
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.bed_released",
        subject_type="shelter_bed",
        subject_id=bed_id,
        organisation_id=shelter.organisation_id,
    )


# --- assessments and work plans --------------------------------------------------------------


def _next_revision(
    session: Session, model: type[NeedsAssessment] | type[WorkPlan], stay_id: uuid.UUID
) -> int:
    latest = session.exec(select(func.max(model.revision)).where(model.stay_id == stay_id)).one()
    return (latest or 0) + 1


def add_assessment(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    stay: Stay,
    data: AssessmentCreate,
    cipher: FieldCipher,
    user_id: uuid.UUID,
    actor: Actor,
) -> NeedsAssessment:
    """A new revision of the needs assessment; earlier ones stay as they were."""
    stay = get_stay(session, shelter=shelter, stay_id=stay.id, lock=True)
    key_id, blob = _seal(cipher, json.dumps(data.model_dump()), ASSESSMENT_CONTEXT)
    row = NeedsAssessment(
        stay_id=stay.id,
        revision=_next_revision(session, NeedsAssessment, stay.id),
        key_id=key_id,
        sealed=blob,
        author_id=user_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.assessment_revised",
        subject_type="shelter_stay",
        subject_id=stay.id,
        organisation_id=shelter.organisation_id,
        reason=f"revision {row.revision}",
    )
    return row


def list_assessments(session: Session, *, stay: Stay) -> list[NeedsAssessment]:
    return list(
        session.exec(
            select(NeedsAssessment)
            .where(NeedsAssessment.stay_id == stay.id)
            .order_by(col(NeedsAssessment.revision))
        ).all()
    )


def open_assessment(cipher: FieldCipher, row: NeedsAssessment) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_open(cipher, row.key_id, row.sealed, ASSESSMENT_CONTEXT))
    return data


def add_work_plan(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    stay: Stay,
    data: WorkPlanCreate,
    cipher: FieldCipher,
    user_id: uuid.UUID,
    actor: Actor,
) -> WorkPlan:
    """A new revision of the individual work plan, made from the needs assessment."""
    stay = get_stay(session, shelter=shelter, stay_id=stay.id, lock=True)
    if not list_assessments(session, stay=stay):
        raise Conflict("Record the needs assessment first: the work plan is based on it.")
    key_id, blob = _seal(cipher, data.model_dump_json(), WORK_PLAN_CONTEXT)
    row = WorkPlan(
        stay_id=stay.id,
        revision=_next_revision(session, WorkPlan, stay.id),
        key_id=key_id,
        sealed=blob,
        author_id=user_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.work_plan_revised",
        subject_type="shelter_stay",
        subject_id=stay.id,
        organisation_id=shelter.organisation_id,
        reason=f"revision {row.revision}",
    )
    return row


def list_work_plans(session: Session, *, stay: Stay) -> list[WorkPlan]:
    return list(
        session.exec(
            select(WorkPlan).where(WorkPlan.stay_id == stay.id).order_by(col(WorkPlan.revision))
        ).all()
    )


def open_work_plan(cipher: FieldCipher, row: WorkPlan) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(_open(cipher, row.key_id, row.sealed, WORK_PLAN_CONTEXT))
    return data


@dataclass(frozen=True)
class Attention:
    assessments_overdue: list[tuple[Stay, datetime]]
    ending_soon: list[Stay]
    extensions_pending: list[StayExtension]
    over_capacity_nights: int


def attention(session: Session, *, shelter: Shelter, now: datetime) -> Attention:
    """What the shelter's staff must act on: late assessments, stays ending within 24 hours."""
    active = list_stays(session, shelter=shelter, status=StayStatus.ACTIVE, limit=10_000)
    ids = [s.id for s in active]
    assessed = (
        set(
            session.exec(
                select(NeedsAssessment.stay_id).where(col(NeedsAssessment.stay_id).in_(ids))
            ).all()
        )
        if ids
        else set()
    )
    overdue = sorted(
        (
            (stay, stay.admitted_at + ASSESSMENT_DUE)
            for stay in active
            if stay.id not in assessed and stay.admitted_at + ASSESSMENT_DUE <= now
        ),
        key=lambda pair: pair[1],
    )
    ending = sorted(
        (s for s in active if s.planned_end <= now + ENDING_SOON), key=lambda s: s.planned_end
    )
    pending = (
        list(
            session.exec(
                select(StayExtension)
                .where(
                    col(StayExtension.stay_id).in_(ids),
                    StayExtension.status == ExtensionStatus.PENDING,
                )
                .order_by(col(StayExtension.requested_at))
            ).all()
        )
        if ids
        else []
    )
    over = people_in(session, shelter_id=shelter.id, now=now) > shelter.hard_capacity
    return Attention(
        overdue, ending, pending, nights_over_capacity(shelter, now=now) if over else 0
    )


# --- perpetrators and entry approvals --------------------------------------------------------


def record_perpetrator(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    stay: Stay,
    name: str,
    cipher: FieldCipher,
    user_id: uuid.UUID,
    actor: Actor,
) -> Perpetrator:
    """Record a resident's perpetrator; any approval under that name is revoked at once."""
    # Under the shelter's lock, like approvals, so that none can slip in meanwhile.
    shelter = lock_shelter(session, shelter)
    digest = name_hash(cipher, name)
    key_id, blob = _seal(cipher, name, PERPETRATOR_CONTEXT)
    row = Perpetrator(
        shelter_id=shelter.id,
        stay_id=stay.id,
        name_hash=digest,
        name_key_id=key_id,
        name_sealed=blob,
        recorded_by=user_id,
        created_at=now,
    )
    session.add(row)
    for approval in session.exec(
        select(EntryApproval).where(
            EntryApproval.shelter_id == shelter.id,
            EntryApproval.name_hash == digest,
            col(EntryApproval.revoked_at).is_(None),
        )
    ).all():
        approval.revoked_at = now
        approval.revoked_by = user_id
        session.add(approval)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.perpetrator_recorded",
        subject_type="shelter_stay",
        subject_id=stay.id,
        organisation_id=shelter.organisation_id,
    )
    return row


def list_perpetrators(session: Session, *, stay: Stay) -> list[Perpetrator]:
    return list(
        session.exec(
            select(Perpetrator)
            .where(Perpetrator.stay_id == stay.id)
            .order_by(col(Perpetrator.created_at), col(Perpetrator.id))
        ).all()
    )


def reveal_perpetrator(cipher: FieldCipher, row: Perpetrator) -> str:
    return _open(cipher, row.name_key_id, row.name_sealed, PERPETRATOR_CONTEXT)


REFUSED_ENTRY = "This person cannot be approved to enter this shelter."
LOCKDOWN = "The shelter is in lockdown: entry approvals are suspended."


def approve_entry(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    data: ApprovalCreate,
    cipher: FieldCipher,
    user_id: uuid.UUID,
    actor: Actor,
) -> EntryApproval:
    """A supervisor's approval for a third party; never for a resident's recorded perpetrator."""
    shelter = lock_shelter(session, shelter)
    if shelter.lockdown:
        raise Conflict(LOCKDOWN)
    if data.valid_until <= now:
        raise InvalidInput("valid_until: must be in the future.")
    if data.valid_until - data.valid_from > timedelta(days=92):
        raise InvalidInput("valid_until: an approval lasts at most 92 days.")
    digest = name_hash(cipher, data.person_name)
    barred = session.exec(
        select(Perpetrator.id).where(
            Perpetrator.shelter_id == shelter.id, Perpetrator.name_hash == digest
        )
    ).first()
    if barred is not None:
        raise Conflict(REFUSED_ENTRY)
    approval = EntryApproval(
        shelter_id=shelter.id,
        person_name=data.person_name,
        name_hash=digest,
        organisation=data.organisation,
        purpose=data.purpose,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        approved_by=user_id,
        created_at=now,
    )
    session.add(approval)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.entry_approved",
        subject_type="shelter_entry_approval",
        subject_id=approval.id,
        organisation_id=shelter.organisation_id,
    )
    return approval


def list_approvals(session: Session, *, shelter: Shelter) -> list[EntryApproval]:
    return list(
        session.exec(
            select(EntryApproval)
            .where(EntryApproval.shelter_id == shelter.id)
            .order_by(col(EntryApproval.valid_from).desc(), col(EntryApproval.id))
            .limit(500)
        ).all()
    )


def get_approval(session: Session, *, shelter: Shelter, approval_id: uuid.UUID) -> EntryApproval:
    approval = session.get(EntryApproval, approval_id)
    if approval is None or approval.shelter_id != shelter.id:
        raise NotFound(NOT_FOUND)
    return approval


def revoke_approval(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    approval: EntryApproval,
    user_id: uuid.UUID,
    actor: Actor,
) -> EntryApproval:
    if approval.revoked_at is not None:
        raise Conflict("The approval is already revoked.")
    approval.revoked_at = now
    approval.revoked_by = user_id
    session.add(approval)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.entry_revoked",
        subject_type="shelter_entry_approval",
        subject_id=approval.id,
        organisation_id=shelter.organisation_id,
    )
    return approval


def record_entry(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    approval: EntryApproval,
    user_id: uuid.UUID,
    actor: Actor,
) -> EntryLog:
    """Log a visitor coming in: only under a live approval, never during a lockdown."""
    shelter = lock_shelter(session, shelter)
    if shelter.lockdown:
        raise Conflict(LOCKDOWN)
    if approval.revoked_at is not None:
        raise Conflict("The approval has been revoked.")
    if not approval.valid_from <= now < approval.valid_until:
        raise Conflict("The approval is not valid at this time.")
    entry = EntryLog(
        shelter_id=shelter.id, approval_id=approval.id, entered_at=now, recorded_by=user_id
    )
    session.add(entry)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.entry_logged",
        subject_type="shelter_entry_approval",
        subject_id=approval.id,
        organisation_id=shelter.organisation_id,
    )
    return entry


def record_exit(
    session: Session, *, now: datetime, shelter: Shelter, entry_id: uuid.UUID, actor: Actor
) -> EntryLog:
    entry = session.get(EntryLog, entry_id)
    if entry is None or entry.shelter_id != shelter.id:
        raise NotFound(NOT_FOUND)
    if entry.exited_at is not None:
        raise Conflict("The exit is already logged.")
    entry.exited_at = now
    session.add(entry)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.exit_logged",
        subject_type="shelter_entry_approval",
        subject_id=entry.approval_id,
        organisation_id=shelter.organisation_id,
    )
    return entry


def list_entries(session: Session, *, shelter: Shelter, limit: int = 500) -> list[EntryLog]:
    return list(
        session.exec(
            select(EntryLog)
            .where(EntryLog.shelter_id == shelter.id)
            .order_by(col(EntryLog.entered_at).desc(), col(EntryLog.id))
            .limit(limit)
        ).all()
    )


# --- turn-aways ------------------------------------------------------------------------------


def list_turn_aways(session: Session, *, shelter: Shelter, limit: int = 500) -> list[TurnAway]:
    return list(
        session.exec(
            select(TurnAway)
            .where(TurnAway.shelter_id == shelter.id)
            .order_by(col(TurnAway.occurred_at).desc(), col(TurnAway.id))
            .limit(limit)
        ).all()
    )


def update_turn_away(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    turn_away_id: uuid.UUID,
    data: TurnAwayUpdate,
    actor: Actor,
) -> TurnAway:
    """Record where a person we could not take was sent."""
    row = session.get(TurnAway, turn_away_id)
    if row is None or row.shelter_id != shelter.id:
        raise NotFound(NOT_FOUND)
    if (
        data.sent_to_shelter_id is not None
        and session.get(Shelter, data.sent_to_shelter_id) is None
    ):
        raise InvalidInput("sent_to_shelter_id: no such shelter in the network.")
    row.sent_to = data.sent_to
    row.sent_to_shelter_id = data.sent_to_shelter_id
    session.add(row)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.turn_away_updated",
        subject_type="shelter_turn_away",
        subject_id=row.id,
        organisation_id=shelter.organisation_id,
        reason=f"sent to {data.sent_to}",
    )
    return row


# --- figures ---------------------------------------------------------------------------------


@dataclass
class ShelterFigures:
    shelter_id: uuid.UUID
    shelter_name: str
    nights_in_period: int
    hard_capacity: int
    bed_nights: int = 0
    child_bed_nights: int = 0
    admissions: int = 0
    people_admitted: int = 0
    children_admitted: int = 0
    admissions_by_channel: dict[str, int] = field(default_factory=dict)
    at_distance_admissions: int = 0
    stays_ended: int = 0
    average_length_of_stay_days: float | None = None
    extensions_approved: int = 0
    turn_aways: int = 0
    turned_away_children: int = 0

    @property
    def occupancy_rate(self) -> float:
        available = self.hard_capacity * self.nights_in_period
        return round(self.bed_nights / available, 4) if available else 0.0


def period_bounds(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """[00:00 local on `first`, 00:00 local on the day after `last`)."""
    return local_midnight(first, zone), local_midnight(last + timedelta(days=1), zone)


def check_period(first: date, last: date) -> None:
    if last < first:
        raise InvalidInput("to: must not be before from.")
    if (last - first).days + 1 > MAX_FIGURES_DAYS:
        raise InvalidInput(f"to: a period covers at most {MAX_FIGURES_DAYS} days.")


def figures(
    session: Session,
    *,
    shelters: Sequence[Shelter],
    first: date,
    last: date,
    now: datetime,
) -> list[ShelterFigures]:
    """Bed nights (a person in a bed at 00:00 local), occupancy, stays, extensions, turn-aways.

    Nights still to come are not counted: a stay that is open counts up to `now`. Every count is
    an aggregate in the database, one query per figure and time zone, whatever the period.
    """
    check_period(first, last)
    if not shelters:
        return []
    bounds = {s.id: period_bounds(first, last, s.time_zone) for s in shelters}
    span = (last - first).days + 1
    into = {s.id: ShelterFigures(s.id, s.name, span, s.hard_capacity) for s in shelters}
    bed_nights(session, shelters=shelters, bounds=bounds, now=now, into=into)
    # Shelters in one zone share the period's bounds, so each zone is one set of queries.
    zones: dict[tuple[datetime, datetime], list[uuid.UUID]] = defaultdict(list)
    for shelter_id, period in bounds.items():
        zones[period].append(shelter_id)
    seconds = _seconds_between(session)
    for (start, end), ids in zones.items():
        for shelter_id, channel, count, distance, people, children in (
            session.connection()
            .execute(
                sa.select(
                    col(Stay.shelter_id),
                    col(Stay.channel),
                    func.count(),
                    func.sum(sa.case((col(Stay.at_distance), 1), else_=0)),
                    func.sum(col(Stay.people)),
                    func.sum(col(Stay.children)),
                )
                .where(
                    col(Stay.shelter_id).in_(ids),
                    col(Stay.admitted_at) >= start,
                    col(Stay.admitted_at) < end,
                )
                .group_by(col(Stay.shelter_id), col(Stay.channel))
            )
            .all()
        ):
            f = into[shelter_id]
            f.admissions += count
            f.admissions_by_channel[Channel(channel).value] = count
            f.at_distance_admissions += int(distance or 0)
            f.people_admitted += int(people or 0)
            f.children_admitted += int(children or 0)
        for shelter_id, count, average in session.exec(
            select(Stay.shelter_id, func.count(), func.avg(seconds))
            .where(
                col(Stay.shelter_id).in_(ids),
                col(Stay.ended_at) >= start,
                col(Stay.ended_at) < end,
            )
            .group_by(col(Stay.shelter_id))
        ).all():
            f = into[shelter_id]
            f.stays_ended = count
            f.average_length_of_stay_days = round(float(average) / 86_400, 2)
        for shelter_id, count in session.exec(
            select(Stay.shelter_id, func.count())
            .join(StayExtension, col(StayExtension.stay_id) == col(Stay.id))
            .where(
                col(Stay.shelter_id).in_(ids),
                StayExtension.status == ExtensionStatus.APPROVED,
                col(StayExtension.decided_at) >= start,
                col(StayExtension.decided_at) < end,
            )
            .group_by(col(Stay.shelter_id))
        ).all():
            into[shelter_id].extensions_approved = count
        for shelter_id, count, children in session.exec(
            select(TurnAway.shelter_id, func.count(), func.sum(TurnAway.children))
            .where(
                col(TurnAway.shelter_id).in_(ids),
                TurnAway.occurred_at >= start,
                TurnAway.occurred_at < end,
            )
            .group_by(col(TurnAway.shelter_id))
        ).all():
            into[shelter_id].turn_aways = count
            into[shelter_id].turned_away_children = int(children or 0)
    return [into[s.id] for s in shelters]


def _seconds_between(session: Session) -> Any:
    """A stay's length in seconds, as each database computes it."""
    ended, admitted = col(Stay.ended_at), col(Stay.admitted_at)
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", ended - admitted)
    return (func.julianday(ended) - func.julianday(admitted)) * 86_400


def bed_nights(
    session: Session,
    *,
    shelters: Sequence[Shelter],
    bounds: dict[uuid.UUID, tuple[datetime, datetime]],
    now: datetime,
    into: dict[uuid.UUID, ShelterFigures],
) -> None:
    """Add each shelter's bed nights (and children's) in its period to `into`.

    PostgreSQL counts in SQL with the same rule as `shelters.time.nights`; SQLite, which has no
    time zones, streams the occupancies through that function.
    """
    if session.get_bind().dialect.name == "postgresql":
        _bed_nights_sql(session, shelters=shelters, bounds=bounds, now=now, into=into)
        return
    for shelter in shelters:
        start, end = bounds[shelter.id]
        rows = session.exec(
            select(BedOccupancy.starts_at, BedOccupancy.ends_at, BedOccupancy.child).where(
                BedOccupancy.shelter_id == shelter.id,
                BedOccupancy.kind == OccupancyKind.OCCUPIED,
                BedOccupancy.starts_at < end,
                or_(col(BedOccupancy.ends_at).is_(None), col(BedOccupancy.ends_at) > start),
            )
        ).all()
        f = into[shelter.id]
        for starts_at, ends_at, child in rows:
            counted = nights(
                max(starts_at, start), min(ends_at or now, end, now), shelter.time_zone
            )
            f.bed_nights += counted
            if child:
                f.child_bed_nights += counted


_BED_NIGHTS_SQL = sa.text(
    """
    WITH p AS (
        SELECT * FROM unnest(
            CAST(:ids AS uuid[]), CAST(:zones AS text[]),
            CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])
        ) AS p(shelter_id, zone, period_start, period_end)
    ), clipped AS (
        SELECT o.shelter_id, o.child, p.zone,
               GREATEST(o.starts_at, p.period_start) AS s,
               LEAST(COALESCE(o.ends_at, :now), p.period_end, :now) AS e
        FROM shelter_bed_occupancy o JOIN p ON p.shelter_id = o.shelter_id
        WHERE o.kind = 'occupied' AND o.starts_at < p.period_end
          AND (o.ends_at IS NULL OR o.ends_at > p.period_start)
    )
    SELECT shelter_id, child,
           SUM(((e - interval '1 microsecond') AT TIME ZONE zone)::date
               - ((s - interval '1 microsecond') AT TIME ZONE zone)::date) AS nights
    FROM clipped WHERE e > s GROUP BY shelter_id, child
    """
)


def _bed_nights_sql(
    session: Session,
    *,
    shelters: Sequence[Shelter],
    bounds: dict[uuid.UUID, tuple[datetime, datetime]],
    now: datetime,
    into: dict[uuid.UUID, ShelterFigures],
) -> None:
    params: dict[str, Any] = {
        "now": now,
        "ids": [s.id for s in shelters],
        "zones": [s.time_zone for s in shelters],
        "starts": [bounds[s.id][0] for s in shelters],
        "ends": [bounds[s.id][1] for s in shelters],
    }
    for shelter_id, child, counted in session.connection().execute(_BED_NIGHTS_SQL, params):
        f = into[shelter_id]
        f.bed_nights += int(counted)
        if child:
            f.child_bed_nights += int(counted)


def stays_by_id(session: Session, *, shelter: Shelter, stay_ids: Iterable[uuid.UUID]) -> list[Stay]:
    ids = list(stay_ids)
    if not ids:
        return []
    return list(
        session.exec(select(Stay).where(col(Stay.id).in_(ids), Stay.shelter_id == shelter.id)).all()
    )
