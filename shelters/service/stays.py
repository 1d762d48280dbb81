"""Stays from admission to discharge: their people and beds, extensions, the competent CSW's
decision, transfers and discharges."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from core.audit import Actor
from core.auth import Principal
from core.crypto import FieldCipher, Sealed
from core.errors import Conflict, InvalidInput
from core.localtime import add_local_days
from shelters import errors
from shelters.models import (
    BedKind,
    BedOccupancy,
    CswOutcome,
    DischargeCreate,
    ExtensionCreate,
    ExtensionStatus,
    MemberRole,
    Shelter,
    Stay,
    StayExtension,
    StayMember,
    StayStatus,
    TransferCreate,
)
from shelters.service.common import (
    CRIB_AGE,
    DECISION_NOTE_CONTEXT,
    JUSTIFICATION_CONTEXT,
    MAX_EXTENDED_STAY_DAYS,
    MEMBER_CONTEXT,
    MUNICIPALITY_CONTEXT,
    audit_act,
    audit_with_reason,
    current,
    end_occupancy,
    flush_occupancies,
    get_within,
    list_within,
    lock_shelter,
    occupy,
    people_in,
    update_over_capacity,
)
from shelters.service.shelters import list_beds, sees_people

# --- reading stays ----------------------------------------------------------------------------


def get_stay(session: Session, *, shelter: Shelter, stay_id: uuid.UUID, lock: bool = False) -> Stay:
    return get_within(session, Stay, stay_id, within=shelter.id, lock=lock)


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


def stays_seen(
    session: Session, principal: Principal, stay_ids: Iterable[uuid.UUID]
) -> frozenset[uuid.UUID]:
    """Which of these stays the principal may see the people of: those of the shelters it
    staffs, and every stay of its organisation for a supervisor (`sees_people`)."""
    seen: dict[uuid.UUID, bool] = {}
    found: set[uuid.UUID] = set()
    for stay_id, shelter in shelters_of_stays(session, stay_ids).items():
        if shelter.id not in seen:
            seen[shelter.id] = sees_people(session, principal, shelter)
        if seen[shelter.id]:
            found.add(stay_id)
    return frozenset(found)


def stays_by_id(session: Session, *, shelter: Shelter, stay_ids: Iterable[uuid.UUID]) -> list[Stay]:
    ids = list(stay_ids)
    if not ids:
        return []
    return list(
        session.exec(select(Stay).where(col(Stay.id).in_(ids), Stay.shelter_id == shelter.id)).all()
    )


def list_stays(
    session: Session, *, shelter: Shelter, status: StayStatus | None, limit: int = 200
) -> list[Stay]:
    having = [] if status is None else [Stay.status == status]
    newest_first = (col(Stay.admitted_at).desc(), col(Stay.id))
    return list_within(
        session, Stay, *having, within=shelter.id, order_by=newest_first, limit=limit
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
        select(BedOccupancy).where(col(BedOccupancy.stay_id).in_(list(stay_ids)), current(now))
    ).all()
    return {o.member_id: o.bed_id for o in rows if o.member_id is not None}


def reveal_member_name(cipher: FieldCipher, member: StayMember) -> str:
    return cipher.open(Sealed(member.name_key_id, member.name_sealed), context=MEMBER_CONTEXT)


def reveal_municipality(cipher: FieldCipher, stay: Stay) -> str:
    return cipher.open(
        Sealed(stay.municipality_key_id, stay.municipality_sealed), context=MUNICIPALITY_CONTEXT
    )


def _active(stay: Stay) -> None:
    if stay.status is not StayStatus.ACTIVE:
        raise Conflict(errors.STAY_ENDED)


def _lock_active(session: Session, shelter: Shelter, stay: Stay) -> Stay:
    """The stay read again under its row lock, refused once it has ended: what every change to
    a running stay starts with."""
    stay = get_stay(session, shelter=shelter, stay_id=stay.id, lock=True)
    _active(stay)
    return stay


def _latest_end(stay: Stay, shelter: Shelter) -> datetime:
    """The furthest an emergency stay may run: 90 local days from her arrival."""
    return add_local_days(stay.admitted_at, MAX_EXTENDED_STAY_DAYS, shelter.time_zone)


def _too_long(field: str) -> str:
    return errors.TOO_LONG_A_STAY.format(field=field, days=MAX_EXTENDED_STAY_DAYS)


# --- extensions -------------------------------------------------------------------------------


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
    stay = _lock_active(session, shelter, stay)
    new_end = data.new_end
    if new_end <= stay.planned_end:
        raise InvalidInput(errors.NEW_END_NOT_LATER)
    if new_end > _latest_end(stay, shelter):
        raise InvalidInput(_too_long("new_end"))
    pending = session.exec(
        select(StayExtension.id).where(
            StayExtension.stay_id == stay.id, StayExtension.status == ExtensionStatus.PENDING
        )
    ).first()
    if pending is not None:
        raise Conflict(errors.EXTENSION_PENDING)
    key_id, blob = cipher.seal_pair(data.justification.strip(), context=JUSTIFICATION_CONTEXT)
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
    _audit_extension(session, now, actor, "shelter.extension_requested", shelter, extension)
    return extension


def get_extension(
    session: Session, *, stay: Stay, extension_id: uuid.UUID, lock: bool = False
) -> StayExtension:
    return get_within(
        session, StayExtension, extension_id, within=stay.id, column="stay_id", lock=lock
    )


def list_extensions(session: Session, *, stay: Stay) -> list[StayExtension]:
    oldest_first = (col(StayExtension.requested_at), col(StayExtension.id))
    return list_within(
        session, StayExtension, within=stay.id, column="stay_id", order_by=oldest_first
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
    extension = get_extension(session, stay=stay, extension_id=extension.id, lock=True)
    if extension.status is not ExtensionStatus.PENDING:
        raise Conflict(errors.EXTENSION_DECIDED)
    _active(stay)
    if approve and extension.previous_end != stay.planned_end:
        raise Conflict(errors.PLANNED_END_CHANGED)
    extension.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REJECTED
    extension.decided_by = user_id
    extension.decided_at = now
    extension.decision_note_key_id, extension.decision_note_sealed = cipher.seal_optional(
        note, context=DECISION_NOTE_CONTEXT
    )
    session.add(extension)
    if approve:
        stay.planned_end = extension.new_end
        session.add(stay)
    action = "shelter.extension_approved" if approve else "shelter.extension_rejected"
    _audit_extension(session, now, actor, action, shelter, extension)
    return extension


def _audit_extension(
    session: Session,
    now: datetime,
    actor: Actor,
    action: str,
    shelter: Shelter,
    extension: StayExtension,
) -> None:
    """An extension is audited on its stay, naming the request."""
    reason = f"extension {extension.id}"
    audit_act(
        session, now, actor, action, shelter, "shelter_stay", extension.stay_id, reason=reason
    )


@dataclass(frozen=True)
class ExtensionText:
    justification: str
    decision_note: str | None


def reveal_extension(cipher: FieldCipher, extension: StayExtension) -> ExtensionText:
    return ExtensionText(
        cipher.open(
            Sealed(extension.justification_key_id, extension.justification_sealed),
            context=JUSTIFICATION_CONTEXT,
        ),
        cipher.open_pair(
            extension.decision_note_key_id,
            extension.decision_note_sealed,
            context=DECISION_NOTE_CONTEXT,
        ),
    )


# --- the competent CSW's decision -------------------------------------------------------------


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
            raise Conflict(errors.STAY_UNTIL_ENDED)
        if stay_until <= now:
            raise InvalidInput(errors.STAY_UNTIL_PAST)
        if stay_until > _latest_end(stay, shelter):
            raise InvalidInput(_too_long("stay_until"))
        stay.planned_end = stay_until
    session.add(stay)
    reason = f"outcome {outcome}" + ("; planned end changed" if stay_until else "")
    action = "shelter.csw_decision_applied"
    audit_act(session, now, actor, action, shelter, "shelter_stay", stay.id, reason=reason)
    return stay


# --- transfers and discharges -----------------------------------------------------------------


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
    stay = _lock_active(session, shelter, stay)
    # Lock both shelters in a fixed order so that two opposite transfers cannot deadlock.
    for locked in sorted(
        {shelter.id: shelter, target.id: target}.values(), key=lambda s: str(s.id)
    ):
        lock_shelter(session, locked)
    members = {m.id: m for m in members_of(session, [stay.id])[stay.id]}
    now_in = {
        o.member_id: o
        for o in session.exec(
            select(BedOccupancy).where(BedOccupancy.stay_id == stay.id, current(now))
        ).all()
    }
    moving_shelter = target.id != shelter.id
    newly_bedded = _check_moves(
        session,
        target=target,
        stay=stay,
        data=data,
        members=members,
        now_in=now_in,
        moving_shelter=moving_shelter,
        now=now,
    )
    for move in data.moves:
        old = now_in.get(move.member_id)
        if old is not None:
            end_occupancy(session, old, now)
    session.flush()
    for move in data.moves:
        session.add(occupy(target.id, move.bed_id, stay.id, members[move.member_id], now))
    if moving_shelter:
        stay.shelter_id = target.id
        stay.at_distance = False
    elif newly_bedded and len(now_in) + newly_bedded >= len(members):
        stay.at_distance = False
    session.add(stay)
    flush_occupancies(session)
    for touched in {shelter.id: shelter, target.id: target}.values():
        update_over_capacity(session, touched, now=now)
    audit_with_reason(
        session,
        now,
        actor,
        "shelter.stay_transferred",
        shelter,
        "shelter_stay",
        stay.id,
        text=data.reason,
        cipher=cipher,
        context=f"to shelter {target.id}; " if moving_shelter else "",
    )
    return stay


def _check_moves(
    session: Session,
    *,
    target: Shelter,
    stay: Stay,
    data: TransferCreate,
    members: dict[uuid.UUID, StayMember],
    now_in: dict[uuid.UUID | None, BedOccupancy],
    moving_shelter: bool,
    now: datetime,
) -> int:
    """Refuse a transfer the receiving shelter cannot take; how many people get a first bed."""
    for move in data.moves:
        if move.member_id not in members:
            raise InvalidInput(errors.MOVE_NOT_A_MEMBER)
    if moving_shelter and {m.member_id for m in data.moves} != set(members):
        raise InvalidInput(errors.MOVE_ALL_TOGETHER)
    newly_bedded = sum(1 for m in data.moves if m.member_id not in now_in)
    incoming = len(data.moves) if moving_shelter else newly_bedded
    if incoming and (
        people_in(session, shelter_id=target.id, now=now) + incoming > target.hard_capacity
    ):
        raise Conflict(errors.RECEIVER_AT_CAPACITY)
    _check_target_beds(session, target=target, stay=stay, data=data, members=members, now=now)
    for move in data.moves:
        old = now_in.get(move.member_id)
        if old is not None and old.bed_id == move.bed_id:
            raise InvalidInput(errors.MOVE_SAME_BED)
    return newly_bedded


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
            raise InvalidInput(errors.MOVE_NO_SUCH_BED)
        if bed.kind is BedKind.COT and members[move.member_id].age >= CRIB_AGE:
            raise InvalidInput(errors.MOVE_COT_FOR_INFANTS)
        holder = session.exec(
            select(BedOccupancy).where(BedOccupancy.bed_id == bed.id, current(now))
        ).first()
        if holder is not None and not (holder.member_id in leaving and holder.stay_id == stay.id):
            raise Conflict(errors.BED_TAKEN)


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
    stay = _lock_active(session, shelter, stay)
    lock_shelter(session, shelter)
    for occupancy in session.exec(
        select(BedOccupancy).where(BedOccupancy.stay_id == stay.id, current(now))
    ).all():
        end_occupancy(session, occupancy, now)
    stay.status = StayStatus.ENDED
    stay.ended_at = now
    stay.destination = data.destination
    session.add(stay)
    session.flush()
    update_over_capacity(session, shelter, now=now)
    audit_with_reason(
        session,
        now,
        actor,
        "shelter.stay_discharged",
        shelter,
        "shelter_stay",
        stay.id,
        text=data.reason,
        cipher=cipher,
        context=f"destination {data.destination}; ",
    )
    return stay
