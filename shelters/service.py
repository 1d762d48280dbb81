"""Shelter services: configuration, the bed board, stays, assessments, visitors and figures.

Plain functions taking `session` and `now` keyword-only; they flush, never commit. Messages
never echo input and never name a person or an address. Every change is audited with who and,
where the change needs one, why.
"""

from __future__ import annotations

import json
import secrets
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
from core.clock import ensure_utc
from core.crypto import FieldCipher, Sealed
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import Organisation, Role, User, UserRole
from shelters import names
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
    ShelterReason,
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
BED_REASON_CONTEXT = "shelter_bed.out_of_service_reason"
NOTE_CONTEXT = "shelter_bed_occupancy.note"
MUNICIPALITY_CONTEXT = "shelter_stay.municipality"
JUSTIFICATION_CONTEXT = "shelter_stay_extension.justification"
DECISION_NOTE_CONTEXT = "shelter_stay_extension.decision_note"
APPROVAL_CONTEXT = "shelter_entry_approval.details"
REASON_CONTEXT = "shelter_reason"
CSW_DECISION_DAYS = 7
ASSESSMENT_DUE = timedelta(hours=24)
ENDING_SOON = timedelta(hours=24)
MAX_EXTENDED_STAY_DAYS = 90
MAX_HOLD = timedelta(hours=24)
MAX_LATE_ENTRY = timedelta(hours=24)  # a night admission may be entered up to a day later
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


def _seal_optional(
    cipher: FieldCipher, value: str | None, context: str
) -> tuple[str | None, bytes | None]:
    return (None, None) if value is None else _seal(cipher, value, context)


def _open_optional(
    cipher: FieldCipher, key_id: str | None, blob: bytes | None, context: str
) -> str | None:
    return None if key_id is None or blob is None else _open(cipher, key_id, blob, context)


def _user_of(actor: Actor) -> uuid.UUID | None:
    return uuid.UUID(actor.id) if actor.type == "user" and actor.id else None


def _audit_with_reason(
    session: Session,
    *,
    now: datetime,
    cipher: FieldCipher,
    shelter: Shelter,
    action: str,
    subject_type: str,
    subject_id: uuid.UUID,
    text: str,
    actor: Actor,
    context: str = "",
) -> ShelterReason:
    """Audit an act and keep the reason given for it, sealed: the audit event names the reason
    row ("reason <id>", after any `context` of ours) and never carries the text."""
    key_id, blob = _seal(cipher, text, REASON_CONTEXT)
    row = ShelterReason(
        shelter_id=shelter.id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        key_id=key_id,
        sealed=blob,
        recorded_by=_user_of(actor),
        created_at=now,
    )
    session.add(row)
    session.flush()
    _audit(
        session,
        now=now,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        organisation_id=shelter.organisation_id,
        reason=f"{context}reason {row.id}",
    )
    return row


def list_reasons(
    session: Session, *, shelter: Shelter, subject_id: uuid.UUID | None, limit: int = 500
) -> list[ShelterReason]:
    query = select(ShelterReason).where(ShelterReason.shelter_id == shelter.id)
    if subject_id is not None:
        query = query.where(ShelterReason.subject_id == subject_id)
    return list(
        session.exec(
            query.order_by(col(ShelterReason.created_at).desc(), col(ShelterReason.id)).limit(limit)
        ).all()
    )


OVERRIDE_ACTION = "shelter.entry_override"


def overrides_of(
    session: Session, approval_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, ShelterReason]:
    """approval id -> the supervisor's override that let a close name in (who, when, why)."""
    wanted = set(approval_ids)
    if not wanted:
        return {}
    rows = session.exec(
        select(ShelterReason).where(
            ShelterReason.action == OVERRIDE_ACTION, col(ShelterReason.subject_id).in_(wanted)
        )
    ).all()
    return {row.subject_id: row for row in rows}


def reveal_reason(cipher: FieldCipher, row: ShelterReason) -> str:
    return _open(cipher, row.key_id, row.sealed, REASON_CONTEXT)


