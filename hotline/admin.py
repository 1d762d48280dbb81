"""Hotline staff services: hotlines, closures, duty phones, the rota, gaps and calendar feeds.

Plain functions taking `session` and `now` keyword-only; they flush, never commit. Errors are
`core.errors` types with messages that never echo input.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from icalendar import Calendar as ICalendar
from icalendar import Event
from sqlmodel import Session, col, select
from sqlmodel import update as sa_update

from core import audit
from core.audit import Actor
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from core.models import Organisation, Role, User, UserRole
from hotline.models import (
    CalendarFeed,
    ClosureCreate,
    DutyPhone,
    Hotline,
    HotlineClosure,
    HotlineCreate,
    HotlineUpdate,
    OverrideCreate,
    OverrideKind,
    Position,
    Shift,
    ShiftCreate,
    ShiftOverride,
    SwapCreate,
)
from hotline.rota import OnDuty, resolve
from hotline.routing import Calendar, Why, route_reason

DUTY_ROLES = frozenset({Role.COUNSELOR, Role.SUPERVISOR})
CODE_TTL = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
MAX_SHIFT = timedelta(days=7)
MAX_SHIFT_LISTING = timedelta(days=92)
GAP_HORIZON = timedelta(days=14)
FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=90)
FEED_PATH = "/hotline/calendar/{token}.ics"
NOT_FOUND = "Not found."


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- hotlines --------------------------------------------------------------------------------


def list_hotlines(session: Session, *, organisation_id: uuid.UUID) -> list[Hotline]:
    return list(
        session.exec(
            select(Hotline)
            .where(Hotline.organisation_id == organisation_id)
            .order_by(col(Hotline.name), col(Hotline.id))
        ).all()
    )


def get_hotline(
    session: Session, *, organisation_id: uuid.UUID, hotline_id: uuid.UUID, lock: bool = False
) -> Hotline:
    """A hotline of the organisation; another organisation's answers as absent."""
    query = select(Hotline).where(Hotline.id == hotline_id)
    if lock:
        query = query.with_for_update()
    hotline = session.exec(query).first()
    if hotline is None or hotline.organisation_id != organisation_id:
        raise NotFound(NOT_FOUND)
    return hotline


def _number_taken(session: Session, number: str, *, other_than: uuid.UUID | None = None) -> bool:
    query = select(Hotline.id).where(Hotline.twilio_number == number)
    if other_than is not None:
        query = query.where(Hotline.id != other_than)
    return session.exec(query).first() is not None


NUMBER_TAKEN = "twilio_number: another hotline already uses this number."


def create_hotline(
    session: Session,
    *,
    now: datetime,
    organisation: Organisation,
    data: HotlineCreate,
    actor: Actor,
) -> Hotline:
    if _number_taken(session, data.twilio_number):
        raise Conflict(NUMBER_TAKEN)
    values = data.model_dump()
    values["time_zone"] = data.time_zone or organisation.time_zone
    values["holiday_country"] = data.holiday_country or organisation.country_code
    hotline = Hotline(**values, organisation_id=organisation.id, created_at=now, updated_at=now)
    session.add(hotline)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="hotline.created",
        subject_type="hotline",
        subject_id=hotline.id,
        organisation_id=organisation.id,
    )
    return hotline


_NULLABLE_HOTLINE_FIELDS = frozenset({"last_resort_number"})


def update_hotline(
    session: Session, *, now: datetime, hotline: Hotline, data: HotlineUpdate, actor: Actor
) -> Hotline:
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidInput("Nothing to change: send at least one field of the hotline.")
    for name in sorted(changes):
        if changes[name] is None and name not in _NULLABLE_HOTLINE_FIELDS:
            raise InvalidInput(f"{name}: must not be null.")
    number = changes.get("twilio_number")
    if number is not None and _number_taken(session, number, other_than=hotline.id):
        raise Conflict(NUMBER_TAKEN)
    changed = sorted(name for name, value in changes.items() if getattr(hotline, name) != value)
    for name in changed:
        setattr(hotline, name, changes[name])
    if changed:
        hotline.updated_at = now
        session.add(hotline)
        session.flush()
        audit.record(
            session,
            now=now,
            actor=actor,
            action="hotline.updated",
            subject_type="hotline",
            subject_id=hotline.id,
            organisation_id=hotline.organisation_id,
            reason="changed: " + ", ".join(changed),
        )
    return hotline


