"""What every part of the shelter services shares: the sealed fields' contexts, the shelter's own
look-ups, the audit of an act (with a reason kept sealed beside its event), occupancy periods and
the over-capacity mark."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, func, or_, select

from core import audit
from core.audit import Actor
from core.crypto import FieldCipher, Sealed
from core.errors import Conflict
from core.localtime import nights
from core.scoped import get_owned
from shelters import errors
from shelters.models import (
    BedOccupancy,
    MemberRole,
    OccupancyKind,
    Shelter,
    ShelterReason,
    StayMember,
)

M = TypeVar("M", bound=SQLModel)

# What each sealed field is bound to (its associated data): a value cannot be moved to another.
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

CRIB_AGE = 3  # cots are for children under three
MAX_EXTENDED_STAY_DAYS = 90
OVERRIDE_ACTION = "shelter.entry_override"


# --- the shelter and what is in it ------------------------------------------------------------


def get_shelter(
    session: Session, *, organisation_id: uuid.UUID, shelter_id: uuid.UUID, lock: bool = False
) -> Shelter:
    """A shelter of the organisation; another organisation's answers as absent."""
    return get_owned(session, Shelter, shelter_id, organisation_id=organisation_id, lock=lock)


def lock_shelter(session: Session, shelter: Shelter) -> Shelter:
    """Serialise changes to one shelter's beds and capacity (row lock; SQLite locks at BEGIN)."""
    return get_shelter(
        session, organisation_id=shelter.organisation_id, shelter_id=shelter.id, lock=True
    )


def get_within(
    session: Session,
    model: type[M],
    row_id: uuid.UUID,
    *,
    within: uuid.UUID,
    column: str = "shelter_id",
    lock: bool = False,
) -> M:
    """A row of one shelter (or of one stay: `column`), found as `core.scoped.get_owned` finds an
    organisation's: another shelter's answers exactly as a missing one."""
    return get_owned(
        session,
        model,
        row_id,
        organisation_id=within,  # get_owned compares the owner found with this id
        owner=lambda row: getattr(row, column, None),
        lock=lock,
    )


def list_within(
    session: Session,
    model: type[M],
    *conditions: Any,
    within: uuid.UUID,
    order_by: tuple[Any, ...],
    column: str = "shelter_id",
    limit: int | None = None,
) -> list[M]:
    """The rows of one shelter (or of one stay: `column`) that meet `conditions`, in `order_by`
    order, at most `limit` of them: the list that `get_within` picks one row from."""
    owner = col(getattr(model, column))
    query = select(model).where(owner == within, *conditions).order_by(*order_by).limit(limit)
    return list(session.exec(query).all())


def user_of(actor: Actor) -> uuid.UUID | None:
    return uuid.UUID(actor.id) if actor.type == "user" and actor.id else None


# --- audit, and the reasons given for acts -----------------------------------------------------


def audit_act(
    session: Session,
    now: datetime,
    actor: Actor,
    action: str,
    shelter: Shelter,
    subject_type: str,
    subject_id: object,
    *,
    reason: str | None = None,
) -> None:
    """Audit an act done in a shelter, as one sentence: at `now`, `actor` did `action` in
    `shelter` to the subject (`subject_type`, `subject_id`), for `reason` (never a name or free
    text: those go sealed, `audit_with_reason`). The act is flushed first."""
    session.flush()
    audit.record(
        session,
        now,
        actor,
        action,
        subject_type,
        subject_id,
        shelter.organisation_id,
        reason=reason,
    )


def audit_with_reason(
    session: Session,
    now: datetime,
    actor: Actor,
    action: str,
    shelter: Shelter,
    subject_type: str,
    subject_id: uuid.UUID,
    *,
    text: str,
    cipher: FieldCipher,
    context: str = "",
) -> ShelterReason:
    """`audit_act`, keeping the reason given for the act (`text`) sealed: the audit event names
    the reason row ("reason <id>", after any `context` of ours) and never carries the text."""
    key_id, blob = cipher.seal_pair(text, context=REASON_CONTEXT)
    row = ShelterReason(
        shelter_id=shelter.id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        key_id=key_id,
        sealed=blob,
        recorded_by=user_of(actor),
        created_at=now,
    )
    session.add(row)
    reason = f"{context}reason {row.id}"
    audit_act(session, now, actor, action, shelter, subject_type, subject_id, reason=reason)
    return row