def _end_occupancy(session: Session, occupancy: BedOccupancy, now: datetime) -> None:
    """End a period at `now`; one that began at this very instant never existed and goes."""
    if occupancy.starts_at >= now:
        session.delete(occupancy)
    else:
        occupancy.ends_at = now
        session.add(occupancy)


def _during(start: datetime, end: datetime) -> Any:
    """Occupancies in force at some instant from `start` to `end` (periods are half-open)."""
    return sa.and_(
        col(BedOccupancy.starts_at) <= end,
        or_(col(BedOccupancy.ends_at).is_(None), col(BedOccupancy.ends_at) > start),
    )


def _current(now: datetime) -> Any:
    """Occupancies in force at `now`."""
    return _during(now, now)


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
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    on: bool,
    reason: str,
    cipher: FieldCipher,
    actor: Actor,
) -> Shelter:
    """Suspend (or restore) every entry approval of the shelter."""
    shelter = lock_shelter(session, shelter)
    if shelter.lockdown != on:
        shelter.lockdown = on
        shelter.lockdown_changed_at = now
        session.add(shelter)
        session.flush()
        _audit_with_reason(
            session,
            now=now,
            cipher=cipher,
            shelter=shelter,
            action="shelter.lockdown_on" if on else "shelter.lockdown_off",
            subject_type="shelter",
            subject_id=shelter.id,
            text=reason,
            actor=actor,
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
    cipher: FieldCipher,
    actor: Actor,
) -> Bed:
    """Take a bed out of service (only while nobody is in it or holds it) or bring it back."""
    shelter = lock_shelter(session, shelter)
    bed = get_bed(session, shelter=shelter, bed_id=bed_id)
    if out_of_service and _bed_taken(session, bed.id, now=now):
        raise Conflict("The bed is occupied or reserved: move the person or end the hold first.")
    bed.out_of_service = out_of_service
    bed.out_of_service_reason_key_id, bed.out_of_service_reason_sealed = _seal_optional(
        cipher, reason if out_of_service else None, BED_REASON_CONTEXT
    )
    session.add(bed)
    session.flush()
    _audit_with_reason(
        session,
        now=now,
        cipher=cipher,
        shelter=shelter,
        action="shelter.bed_out_of_service" if out_of_service else "shelter.bed_in_service",
        subject_type="shelter_bed",
        subject_id=bed.id,
        text=reason,
        actor=actor,
    )
    return bed


def reveal_bed_reason(cipher: FieldCipher, bed: Bed) -> str | None:
    return _open_optional(
        cipher,
        bed.out_of_service_reason_key_id,
        bed.out_of_service_reason_sealed,
        BED_REASON_CONTEXT,
    )


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
    split_across_rooms: bool = False
    notice: str | None = None


@dataclass(frozen=True)
class _Placement:
    beds: list[uuid.UUID]  # one per person, in the order of the admission
    split: bool = False
    notice: str | None = None


SPLIT_NOTICE = (
    "The group is split across rooms: no room had enough eligible free beds for all of them."
)
NAMED_SPLIT_NOTICE = (
    "The group is split across rooms: the beds named for it are in different rooms."
)


def _new_reference(session: Session) -> str:
    while True:
        reference = "ST-" + secrets.token_hex(4).upper()
        if session.exec(select(Stay.id).where(Stay.reference == reference)).first() is None:
            return reference


def admission_time(admitted_at: datetime | None, *, now: datetime) -> datetime:
    """When she arrived: now, or a time entered late (at most 24 hours ago, never ahead)."""
    if admitted_at is None:
        return now
    admitted_at = ensure_utc(admitted_at)
    if admitted_at > now:
        raise InvalidInput("admitted_at: must not be in the future.")
    if admitted_at < now - MAX_LATE_ENTRY:
        raise InvalidInput("admitted_at: must be at most 24 hours ago; admit her as of now.")
    return admitted_at


def _kinds_for(person: PersonIn) -> list[BedKind]:
    """The beds a person may have, best first: cots only (and first) for children under three."""
    if person.age < CRIB_AGE:
        return [BedKind.COT, BedKind.BED, BedKind.EMERGENCY]
    return [BedKind.BED, BedKind.EMERGENCY]


