"""The rota: shifts, covers and swaps, who holds a position for a whole shift, and the gaps
in the next two weeks (who is on duty at an instant is `hotline.rota`, pure).

Plain functions taking `session` and `now` keyword-only; they flush, never commit, and audit
every change in the same transaction.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from core.audit import Actor
from core.context import Act
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Role, User, UserRole
from hotline.errors import NOT_FOUND, SHIFT_OVERLAPS
from hotline.models import (
    Hotline,
    OverrideCreate,
    OverrideKind,
    Position,
    Shift,
    ShiftCreate,
    ShiftOverride,
    SwapCreate,
)
from hotline.rota import OnDuty, resolve
from hotline.routing import Why, route_reason
from hotline.service.hotlines import audit_hotline
from hotline.service.ladder import calendar_between

DUTY_ROLES = frozenset({Role.COUNSELOR, Role.SUPERVISOR})
MAX_SHIFT = timedelta(days=7)
MAX_SHIFT_LISTING = timedelta(days=92)
GAP_HORIZON = timedelta(days=14)


def _duty_user(session: Session, organisation_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    """The user if they may stand duty: of the organisation, counselor or supervisor, enabled."""
    user = session.get(User, user_id)
    if user is None or user.organisation_id != organisation_id or user.disabled_at is not None:
        return None
    roles = session.exec(select(UserRole.role).where(UserRole.user_id == user_id)).all()
    return user if {Role(r) for r in roles} & DUTY_ROLES else None


def _check_duty_user(
    session: Session, organisation_id: uuid.UUID, user_id: uuid.UUID, field: str
) -> None:
    if _duty_user(session, organisation_id, user_id) is None:
        raise InvalidInput(
            f"{field}: must be an active counselor or supervisor of this organisation."
        )


def list_shifts(
    session: Session, *, hotline: Hotline, start: datetime, until: datetime
) -> list[Shift]:
    """The hotline's shifts that overlap [start, until), by start."""
    if until <= start:
        raise InvalidInput("until: must be after from.")
    if until - start > MAX_SHIFT_LISTING:
        raise InvalidInput("until: list at most 92 days at a time.")
    return shifts_between(session, [hotline.id], start, until)


def shifts_between(
    session: Session, hotline_ids: Sequence[uuid.UUID], start: datetime, until: datetime
) -> list[Shift]:
    if not hotline_ids:
        return []
    return list(
        session.exec(
            select(Shift)
            .where(
                col(Shift.hotline_id).in_(hotline_ids),
                col(Shift.starts_at) < until,
                col(Shift.ends_at) > start,
            )
            .order_by(col(Shift.starts_at), col(Shift.id))
        ).all()
    )


def overrides_of(session: Session, shift_ids: Sequence[uuid.UUID]) -> list[ShiftOverride]:
    if not shift_ids:
        return []
    return list(
        session.exec(
            select(ShiftOverride)
            .where(col(ShiftOverride.shift_id).in_(shift_ids))
            .order_by(col(ShiftOverride.created_at), col(ShiftOverride.id))
        ).all()
    )


def get_shift(session: Session, *, hotline: Hotline, shift_id: uuid.UUID) -> Shift:
    shift = session.get(Shift, shift_id)
    if shift is None or shift.hotline_id != hotline.id:
        raise NotFound(NOT_FOUND)
    return shift


def create_shift(act: Act, hotline: Hotline, data: ShiftCreate) -> Shift:
    session, now, actor, created_by, _ = act
    starts_at, ends_at = data.starts_at.astimezone(UTC), data.ends_at.astimezone(UTC)
    if ends_at <= starts_at:
        raise InvalidInput("ends_at: a shift must end after it starts.")
    if ends_at - starts_at > MAX_SHIFT:
        raise InvalidInput("ends_at: a shift lasts at most 7 days.")
    _check_duty_user(session, hotline.organisation_id, data.primary_user_id, "primary_user_id")
    if data.backup_user_id is not None:
        if data.backup_user_id == data.primary_user_id:
            raise InvalidInput("backup_user_id: the backup must be someone other than primary.")
        _check_duty_user(session, hotline.organisation_id, data.backup_user_id, "backup_user_id")
    # The hotline's row lock serialises rota writes, so two overlapping shifts cannot both pass.
    session.exec(select(Hotline.id).where(Hotline.id == hotline.id).with_for_update()).first()
    if shifts_between(session, [hotline.id], starts_at, ends_at):
        raise Conflict(SHIFT_OVERLAPS)
    shift = Shift(
        hotline_id=hotline.id,
        starts_at=starts_at,
        ends_at=ends_at,
        primary_user_id=data.primary_user_id,
        backup_user_id=data.backup_user_id,
        created_by_user_id=created_by,
        created_at=now,
    )
    session.add(shift)
    session.flush()
    audit_hotline(session, now, actor, "shift.created", hotline, shift.id)
    return shift