def list_reasons(
    session: Session, *, shelter: Shelter, subject_id: uuid.UUID | None, limit: int = 500
) -> list[ShelterReason]:
    about = [] if subject_id is None else [ShelterReason.subject_id == subject_id]
    newest_first = (col(ShelterReason.created_at).desc(), col(ShelterReason.id))
    return list_within(
        session, ShelterReason, *about, within=shelter.id, order_by=newest_first, limit=limit
    )


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
    return cipher.open(Sealed(row.key_id, row.sealed), context=REASON_CONTEXT)


# --- occupancy periods ----------------------------------------------------------------------------


def end_occupancy(session: Session, occupancy: BedOccupancy, now: datetime) -> None:
    """End a period at `now`; one that began at this very instant never existed and goes."""
    if occupancy.starts_at >= now:
        session.delete(occupancy)
    else:
        occupancy.ends_at = now
        session.add(occupancy)


# An instant, or a bound parameter standing for one in a statement built once.
Instant = datetime | sa.ColumnElement[datetime]


def during(start: Instant, end: Instant) -> Any:
    """Occupancies in force at some instant from `start` to `end` (periods are half-open)."""
    return sa.and_(
        col(BedOccupancy.starts_at) <= end,
        or_(col(BedOccupancy.ends_at).is_(None), col(BedOccupancy.ends_at) > start),
    )


def current(now: Instant) -> Any:
    """Occupancies in force at `now`."""
    return during(now, now)


def current_occupancies(
    session: Session, *, shelter_id: uuid.UUID, now: datetime
) -> list[BedOccupancy]:
    return list(
        session.exec(
            select(BedOccupancy).where(BedOccupancy.shelter_id == shelter_id, current(now))
        ).all()
    )


def bed_taken(session: Session, bed_id: uuid.UUID, *, now: datetime) -> bool:
    return (
        session.exec(
            select(BedOccupancy.id).where(BedOccupancy.bed_id == bed_id, current(now))
        ).first()
        is not None
    )


def flush_occupancies(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as exc:
        # The database's own guard (exclusion constraint or trigger): a race was lost.
        if "no_overlap" in str(exc.orig):
            raise Conflict(errors.BED_TAKEN) from None
        raise


def occupy(
    shelter_id: uuid.UUID, bed_id: uuid.UUID, stay_id: uuid.UUID, member: StayMember, now: datetime
) -> BedOccupancy:
    """A person of a stay in a bed from `now`."""
    return BedOccupancy(
        shelter_id=shelter_id,
        bed_id=bed_id,
        kind=OccupancyKind.OCCUPIED,
        stay_id=stay_id,
        member_id=member.id,
        child=member.role is MemberRole.CHILD,
        starts_at=now,
    )


# --- capacity -----------------------------------------------------------------------------------


def people_in(session: Session, *, shelter_id: uuid.UUID, now: datetime) -> int:
    """Beds occupied or reserved now: what capacity counts."""
    return session.exec(
        select(func.count())
        .select_from(BedOccupancy)
        .where(BedOccupancy.shelter_id == shelter_id, current(now))
    ).one()


def over_capacity_mark(shelter: Shelter, *, people: int, now: datetime) -> datetime | None:
    """Since when the shelter is over its hard capacity with `people` in it now (None: it is
    not): the mark it has, or now if it has none yet."""
    if people <= shelter.hard_capacity:
        return None
    return shelter.over_capacity_since or now


def nights_over(since: datetime | None, *, now: datetime, zone: str) -> int:
    """The nights over capacity of a mark that still holds at `now` (a midnight that is now
    counts)."""
    if since is None:
        return 0
    return nights(since, now + timedelta(microseconds=1), zone)


def nights_over_capacity(shelter: Shelter, *, now: datetime) -> int:
    return nights_over(shelter.over_capacity_since, now=now, zone=shelter.time_zone)


def update_over_capacity(session: Session, shelter: Shelter, *, now: datetime) -> None:
    mark = over_capacity_mark(
        shelter, people=people_in(session, shelter_id=shelter.id, now=now), now=now
    )
    if mark == shelter.over_capacity_since:
        return
    shelter.over_capacity_since = mark
    session.add(shelter)
    session.flush()