def _assign(free: Sequence[Bed], people: Sequence[PersonIn]) -> list[Bed] | None:
    """A bed of `free` (in label order) for each person, best kind first; None if one has none."""
    left = list(free)
    picked: list[Bed] = []
    for person in people:
        pick = next((b for kind in _kinds_for(person) for b in left if b.kind is kind), None)
        if pick is None:
            return None
        left.remove(pick)
        picked.append(pick)
    return picked


def _one_room(
    free: Sequence[Bed], people: Sequence[PersonIn], preferred: set[uuid.UUID]
) -> list[Bed] | None:
    """Beds for `people` all in one room, if a room has enough eligible free beds: a room where
    the group already has a named bed first, then the fewest emergency beds, then the room of
    the first bed by label."""
    order = {bed.id: index for index, bed in enumerate(free)}
    rooms: dict[uuid.UUID, list[Bed]] = defaultdict(list)
    for bed in free:
        rooms[bed.room_id].append(bed)
    found: list[tuple[tuple[bool, int, int], list[Bed]]] = []
    for room_id, beds in rooms.items():
        picked = _assign(beds, people)
        if picked is not None:
            emergency = sum(1 for b in picked if b.kind is BedKind.EMERGENCY)
            cost = (room_id not in preferred, emergency, min(order[b.id] for b in picked))
            found.append((cost, picked))
    return min(found, key=lambda pair: pair[0])[1] if found else None