def delete_shift(
    session: Session, *, now: datetime, hotline: Hotline, shift_id: uuid.UUID, actor: Actor
) -> None:
    shift = get_shift(session, hotline=hotline, shift_id=shift_id)
    for override in overrides_of(session, [shift.id]):
        session.delete(override)
    session.flush()
    session.delete(shift)
    session.flush()
    audit_hotline(session, now, actor, "shift.deleted", hotline, shift_id)


def add_override(
    act: Act, hotline: Hotline, shift_id: uuid.UUID, data: OverrideCreate
) -> ShiftOverride:
    """Someone covers a position for all or part of a shift."""
    session, now, actor, made_by, _ = act
    shift = get_shift(session, hotline=hotline, shift_id=shift_id)
    starts_at = data.starts_at.astimezone(UTC) if data.starts_at else shift.starts_at
    ends_at = data.ends_at.astimezone(UTC) if data.ends_at else shift.ends_at
    if ends_at <= starts_at:
        raise InvalidInput("ends_at: a cover must end after it starts.")
    if starts_at < shift.starts_at or ends_at > shift.ends_at:
        raise InvalidInput("starts_at: a cover must lie within its shift.")
    _check_duty_user(session, hotline.organisation_id, data.user_id, "user_id")
    override = ShiftOverride(
        shift_id=shift.id,
        position=data.position,
        user_id=data.user_id,
        starts_at=starts_at,
        ends_at=ends_at,
        kind=OverrideKind.COVER,
        reason=" ".join(data.reason.split()),
        made_by_user_id=made_by,
        created_at=now,
    )
    session.add(override)
    session.flush()
    reason = f"cover: {data.position}"
    audit_hotline(session, now, actor, "shift.override", hotline, shift.id, reason=reason)
    return override


def whole_shift_holders(
    shift: Shift, overrides: Sequence[ShiftOverride]
) -> dict[Position, uuid.UUID | None]:
    """Who holds each position for the whole shift: overrides spanning all of it applied."""
    holders: dict[Position, uuid.UUID | None] = {
        Position.PRIMARY: shift.primary_user_id,
        Position.BACKUP: shift.backup_user_id,
    }
    spanning = [
        o
        for o in overrides
        if o.shift_id == shift.id and o.starts_at <= shift.starts_at and o.ends_at >= shift.ends_at
    ]
    for override in sorted(spanning, key=lambda o: o.created_at):
        holders[Position(override.position)] = override.user_id
    return holders


