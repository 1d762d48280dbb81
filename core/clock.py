"""The only reader of the wall clock. Everything else receives `now`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)  # noqa: TID251 (the one place allowed to)


class FrozenClock:
    """A clock that only moves when told to; for tests and replays."""

    def __init__(self, at: datetime) -> None:
        self._lock = threading.Lock()
        self._now = ensure_utc(at)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, at: datetime) -> None:
        """Jump to an instant."""
        with self._lock:
            self._now = ensure_utc(at)

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by `delta` and return the new instant."""
        with self._lock:
            self._now += delta
            return self._now


def ensure_utc(value: datetime) -> datetime:
    """Return the same instant in UTC; refuse naive datetimes, which have no instant."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: every time in Sigurna must carry its time zone")
    return value.astimezone(UTC)