def _taken_between(
    session: Session, *, shelter: Shelter, since: datetime, now: datetime
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """(beds held, beds occupied) at any instant from `since` to `now`."""
    rows = session.exec(
        select(BedOccupancy).where(BedOccupancy.shelter_id == shelter.id, _during(since, now))
    ).all()
    held = {o.bed_id for o in rows if o.kind is OccupancyKind.RESERVED}
    return held, {o.bed_id for o in rows if o.kind is OccupancyKind.OCCUPIED}


def _pick_beds(
    session: Session, *, shelter: Shelter, people: list[PersonIn], since: datetime, now: datetime
) -> _Placement | None:
    """A bed for each person (theirs if named), free from `since` to now; None when not everyone
    fits.

    A named bed that is taken is a conflict (someone else got there first), not a turn-away.
    A named bed that is reserved is the one kept for this person: the hold gives way. The beds
    the service picks keep the group in one room whenever one room has enough eligible beds.
    """
    held, occupied = _taken_between(session, shelter=shelter, since=since, now=now)
    taken = held | occupied
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
        if bed.id in occupied or (bed.id in taken and bed.id not in held):
            raise Conflict("That bed is already taken: choose another or refresh the bed board.")
        held.discard(bed.id)
        taken.add(bed.id)
        chosen.append(bed.id)
    free = [b for b in beds if b.id not in taken]
    unnamed = [index for index, bed_id in enumerate(chosen) if bed_id is None]
    named_rooms = {by_id[b].room_id for b in chosen if b is not None}
    waiting = [people[index] for index in unnamed]
    together = _one_room(free, waiting, named_rooms) if waiting else []
    picked = together if together is not None else _assign(free, waiting)
    if picked is None:
        return None
    for index, bed in zip(unnamed, picked, strict=True):
        chosen[index] = bed.id
    final = [b for b in chosen if b is not None]
    if len({by_id[b].room_id for b in final}) <= 1:
        return _Placement(final)
    return _Placement(final, True, NAMED_SPLIT_NOTICE if together is not None else SPLIT_NOTICE)


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


def _place(
    session: Session,
    *,
    shelter: Shelter,
    data: AdmissionCreate,
    since: datetime,
    now: datetime,
    actor_roles: frozenset[Role],
) -> _Placement | str:
    """Beds for everyone of the admission, or what failed (for a turn-away)."""
    people = [data.client, *data.children]
    # People arriving into beds held for them are already counted by their holds.
    holds = {
        o.bed_id
        for o in current_occupancies(session, shelter_id=shelter.id, now=now)
        if o.kind is OccupancyKind.RESERVED
    }
    problem = _check_capacity(
        session,
        shelter=shelter,
        now=now,
        adding=sum(1 for p in people if p.bed_id is None or p.bed_id not in holds),
        use_soft=data.use_soft_capacity,
        actor_roles=actor_roles,
    )
    if problem is not None:
        return problem
    placed = _pick_beds(session, shelter=shelter, people=people, since=since, now=now)
    return "no_free_bed" if placed is None else placed


def _new_stay(
    session: Session,
    *,
    now: datetime,
    since: datetime,
    shelter: Shelter,
    data: AdmissionCreate,
    cipher: FieldCipher,
    user_id: uuid.UUID | None,
) -> tuple[Stay, list[StayMember]]:
    """The stay and its people; every clock runs from when she arrived (`since`)."""
    key_id, blob = _seal(cipher, data.municipality, MUNICIPALITY_CONTEXT)
    stay = Stay(
        organisation_id=shelter.organisation_id,
        shelter_id=shelter.id,
        reference=_new_reference(session),
        channel=data.channel,
        call_id=data.call_id,
        municipality_key_id=key_id,
        municipality_sealed=blob,
        at_distance=data.at_distance,
        people=1 + len(data.children),
        children=len(data.children),
        admitted_at=since,
        contract_days=data.contract_days,
        planned_end=add_local_days(since, data.contract_days, shelter.time_zone),
        decision_due_at=add_local_days(since, CSW_DECISION_DAYS, shelter.time_zone),
        admitted_by=user_id,
        created_at=now,
    )
    session.add(stay)
    session.flush()
    members: list[StayMember] = []
    for index, person in enumerate([data.client, *data.children]):
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
    return stay, members


def _audit_admission(
    session: Session, *, now: datetime, stay: Stay, data: AdmissionCreate, actor: Actor
) -> None:
    _audit(
        session,
        now=now,
        actor=actor,
        action="shelter.stay_admitted",
        subject_type="shelter_stay",
        subject_id=stay.id,
        organisation_id=stay.organisation_id,
        reason=f"channel {data.channel}; people {stay.people}"
        + ("; at distance" if data.at_distance else ""),
    )
    if stay.admitted_at < now:
        # Entered after the fact: who entered it, and when she really arrived.
        _audit(
            session,
            now=now,
            actor=actor,
            action="shelter.stay_admitted_late",
            subject_type="shelter_stay",
            subject_id=stay.id,
            organisation_id=stay.organisation_id,
            reason=f"admitted at {stay.admitted_at.isoformat()}",
        )


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
    decided on what is really there; the database's overlap guard backs that up. A night
    admission entered later carries its real time (`admitted_at`): its beds are taken from then.
    """
    since = admission_time(data.admitted_at, now=now)
    if data.call_id is not None:
        _check_call(session, call_id=data.call_id, organisation_id=shelter.organisation_id)
    shelter = lock_shelter(session, shelter)
    failed = eligibility_failures(
        shelter,
        sex=data.client.sex,
        age=data.client.age,
        group=data.group,
        children=len(data.children),
    )
    placement = _Placement([])
    if not failed and not data.at_distance:
        placed = _place(
            session, shelter=shelter, data=data, since=since, now=now, actor_roles=actor_roles
        )
        if isinstance(placed, str):
            failed = [placed]
        else:
            placement = placed
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
    stay, members = _new_stay(
        session, now=now, since=since, shelter=shelter, data=data, cipher=cipher, user_id=user_id
    )
    _end_holds(session, bed_ids=placement.beds, since=since, now=now)
    for member, bed_id in zip(members, placement.beds, strict=False):
        session.add(_occupy(shelter.id, bed_id, stay.id, member, since))
    _flush_occupancies(session)
    _update_over_capacity(session, shelter, now=now)
    _audit_admission(session, now=now, stay=stay, data=data, actor=actor)
    _refer(session, now=now, stay=stay, data=data, cipher=cipher, actor=actor, user_id=user_id)
    return Admitted(stay, members, placement.split, placement.notice)


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
            municipality=data.municipality,
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


def _end_holds(
    session: Session, *, bed_ids: Iterable[uuid.UUID], since: datetime, now: datetime
) -> None:
    """A reserved bed taken by an admission: the hold ends as the stay begins (`since`)."""
    ids = list(bed_ids)
    if not ids:
        return
    holds = session.exec(
        select(BedOccupancy).where(
            col(BedOccupancy.bed_id).in_(ids),
            BedOccupancy.kind == OccupancyKind.RESERVED,
            _during(since, now),
        )
    ).all()
    for hold in holds:
        _end_occupancy(session, hold, since)
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
    cipher: FieldCipher,
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
    key_id, blob = _seal(cipher, data.justification.strip(), JUSTIFICATION_CONTEXT)
    extension = StayExtension(
        stay_id=stay.id,
        previous_end=stay.planned_end,
        new_end=new_end,
        justification_key_id=key_id,
        justification_sealed=blob,
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
    cipher: FieldCipher,
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
    extension.decision_note_key_id, extension.decision_note_sealed = _seal_optional(
        cipher, note, DECISION_NOTE_CONTEXT
    )
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


@dataclass(frozen=True)
class ExtensionText:
    justification: str
    decision_note: str | None


def reveal_extension(cipher: FieldCipher, extension: StayExtension) -> ExtensionText:
    return ExtensionText(
        _open(
            cipher,
            extension.justification_key_id,
            extension.justification_sealed,
            JUSTIFICATION_CONTEXT,
        ),
        _open_optional(
            cipher,
            extension.decision_note_key_id,
            extension.decision_note_sealed,
            DECISION_NOTE_CONTEXT,
        ),
    )


def reveal_municipality(cipher: FieldCipher, stay: Stay) -> str:
    return _open(cipher, stay.municipality_key_id, stay.municipality_sealed, MUNICIPALITY_CONTEXT)


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
    cipher: FieldCipher,
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
    _check_target_beds(session, target=target, stay=stay, data=data, members=members, now=now)
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
    _audit_with_reason(
        session,
        now=now,
        cipher=cipher,
        shelter=shelter,
        action="shelter.stay_transferred",
        subject_type="shelter_stay",
        subject_id=stay.id,
        text=data.reason,
        actor=actor,
        context=f"to shelter {target.id}; " if moving_shelter else "",
    )
    return stay


def _check_target_beds(
    session: Session,
    *,
    target: Shelter,
    stay: Stay,
    data: TransferCreate,
    members: dict[uuid.UUID, StayMember],
    now: datetime,
) -> None:
    """Each bed moved to is in service in the receiving shelter, fits its person, and is free
    (or held by someone of this stay who is moving too)."""
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


def discharge(
    session: Session,
    *,
    now: datetime,
    shelter: Shelter,
    stay: Stay,
    data: DischargeCreate,
    cipher: FieldCipher,
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
    _audit_with_reason(
        session,
        now=now,
        cipher=cipher,
        shelter=shelter,
        action="shelter.stay_discharged",
        subject_type="shelter_stay",
        subject_id=stay.id,
        text=data.reason,
        actor=actor,
        context=f"destination {data.destination}; ",
    )
    return stay


# --- holds (reservations) --------------------------------------------------------------------


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
        raise InvalidInput("until: must be in the future and at most 24 hours from now.")
    shelter = lock_shelter(session, shelter)
    bed = get_bed(session, shelter=shelter, bed_id=data.bed_id)
    if bed.out_of_service:
        raise Conflict("The bed is out of service.")
    if _bed_taken(session, bed.id, now=now):
        raise Conflict("That bed is already taken: choose another or refresh the bed board.")
    if people_in(session, shelter_id=shelter.id, now=now) + 1 > shelter.hard_capacity:
        raise Conflict("The shelter is at capacity.")
    key_id, blob = _seal(cipher, data.note, NOTE_CONTEXT)
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


def reveal_note(cipher: FieldCipher, occupancy: BedOccupancy) -> str | None:
    return _open_optional(cipher, occupancy.note_key_id, occupancy.note_sealed, NOTE_CONTEXT)


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
    """Record a resident's perpetrator; any live approval under that name, or a name close to
    it, is revoked at once (a supervisor may approve a close name again, by an override)."""
    # Under the shelter's lock, like approvals, so that none can slip in meanwhile.
    shelter = lock_shelter(session, shelter)
    key_id, blob = _seal(cipher, name, PERPETRATOR_CONTEXT)
    row = Perpetrator(
        shelter_id=shelter.id,
        stay_id=stay.id,
        name_key_id=key_id,
        name_sealed=blob,
        recorded_by=user_id,
        created_at=now,
    )
    session.add(row)
    live = session.exec(
        select(EntryApproval).where(
            EntryApproval.shelter_id == shelter.id,
            col(EntryApproval.revoked_at).is_(None),
            col(EntryApproval.valid_until) > now,
        )
    ).all()
    revoked: list[EntryApproval] = []
    for approval in live:
        visitor = reveal_approval(cipher, approval).person_name
        if names.compare(name, visitor) is not names.NameMatch.NO_MATCH:
            approval.revoked_at = now
            approval.revoked_by = user_id
            session.add(approval)
            revoked.append(approval)
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
    for approval in revoked:
        _audit(
            session,
            now=now,
            actor=actor,
            action="shelter.entry_revoked",
            subject_type="shelter_entry_approval",
            subject_id=approval.id,
            organisation_id=shelter.organisation_id,
            reason="a perpetrator was recorded under this name or a close one",
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
NEEDS_OVERRIDE = (
    "This name is close to the name of a person who may not enter this shelter: a supervisor "
    "may approve it only by an explicit override, stating why in override_reason."
)
LOCKDOWN = "The shelter is in lockdown: entry approvals are suspended."


class OverrideRequired(Conflict):
    code = "override_required"


@dataclass(frozen=True)
class ApprovalText:
    person_name: str
    organisation: str
    purpose: str


def reveal_approval(cipher: FieldCipher, approval: EntryApproval) -> ApprovalText:
    details = json.loads(
        _open(cipher, approval.details_key_id, approval.details_sealed, APPROVAL_CONTEXT)
    )
    return ApprovalText(details["person_name"], details["organisation"], details["purpose"])


def barred_verdict(
    session: Session, *, shelter: Shelter, name: str, cipher: FieldCipher
) -> names.NameMatch:
    """How close `name` comes to any perpetrator recorded against a resident of the shelter."""
    barred = session.exec(select(Perpetrator).where(Perpetrator.shelter_id == shelter.id)).all()
    return names.worst([names.compare(name, reveal_perpetrator(cipher, p)) for p in barred])


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
    """A supervisor's approval for a third party; never for a resident's recorded perpetrator,
    and for a name close to one only by the supervisor's explicit override."""
    shelter = lock_shelter(session, shelter)
    if shelter.lockdown:
        raise Conflict(LOCKDOWN)
    if data.valid_until <= now:
        raise InvalidInput("valid_until: must be in the future.")
    if data.valid_until - data.valid_from > timedelta(days=92):
        raise InvalidInput("valid_until: an approval lasts at most 92 days.")
    verdict = barred_verdict(session, shelter=shelter, name=data.person_name, cipher=cipher)
    if verdict is names.NameMatch.MATCH:
        raise Conflict(REFUSED_ENTRY)
    if verdict is names.NameMatch.CLOSE and data.override_reason is None:
        raise OverrideRequired(NEEDS_OVERRIDE)
    details = {
        "person_name": data.person_name,
        "organisation": data.organisation,
        "purpose": data.purpose,
    }
    key_id, blob = _seal(cipher, json.dumps(details), APPROVAL_CONTEXT)
    approval = EntryApproval(
        shelter_id=shelter.id,
        details_key_id=key_id,
        details_sealed=blob,
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
    if verdict is names.NameMatch.CLOSE and data.override_reason is not None:
        # A supervisor let in a name close to a barred person's: who, when and why.
        _audit_with_reason(
            session,
            now=now,
            cipher=cipher,
            shelter=shelter,
            action=OVERRIDE_ACTION,
            subject_type="shelter_entry_approval",
            subject_id=approval.id,
            text=data.override_reason,
            actor=actor,
            context="name close to a barred person's; ",
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
