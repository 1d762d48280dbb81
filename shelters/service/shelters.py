"""Shelters, their staff, rooms and beds: the configuration, and who sees a shelter's people."""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from core.audit import Actor
from core.auth import Principal
from core.context import Act
from core.crypto import FieldCipher, Sealed
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Organisation, Role, User, UserRole
from core.scoped import NOT_FOUND, get_owned
from shelters import errors
from shelters.models import (
    Bed,
    BedCreate,
    Room,
    RoomCreate,
    Shelter,
    ShelterCreate,
    ShelterStaff,
    ShelterUpdate,
    check_capacity,
    check_eligibility,
)
from shelters.service.common import (
    ADDRESS_CONTEXT,
    BED_REASON_CONTEXT,
    audit_act,
    audit_with_reason,
    bed_taken,
    get_within,
    list_within,
    lock_shelter,
    update_over_capacity,
)

# --- shelters ---------------------------------------------------------------------------------


def list_shelters(session: Session, *, organisation_id: uuid.UUID) -> list[Shelter]:
    return list(
        session.exec(
            select(Shelter)
            .where(Shelter.organisation_id == organisation_id)
            .order_by(col(Shelter.name), col(Shelter.id))
        ).all()
    )


def reveal_address(cipher: FieldCipher, shelter: Shelter) -> str:
    return cipher.open(
        Sealed(shelter.address_key_id, shelter.address_sealed), context=ADDRESS_CONTEXT
    )


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
    key_id, blob = cipher.seal_pair(data.address, context=ADDRESS_CONTEXT)
    shelter = Shelter(
        **values,
        organisation_id=organisation.id,
        address_key_id=key_id,
        address_sealed=blob,
        created_at=now,
        updated_at=now,
    )
    session.add(shelter)
    audit_act(session, now, actor, "shelter.created", shelter, "shelter", shelter.id)
    return shelter


def update_shelter(act: Act, shelter: Shelter, data: ShelterUpdate) -> Shelter:
    session, now, actor, _, cipher = act
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput(errors.NOTHING_TO_CHANGE)
    for name in sorted(changes):
        if changes[name] is None and name not in {"max_age", "soft_capacity"}:
            raise InvalidInput(errors.NOT_NULL.format(field=name))
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
        shelter.address_key_id, shelter.address_sealed = cipher.seal_pair(
            address, context=ADDRESS_CONTEXT
        )
    for name, value in changes.items():
        setattr(shelter, name, value)
    shelter.updated_at = now
    session.add(shelter)
    session.flush()
    update_over_capacity(session, shelter, now=now)
    fields = sorted([*changes, *(["address"] if address else [])])
    reason = "fields: " + ",".join(fields)
    audit_act(session, now, actor, "shelter.updated", shelter, "shelter", shelter.id, reason=reason)
    return shelter


def set_lockdown(act: Act, shelter: Shelter, on: bool, reason: str) -> Shelter:
    """Suspend (or restore) every entry approval of the shelter."""
    session, now, actor, _, cipher = act
    shelter = lock_shelter(session, shelter)
    if shelter.lockdown != on:
        shelter.lockdown = on
        shelter.lockdown_changed_at = now
        session.add(shelter)
        action = "shelter.lockdown_on" if on else "shelter.lockdown_off"
        audit_with_reason(
            session, now, actor, action, shelter, "shelter", shelter.id, text=reason, cipher=cipher
        )
    return shelter


# --- staff, and who sees a shelter's people ---------------------------------------------------


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


def sees_people(
    session: Session, principal: Principal, shelter: Shelter, *, staff: bool | None = None
) -> bool:
    """The shelter's address and residents are for its staff and its organisation's supervisors.
    `staff`: whether the principal is on the shelter's staff, when the caller read it already."""
    if principal.organisation_id != shelter.organisation_id:
        return False
    if Role.SUPERVISOR in principal.roles:
        return True
    if Role.SHELTER_STAFF not in principal.roles:
        return False
    if staff is None:
        staff = is_staff(session, shelter_id=shelter.id, user_id=principal.user_id)
    return staff


def shelter_seen_by(
    session: Session, principal: Principal, *, organisation_id: uuid.UUID, shelter_id: uuid.UUID
) -> tuple[Shelter, bool]:
    """A shelter of the organisation (another organisation's answers as absent, as `get_shelter`)
    and whether `principal` sees its people (`sees_people`): one query, the staff row with it."""
    params = {"shelter_id": shelter_id, "user_id": principal.user_id}
    found = session.exec(_seen_query(), params=params).first()
    if found is None or found[0].organisation_id != organisation_id:
        raise NotFound(NOT_FOUND)
    shelter, staff = found
    return shelter, sees_people(session, principal, shelter, staff=bool(staff))


