"""The ladder for a call: the hotline a number belongs to, its calendar (office hours, holidays,
closures), who is on duty with a verified phone, and the rungs a call climbs."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from core.config import Settings
from core.models import Role, User, UserRole
from hotline.models import CallMode, DutyPhone, Hotline, HotlineClosure
from hotline.rota import on_duty
from hotline.routing import Calendar, Person, Rung, Timeouts, office_is_open, plan_ladder


def hotline_by_number(session: Session, number: str) -> Hotline | None:
    return session.exec(select(Hotline).where(Hotline.twilio_number == number)).first()


def calendar_for(session: Session, hotline: Hotline, around: datetime) -> Calendar:
    """The hotline's calendar with the closures near `around` (a day either side)."""
    day = around.astimezone(ZoneInfo(hotline.time_zone)).date()
    return calendar_between(session, hotline, day - timedelta(days=1), day + timedelta(days=1))


def calendar_between(
    session: Session, hotline: Hotline, first_day: date, last_day: date
) -> Calendar:
    """The hotline's calendar with its closures from `first_day` to `last_day`, both included."""
    closures = session.exec(
        select(col(HotlineClosure.day)).where(
            HotlineClosure.hotline_id == hotline.id,
            col(HotlineClosure.day) >= first_day,
            col(HotlineClosure.day) <= last_day,
        )
    ).all()
    return Calendar.build(
        time_zone=hotline.time_zone,
        office_hours=hotline.office_hours,
        holiday_country=hotline.holiday_country,
        holiday_categories=hotline.holiday_categories,
        closures=[d if isinstance(d, date) else date.fromisoformat(str(d)) for d in closures],
        on_call_24h=hotline.on_call_24h,
    )


def _verified_phones(session: Session, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not user_ids:
        return {}
    rows = session.exec(
        select(DutyPhone.user_id, DutyPhone.number)
        .join(User, col(User.id) == DutyPhone.user_id)
        .where(
            col(DutyPhone.user_id).in_(user_ids),
            col(DutyPhone.verified_at).is_not(None),
            col(User.disabled_at).is_(None),
        )
    ).all()
    return dict(rows)


def supervisors_of(session: Session, organisation_id: uuid.UUID) -> list[Person]:
    """Every supervisor of the organisation with a verified duty phone."""
    ids = list(
        session.exec(
            select(User.id)
            .join(UserRole, col(UserRole.user_id) == User.id)
            .where(
                User.organisation_id == organisation_id,
                UserRole.role == Role.SUPERVISOR,
                col(User.disabled_at).is_(None),
            )
            .order_by(col(User.display_name), col(User.id))
        ).all()
    )
    phones = _verified_phones(session, ids)
    return [Person(phones[i], i) for i in ids if i in phones]


def ladder_for(
    session: Session, *, settings: Settings, hotline: Hotline, at: datetime
) -> tuple[CallMode, tuple[Rung, ...]]:
    """How a call to `hotline` at `at` is routed: office first, or straight to the duty ladder."""
    calendar = calendar_for(session, hotline, at)
    office = office_is_open(calendar, at) and bool(hotline.office_numbers)
    duty = on_duty(session, hotline_id=hotline.id, at=at)
    phones = _verified_phones(session, [u for u in (duty.primary, duty.backup) if u])
    primary = Person(phones[duty.primary], duty.primary) if duty.primary in phones else None
    backup = Person(phones[duty.backup], duty.backup) if duty.backup in phones else None
    last_resort = [
        n for n in [hotline.last_resort_number, *settings.hotline_last_resort_numbers] if n
    ]
    plan = plan_ladder(
        office_open=office,
        office_numbers=hotline.office_numbers,
        primary=primary,
        backup=backup,
        supervisors=supervisors_of(session, hotline.organisation_id),
        last_resort=last_resort,
        timeouts=Timeouts(
            office=hotline.office_ring_seconds,
            primary=hotline.primary_ring_seconds,
            backup=hotline.backup_ring_seconds,
            supervisors=hotline.supervisors_ring_seconds,
            last_resort=hotline.last_resort_ring_seconds,
        ),
    )
    return (CallMode.OFFICE if office else CallMode.DUTY), plan


def duty_team_numbers(session: Session, *, hotline: Hotline, at: datetime) -> list[str]:
    """Who hears about a missed call: the on-duty primary and backup, else the supervisors."""
    duty = on_duty(session, hotline_id=hotline.id, at=at)
    phones = _verified_phones(session, [u for u in (duty.primary, duty.backup) if u])
    numbers = [phones[u] for u in (duty.primary, duty.backup) if u in phones]
    if not numbers:
        numbers = [p.number for p in supervisors_of(session, hotline.organisation_id)]
    return list(dict.fromkeys(numbers))