# --- closures --------------------------------------------------------------------------------


def list_closures(session: Session, *, hotline: Hotline) -> list[HotlineClosure]:
    return list(
        session.exec(
            select(HotlineClosure)
            .where(HotlineClosure.hotline_id == hotline.id)
            .order_by(col(HotlineClosure.day))
        ).all()
    )


def add_closure(
    session: Session,
    *,
    now: datetime,
    hotline: Hotline,
    data: ClosureCreate,
    user_id: uuid.UUID | None,
    actor: Actor,
) -> HotlineClosure:
    taken = session.exec(
        select(HotlineClosure.id).where(
            HotlineClosure.hotline_id == hotline.id, HotlineClosure.day == data.day
        )
    ).first()
    if taken is not None:
        raise Conflict("day: the hotline already has a closure on this day.")
    closure = HotlineClosure(
        hotline_id=hotline.id,
        day=data.day,
        reason=" ".join(data.reason.split()),
        created_by_user_id=user_id,
        created_at=now,
    )
    session.add(closure)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="hotline.closure_added",
        subject_type="hotline",
        subject_id=hotline.id,
        organisation_id=hotline.organisation_id,
        reason=f"day: {data.day.isoformat()}",
    )
    return closure


def delete_closure(
    session: Session, *, now: datetime, hotline: Hotline, closure_id: uuid.UUID, actor: Actor
) -> None:
    closure = session.get(HotlineClosure, closure_id)
    if closure is None or closure.hotline_id != hotline.id:
        raise NotFound(NOT_FOUND)
    day = closure.day
    session.delete(closure)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="hotline.closure_removed",
        subject_type="hotline",
        subject_id=hotline.id,
        organisation_id=hotline.organisation_id,
        reason=f"day: {day.isoformat()}",
    )


# --- duty phones -----------------------------------------------------------------------------


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def set_duty_phone(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    user_id: uuid.UUID,
    number: str,
    actor: Actor,
) -> str:
    """Store the caller's mobile, unverified, with a fresh code; return the code to send."""
    code = new_code()
    phone = session.exec(select(DutyPhone).where(DutyPhone.user_id == user_id)).first()
    if phone is None:
        phone = DutyPhone(
            organisation_id=organisation_id, user_id=user_id, number=number, created_at=now
        )
    phone.organisation_id = organisation_id
    phone.number = number
    phone.verified_at = None
    phone.code_hash = _digest(code)
    phone.code_expires_at = now + CODE_TTL
    phone.code_attempts = 0
    session.add(phone)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="duty_phone.set",
        subject_type="user",
        subject_id=user_id,
        organisation_id=organisation_id,
    )
    return code


def any_hotline_number(session: Session, organisation_id: uuid.UUID) -> str | None:
    """One of the organisation's hotline numbers, to send staff SMS from."""
    return session.exec(
        select(Hotline.twilio_number)
        .where(Hotline.organisation_id == organisation_id)
        .order_by(col(Hotline.created_at))
    ).first()


class Verification(StrEnum):
    VERIFIED = "verified"
    NO_CODE = "no_code"
    TOO_MANY = "too_many"
    EXPIRED = "expired"
    WRONG = "wrong"


VERIFICATION_MESSAGES = {
    Verification.NO_CODE: "No code is pending: set your duty phone number first.",
    Verification.TOO_MANY: "code: too many attempts, set the number again.",
    Verification.EXPIRED: "code: the code has expired, set the number again.",
    Verification.WRONG: "code: the code is wrong.",
}


def verify_duty_phone(
    session: Session, *, now: datetime, user_id: uuid.UUID, code: str, actor: Actor
) -> Verification:
    """Check a code. A wrong one is counted, so callers must commit whatever this returns."""
    phone = session.exec(
        select(DutyPhone).where(DutyPhone.user_id == user_id).with_for_update()
    ).first()
    if phone is None or phone.code_hash is None or phone.code_expires_at is None:
        return Verification.NO_CODE
    if phone.code_attempts >= MAX_CODE_ATTEMPTS:
        return Verification.TOO_MANY
    if now >= phone.code_expires_at:
        return Verification.EXPIRED
    if not hmac.compare_digest(phone.code_hash, _digest(code)):
        phone.code_attempts += 1
        session.add(phone)
        session.flush()
        audit.record(
            session,
            now=now,
            actor=actor,
            action="duty_phone.verification_failed",
            subject_type="user",
            subject_id=user_id,
            organisation_id=phone.organisation_id,
        )
        return Verification.WRONG
    phone.verified_at = now
    phone.code_hash = None
    phone.code_expires_at = None
    phone.code_attempts = 0
    session.add(phone)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="duty_phone.verified",
        subject_type="user",
        subject_id=user_id,
        organisation_id=phone.organisation_id,
    )
    return Verification.VERIFIED


