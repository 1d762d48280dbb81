"""Bed nights and the other published figures.

The rule: a person occupies a bed for a night when they are in it at 00:00 local time. Both
implementations are tested: SQL on PostgreSQL, `shelters.time.nights` on SQLite.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session

from core.crypto import FieldCipher
from core.localtime import add_local_days, nights
from shelters import service
from shelters.models import AdmissionChannel as Channel
from shelters.models import (
    BedOccupancy,
    ExtensionStatus,
    MemberRole,
    OccupancyKind,
    Sex,
    Stay,
    StayExtension,
    StayMember,
    StayStatus,
    TurnAway,
)
from tests.shelters.conftest import Place, as_

ZONE = "Europe/Podgorica"
TZ = ZoneInfo(ZONE)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=TZ).astimezone(UTC)


# --- the rule --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("starts", "ends", "expected"),
    [
        (at(2027, 3, 27, 21, 30), at(2027, 4, 3, 21, 30), 7),  # across the spring change
        (at(2027, 10, 30, 21, 30), at(2027, 11, 6, 21, 30), 7),  # across the autumn change
        (at(2027, 3, 28, 0, 0), at(2027, 3, 28, 23, 59), 1),  # in bed at the midnight it began
        (at(2027, 3, 27, 22, 0), at(2027, 3, 28, 0, 0), 0),  # gone at that midnight
        (at(2027, 3, 27, 8, 0), at(2027, 3, 27, 20, 0), 0),  # a day visit
        (at(2027, 3, 27, 23, 59), at(2027, 3, 28, 0, 1), 1),
    ],
)
def test_a_night_counts_for_a_person_in_bed_at_local_midnight(
    starts: datetime, ends: datetime, expected: int
) -> None:
    assert nights(starts, ends, ZONE) == expected


def test_the_week_across_the_spring_change_is_167_hours_and_seven_nights() -> None:
    start = at(2027, 3, 27, 21, 30)
    end = add_local_days(start, 7, ZONE)
    assert end - start == timedelta(hours=167)
    assert nights(start, end, ZONE) == 7


# --- the figures -----------------------------------------------------------------------------


def _stay(
    db: Session,
    place: Place,
    cipher: FieldCipher,
    *,
    admitted: datetime,
    ended: datetime | None,
    channel: Channel = Channel.IN_PERSON,
    children: int = 0,
    at_distance: bool = False,
) -> Stay:
    municipality = cipher.seal("Podgorica", context=service.MUNICIPALITY_CONTEXT)
    stay = Stay(
        organisation_id=place.organisation.id,
        shelter_id=place.shelter.id,
        reference="ST-" + uuid.uuid4().hex[:8].upper(),
        channel=channel,
        municipality_key_id=municipality.key_id,
        municipality_sealed=municipality.blob,
        at_distance=at_distance,
        people=1 + children,
        children=children,
        admitted_at=admitted,
        planned_end=add_local_days(admitted, 7, ZONE),
        decision_due_at=add_local_days(admitted, 7, ZONE),
        status=StayStatus.ENDED if ended else StayStatus.ACTIVE,
        ended_at=ended,
        created_at=admitted,
    )
    db.add(stay)
    db.flush()
    sealed = cipher.seal("Test Person", context=service.MEMBER_CONTEXT)
    beds = iter(place.beds)
    for index in range(1 + children):
        member = StayMember(
            stay_id=stay.id,
            role=MemberRole.CLIENT if index == 0 else MemberRole.CHILD,
            name_key_id=sealed.key_id,
            name_sealed=sealed.blob,
            sex=Sex.FEMALE,
            age=30 if index == 0 else 1,
        )
        db.add(member)
        db.flush()
        if not at_distance:
            db.add(
                BedOccupancy(
                    shelter_id=place.shelter.id,
                    bed_id=next(beds).id,
                    kind=OccupancyKind.OCCUPIED,
                    stay_id=stay.id,
                    member_id=member.id,
                    child=index > 0,
                    starts_at=admitted,
                    ends_at=ended,
                )
            )
    db.flush()
    return stay


def test_figures_for_march_across_the_clock_change(
    db: Session, place: Place, cipher: FieldCipher
) -> None:
    now = at(2027, 4, 10, 12, 0)
    # A woman and her baby across the change: 7 nights each; the midnights of 28-31 March
    # fall in the period (4 each), those of 1-3 April do not.
    first = _stay(
        db,
        place,
        cipher,
        admitted=at(2027, 3, 27, 21, 30),
        ended=at(2027, 4, 3, 21, 30),
        channel=Channel.HOTLINE,
        children=1,
    )
    # Admitted before March, left on 2 March at 10:00: the midnights of 1 and 2 March count.
    _stay(db, place, cipher, admitted=at(2027, 2, 26, 18, 0), ended=at(2027, 3, 2, 10, 0))
    _stay(db, place, cipher, admitted=at(2027, 3, 10, 9, 0), ended=None, at_distance=True)
    justification = cipher.seal(
        "Waiting for the CSW decision on a longer placement.",
        context=service.JUSTIFICATION_CONTEXT,
    )
    db.add(
        StayExtension(
            stay_id=first.id,
            previous_end=first.planned_end,
            new_end=first.planned_end + timedelta(days=3),
            justification_key_id=justification.key_id,
            justification_sealed=justification.blob,
            status=ExtensionStatus.APPROVED,
            requested_by=place.staff.id,
            requested_at=at(2027, 3, 30, 9, 0),
            decided_by=place.supervisor.id,
            decided_at=at(2027, 3, 30, 10, 0),
        )
    )
    db.add(
        TurnAway(
            shelter_id=place.shelter.id,
            occurred_at=at(2027, 3, 31, 23, 30),  # 21:30 UTC on the 31st: still March locally
            group_size=3,
            children=2,
            failed=["capacity"],
        )
    )
    db.add(
        TurnAway(
            shelter_id=place.shelter.id,
            occurred_at=at(2027, 4, 1, 0, 30),  # 22:30 UTC on 31 March, but April locally
            group_size=1,
            children=0,
            failed=["capacity"],
        )
    )
    db.flush()

    [figures] = service.figures(
        db, shelters=[place.shelter], first=date(2027, 3, 1), last=date(2027, 3, 31), now=now
    )

    assert figures.nights_in_period == 31
    assert figures.bed_nights == 4 + 4 + 2  # mother, baby, the woman who left on the 2nd
    assert figures.child_bed_nights == 4
    assert figures.occupancy_rate == round(10 / (3 * 31), 4)
    assert figures.admissions == 2
    assert figures.people_admitted == 3
    assert figures.children_admitted == 1
    assert figures.admissions_by_channel == {"hotline": 1, "in_person": 1}
    assert figures.at_distance_admissions == 1
    assert (figures.stays_ended, figures.average_length_of_stay_days) == (1, 3.67)
    assert figures.extensions_approved == 1
    assert (figures.turn_aways, figures.turned_away_children) == (1, 2)


def test_an_open_stay_counts_only_the_nights_that_have_passed(
    db: Session, place: Place, cipher: FieldCipher
) -> None:
    _stay(db, place, cipher, admitted=at(2027, 3, 10, 20, 0), ended=None)

    [figures] = service.figures(
        db,
        shelters=[place.shelter],
        first=date(2027, 3, 1),
        last=date(2027, 3, 31),
        now=at(2027, 3, 13, 0, 0),  # the midnights of the 11th and 12th have passed
    )

    assert figures.bed_nights == 2


def test_the_figures_route_checks_its_period(client: TestClient, place: Place) -> None:
    as_(client, place, "supervisor")
    url = f"/organisations/{place.organisation.id}/shelter-figures"

    backwards = client.get(url, params={"from": "2027-03-31", "to": "2027-03-01"})
    too_long = client.get(url, params={"from": "2026-01-01", "to": "2027-03-01"})
    missing = client.get(url, params={"from": "2027-03-01"})
    ok = client.get(url, params={"from": "2027-03-01", "to": "2027-03-31"})

    assert (backwards.status_code, backwards.json()["message"]) == (
        422,
        "to: must not be before from.",
    )
    assert too_long.status_code == 422
    assert missing.status_code == 422
    assert ok.status_code == 200
    assert [f["shelter_id"] for f in ok.json()] == [str(place.shelter.id)]


@pytest.mark.postgresql_only
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.datetimes(
        min_value=datetime(2027, 3, 20),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(2027, 4, 5),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    hours=st.integers(min_value=1, max_value=400),
    zone=st.sampled_from(["Europe/Podgorica", "Europe/Tirane", "Europe/London", "UTC"]),
)
def test_postgresql_counts_bed_nights_as_the_python_rule_does(
    backend: str, db: Session, place: Place, start: datetime, hours: int, zone: str
) -> None:
    end = start + timedelta(hours=hours)
    first, last = date(2027, 3, 15), date(2027, 4, 30)
    period_start, period_end = service.period_bounds(first, last, zone)
    shelter = place.shelter
    shelter.time_zone = zone
    figures = {shelter.id: service.ShelterFigures(shelter.id, shelter.name, 47, 3)}
    savepoint = db.begin_nested()
    db.add(
        BedOccupancy(
            shelter_id=shelter.id,
            bed_id=place.beds[0].id,
            kind=OccupancyKind.OCCUPIED,
            starts_at=start,
            ends_at=end,
        )
    )
    db.flush()
    service.bed_nights(
        db,
        shelters=[shelter],
        bounds={shelter.id: (period_start, period_end)},
        now=datetime(2030, 1, 1, tzinfo=UTC),
        into=figures,
    )
    savepoint.rollback()

    expected = nights(max(start, period_start), min(end, period_end), zone)
    assert figures[shelter.id].bed_nights == expected
