"""Admission details: a group kept in one room, and a night admission entered the next morning
with its real time (every clock from then, across the March clock change)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import FieldCipher
from referrals.models import Referral, ReferralReminder
from shelters.models import Bed, BedKind, BedOccupancy, Room, Stay, TurnAway
from shelters.service import NAMED_SPLIT_NOTICE, SPLIT_NOTICE
from tests.shelters.conftest import Place, admission, as_, assign, make_shelter

PODGORICA = ZoneInfo("Europe/Podgorica")
Rooms = dict[str, tuple[tuple[str, BedKind], ...]]


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PODGORICA).astimezone(UTC)


def z(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def house(place: Place, cipher: FieldCipher, rooms: Rooms) -> Place:
    """The place's organisation and people, in a shelter of its own with these rooms."""
    world = place.world
    now = world.clock.now()
    capacity = sum(len(beds) for beds in rooms.values())
    first, *others = rooms.items()
    shelter, beds = make_shelter(
        world, cipher, place.organisation, name="Rooms house", beds=first[1], hard_capacity=capacity
    )
    world.db.get_one(Room, beds[0].room_id).name = first[0]
    for room_name, labelled in others:
        room = Room(shelter_id=shelter.id, name=room_name, created_at=now)
        world.db.add(room)
        world.db.flush()
        beds += [
            Bed(shelter_id=shelter.id, room_id=room.id, label=label, kind=kind, created_at=now)
            for label, kind in labelled
        ]
    world.db.add_all(beds)
    world.db.flush()
    assign(world, shelter, place.staff)
    return Place(place.organisation, shelter, beds, place.staff, place.supervisor, world)


def beds_of(place: Place, stay: dict[str, Any]) -> list[str]:
    labels = {str(b.id): b.label for b in place.beds}
    return [labels[m["bed_id"]] for m in stay["members"]]


# --- a group stays in one room --------------------------------------------------------------

BED, COT, ER = BedKind.BED, BedKind.COT, BedKind.EMERGENCY


@pytest.mark.parametrize(
    ("rooms", "children", "named", "beds", "split", "notice"),
    [
        # The reported case: one bed left in room 1, three in room 2.
        (
            {"Room 1": (("A1", BED),), "Room 2": (("B1", BED), ("B2", BED), ("B3", BED))},
            (9, 7),
            None,
            ["B1", "B2", "B3"],
            False,
            None,
        ),
        # The baby's cot is in room 2 too.
        (
            {"Room 1": (("A1", BED),), "Room 2": (("B1", BED), ("B2", COT))},
            (1,),
            None,
            ["B1", "B2"],
            False,
            None,
        ),
        # A room of beds rather than the emergency room, whatever the labels.
        (
            {"Emergency": (("A1", ER), ("A2", ER)), "Room 2": (("B1", BED), ("B2", BED))},
            (5,),
            None,
            ["B1", "B2"],
            False,
            None,
        ),
        # The children join the room of the bed named for their mother.
        (
            {"Room 1": (("A1", BED), ("A2", BED)), "Room 2": (("B1", BED), ("B2", BED))},
            (6,),
            "B2",
            ["B2", "B1"],
            False,
            None,
        ),
        # No room takes all three: split, and the answer says so.
        (
            {"Room 1": (("A1", BED), ("A2", BED)), "Room 2": (("B1", BED),)},
            (9, 7),
            None,
            ["A1", "A2", "B1"],
            True,
            SPLIT_NOTICE,
        ),
        # The bed named for the mother is where no one else fits.
        (
            {"Room 1": (("A1", BED),), "Room 2": (("B1", BED), ("B2", BED))},
            (6,),
            "A1",
            ["A1", "B1"],
            True,
            NAMED_SPLIT_NOTICE,
        ),
    ],
    ids=["reported", "cot", "no-emergency", "named", "split", "named-split"],
)
def test_a_group_is_kept_in_one_room_whenever_one_room_has_enough_eligible_beds(
    client: TestClient,
    place: Place,
    cipher: FieldCipher,
    rooms: Rooms,
    children: tuple[int, ...],
    named: str | None,
    beds: list[str],
    split: bool,
    notice: str | None,
) -> None:
    here = house(place, cipher, rooms)
    body = admission(*children)
    if named is not None:
        body["client"]["bed_id"] = str(here.bed(named).id)
    as_(client, here, "staff")

    response = client.post(here.url + "/stays", json=body)

    assert response.status_code == 201, response.text
    stay = response.json()
    assert beds_of(here, stay) == beds
    assert (stay["split_across_rooms"], stay["notice"]) == (split, notice)


