"""Routing tables for a hotline in Europe/Podgorica, and the ladder's properties."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.models import DEFAULT_HOLIDAY_CATEGORIES, DEFAULT_OFFICE_HOURS, RungKind, Shift
from hotline.rota import local_instant, resolve
from hotline.routing import (
    MAX_RUNGS,
    Calendar,
    DialRung,
    Finished,
    Person,
    Voicemail,
    Why,
    first_step,
    next_step,
    plan_ladder,
    route_reason,
)

PODGORICA = ZoneInfo("Europe/Podgorica")
OFFICE_LINE = "+442079460101"
LAST_RESORT = "+442079460199"
PRIMARY_ID, BACKUP_ID = uuid.UUID(int=1), uuid.UUID(int=2)
PRIMARY = Person("+61491570011", PRIMARY_ID)
BACKUP = Person("+61491570012", BACKUP_ID)
SUPERVISORS = [Person("+61491570013", uuid.UUID(int=3)), Person("+61491570014", uuid.UUID(int=4))]
CALENDAR = Calendar.build(
    time_zone="Europe/Podgorica",
    office_hours=DEFAULT_OFFICE_HOURS,
    holiday_country="ME",
    holiday_categories=DEFAULT_HOLIDAY_CATEGORIES,
)


def local(text: str, *, fold: int = 0) -> datetime:
    """A Podgorica wall-clock time as a UTC instant (fold=1: the repeated autumn hour)."""
    return datetime.fromisoformat(text).replace(tzinfo=PODGORICA, fold=fold).astimezone(UTC)


def _shift(start: datetime, end: datetime) -> Shift:
    return Shift(
        id=uuid.uuid4(),
        hotline_id=uuid.uuid4(),
        starts_at=start,
        ends_at=end,
        primary_user_id=PRIMARY_ID,
        backup_user_id=BACKUP_ID,
        created_at=start,
    )


# Weekend shifts that span the clock changes of 2027: Saturday 16:00 to Monday 08:00 local.
SPRING = _shift(local("2027-03-27T16:00"), local("2027-03-29T08:00"))
AUTUMN = _shift(local("2027-10-30T16:00"), local("2027-11-01T08:00"))


def _first_rung(at: datetime) -> tuple[RungKind, tuple[str, ...]] | None:
    duty = resolve([SPRING, AUTUMN], [], at)
    people = {PRIMARY.user_id: PRIMARY, BACKUP.user_id: BACKUP}
    plan = plan_ladder(
        office_open=route_reason(CALENDAR, at) is Why.OFFICE_HOURS,
        office_numbers=[OFFICE_LINE],
        primary=people.get(duty.primary) if duty.primary else None,
        backup=people.get(duty.backup) if duty.backup else None,
        supervisors=SUPERVISORS,
        last_resort=[LAST_RESORT],
    )
    return (plan[0].kind, plan[0].numbers) if plan else None


ROUTING_TABLE = [
    # (what, instant, why, first rung)
    ("Monday 07:59", local("2027-01-11T07:59"), Why.AFTER_HOURS, RungKind.SUPERVISORS),
    ("Monday 08:00", local("2027-01-11T08:00"), Why.OFFICE_HOURS, RungKind.OFFICE),
    ("Monday 15:59", local("2027-01-11T15:59"), Why.OFFICE_HOURS, RungKind.OFFICE),
    ("Monday 16:00", local("2027-01-11T16:00"), Why.AFTER_HOURS, RungKind.SUPERVISORS),
    ("Saturday noon", local("2027-01-16T12:00"), Why.WEEKEND, RungKind.SUPERVISORS),
    ("Orthodox Christmas", local("2027-01-07T10:00"), Why.PUBLIC_HOLIDAY, RungKind.SUPERVISORS),
    ("Orthodox Easter Monday", local("2027-05-03T10:00"), Why.PUBLIC_HOLIDAY, RungKind.SUPERVISORS),
    ("Independence Day", local("2027-05-21T10:00"), Why.PUBLIC_HOLIDAY, RungKind.SUPERVISORS),
    (
        "day after Independence Day",
        local("2027-05-22T10:00"),
        Why.PUBLIC_HOLIDAY,
        RungKind.SUPERVISORS,
    ),
    ("ordinary Tuesday 10:00", local("2027-05-25T10:00"), Why.OFFICE_HOURS, RungKind.OFFICE),
    # Spring forward, Sunday 28 March 2027: 02:00 CET becomes 03:00 CEST.
    ("March shift starts", local("2027-03-27T16:00"), Why.WEEKEND, RungKind.PRIMARY),
    ("last minute of CET", local("2027-03-28T01:59"), Why.WEEKEND, RungKind.PRIMARY),
    ("first minute of CEST", local("2027-03-28T03:00"), Why.WEEKEND, RungKind.PRIMARY),
    ("Monday after spring, 07:59", local("2027-03-29T07:59"), Why.AFTER_HOURS, RungKind.PRIMARY),
    ("Monday after spring, 08:00", local("2027-03-29T08:00"), Why.OFFICE_HOURS, RungKind.OFFICE),
    # Fall back, Sunday 31 October 2027: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    ("02:30 the first time", local("2027-10-31T02:30"), Why.WEEKEND, RungKind.PRIMARY),
    ("02:30 the second time", local("2027-10-31T02:30", fold=1), Why.WEEKEND, RungKind.PRIMARY),
    ("Monday after autumn, 07:59", local("2027-11-01T07:59"), Why.AFTER_HOURS, RungKind.PRIMARY),
    ("Monday after autumn, 08:00", local("2027-11-01T08:00"), Why.OFFICE_HOURS, RungKind.OFFICE),
]


@pytest.mark.parametrize(
    ("what", "at", "why", "rung"), ROUTING_TABLE, ids=[r[0] for r in ROUTING_TABLE]
)
def test_routing_table(what: str, at: datetime, why: Why, rung: RungKind) -> None:
    assert route_reason(CALENDAR, at) is why
    first = _first_rung(at)
    assert first is not None
    assert first[0] is rung
    expected_numbers = {
        RungKind.OFFICE: (OFFICE_LINE,),
        RungKind.PRIMARY: (PRIMARY.number,),
        RungKind.SUPERVISORS: tuple(p.number for p in SUPERVISORS),
    }[rung]
    assert first[1] == expected_numbers


def test_the_spring_shift_is_an_hour_shorter_and_the_autumn_one_an_hour_longer() -> None:
    assert (SPRING.ends_at - SPRING.starts_at).total_seconds() == 39 * 3600
    assert (AUTUMN.ends_at - AUTUMN.starts_at).total_seconds() == 41 * 3600
    # The two 02:30s of 31 October are an hour apart, and both on the same shift.
    first, second = local("2027-10-31T02:30"), local("2027-10-31T02:30", fold=1)
    assert (second - first).total_seconds() == 3600
    assert (
        resolve([AUTUMN], [], first).primary
        == resolve([AUTUMN], [], second).primary
        == PRIMARY.user_id
    )


def test_wall_times_in_the_spring_gap_land_after_it() -> None:
    from datetime import date, time

    assert local_instant(date(2027, 3, 28), time(2, 30), PODGORICA) == datetime(
        2027, 3, 28, 1, 30, tzinfo=UTC
    )
    assert local_instant(date(2027, 10, 31), time(2, 30), PODGORICA) == datetime(
        2027, 10, 31, 0, 30, tzinfo=UTC
    )


def test_full_ladder_after_hours_in_order() -> None:
    at = local("2027-03-28T03:00")
    plan = plan_ladder(
        office_open=False,
        office_numbers=[OFFICE_LINE],
        primary=PRIMARY,
        backup=BACKUP,
        supervisors=SUPERVISORS,
        last_resort=[LAST_RESORT],
    )
    assert route_reason(CALENDAR, at) is Why.WEEKEND
    assert [(r.kind, r.numbers, r.timeout) for r in plan] == [
        (RungKind.PRIMARY, (PRIMARY.number,), 20),
        (RungKind.BACKUP, (BACKUP.number,), 20),
        (RungKind.SUPERVISORS, (SUPERVISORS[0].number, SUPERVISORS[1].number), 25),
        (RungKind.LAST_RESORT, (LAST_RESORT,), 25),
    ]


def test_24_hour_mode_and_closures_send_every_call_to_the_duty_phone() -> None:
    tuesday_ten = local("2027-05-25T10:00")
    always = Calendar.build(
        time_zone="Europe/Podgorica",
        office_hours=DEFAULT_OFFICE_HOURS,
        holiday_country="ME",
        holiday_categories=DEFAULT_HOLIDAY_CATEGORIES,
        on_call_24h=True,
    )
    closed = Calendar.build(
        time_zone="Europe/Podgorica",
        office_hours=DEFAULT_OFFICE_HOURS,
        holiday_country="ME",
        holiday_categories=DEFAULT_HOLIDAY_CATEGORIES,
        closures=[tuesday_ten.astimezone(PODGORICA).date()],
    )
    assert route_reason(always, tuesday_ten) is Why.ON_CALL_24H
    assert route_reason(closed, tuesday_ten) is Why.CLOSURE
    assert route_reason(CALENDAR, tuesday_ten) is Why.OFFICE_HOURS


# --- the ladder's properties ---------------------------------------------------------------

NUMBERS = st.sampled_from([f"+6149157001{i}" for i in range(1, 8)])
PEOPLE = st.builds(Person, NUMBERS, st.none() | st.uuids())
DIAL_STATUSES = st.sampled_from(
    ["completed", "answered", "busy", "no-answer", "failed", "canceled"]
)


@settings(max_examples=300, deadline=None)
@given(
    office_open=st.booleans(),
    office=st.lists(NUMBERS, max_size=3),
    primary=st.none() | PEOPLE,
    backup=st.none() | PEOPLE,
    supervisors=st.lists(PEOPLE, max_size=4),
    last_resort=st.lists(NUMBERS, max_size=2),
    events=st.lists(st.tuples(DIAL_STATUSES, st.booleans()), max_size=12),
)
def test_the_ladder_never_repeats_never_abandons_and_ends(
    office_open: bool,
    office: list[str],
    primary: Person | None,
    backup: Person | None,
    supervisors: list[Person],
    last_resort: list[str],
    events: list[tuple[str, bool]],
) -> None:
    plan = plan_ladder(
        office_open=office_open,
        office_numbers=office,
        primary=primary,
        backup=backup,
        supervisors=supervisors,
        last_resort=last_resort,
    )
    assert len(plan) <= MAX_RUNGS
    tried: set[str] = set()
    step = first_step(plan)
    for steps, (_dial_status, accepted) in enumerate(events, start=1):
        assert steps <= MAX_RUNGS + 1, "the ladder must end"
        if isinstance(step, DialRung):
            assert step.rung.numbers, "a rung always dials someone"
            assert not tried & set(step.rung.numbers), "a number is never dialled twice in a call"
            tried |= set(step.rung.numbers)
            # Whatever Twilio reports, only a human pressing 1 ends the ladder.
            step = next_step(plan, after_rung=step.index, accepted=accepted)
            if accepted:
                assert isinstance(step, Finished)
                break
            assert isinstance(step, DialRung | Voicemail)
        else:
            assert isinstance(step, Voicemail), "never hang up on a caller nobody accepted"
            break
    # Every configured number is reachable by climbing without anyone accepting.
    climbed: set[str] = set()
    step = first_step(plan)
    while isinstance(step, DialRung):
        climbed |= set(step.rung.numbers)
        step = next_step(plan, after_rung=step.index, accepted=False)
    assert isinstance(step, Voicemail)
    everyone = (
        set(office if office_open else [])
        | {p.number for p in [primary, backup, *supervisors] if p}
        | set(last_resort)
    )
    assert climbed == everyone
