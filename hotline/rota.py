"""The duty rota: who is primary and backup at an instant, and where the rota has gaps."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from hotline.models import Position, Shift, ShiftOverride


@dataclass(frozen=True)
class OnDuty:
    primary: uuid.UUID | None
    backup: uuid.UUID | None
    shift_id: uuid.UUID | None


def resolve(shifts: Sequence[Shift], overrides: Sequence[ShiftOverride], at: datetime) -> OnDuty:
    """Who holds each position at `at`: the covering shift, then its newest covering override."""
    current = [s for s in shifts if s.starts_at <= at < s.ends_at]
    if not current:
        return OnDuty(None, None, None)
    # Overlapping shifts are refused when written; if any slipped in, the latest-starting wins.
    shift = max(current, key=lambda s: (s.starts_at, s.created_at))
    holders = {Position.PRIMARY: shift.primary_user_id, Position.BACKUP: shift.backup_user_id}
    live = [o for o in overrides if o.shift_id == shift.id and o.starts_at <= at < o.ends_at]
    for override in sorted(live, key=lambda o: o.created_at):
        holders[Position(override.position)] = override.user_id
    primary, backup = holders[Position.PRIMARY], holders[Position.BACKUP]
    if backup == primary:
        backup = None
    return OnDuty(primary, backup, shift.id)


def on_duty(session: Session, *, hotline_id: uuid.UUID, at: datetime) -> OnDuty:
    """Who is primary and backup on a hotline at an instant."""
    shifts = session.exec(
        select(Shift).where(
            Shift.hotline_id == hotline_id, col(Shift.starts_at) <= at, col(Shift.ends_at) > at
        )
    ).all()
    if not shifts:
        return OnDuty(None, None, None)
    overrides = session.exec(
        select(ShiftOverride).where(
            col(ShiftOverride.shift_id).in_([s.id for s in shifts]),
            col(ShiftOverride.starts_at) <= at,
            col(ShiftOverride.ends_at) > at,
        )
    ).all()
    return resolve(shifts, overrides, at)


def local_instant(day: date, clock_time: time, zone: ZoneInfo) -> datetime:
    """The instant a local wall-clock time happens, DST-safe (as RFC 5545 reads wall times).

    A time repeated by the autumn change means its first occurrence; a time skipped by the spring
    change (02:30 on the last Sunday of March) is read with the offset before the change, which
    lands as far past the gap as it was into it (03:30 summer time).
    """
    return datetime.combine(day, clock_time).replace(tzinfo=zone, fold=0).astimezone(UTC)


def nightly_shift_bounds(
    day: date, *, start: time, end: time, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    """A shift from `start` on `day` to `end` on the next day, local time, as UTC instants."""
    return local_instant(day, start, zone), local_instant(day + timedelta(days=1), end, zone)
