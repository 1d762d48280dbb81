"""Pure routing decisions: is the office open, which ladder does a call climb, what comes next.

Nothing here reads the clock or the database; callers pass the instant and the people.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from hotline.models import WEEKDAYS, RungKind

MAX_RUNGS = len(RungKind)  # office, primary, backup, supervisors, last resort


class Why(StrEnum):
    """Why a call is routed the way it is."""

    OFFICE_HOURS = "office_hours"
    AFTER_HOURS = "after_hours"
    WEEKEND = "weekend"
    PUBLIC_HOLIDAY = "public_holiday"
    CLOSURE = "closure"
    ON_CALL_24H = "on_call_24h"


@dataclass(frozen=True)
class Calendar:
    """When a hotline's office answers."""

    zone: ZoneInfo
    # weekday (0 = Monday) -> ranges in minutes since local midnight, end exclusive
    office_hours: dict[int, tuple[tuple[int, int], ...]]
    holiday_country: str
    holiday_categories: tuple[str, ...]
    closures: frozenset[date] = frozenset()
    on_call_24h: bool = False

    @classmethod
    def build(
        cls,
        *,
        time_zone: str,
        office_hours: dict[str, list[str]],
        holiday_country: str,
        holiday_categories: Iterable[str],
        closures: Iterable[date] = (),
        on_call_24h: bool = False,
    ) -> Calendar:
        hours: dict[int, tuple[tuple[int, int], ...]] = {}
        for day, ranges in office_hours.items():
            spans = []
            for text in ranges:
                start, _, end = text.partition("-")
                spans.append((_minutes(start), _minutes(end)))
            hours[WEEKDAYS.index(day)] = tuple(sorted(spans))
        return cls(
            zone=ZoneInfo(time_zone),
            office_hours=hours,
            holiday_country=holiday_country,
            holiday_categories=tuple(sorted(holiday_categories)),
            closures=frozenset(closures),
            on_call_24h=on_call_24h,
        )