def list_duty_phones(session: Session, *, organisation_id: uuid.UUID) -> list[DutyPhone]:
    return list(
        session.exec(
            select(DutyPhone)
            .join(User, col(User.id) == DutyPhone.user_id)
            .where(DutyPhone.organisation_id == organisation_id)
            .order_by(col(User.display_name), col(User.id))
        ).all()
    )


# --- rota ------------------------------------------------------------------------------------


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
    return _shifts_between(session, [hotline.id], start, until)


def _shifts_between(
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


def create_shift(
    session: Session,
    *,
    now: datetime,
    hotline: Hotline,
    data: ShiftCreate,
    created_by: uuid.UUID | None,
    actor: Actor,
) -> Shift:
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
    if _shifts_between(session, [hotline.id], starts_at, ends_at):
        raise Conflict("The shift overlaps another shift of this hotline.")
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
    audit.record(
        session,
        now=now,
        actor=actor,
        action="shift.created",
        subject_type="shift",
        subject_id=shift.id,
        organisation_id=hotline.organisation_id,
    )
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
    audit.record(
        session,
        now=now,
        actor=actor,
        action="shift.deleted",
        subject_type="shift",
        subject_id=shift_id,
        organisation_id=hotline.organisation_id,
    )


def add_override(
    session: Session,
    *,
    now: datetime,
    hotline: Hotline,
    shift_id: uuid.UUID,
    data: OverrideCreate,
    made_by: uuid.UUID | None,
    actor: Actor,
) -> ShiftOverride:
    """Someone covers a position for all or part of a shift."""
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
    audit.record(
        session,
        now=now,
        actor=actor,
        action="shift.override",
        subject_type="shift",
        subject_id=shift.id,
        organisation_id=hotline.organisation_id,
        reason=f"cover: {data.position}",
    )
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
    session: Session,
    *,
    now: datetime,
    hotline: Hotline,
    shift_id: uuid.UUID,
    data: SwapCreate,
    made_by: uuid.UUID | None,
    actor: Actor,
) -> list[ShiftOverride]:
    """Two shifts exchange who holds a position, as two swap overrides sharing a group."""
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
        audit.record(
            session,
            now=now,
            actor=actor,
            action="shift.swap",
            subject_type="shift",
            subject_id=target.id,
            organisation_id=hotline.organisation_id,
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
    closures = session.exec(
        select(col(HotlineClosure.day)).where(
            HotlineClosure.hotline_id == hotline.id,
            col(HotlineClosure.day) >= first_day,
            col(HotlineClosure.day) <= last_day,
        )
    ).all()
    calendar = Calendar.build(
        time_zone=hotline.time_zone,
        office_hours=hotline.office_hours,
        holiday_country=hotline.holiday_country,
        holiday_categories=hotline.holiday_categories,
        closures=[d if isinstance(d, date) else date.fromisoformat(str(d)) for d in closures],
        on_call_24h=hotline.on_call_24h,
    )
    shifts = _shifts_between(session, [hotline.id], start, end)
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


# --- calendar feeds --------------------------------------------------------------------------


def create_calendar_feed(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    hotline_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    actor: Actor,
) -> str:
    """A new private feed for a hotline or a user; returns the token, which is stored hashed.

    There is one live link per hotline and per person: a new one revokes the ones before it, so
    a link that leaked is shut by making a new one.
    """
    if (hotline_id is None) == (user_id is None):
        raise ValueError("a feed is for a hotline or for a user")
    earlier = session.exec(
        sa_update(CalendarFeed)
        .where(
            col(CalendarFeed.organisation_id) == organisation_id,
            col(CalendarFeed.hotline_id) == hotline_id
            if hotline_id is not None
            else col(CalendarFeed.hotline_id).is_(None),
            col(CalendarFeed.user_id) == user_id
            if user_id is not None
            else col(CalendarFeed.user_id).is_(None),
            col(CalendarFeed.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    ).rowcount
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        organisation_id=organisation_id,
        hotline_id=hotline_id,
        user_id=user_id,
        token_hash=_digest(token),
        created_at=now,
    )
    session.add(feed)
    session.flush()
    audit.record(
        session,
        now=now,
        actor=actor,
        action="calendar_feed.created",
        subject_type="calendar_feed",
        subject_id=feed.id,
        organisation_id=organisation_id,
        reason=("hotline feed" if hotline_id is not None else "personal feed")
        + (f"; {earlier} earlier link(s) revoked" if earlier else ""),
    )
    return token


FEED_REFUSED = "This calendar link is unknown or has been revoked."


def display_names(session: Session, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Display names of people on the rota (its readers may see their colleagues')."""
    wanted = {u for u in user_ids if u is not None}
    if not wanted:
        return {}
    rows = session.exec(
        select(User.id, User.display_name).where(col(User.id).in_(list(wanted)))
    ).all()
    return dict(rows)


def _event(uid: str, now: datetime, starts_at: datetime, ends_at: datetime, summary: str) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("dtstart", starts_at)
    event.add("dtend", ends_at)
    event.add("summary", summary)
    return event


def calendar_feed(session: Session, *, now: datetime, token: str) -> bytes:
    """The iCalendar body of a feed; Forbidden for an unknown, revoked or orphaned token."""
    feed = session.exec(
        select(CalendarFeed).where(CalendarFeed.token_hash == _digest(token))
    ).first()
    if feed is None or feed.revoked_at is not None:
        raise Forbidden(FEED_REFUSED)
    start, until = now - FEED_PAST, now + FEED_AHEAD
    calendar = ICalendar()
    calendar.add("prodid", "-//Sigurna//Duty rota//EN")
    calendar.add("version", "2.0")
    if feed.hotline_id is not None:
        hotline = session.get(Hotline, feed.hotline_id)
        if hotline is None or hotline.organisation_id != feed.organisation_id:
            raise Forbidden(FEED_REFUSED)
        calendar.add("x-wr-calname", f"Duty rota: {hotline.name}")
        shifts = _shifts_between(session, [hotline.id], start, until)
        overrides = overrides_of(session, [s.id for s in shifts])
        holders = {s.id: whole_shift_holders(s, overrides) for s in shifts}
        names = display_names(session, (u for h in holders.values() for u in h.values()))
        for shift in shifts:
            held = holders[shift.id]
            primary, backup = held[Position.PRIMARY], held[Position.BACKUP]
            parts = [f"primary {names.get(primary, '?') if primary else 'nobody'}"]
            parts.append(f"backup {names[backup]}" if backup in names else "no backup")
            calendar.add_component(
                _event(
                    f"shift-{shift.id}@sigurna",
                    now,
                    shift.starts_at,
                    shift.ends_at,
                    "Duty: " + ", ".join(parts),
                )
            )
    else:
        user = session.get(User, feed.user_id) if feed.user_id else None
        if user is None or user.organisation_id != feed.organisation_id or user.disabled_at:
            raise Forbidden(FEED_REFUSED)
        calendar.add("x-wr-calname", "My duty shifts")
        hotlines = {h.id: h for h in list_hotlines(session, organisation_id=user.organisation_id)}
        shifts = _shifts_between(session, list(hotlines), start, until)
        overrides = overrides_of(session, [s.id for s in shifts])
        for shift in shifts:
            held = whole_shift_holders(shift, overrides)
            for position in (Position.PRIMARY, Position.BACKUP):
                if held[position] == user.id:
                    calendar.add_component(
                        _event(
                            f"shift-{shift.id}@sigurna",
                            now,
                            shift.starts_at,
                            shift.ends_at,
                            f"Duty: {position} on {hotlines[shift.hotline_id].name}",
                        )
                    )
                    break
        by_id = {s.id: s for s in shifts}
        for override in overrides:
            shift = by_id[override.shift_id]
            partial = override.starts_at > shift.starts_at or override.ends_at < shift.ends_at
            if partial and override.user_id == user.id:
                calendar.add_component(
                    _event(
                        f"cover-{override.id}@sigurna",
                        now,
                        override.starts_at,
                        override.ends_at,
                        f"Duty (cover): {override.position} on {hotlines[shift.hotline_id].name}",
                    )
                )
    result: bytes = calendar.to_ical()
    return result
