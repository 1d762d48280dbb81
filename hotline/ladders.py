"""Per-process cache of each hotline's current ladder, so a call costs one INSERT.

A ladder is valid until the next moment the routing could change: a shift or override starting
or ending, the office opening or closing, or 15 seconds, whichever comes first. Changes made
through the API therefore reach new calls within 15 seconds, in every process.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, func, select

from core.clock import ensure_utc
from core.config import Settings
from hotline.models import CallMode, Hotline, Shift, ShiftOverride
from hotline.routing import Rung, route_reason
from hotline.service import calendar_for, hotline_by_number, ladder_for

TTL = timedelta(seconds=15)


@dataclass(frozen=True)
class Ladder:
    hotline_id: uuid.UUID
    organisation_id: uuid.UUID
    twilio_number: str
    language: str
    mode: CallMode
    plan: tuple[Rung, ...]
    computed_at: datetime
    valid_until: datetime


class LadderCache:
    def __init__(self, ttl: timedelta = TTL) -> None:
        self._ttl = ttl
        self._entries: dict[str, Ladder] = {}
        self._lock = threading.Lock()

    def peek(self, number: str, now: datetime) -> Ladder | None:
        """The cached ladder if it is still valid at `now`; never touches the database."""
        with self._lock:
            entry = self._entries.get(number)
        if entry is not None and entry.computed_at <= now < entry.valid_until:
            return entry
        return None

    def get(
        self, session: Session, *, settings: Settings, number: str, now: datetime
    ) -> Ladder | None:
        """The ladder for a call to `number` at `now`; None if no hotline has that number."""
        with self._lock:
            entry = self._entries.get(number)
        if entry is not None and entry.computed_at <= now < entry.valid_until:
            return entry
        hotline = hotline_by_number(session, number)
        if hotline is None:
            return None
        mode, plan = ladder_for(session, settings=settings, hotline=hotline, at=now)
        entry = Ladder(
            hotline_id=hotline.id,
            organisation_id=hotline.organisation_id,
            twilio_number=hotline.twilio_number,
            language=str(hotline.language),
            mode=mode,
            plan=plan,
            computed_at=now,
            valid_until=self._valid_until(session, hotline=hotline, now=now),
        )
        with self._lock:
            self._entries[number] = entry
        return entry

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _valid_until(self, session: Session, *, hotline: Hotline, now: datetime) -> datetime:
        horizon = now + self._ttl
        candidates: list[datetime] = [horizon]
        for column in (Shift.starts_at, Shift.ends_at):
            found = session.exec(
                select(func.min(col(column))).where(
                    Shift.hotline_id == hotline.id, col(column) > now, col(column) <= horizon
                )
            ).one()
            if found is not None:
                candidates.append(found)
        for column in (ShiftOverride.starts_at, ShiftOverride.ends_at):
            found = session.exec(
                select(func.min(col(column)))
                .join(Shift, col(Shift.id) == ShiftOverride.shift_id)
                .where(Shift.hotline_id == hotline.id, col(column) > now, col(column) <= horizon)
            ).one()
            if found is not None:
                candidates.append(found)
        until = min(ensure_utc(c) if c.tzinfo else c.replace(tzinfo=UTC) for c in candidates)
        calendar = calendar_for(session, hotline, now)
        if route_reason(calendar, until) is not route_reason(calendar, now):
            return now  # the office opens or closes within the window: do not cache
        return until
