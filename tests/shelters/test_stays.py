"""Admissions, the 7-day clock, extensions, transfers, discharges and turn-aways, over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import FieldCipher
from core.models import Role
from shelters.models import BedKind, BedOccupancy, TurnAway
from tests.conftest import World, act_as
from tests.shelters.conftest import Place, admission, as_, assign, make_shelter, new_id

PODGORICA = ZoneInfo("Europe/Podgorica")


def local(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PODGORICA)


def admit(client: TestClient, place: Place, *children: int, **extra: Any) -> Any:
    response = client.post(place.url + "/stays", json=admission(*children, **extra))
    assert response.status_code == 201, response.text
    return response.json()


def board_states(client: TestClient, place: Place) -> dict[str, str]:
    response = client.get(place.url + "/board")
    assert response.status_code == 200, response.text
    return {bed["label"]: bed["state"] for bed in response.json()["beds"]}


# --- the 7-day clock ------------------------------------------------------------------------


def test_admission_before_the_march_change_ends_at_the_same_local_time_a_week_later(
    client: TestClient, place: Place, clock: FrozenClock
) -> None:
    # Saturday 27 March 2027, 21:30 in Podgorica; clocks go forward at 02:00 the next night.
    clock.set(local(2027, 3, 27, 21, 30).astimezone(UTC))
    as_(client, place, "staff")
    stay = admit(client, place)

    assert stay["admitted_at"] == "2027-03-27T20:30:00Z"  # 21:30 CET
    assert stay["planned_end"] == "2027-04-03T19:30:00Z"  # 21:30 CEST, 167 hours later
    assert stay["decision_due_at"] == "2027-04-03T19:30:00Z"
    assert stay["contract_days"] == 7


def test_admission_before_the_october_change_ends_at_the_same_local_time(
    client: TestClient, place: Place, clock: FrozenClock
) -> None:
    clock.set(local(2027, 10, 30, 21, 30).astimezone(UTC))  # Saturday, CEST
    as_(client, place, "staff")
    stay = admit(client, place)

    assert stay["planned_end"] == "2027-11-06T20:30:00Z"  # 21:30 CET, 169 hours later


def test_a_shorter_contract_ends_earlier_but_the_csw_still_has_seven_days(
    client: TestClient, place: Place, clock: FrozenClock
) -> None:
    clock.set(local(2027, 1, 15, 10, 0).astimezone(UTC))
    as_(client, place, "staff")
    stay = admit(client, place, contract_days=3)

    assert stay["planned_end"] == "2027-01-18T09:00:00Z"
    assert stay["decision_due_at"] == "2027-01-22T09:00:00Z"


@pytest.mark.parametrize("days", [0, 8])
def test_a_contract_outside_one_to_seven_days_is_refused(
    client: TestClient, place: Place, days: int
) -> None:
    as_(client, place, "staff")
    response = client.post(place.url + "/stays", json=admission(contract_days=days))

    assert response.status_code == 422
    assert "contract_days" in response.json()["message"]


# --- admission ------------------------------------------------------------------------------


def test_a_woman_and_her_children_are_one_stay_each_in_a_bed_the_infant_in_the_cot(
    client: TestClient, place: Place, db: Session
) -> None:
    as_(client, place, "staff")
    stay = admit(client, place, 1, 7)

    members = stay["members"]
    assert isinstance(members, list)
    assert [(m["role"], m["age"]) for m in members] == [("client", 34), ("child", 7), ("child", 1)]
    beds = {m["age"]: m["bed_id"] for m in members}
    assert beds[1] == str(place.bed("A3").id)  # the cot
    assert {beds[34], beds[7]} == {str(place.bed("A1").id), str(place.bed("A2").id)}
    assert board_states(client, place) == {"A1": "occupied", "A2": "occupied", "A3": "occupied"}
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "shelter.stay_admitted")).one()
    assert event.subject_id == stay["id"]
    assert event.reason == "channel in_person; people 3"
    assert "Ana" not in (event.reason or "")


def test_a_named_bed_is_used_and_an_adult_is_never_put_in_a_cot(
    client: TestClient, place: Place
) -> None:
    as_(client, place, "staff")
    body = admission()
    body["client"]["bed_id"] = str(place.bed("A3").id)
    refused = client.post(place.url + "/stays", json=body)
    assert refused.status_code == 422
    assert refused.json()["message"] == "bed_id: a cot is for a child under three."

    body["client"]["bed_id"] = str(place.bed("A2").id)
    stay = client.post(place.url + "/stays", json=body).json()
    assert stay["members"][0]["bed_id"] == str(place.bed("A2").id)


def test_a_bed_taken_a_moment_ago_is_a_conflict(client: TestClient, place: Place) -> None:
    as_(client, place, "staff")
    body = admission()
    body["client"]["bed_id"] = str(place.bed("A1").id)
    assert client.post(place.url + "/stays", json=body).status_code == 201

    second = client.post(place.url + "/stays", json=body)
    assert second.status_code == 409
    assert second.json() == {
        "error": "conflict",
        "message": "That bed is already taken: choose another or refresh the bed board.",
    }


def test_a_hotline_admission_names_one_of_the_organisations_calls(
    client: TestClient, place: Place
) -> None:
    as_(client, place, "staff")
    unknown = client.post(place.url + "/stays", json=admission(channel="hotline", call_id=new_id()))
    assert unknown.status_code == 422
    assert unknown.json()["message"] == "call_id: the organisation has no such call."

    wrong_channel = client.post(
        place.url + "/stays", json=admission(channel="police", call_id=new_id())
    )
    assert wrong_channel.status_code == 422
    assert "call_id goes only with channel 'hotline'" in wrong_channel.json()["message"]


def test_with_no_free_bed_the_answer_offers_partners_and_records_a_turn_away(
    client: TestClient, place: Place, world: World, cipher: FieldCipher, db: Session
) -> None:
    partner_org = world.organisation(name="Partner NGO")
    partner, _ = make_shelter(
        world,
        cipher,
        partner_org,
        name="Partner House",
        address="Nepostojeća 3, Testgrad",
        beds=(("P1", BedKind.BED), ("P2", BedKind.BED), ("P3", BedKind.COT)),
    )
    make_shelter(  # full of eligible beds but for men only: never offered
        world, cipher, partner_org, name="Men's House", beds=(("M1", BedKind.BED),), sexes=["male"]
    )
    as_(client, place, "staff")
    admit(client, place, 1, 7)

    refused = client.post(place.url + "/stays", json=admission(2))

    assert refused.status_code == 409
    body = refused.json()
    assert body["error"] == "no_eligible_bed"
    assert body["failed"] == ["capacity"]
    assert body["alternatives"] == [
        {
            "shelter_id": str(partner.id),
            "shelter_name": "Partner House",
            "organisation_id": str(partner_org.id),
            "organisation_name": "Partner NGO",
            "free_beds": 2,
            "free_cots": 1,
        }
    ]
    assert body["support_at_distance"] is True
    assert "Nepostojeća" not in refused.text
    turn_away = db.exec(select(TurnAway).where(TurnAway.shelter_id == place.shelter.id)).one()
    assert (turn_away.group_size, turn_away.children, turn_away.failed) == (2, 1, ["capacity"])
    assert str(turn_away.id) == body["turn_away_id"]

    sent = client.patch(
        place.url + f"/turn-aways/{turn_away.id}",
        json={"sent_to": "partner_shelter", "sent_to_shelter_id": str(partner.id)},
    )
    assert sent.status_code == 200
    assert sent.json()["sent_to"] == "partner_shelter"


@pytest.mark.parametrize(
    ("client_body", "failed"),
    [
        ({"name": "Test Man", "sex": "male", "age": 40}, ["sex"]),
        ({"name": "Test Girl", "sex": "female", "age": 16}, ["age"]),
    ],
)
def test_an_ineligible_person_is_turned_away_with_the_criterion_that_failed(
    client: TestClient, place: Place, client_body: dict[str, object], failed: list[str]
) -> None:
    as_(client, place, "staff")
    body = admission()
    body["client"] = client_body
    refused = client.post(place.url + "/stays", json=body)

    assert refused.status_code == 409
    assert refused.json()["failed"] == failed
    turn_aways = client.get(place.url + "/turn-aways").json()
    assert [t["failed"] for t in turn_aways] == [failed]


def test_support_at_distance_takes_no_bed_and_needs_no_free_one(
    client: TestClient, place: Place
) -> None:
    as_(client, place, "staff")
    admit(client, place, 1, 7)  # the shelter is full

    stay = admit(client, place, 4, at_distance=True)

    assert stay["at_distance"] is True
    assert [m["bed_id"] for m in stay["members"]] == [None, None]
    assert board_states(client, place) == {"A1": "occupied", "A2": "occupied", "A3": "occupied"}


# --- capacity -------------------------------------------------------------------------------


@pytest.fixture
def crowded(world: World, cipher: FieldCipher) -> Place:
    """Two beds and two in the emergency room; capacity 2, up to 4 for at most 2 nights."""
    organisation = world.organisation()
    shelter, beds = make_shelter(
        world,
        cipher,
        organisation,
        beds=(
            ("B1", BedKind.BED),
            ("B2", BedKind.BED),
            ("E1", BedKind.EMERGENCY),
            ("E2", BedKind.EMERGENCY),
        ),
        hard_capacity=2,
        soft_capacity=4,
        soft_capacity_max_nights=2,
    )
    staff = world.user(organisation, Role.SHELTER_STAFF)
    supervisor = world.user(organisation, Role.SUPERVISOR)
    assign(world, shelter, staff)
    return Place(organisation, shelter, beds, staff, supervisor, world)


def test_soft_capacity_is_for_a_supervisor_and_for_the_nights_allowed(
    client: TestClient, crowded: Place, clock: FrozenClock
) -> None:
    clock.set(local(2027, 2, 1, 20, 0).astimezone(UTC))
    as_(client, crowded, "staff")
    admit(client, crowded, name="First Test")
    admit(client, crowded, name="Second Test")

    plain = client.post(crowded.url + "/stays", json=admission())
    assert plain.status_code == 409
    assert plain.json()["failed"] == ["capacity"]
    by_staff = client.post(crowded.url + "/stays", json=admission(use_soft_capacity=True))
    assert by_staff.status_code == 403
    assert by_staff.json()["message"] == "Only a supervisor may use the shelter's soft capacity."

    as_(client, crowded, "supervisor")
    third = admit(client, crowded, use_soft_capacity=True)
    assert third["members"][0]["bed_id"] == str(crowded.bed("E1").id)
    shelter = client.get(crowded.url).json()
    assert shelter["over_capacity_since"] == "2027-02-01T19:00:00Z"

    # At the second midnight the soft capacity has been used for the two nights allowed.
    clock.set(local(2027, 2, 3, 0, 0).astimezone(UTC))
    as_(client, crowded, "supervisor")
    assert client.get(crowded.url + "/attention").json()["nights_over_hard_capacity"] == 2
    client.post(
        crowded.url + f"/stays/{third['id']}/discharge",
        json={"destination": "relatives", "reason": "Went to her sister"},
    )
    assert client.get(crowded.url).json()["over_capacity_since"] is None
    again = admit(client, crowded, use_soft_capacity=True)  # back at 2: allowed, a new period
    assert again["status"] == "active"


def test_soft_capacity_nights_once_used_up_refuse_a_further_admission(
    client: TestClient, crowded: Place, clock: FrozenClock
) -> None:
    clock.set(local(2027, 2, 1, 20, 0).astimezone(UTC))
    as_(client, crowded, "supervisor")
    admit(client, crowded, name="First Test")
    admit(client, crowded, name="Second Test")
    admit(client, crowded, name="Third Test", use_soft_capacity=True)  # over from the 1st

    clock.set(local(2027, 2, 2, 23, 59).astimezone(UTC))  # one night used: still allowed
    as_(client, crowded, "supervisor")
    fourth = client.post(crowded.url + "/stays", json=admission(use_soft_capacity=True))
    assert fourth.status_code == 201
    client.post(
        crowded.url + f"/stays/{fourth.json()['id']}/discharge",
        json={"destination": "relatives", "reason": "Picked up by family"},
    )

    clock.set(local(2027, 2, 3, 0, 30).astimezone(UTC))  # two nights used
    as_(client, crowded, "supervisor")
    refused = client.post(crowded.url + "/stays", json=admission(use_soft_capacity=True))
    assert refused.status_code == 409
    assert refused.json()["failed"] == ["soft_capacity_nights"]


# --- extensions -----------------------------------------------------------------------------


def test_an_extension_needs_a_justification_and_a_supervisors_approval(
    client: TestClient, place: Place, clock: FrozenClock, db: Session
) -> None:
    clock.set(local(2027, 1, 10, 12, 0).astimezone(UTC))
    as_(client, place, "staff")
    stay = admit(client, place)
    url = place.url + f"/stays/{stay['id']}/extensions"
    new_end = "2027-01-21T11:00:00Z"

    short = client.post(url, json={"new_end": new_end, "justification": "Needs more"})
    assert short.status_code == 422
    earlier = client.post(
        url,
        json={
            "new_end": "2027-01-16T11:00:00Z",
            "justification": "The CSW decision is delayed by the court hearing date.",
        },
    )
    assert earlier.status_code == 422
    assert earlier.json()["message"] == "new_end: must be after the stay's planned end."

    requested = client.post(
        url,
        json={
            "new_end": new_end,
            "justification": "The CSW decision is delayed by the court hearing date.",
        },
    )
    assert requested.status_code == 201
    extension = requested.json()
    assert (extension["status"], extension["previous_end"]) == ("pending", "2027-01-17T11:00:00Z")
    assert client.post(url, json={"new_end": new_end, "justification": "x" * 30}).status_code == 409
    assert client.post(url + f"/{extension['id']}/approve", json={}).status_code == 403

    as_(client, place, "supervisor")
    approved = client.post(url + f"/{extension['id']}/approve", json={"note": "Agreed"})
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by"] == str(place.supervisor.id)
    after = client.get(place.url + f"/stays/{stay['id']}").json()
    assert after["planned_end"] == new_end
    assert after["decision_due_at"] == "2027-01-17T11:00:00Z"  # the CSW's deadline stays
    again = client.post(url + f"/{extension['id']}/reject", json={})
    assert again.status_code == 409
    actions = db.exec(
        select(AuditEvent.action)
        .where(AuditEvent.subject_id == stay["id"])
        .order_by(col(AuditEvent.id))
    ).all()
    assert actions == [
        "shelter.stay_admitted",
        "shelter.extension_requested",
        "shelter.extension_approved",
    ]


# --- transfer and discharge -----------------------------------------------------------------


def test_a_transfer_moves_a_person_to_a_free_bed_and_frees_the_old_one(
    client: TestClient, place: Place, clock: FrozenClock, db: Session
) -> None:
    as_(client, place, "staff")
    stay = admit(client, place)
    member = stay["members"][0]
    assert member["bed_id"] == str(place.bed("A1").id)
    clock.advance(timedelta(hours=2))
    as_(client, place, "staff")

    moved = client.post(
        place.url + f"/stays/{stay['id']}/transfer",
        json={
            "moves": [{"member_id": member["id"], "bed_id": str(place.bed("A2").id)}],
            "reason": "Quieter room",
        },
    )

    assert moved.status_code == 200, moved.text
    assert moved.json()["members"][0]["bed_id"] == str(place.bed("A2").id)
    assert board_states(client, place) == {"A1": "free", "A2": "occupied", "A3": "free"}
    periods = db.exec(
        select(BedOccupancy.bed_id, BedOccupancy.starts_at, BedOccupancy.ends_at)
        .where(BedOccupancy.member_id == uuid.UUID(str(member["id"])))
        .order_by(col(BedOccupancy.starts_at))
    ).all()
    t0 = clock.now() - timedelta(hours=2)
    assert periods == [
        (place.bed("A1").id, t0, clock.now()),
        (place.bed("A2").id, clock.now(), None),
    ]


def test_a_transfer_into_a_taken_bed_is_a_conflict_and_changes_nothing(
    client: TestClient, place: Place
) -> None:
    as_(client, place, "staff")
    first = admit(client, place, name="First Test")
    admit(client, place, name="Second Test")  # takes A2

    response = client.post(
        place.url + f"/stays/{first['id']}/transfer",
        json={
            "moves": [{"member_id": first["members"][0]["id"], "bed_id": str(place.bed("A2").id)}],
            "reason": "Swap rooms",
        },
    )

    assert response.status_code == 409
    assert board_states(client, place) == {"A1": "occupied", "A2": "occupied", "A3": "free"}


def test_a_group_moves_to_another_shelter_together(
    client: TestClient, place: Place, world: World, cipher: FieldCipher
) -> None:
    other, other_beds = make_shelter(
        world, cipher, place.organisation, name="Second House", address="Druga 9, Testgrad"
    )
    assign(world, other, place.staff)
    as_(client, place, "staff")
    stay = admit(client, place, 1)
    client_member, child = stay["members"]

    partial = client.post(
        place.url + f"/stays/{stay['id']}/transfer",
        json={
            "to_shelter_id": str(other.id),
            "moves": [{"member_id": client_member["id"], "bed_id": str(other_beds[0].id)}],
            "reason": "Safer location",
        },
    )
    assert partial.status_code == 422
    assert partial.json()["message"] == (
        "moves: a stay moves to another shelter with all its people."
    )

    moved = client.post(
        place.url + f"/stays/{stay['id']}/transfer",
        json={
            "to_shelter_id": str(other.id),
            "moves": [
                {"member_id": client_member["id"], "bed_id": str(other_beds[0].id)},
                {"member_id": child["id"], "bed_id": str(other_beds[2].id)},
            ],
            "reason": "Safer location",
        },
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["shelter_id"] == str(other.id)
    assert board_states(client, place) == {"A1": "free", "A2": "free", "A3": "free"}
    assert client.get(place.url + f"/stays/{stay['id']}").status_code == 404
    other_url = f"/organisations/{place.organisation.id}/shelters/{other.id}"
    assert client.get(other_url + f"/stays/{stay['id']}").status_code == 200


def test_a_transfer_to_a_shelter_the_caller_does_not_work_in_is_not_found(
    client: TestClient, place: Place, world: World, cipher: FieldCipher
) -> None:
    other, other_beds = make_shelter(world, cipher, place.organisation, name="Second House")
    as_(client, place, "staff")
    stay = admit(client, place)

    response = client.post(
        place.url + f"/stays/{stay['id']}/transfer",
        json={
            "to_shelter_id": str(other.id),
            "moves": [{"member_id": stay["members"][0]["id"], "bed_id": str(other_beds[0].id)}],
            "reason": "Safer location",
        },
    )

    assert response.status_code == 404


def test_discharge_frees_every_bed_and_records_the_destination(
    client: TestClient, place: Place, clock: FrozenClock, db: Session
) -> None:
    as_(client, place, "staff")
    stay = admit(client, place, 1)
    clock.advance(timedelta(days=3))
    as_(client, place, "staff")
    url = place.url + f"/stays/{stay['id']}/discharge"

    bad = client.post(url, json={"destination": "moon", "reason": "Left"})
    assert bad.status_code == 422
    done = client.post(url, json={"destination": "csw_placement", "reason": "CSW decision"})

    assert done.status_code == 200
    assert (done.json()["status"], done.json()["destination"]) == ("ended", "csw_placement")
    assert done.json()["ended_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert board_states(client, place) == {"A1": "free", "A2": "free", "A3": "free"}
    assert client.post(url, json={"destination": "home", "reason": "Again"}).status_code == 409
    event = db.exec(select(AuditEvent).where(AuditEvent.action == "shelter.stay_discharged")).one()
    assert event.actor_id == str(place.staff.id)
    # The reason is kept sealed; the audit event names it.
    [reason] = client.get(place.url + f"/reasons?subject_id={stay['id']}").json()
    assert event.reason == f"destination csw_placement; reason {reason['id']}"
    assert (reason["action"], reason["reason"], reason["recorded_by"]) == (
        "shelter.stay_discharged",
        "CSW decision",
        str(place.staff.id),
    )


# --- beds: out of service and holds ---------------------------------------------------------


def test_an_occupied_bed_cannot_go_out_of_service_a_free_one_can(
    client: TestClient, place: Place
) -> None:
    as_(client, place, "staff")
    admit(client, place)
    taken = client.put(
        place.url + f"/beds/{place.bed('A1').id}/service",
        json={"out_of_service": True, "reason": "Broken frame"},
    )
    assert taken.status_code == 409

    free = client.put(
        place.url + f"/beds/{place.bed('A2').id}/service",
        json={"out_of_service": True, "reason": "Broken frame"},
    )
    assert free.status_code == 200
    assert board_states(client, place) == {"A1": "occupied", "A2": "out_of_service", "A3": "free"}
    beds = {b["label"]: b for b in client.get(place.url + "/board").json()["beds"]}
    assert [(beds[label]["room_name"], beds[label]["out_of_service_reason"]) for label in beds] == [
        ("Room 1", None),
        ("Room 1", "Broken frame"),
        ("Room 1", None),
    ]
    # The only adult bed left is out of service: a second woman is turned away.
    refused = client.post(place.url + "/stays", json=admission(name="Second Test"))
    assert refused.status_code == 409
    assert refused.json()["failed"] == ["no_free_bed"]


def test_a_held_bed_is_kept_for_the_person_on_the_way(
    client: TestClient, place: Place, clock: FrozenClock
) -> None:
    as_(client, place, "staff")
    until = (clock.now() + timedelta(hours=3)).isoformat()
    hold = client.post(
        place.url + "/holds",
        json={"bed_id": str(place.bed("A1").id), "until": until, "note": "Police bringing her"},
    )
    assert hold.status_code == 201
    assert board_states(client, place)["A1"] == "reserved"

    other = admit(client, place, name="Walk In")  # auto-pick leaves the held bed alone
    assert other["members"][0]["bed_id"] == str(place.bed("A2").id)
    body = admission()
    body["client"]["bed_id"] = str(place.bed("A1").id)
    expected = client.post(place.url + "/stays", json=body)
    assert expected.status_code == 201
    assert board_states(client, place) == {"A1": "occupied", "A2": "occupied", "A3": "free"}


def test_a_hold_lapses_at_its_time(client: TestClient, place: Place, clock: FrozenClock) -> None:
    as_(client, place, "staff")
    until = clock.now() + timedelta(hours=1)
    client.post(
        place.url + "/holds",
        json={"bed_id": str(place.bed("A1").id), "until": until.isoformat(), "note": "On her way"},
    )
    clock.set(until - timedelta(microseconds=1))
    as_(client, place, "staff")
    assert board_states(client, place)["A1"] == "reserved"
    clock.set(until)
    as_(client, place, "staff")
    assert board_states(client, place)["A1"] == "free"


def test_the_board_names_people_only_for_the_shelters_staff(
    client: TestClient, place: Place, world: World
) -> None:
    as_(client, place, "staff")
    admit(client, place)
    board = client.get(place.url + "/board").json()
    occupant = board["beds"][0]["occupant"]
    assert occupant["name"] == "Ana Test"
    assert (board["people"], board["free"]) == (1, 2)

    outsider = world.user(place.organisation, Role.SHELTER_STAFF)
    act_as(client, world.login_cookie(outsider))
    assert client.get(place.url + "/board").status_code == 404
    counselor = world.user(place.organisation, Role.COUNSELOR)
    act_as(client, world.login_cookie(counselor))
    assert client.get(place.url + "/board").status_code == 403
    availability = client.get("/network/shelter-availability").json()
    assert availability == [
        {
            "shelter_id": str(place.shelter.id),
            "shelter_name": "Sigurna kuća",
            "organisation_id": str(place.organisation.id),
            "organisation_name": place.organisation.name,
            "free_beds": 1,
            "free_cots": 1,
        }
    ]


def test_the_network_view_counts_cots_only_for_children_under_three(
    client: TestClient, place: Place
) -> None:
    as_(client, place, "staff")
    admit(client, place, name="First Test")  # left: one bed, one cot
    url = "/network/shelter-availability"

    older_child = client.get(url, params={"children": 1})
    infant = client.get(url, params={"children": 1, "infants": 1})
    wrong = client.get(url, params={"children": 0, "infants": 1})

    assert older_child.json() == []
    assert [(a["free_beds"], a["free_cots"]) for a in infant.json()] == [(1, 1)]
    assert (wrong.status_code, wrong.json()["message"]) == (
        422,
        "infants: must not be more than children.",
    )