@functools.cache
def _seen_query() -> Any:
    """The shelter `:shelter_id` and whether the user `:user_id` is on its staff (false when
    there is no user). Built once: the gate of every shelter route runs it."""
    on_staff = sa.exists().where(
        col(ShelterStaff.shelter_id) == col(Shelter.id),
        col(ShelterStaff.user_id) == sa.bindparam("user_id", type_=sa.Uuid),
    )
    return select(Shelter, on_staff).where(
        col(Shelter.id) == sa.bindparam("shelter_id", type_=sa.Uuid)
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
    user = get_owned(session, User, user_id, organisation_id=shelter.organisation_id)
    roles = session.exec(select(UserRole.role).where(UserRole.user_id == user_id)).all()
    if Role.SHELTER_STAFF not in roles:
        raise InvalidInput(errors.NOT_SHELTER_STAFF)
    if not is_staff(session, shelter_id=shelter.id, user_id=user_id):
        session.add(ShelterStaff(shelter_id=shelter.id, user_id=user_id, created_at=now))
        _audit_staff(session, now, actor, "shelter.staff_assigned", shelter, user_id)
    return user


def remove_staff(
    session: Session, *, now: datetime, shelter: Shelter, user_id: uuid.UUID, actor: Actor
) -> None:
    row = session.get(ShelterStaff, (shelter.id, user_id))
    if row is None:
        raise NotFound(errors.NOT_FOUND)
    session.delete(row)
    _audit_staff(session, now, actor, "shelter.staff_removed", shelter, user_id)


def _audit_staff(
    session: Session, now: datetime, actor: Actor, action: str, shelter: Shelter, user: uuid.UUID
) -> None:
    """Staff changes are the shelter's, naming the user (by id only)."""
    audit_act(session, now, actor, action, shelter, "shelter", shelter.id, reason=f"user {user}")


# --- rooms and beds ---------------------------------------------------------------------------


def list_rooms(session: Session, *, shelter: Shelter) -> list[Room]:
    return list_within(session, Room, within=shelter.id, order_by=(col(Room.name),))


def add_room(
    session: Session, *, now: datetime, shelter: Shelter, data: RoomCreate, actor: Actor
) -> Room:
    taken = session.exec(
        select(Room.id).where(Room.shelter_id == shelter.id, Room.name == data.name)
    ).first()
    if taken is not None:
        raise Conflict(errors.ROOM_EXISTS)
    room = Room(shelter_id=shelter.id, name=data.name, created_at=now)
    session.add(room)
    audit_act(session, now, actor, "shelter.room_added", shelter, "shelter_room", room.id)
    return room


def list_beds(session: Session, *, shelter_id: uuid.UUID) -> list[Bed]:
    return list_within(session, Bed, within=shelter_id, order_by=(col(Bed.label), col(Bed.id)))


def get_bed(session: Session, *, shelter: Shelter, bed_id: uuid.UUID) -> Bed:
    return get_within(session, Bed, bed_id, within=shelter.id)


def add_bed(
    session: Session, *, now: datetime, shelter: Shelter, data: BedCreate, actor: Actor
) -> Bed:
    shelter = lock_shelter(session, shelter)
    room = session.get(Room, data.room_id)
    if room is None or room.shelter_id != shelter.id:
        raise InvalidInput(errors.NO_SUCH_ROOM)
    taken = session.exec(
        select(Bed.id).where(Bed.shelter_id == shelter.id, Bed.label == data.label)
    ).first()
    if taken is not None:
        raise Conflict(errors.BED_LABEL_EXISTS)
    bed = Bed(
        shelter_id=shelter.id, room_id=room.id, label=data.label, kind=data.kind, created_at=now
    )
    session.add(bed)
    audit_act(session, now, actor, "shelter.bed_added", shelter, "shelter_bed", bed.id)
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
    if out_of_service and bed_taken(session, bed.id, now=now):
        raise Conflict(errors.BED_IN_USE)
    bed.out_of_service = out_of_service
    bed.out_of_service_reason_key_id, bed.out_of_service_reason_sealed = cipher.seal_optional(
        reason if out_of_service else None, context=BED_REASON_CONTEXT
    )
    session.add(bed)
    action = "shelter.bed_out_of_service" if out_of_service else "shelter.bed_in_service"
    audit_with_reason(
        session, now, actor, action, shelter, "shelter_bed", bed.id, text=reason, cipher=cipher
    )
    return bed


def reveal_bed_reason(cipher: FieldCipher, bed: Bed) -> str | None:
    return cipher.open_pair(
        bed.out_of_service_reason_key_id,
        bed.out_of_service_reason_sealed,
        context=BED_REASON_CONTEXT,
    )