def _minutes(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    return int(hours) * 60 + int(minutes)


@lru_cache(maxsize=256)
def _holidays(country: str, categories: tuple[str, ...], year: int) -> dict[date, str]:
    calendar = holidays.country_holidays(country, years=year, categories=categories)
    return dict(calendar.items())


def holiday_on(calendar: Calendar, day: date) -> str | None:
    """The public holiday on a local date, if any."""
    found = _holidays(calendar.holiday_country, calendar.holiday_categories, day.year)
    return found.get(day)


def route_reason(calendar: Calendar, at: datetime) -> Why:
    """Why a call at `at` goes to the office or to the duty ladder."""
    if calendar.on_call_24h:
        return Why.ON_CALL_24H
    local = at.astimezone(calendar.zone)
    day = local.date()
    if day in calendar.closures:
        return Why.CLOSURE
    if holiday_on(calendar, day) is not None:
        return Why.PUBLIC_HOLIDAY
    ranges = calendar.office_hours.get(local.weekday(), ())
    if not ranges:
        return Why.WEEKEND
    minute = local.hour * 60 + local.minute
    if any(start <= minute < end for start, end in ranges):
        return Why.OFFICE_HOURS
    return Why.AFTER_HOURS


def office_is_open(calendar: Calendar, at: datetime) -> bool:
    """True when a call at `at` should ring the office first."""
    return route_reason(calendar, at) is Why.OFFICE_HOURS


# --- the ladder ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """Someone the ladder can ring."""

    number: str
    user_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Timeouts:
    office: int = 20
    primary: int = 20
    backup: int = 20
    supervisors: int = 25
    last_resort: int = 25


@dataclass(frozen=True)
class Rung:
    """One step: ring these numbers at once for `timeout` seconds."""

    kind: RungKind
    numbers: tuple[str, ...]
    user_ids: tuple[uuid.UUID | None, ...]
    timeout: int

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "numbers": list(self.numbers),
            "user_ids": [str(u) if u else None for u in self.user_ids],
            "timeout": self.timeout,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rung:
        return cls(
            kind=RungKind(data["kind"]),
            numbers=tuple(data["numbers"]),
            user_ids=tuple(uuid.UUID(u) if u else None for u in data["user_ids"]),
            timeout=int(data["timeout"]),
        )

    def user_for(self, number: str) -> uuid.UUID | None:
        for candidate, user_id in zip(self.numbers, self.user_ids, strict=True):
            if candidate == number:
                return user_id
        return None


def plan_ladder(
    *,
    office_open: bool,
    office_numbers: Sequence[str],
    primary: Person | None,
    backup: Person | None,
    supervisors: Sequence[Person],
    last_resort: Sequence[str],
    timeouts: Timeouts = Timeouts(),
) -> tuple[Rung, ...]:
    """The rungs a call climbs, in order; a number is rung at most once per call."""
    tried: set[str] = set()
    rungs: list[Rung] = []

    def add(kind: RungKind, people: Iterable[Person], timeout: int) -> None:
        numbers: list[str] = []
        users: list[uuid.UUID | None] = []
        for person in people:
            if person.number in tried:
                continue
            tried.add(person.number)
            numbers.append(person.number)
            users.append(person.user_id)
        if numbers:
            rungs.append(Rung(kind, tuple(numbers), tuple(users), timeout))

    if office_open:
        add(RungKind.OFFICE, (Person(n) for n in office_numbers), timeouts.office)
    add(RungKind.PRIMARY, [primary] if primary else [], timeouts.primary)
    add(RungKind.BACKUP, [backup] if backup else [], timeouts.backup)
    add(RungKind.SUPERVISORS, supervisors, timeouts.supervisors)
    add(RungKind.LAST_RESORT, (Person(n) for n in last_resort), timeouts.last_resort)
    return tuple(rungs)


@dataclass(frozen=True)
class DialRung:
    index: int
    rung: Rung


@dataclass(frozen=True)
class Voicemail:
    pass


@dataclass(frozen=True)
class Finished:
    pass


Step = DialRung | Voicemail | Finished


def first_step(
    plan: Sequence[Rung], *, rung_before: Callable[[str], bool] = lambda _: False
) -> Step:
    """What a new call does first."""
    return next_step(plan, after_rung=-1, accepted=False, rung_before=rung_before)


def next_step(
    plan: Sequence[Rung],
    *,
    after_rung: int,
    accepted: bool,
    rung_before: Callable[[str], bool] = lambda _: False,
) -> Step:
    """What follows the end of rung `after_rung` of the call's stored plan: done if a human
    accepted, else the next rung, without the numbers `rung_before` says this call rang already.
    The index is the plan's, so the call's record and its action URLs agree."""
    if accepted:
        return Finished()
    start = after_rung + 1
    if start < 0:
        return Voicemail()
    for index in range(start, len(plan)):
        rung = untried(plan[index], rung_before)
        if rung is not None:
            return DialRung(index, rung)
    return Voicemail()


def fallback_step(
    plan: Sequence[Rung], *, after_step: int, accepted: bool, rung_before: Callable[[str], bool]
) -> Step:
    """The next step of a call answered from the cached roster.

    The cached ladder may not be the one the call started with (a new shift, a refreshed cache,
    another process), so the position is not an index into it: the call climbs to the first rung
    that still has a number it has not rung, and the step is numbered after the last one.
    """
    if accepted:
        return Finished()
    for rung in plan:
        left = untried(rung, rung_before)
        if left is not None:
            return DialRung(max(after_step, -1) + 1, left)
    return Voicemail()


def untried(rung: Rung, rung_before: Callable[[str], bool]) -> Rung | None:
    """The rung without the numbers already rung in this call; None if none is left."""
    kept = [(n, u) for n, u in zip(rung.numbers, rung.user_ids, strict=True) if not rung_before(n)]
    if not kept:
        return None
    if len(kept) == len(rung.numbers):
        return rung
    return Rung(rung.kind, tuple(n for n, _ in kept), tuple(u for _, u in kept), rung.timeout)


# --- what a call has rung, carried in Twilio's signed action URLs ----------------------------

TAG_LENGTH = 10
MAX_TAGS = 64
_TAG = re.compile(rf"[0-9a-f]{{{TAG_LENGTH}}}")


def tag_key(secret: str) -> bytes:
    """The key of the number tags, derived from the service's secret key."""
    return hashlib.sha256(b"sigurna.hotline.number-tag\x00" + secret.encode()).digest()


def number_tag(key: bytes, number: str) -> str:
    """A short keyed tag of a number: URLs say which numbers were rung without naming them."""
    return hmac.new(key, number.encode(), hashlib.sha256).hexdigest()[:TAG_LENGTH]


def parse_tags(text: str | None) -> frozenset[str]:
    """The tags of an action URL's `tried` parameter; anything malformed is ignored."""
    if not text:
        return frozenset()
    return frozenset(t for t in text.split(".")[:MAX_TAGS] if _TAG.fullmatch(t))


def format_tags(tags: Iterable[str]) -> str:
    return ".".join(sorted(set(tags)))