# --- a night admission entered in the morning -------------------------------------------------

# Saturday 27 March 2027, 23:30 in Podgorica (CET); clocks go forward at 02:00. Entered on
# Sunday at 10:00 (CEST): 9.5 hours later.
ARRIVED = local(2027, 3, 27, 23, 30)
ENTERED = local(2027, 3, 28, 10, 0)


def test_a_night_admission_entered_in_the_morning_runs_every_clock_from_its_real_time(
    client: TestClient, place: Place, clock: FrozenClock, db: Session
) -> None:
    clock.set(ENTERED)
    as_(client, place, "staff")

    response = client.post(place.url + "/stays", json=admission(admitted_at=z(ARRIVED)))

    assert response.status_code == 201, response.text
    stay = response.json()
    assert (z(ARRIVED), z(ENTERED)) == ("2027-03-27T22:30:00Z", "2027-03-28T08:00:00Z")
    assert stay["admitted_at"] == "2027-03-27T22:30:00Z"
    assert stay["planned_end"] == "2027-04-03T21:30:00Z"  # 23:30 CEST, 167 hours on
    assert stay["decision_due_at"] == "2027-04-03T21:30:00Z"
    row = db.get(Stay, uuid.UUID(stay["id"]))
    assert row is not None
    assert row.created_at == ENTERED
    occupancy = db.exec(select(BedOccupancy).where(BedOccupancy.stay_id == row.id)).one()
    assert occupancy.starts_at == ARRIVED  # in her bed since she arrived
    # Who entered it late, and when she really came.
    late = db.exec(
        select(AuditEvent).where(AuditEvent.action == "shelter.stay_admitted_late")
    ).one()
    assert (late.actor_id, late.subject_id, late.occurred_at, late.reason) == (
        str(place.staff.id),
        stay["id"],
        ENTERED,
        "admitted at 2027-03-27T22:30:00+00:00",
    )
    # The CSW's referral: its deadline and every reminder count from her arrival.
    referral = db.exec(select(Referral).where(Referral.stay_id == row.id)).one()
    assert referral.deadline == local(2027, 4, 3, 23, 30)
    reminders = db.exec(
        select(ReferralReminder)
        .where(ReferralReminder.referral_id == referral.id)
        .order_by(col(ReferralReminder.due_at))
    ).all()
    assert [(r.kind.value, r.sequence, z(r.due_at)) for r in reminders] == [
        ("unaddressed", 0, "2027-03-28T08:00:00Z"),  # goes out at once
        ("before_3_days", 0, "2027-03-31T21:30:00Z"),
        ("before_1_day", 0, "2027-04-02T21:30:00Z"),
        ("deadline", 0, "2027-04-03T21:30:00Z"),
        ("overdue", 1, "2027-04-04T21:30:00Z"),
    ]
    # The needs assessment is due 24 hours after she arrived, to the second.
    clock.set(ARRIVED + timedelta(hours=24) - timedelta(microseconds=1))
    as_(client, place, "staff")
    assert client.get(place.url + "/attention").json()["assessments_overdue"] == []
    clock.set(ARRIVED + timedelta(hours=24))
    as_(client, place, "staff")
    assert client.get(place.url + "/attention").json()["assessments_overdue"] == [
        {"stay_id": stay["id"], "reference": stay["reference"], "due_at": "2027-03-28T22:30:00Z"}
    ]


