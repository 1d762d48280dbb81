"""Local-clock arithmetic shared by the domains: deadlines in an organisation's zone and the
bed-night count (DST-safe)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_TICK = timedelta(microseconds=1)


def add_local_days(instant: datetime, days: int, zone: str) -> datetime:
    """The same local clock time `days` calendar days later, as a UTC instant.

    Across a DST change the interval is 167 or 169 hours, not 168. A wall time that does not
    exist on the target day (inside a spring-forward gap) resolves to the later offset's reading,
    i.e. the first valid instant after it; an ambiguous one to its first occurrence.
    """
    tz = ZoneInfo(zone)
    local = instant.astimezone(tz)
    target = datetime.combine(local.date() + timedelta(days=days), local.timetz().replace(fold=0))
    return target.replace(tzinfo=tz).astimezone(UTC)


def local_midnight(day: date, zone: str) -> datetime:
    """00:00 local time on `day` as a UTC instant (midnight exists and is unique in our zones)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def nights(starts_at: datetime, ends_at: datetime, zone: str) -> int:
    """Local midnights m with starts_at <= m < ends_at: the bed nights of one occupancy.

    The latest counted midnight begins the local date of (ends_at - 1 microsecond); the earliest
    is the day after the local date of (starts_at - 1 microsecond). Their difference in days is
    the count, whatever the length of the days in between.
    """
    if ends_at <= starts_at:
        return 0
    tz = ZoneInfo(zone)
    last = (ends_at - _TICK).astimezone(tz).date()
    before_first = (starts_at - _TICK).astimezone(tz).date()
    return (last - before_first).days