def swap_shifts(
    act: Act, hotline: Hotline, shift_id: uuid.UUID, data: SwapCreate
) -> list[ShiftOverride]:
    """Two shifts exchange who holds a position, as two swap overrides sharing a group."""
    session, now, actor, made_by, _ = act
    shift = get_shift(session, hotline=hotline, shift_id=shift_id)
    other = session.get(Shift, data.other_shift_id)
    other_hotline = session.get(Hotline, other.hotline_id) if other is not None else None
    if (
        other is None
        or other_hotline is None
        or other_hotline.organisation_id != hotline.organisation_id
    ):
        raise NotFound(NOT_FOUND)
    if other.id == shift.id:
        raise InvalidInput("other_shift_id: a shift cannot swap with itself.")
    overrides = overrides_of(session, [shift.id, other.id])
    mine = whole_shift_holders(shift, overrides)
    theirs = whole_shift_holders(other, overrides)
    position = Position(data.position)
    giver, taker = mine[position], theirs[position]
    if giver is None or taker is None:
        raise InvalidInput("position: both shifts must have someone in this position.")
    if giver == taker:
        raise InvalidInput("other_shift_id: the same person holds this position in both shifts.")
    counterpart = Position.BACKUP if position is Position.PRIMARY else Position.PRIMARY
    if mine[counterpart] == taker or theirs[counterpart] == giver:
        raise InvalidInput("position: the swap would give one person both positions of a shift.")
    for user_id in (giver, taker):
        _check_duty_user(session, hotline.organisation_id, user_id, "position")
    group = uuid.uuid4()
    reason = " ".join(data.reason.split())
    rows = [
        ShiftOverride(
            shift_id=target.id,
            position=position,
            user_id=holder,
            starts_at=target.starts_at,
            ends_at=target.ends_at,
            kind=OverrideKind.SWAP,
            swap_group=group,
            reason=reason,
            made_by_user_id=made_by,
            created_at=now,
        )
        for target, holder in ((shift, taker), (other, giver))
    ]
    session.add_all(rows)
    session.flush()
    for target in (shift, other):
        audit_hotline(
            session,
            now,
            actor,
            "shift.swap",
            hotline,
            target.id,
            reason=f"swap {group}: {position}",
        )
    return rows


# --- gaps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    starts_at: datetime
    ends_at: datetime
    missing: tuple[Position, ...]


def _local_boundaries(day: date, minute: int, zone: ZoneInfo) -> set[datetime]:
    """Both readings (fold 0 and 1) of a local wall time, as UTC instants."""
    wall = datetime.combine(day + timedelta(days=minute // 1440), time(0)) + timedelta(
        minutes=minute % 1440
    )
    return {wall.replace(tzinfo=zone, fold=fold).astimezone(UTC) for fold in (0, 1)}


def _missing(duty: OnDuty) -> tuple[Position, ...]:
    return tuple(
        p
        for p, holder in ((Position.PRIMARY, duty.primary), (Position.BACKUP, duty.backup))
        if holder is None
    )


def rota_gaps(
    session: Session, *, now: datetime, hotline: Hotline, horizon: timedelta = GAP_HORIZON
) -> list[Gap]:
    """Every stretch outside office hours, from now to `horizon` ahead, lacking primary or backup.

    The period is cut at every shift and override boundary and at every local midnight and
    office-hours edge (both readings of a wall time repeated by the autumn change), so the state
    is constant between two cuts and is read once per stretch.
    """
    start, end = now, now + horizon
    zone = ZoneInfo(hotline.time_zone)
    first_day = start.astimezone(zone).date() - timedelta(days=1)
    last_day = end.astimezone(zone).date() + timedelta(days=1)
    calendar = calendar_between(session, hotline, first_day, last_day)
    shifts = shifts_between(session, [hotline.id], start, end)
    overrides = overrides_of(session, [s.id for s in shifts])

    cuts: set[datetime] = {start, end}
    for shift in shifts:
        cuts.update((shift.starts_at, shift.ends_at))
    for override in overrides:
        cuts.update((override.starts_at, override.ends_at))
    day = first_day
    while day <= last_day:
        cuts.update(_local_boundaries(day, 0, zone))
        for begin, finish in calendar.office_hours.get(day.weekday(), ()):
            cuts.update(_local_boundaries(day, begin, zone))
            cuts.update(_local_boundaries(day, finish, zone))
        day += timedelta(days=1)
    points = sorted(c for c in cuts if start <= c <= end)

    gaps: list[Gap] = []
    for a, b in itertools.pairwise(points):
        if route_reason(calendar, a) is Why.OFFICE_HOURS:
            continue
        missing = _missing(resolve(shifts, overrides, a))
        if not missing:
            continue
        last = gaps[-1] if gaps else None
        if last is not None and last.ends_at == a and last.missing == missing:
            gaps[-1] = Gap(last.starts_at, b, missing)
        else:
            gaps.append(Gap(a, b, missing))
    return gaps


def display_names(session: Session, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Display names of people on the rota (its readers may see their colleagues')."""
    wanted = {u for u in user_ids if u is not None}
    if not wanted:
        return {}
    rows = session.exec(
        select(User.id, User.display_name).where(col(User.id).in_(list(wanted)))
    ).all()
    return dict(rows)