def _counts(db: Session) -> tuple[int, ...]:
    return tuple(
        db.exec(select(func.count()).select_from(model)).one()
        for model in (Stay, BedOccupancy, TurnAway, AuditEvent, Referral)
    )


@pytest.mark.parametrize(
    ("admitted_at", "message"),
    [
        (ENTERED + timedelta(microseconds=1), "admitted_at: must not be in the future."),
        (ENTERED + timedelta(hours=2), "admitted_at: must not be in the future."),
        (
            ENTERED - timedelta(hours=24, microseconds=1),
            "admitted_at: must be at most 24 hours ago; admit her as of now.",
        ),
        (
            ENTERED - timedelta(days=3),
            "admitted_at: must be at most 24 hours ago; admit her as of now.",
        ),
    ],
    ids=["a-microsecond-ahead", "two-hours-ahead", "a-microsecond-too-old", "three-days-old"],
)
def test_an_admission_time_ahead_or_older_than_a_day_is_refused_and_changes_nothing(
    client: TestClient,
    place: Place,
    clock: FrozenClock,
    db: Session,
    admitted_at: datetime,
    message: str,
) -> None:
    clock.set(ENTERED)
    as_(client, place, "staff")
    before = _counts(db)

    response = client.post(place.url + "/stays", json=admission(admitted_at=z(admitted_at)))

    assert (response.status_code, response.json()) == (
        422,
        {"error": "invalid_input", "message": message},
    )
    assert _counts(db) == before


def test_an_admission_time_exactly_a_day_old_or_now_is_accepted(
    client: TestClient, place: Place, clock: FrozenClock
) -> None:
    clock.set(ENTERED)
    as_(client, place, "staff")
    for admitted_at in (ENTERED - timedelta(hours=24), ENTERED):
        response = client.post(place.url + "/stays", json=admission(admitted_at=z(admitted_at)))
        assert response.status_code == 201, response.text
        assert response.json()["admitted_at"] == z(admitted_at)


def test_an_admission_time_without_a_zone_is_refused(
    client: TestClient, place: Place, clock: FrozenClock
) -> None:
    clock.set(ENTERED)
    as_(client, place, "staff")
    response = client.post(place.url + "/stays", json=admission(admitted_at="2027-03-28T01:00:00"))
    assert response.status_code == 422
    assert response.json()["message"].startswith("admitted_at:")


def test_a_late_admission_takes_no_bed_someone_else_slept_in_since_she_arrived(
    client: TestClient, place: Place, clock: FrozenClock
) -> None:
    """A1 was someone else's until 08:00; she arrived at 23:30 the night before: not A1."""
    clock.set(ARRIVED - timedelta(days=1))
    as_(client, place, "staff")
    body = admission(name="Mira Test")
    body["client"]["bed_id"] = str(place.bed("A1").id)
    earlier = client.post(place.url + "/stays", json=body).json()
    clock.set(local(2027, 3, 28, 8, 0))
    as_(client, place, "staff")
    left = client.post(
        place.url + f"/stays/{earlier['id']}/discharge",
        json={"destination": "relatives", "reason": "Her sister came"},
    )
    assert left.status_code == 200, left.text
    clock.set(ENTERED)
    as_(client, place, "staff")

    late = client.post(place.url + "/stays", json=admission(admitted_at=z(ARRIVED)))
    assert late.status_code == 201, late.text
    assert beds_of(place, late.json()) == ["A2"]
    body = admission(admitted_at=z(ARRIVED))
    body["client"]["bed_id"] = str(place.bed("A1").id)
    named = client.post(place.url + "/stays", json=body)
    assert (named.status_code, named.json()["message"]) == (
        409,
        "That bed is already taken: choose another or refresh the bed board.",
    )
