"""A shelter's address and its residents are for its own staff and its organisation's supervisors.

Anyone else is answered as if the shelter did not exist; admins configure it without seeing
where it is; the network sees free-bed counts only; nothing personal is stored in plaintext or
reaches the logs.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel

from core.access import served_routes
from core.app import create_app
from core.crypto import FieldCipher
from core.logs import ConsoleFormatter, JsonFormatter
from core.models import Organisation, OrganisationKind, Role, User
from shelters.models import Shelter
from tests.conftest import T0, World, act_as, make_settings
from tests.shelters.conftest import Place, admission, assign, make_shelter

SHELTER = "/organisations/{org_id}/shelters/{shelter_id}"
AVAILABILITY_FIELDS = {
    "shelter_id",
    "shelter_name",
    "organisation_id",
    "organisation_name",
    "free_beds",
    "free_cots",
}


def _shelter_routes() -> list[tuple[str, str, frozenset[Role]]]:
    """Every route under one shelter, as the app serves it, with the roles its policy admits."""
    app = create_app(make_settings("sqlite:///:memory:"))
    found = sorted(
        (method, route.path, route.policies[0].roles)
        for route in served_routes(app)
        if route.is_api and (route.path == SHELTER or route.path.startswith(SHELTER + "/"))
        for method in route.methods
        if method != "HEAD"
    )
    app.state.engine.dispose()
    return found


SHELTER_ROUTES = _shelter_routes()


def marker(kind: str) -> str:
    return f"Zq{kind}{uuid.uuid4().hex[:12]}"


@dataclass
class House:
    """A shelter whose address and resident carry markers, and everyone who may ask about it."""

    place: Place
    address: str
    address_marker: str
    admin: User  # of the shelter's organisation: configures, never sees people
    stranger: User  # shelter_staff of the same organisation, not assigned to this shelter
    outsider: User  # a supervisor of another organisation
    outsiders: Organisation

    @property
    def world(self) -> World:
        return self.place.world

    def login(self, client: TestClient, who: str) -> TestClient:
        user: User = {
            "staff": self.place.staff,
            "supervisor": self.place.supervisor,
            "admin": self.admin,
            "stranger": self.stranger,
            "outsider": self.outsider,
        }[who]
        return act_as(client, self.world.login_cookie(user))


@pytest.fixture
def house(world: World, cipher: FieldCipher) -> House:
    organisation = world.organisation()
    address_marker = marker("address")
    address = f"Ulica {address_marker} 12, Testgrad"
    shelter, beds = make_shelter(world, cipher, organisation, address=address)
    staff = world.user(organisation, Role.SHELTER_STAFF, display_name="Shelter Worker")
    supervisor = world.user(organisation, Role.SUPERVISOR, display_name="Shift Supervisor")
    assign(world, shelter, staff)
    outsiders = world.organisation()
    return House(
        place=Place(organisation, shelter, beds, staff, supervisor, world),
        address=address,
        address_marker=address_marker,
        admin=world.user(organisation, Role.ADMIN),
        stranger=world.user(organisation, Role.SHELTER_STAFF),
        outsider=world.user(outsiders, Role.SUPERVISOR),
        outsiders=outsiders,
    )


def _created(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _everything_named(client: TestClient, house: House, name: str) -> dict[str, object]:
    """Through the API, as a supervisor: a resident, a hold, a pending extension, a live
    approval with a visitor inside, a turn-away. The ids every shelter route names."""
    place = house.place
    house.login(client, "supervisor")
    stay = _created(client.post(place.url + "/stays", json=admission(name=name)))
    hold = _created(
        client.post(
            place.url + "/holds",
            json={
                "bed_id": str(place.bed("A2").id),
                "until": (T0 + timedelta(hours=6)).isoformat(),
                "note": "On her way",
            },
        )
    )
    extension = _created(
        client.post(
            place.url + f"/stays/{stay['id']}/extensions",
            json={
                "new_end": "2026-03-12T09:00:00Z",
                "justification": "The centre for social work has not decided yet.",
            },
        )
    )
    approval = _created(
        client.post(
            place.url + "/entry-approvals",
            json={
                "person_name": "Visiting Lawyer",
                "organisation": "Legal Aid Office",
                "purpose": "Legal counselling",
                "valid_from": (T0 - timedelta(hours=1)).isoformat(),
                "valid_until": (T0 + timedelta(days=30)).isoformat(),
            },
        )
    )
    entry = _created(client.post(place.url + f"/entry-approvals/{approval['id']}/entries"))
    # A2 is held and A3 is a cot: no bed for another adult.
    refused = _created(client.post(place.url + "/stays", json=admission(name="Second Person")), 409)
    return {
        "org_id": place.organisation.id,
        "shelter_id": place.shelter.id,
        "stay_id": stay["id"],
        "hold_id": hold["id"],
        "extension_id": extension["id"],
        "approval_id": approval["id"],
        "entry_id": entry["id"],
        "turn_away_id": refused["turn_away_id"],
        "bed_id": place.bed("A3").id,
        "user_id": place.staff.id,
    }


# --- (a) nobody but the shelter's own people gets in --------------------------------------


def test_every_route_of_a_shelter_is_checked() -> None:
    paths = {path for _, path, _ in SHELTER_ROUTES}
    assert SHELTER in paths
    assert SHELTER + "/stays/{stay_id}" in paths
    assert len(SHELTER_ROUTES) >= 35


@pytest.mark.parametrize(
    ("method", "path", "roles"),
    SHELTER_ROUTES,
    ids=[f"{method} {path}" for method, path, _ in SHELTER_ROUTES],
)
def test_a_shelter_is_absent_for_unassigned_staff_and_other_organisations(
    client: TestClient, house: House, method: str, path: str, roles: frozenset[Role]
) -> None:
    name_marker = marker("name")
    ids = _everything_named(client, house, f"Ana {name_marker}")
    body: dict[str, object] | None = None if method == "GET" else {}
    url = path.format(**ids)
    nowhere = path.format(**{**ids, "shelter_id": uuid.uuid4()})

    def ask(who: str, target: str) -> Any:
        house.login(client, who)
        response = client.request(method, target, json=body)
        for secret in (house.address_marker, name_marker):
            assert secret not in response.text
        return response

    # Staff of the same organisation who do not work here: the shelter does not exist. Where
    # the policy itself leaves shelter_staff out, the refusal is the policy's 403, the same
    # whether or not the shelter exists (or the caller works in it): it confirms nothing.
    expected = 404 if Role.SHELTER_STAFF in roles else 403
    stranger = ask("stranger", url)
    assert stranger.status_code == expected, stranger.text
    absent = ask("stranger", nowhere)
    assert (absent.status_code, absent.json()) == (stranger.status_code, stranger.json())
    if expected == 403:
        assigned = ask("staff", url)
        assert (assigned.status_code, assigned.json()) == (403, stranger.json())

    # A supervisor of another organisation: through our organisation's path, or through their
    # own organisation's path with our shelter's id.
    for org_id in (house.place.organisation.id, house.outsiders.id):
        response = ask("outsider", path.format(**{**ids, "org_id": org_id}))
        assert response.status_code == 404, (org_id, response.text)
        assert response.json() == {"error": "not_found", "message": "Not found."}


def test_a_transfer_cannot_reach_a_shelter_the_caller_does_not_work_in(
    client: TestClient, house: House, world: World, cipher: FieldCipher
) -> None:
    place = house.place
    elsewhere, beds = make_shelter(world, cipher, place.organisation, name="Other house")
    house.login(client, "staff")
    stay = _created(client.post(place.url + "/stays", json=admission()))
    member = stay["members"][0]["id"]

    response = client.post(
        place.url + f"/stays/{stay['id']}/transfer",
        json={
            "to_shelter_id": str(elsewhere.id),
            "moves": [{"member_id": member, "bed_id": str(beds[0].id)}],
            "reason": "Safer place",
        },
    )

    assert response.status_code == 404, response.text
    assert client.get(place.url + f"/stays/{stay['id']}").json()["shelter_id"] == str(
        place.shelter.id
    )


# --- (b) the address: staff and supervisors yes, admins never -----------------------------


def test_the_address_is_shown_to_the_shelters_staff_and_supervisor_never_to_the_admin(
    client: TestClient, house: House
) -> None:
    url = house.place.url
    for who in ("staff", "supervisor"):
        response = house.login(client, who).get(url)
        assert response.status_code == 200, response.text
        assert response.json()["address"] == house.address

    response = house.login(client, "admin").get(url)
    assert response.status_code == 200, response.text
    assert response.json()["address"] is None
    assert house.address_marker not in response.text


def test_an_admin_who_registers_a_shelter_is_not_shown_its_address(
    client: TestClient, house: House
) -> None:
    url = f"/organisations/{house.place.organisation.id}/shelters"
    address = f"Put {marker('new')} 9, Testgrad"
    body = {"name": "New house", "address": address, "hard_capacity": 4}

    by_admin = house.login(client, "admin").post(url, json=body)
    by_supervisor = house.login(client, "supervisor").post(url, json={**body, "name": "Other"})

    assert (by_admin.status_code, by_supervisor.status_code) == (201, 201), by_admin.text
    assert by_admin.json()["address"] is None
    assert address not in by_admin.text
    assert by_supervisor.json()["address"] == address
    shown = house.login(client, "supervisor").get(f"{url}/{by_admin.json()['id']}")
    assert shown.json()["address"] == address


# --- (c) the list of shelters never carries an address -------------------------------------


def test_the_list_of_shelters_never_carries_an_address(client: TestClient, house: House) -> None:
    url = f"/organisations/{house.place.organisation.id}/shelters"
    for who in ("staff", "supervisor", "admin", "stranger"):
        response = house.login(client, who).get(url)
        assert response.status_code == 200, (who, response.text)
        listed = response.json()
        assert house.address_marker not in response.text, who
        assert all(s["address"] is None for s in listed), who
        listed_ids = [s["id"] for s in listed]
        if who == "stranger":
            assert listed_ids == []  # staff see only the shelters they work in
        else:
            assert listed_ids == [str(house.place.shelter.id)]


# --- (d) the network sees counts, never places or people ------------------------------------


def test_network_availability_is_counts_only(client: TestClient, house: House) -> None:
    name_marker = marker("name")
    house.login(client, "staff")
    _created(client.post(house.place.url + "/stays", json=admission(name=f"Ana {name_marker}")))
    csw = house.world.organisation(OrganisationKind.CSW)
    askers = {
        "csw_officer": house.world.user(csw, Role.CSW_OFFICER),
        "counselor elsewhere": house.world.user(house.outsiders, Role.COUNSELOR),
        "staff": house.place.staff,
    }
    for who, user in askers.items():
        act_as(client, house.world.login_cookie(user))
        response = client.get("/network/shelter-availability")
        assert response.status_code == 200, (who, response.text)
        found = response.json()
        ours = [a for a in found if a["shelter_id"] == str(house.place.shelter.id)]
        assert ours == [
            {
                "shelter_id": str(house.place.shelter.id),
                "shelter_name": house.place.shelter.name,
                "organisation_id": str(house.place.organisation.id),
                "organisation_name": house.place.organisation.name,
                "free_beds": 1,
                "free_cots": 1,
            }
        ], who
        assert all(set(a) == AVAILABILITY_FIELDS for a in found), who
        for secret in (house.address_marker, name_marker, "address"):
            assert secret not in response.text, (who, secret)


# --- (e) a refusal points elsewhere, without saying where elsewhere is ----------------------


def test_a_refused_admission_lists_partner_shelters_without_their_addresses(
    client: TestClient, house: House, world: World, cipher: FieldCipher
) -> None:
    partner_markers = [marker("partner"), marker("partner")]
    partners = [
        make_shelter(
            world, cipher, house.outsiders, name="Partner house", address=partner_markers[0]
        )[0],
        make_shelter(
            world, cipher, house.place.organisation, name="Sister house", address=partner_markers[1]
        )[0],
    ]
    names = [marker("name") for _ in range(4)]
    house.login(client, "staff")
    family = admission(7, 1, name=f"Ana {names[0]}")
    family["children"] = [
        {"name": f"Child {names[1]}", "sex": "female", "age": 7},
        {"name": f"Baby {names[2]}", "sex": "male", "age": 1},
    ]
    _created(client.post(house.place.url + "/stays", json=family))

    refused = client.post(house.place.url + "/stays", json=admission(name=f"Mira {names[3]}"))

    assert refused.status_code == 409, refused.text
    answer = refused.json()
    assert answer["error"] == "no_eligible_bed"
    assert answer["failed"] == ["capacity"]
    alternatives = answer["alternatives"]
    assert {str(p.id) for p in partners} <= {a["shelter_id"] for a in alternatives}
    assert str(house.place.shelter.id) not in {a["shelter_id"] for a in alternatives}
    assert all(set(a) == AVAILABILITY_FIELDS for a in alternatives)
    for secret in (house.address_marker, *partner_markers, *names, '"address"'):
        assert secret not in refused.text, secret


# --- (f) sealed at rest ----------------------------------------------------------------------


def _bytes(row: sa.Row[Any]) -> list[bytes]:
    """Every value of a row as bytes, the way the database returned it."""
    found: list[bytes] = []
    for value in row:
        if isinstance(value, bytes | bytearray | memoryview):
            found.append(bytes(value))
        elif value is not None:
            found.append(str(value).encode())
    return found


def _assert_nowhere_stored(db: Session, *secrets: str) -> None:
    """No table holds any of `secrets` in plaintext, in any column of any row."""
    for table in SQLModel.metadata.sorted_tables:
        for row in db.connection().execute(sa.select(table)):
            for value in _bytes(row):
                for secret in secrets:
                    assert secret.encode() not in value, (table.name, secret)


def test_the_address_and_names_are_not_stored_in_plaintext(
    client: TestClient, house: House, db: Session
) -> None:
    name_marker = marker("name")
    house.login(client, "staff")
    _created(client.post(house.place.url + "/stays", json=admission(name=f"Ana {name_marker}")))

    shelters = Shelter.__table__  # type: ignore[attr-defined]
    (row,) = db.connection().execute(
        sa.select(shelters).where(shelters.c.id == house.place.shelter.id)
    )
    assert row.address_sealed  # the address is there, sealed
    assert all(house.address_marker.encode() not in value for value in _bytes(row))
    # Nor anywhere else: not in the audit trail, not in any other table.
    _assert_nowhere_stored(db, house.address_marker, name_marker)


def test_an_admin_who_moves_the_shelter_is_not_shown_the_new_address(
    client: TestClient, house: House, db: Session
) -> None:
    moved_marker = marker("moved")
    moved = f"Trg {moved_marker} 3, Testgrad"
    response = house.login(client, "admin").patch(house.place.url, json={"address": moved})
    assert response.status_code == 200, response.text
    assert response.json()["address"] is None
    assert moved_marker not in response.text

    assert house.login(client, "supervisor").get(house.place.url).json()["address"] == moved
    _assert_nowhere_stored(db, moved_marker)


# --- (g) logs ------------------------------------------------------------------------------


def _rendered(records: list[logging.LogRecord]) -> str:
    """Every way a record can reach an operator: both formatters and its raw attributes."""
    json_formatter, console = JsonFormatter(), ConsoleFormatter()
    parts: list[str] = []
    for record in records:
        parts.append(json_formatter.format(record))
        parts.append(console.format(record))
        parts.extend(repr(value) for value in record.__dict__.values())
    return "\n".join(parts)


def test_logs_of_admission_transfer_and_discharge_carry_no_name_and_no_address(
    client: TestClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sigurna")
    organisation = world.organisation()
    supervisor = world.user(organisation, Role.SUPERVISOR)
    staff = world.user(organisation, Role.SHELTER_STAFF)
    address_marker, name_marker, child_marker = marker("address"), marker("name"), marker("kid")
    org_url = f"/organisations/{organisation.id}/shelters"
    requests = 0

    def call(method: str, url: str, status: int, body: Any = None) -> Any:
        nonlocal requests
        requests += 1
        response = client.request(method, url, json=body)
        assert response.status_code == status, (method, url, response.text)
        return response.json() if response.content else None

    act_as(client, world.login_cookie(supervisor))
    houses: list[str] = []
    beds: list[list[str]] = []
    for number in (1, 2):
        created = call(
            "POST",
            org_url,
            201,
            {
                "name": f"House {number}",
                "address": f"Ulica {address_marker} {number}, Testgrad",
                "hard_capacity": 3,
            },
        )
        assert address_marker in created["address"]  # a supervisor sees it
        url = f"{org_url}/{created['id']}"
        houses.append(url)
        room = call("POST", url + "/rooms", 201, {"name": "Room 1"})
        beds.append(
            [
                call(
                    "POST",
                    url + "/beds",
                    201,
                    {"room_id": room["id"], "label": label, "kind": kind},
                )["id"]
                for label, kind in (("B1", "bed"), ("B2", "bed"), ("B3", "cot"))
            ]
        )
        call("PUT", url + f"/staff/{staff.id}", 200)

    act_as(client, world.login_cookie(staff))
    here, there = houses
    assert call("GET", here, 200)["address"] == f"Ulica {address_marker} 1, Testgrad"
    # A body the service refuses, with names in it.
    invalid = admission(30, name=f"Ana {name_marker}")
    call("POST", here + "/stays", 422, invalid)
    family = admission(name=f"Ana {name_marker}")
    family["children"] = [{"name": f"Luka {child_marker}", "sex": "male", "age": 1}]
    stay = call("POST", here + "/stays", 201, family)
    stay_url = here + f"/stays/{stay['id']}"
    client_id, child_id = (m["id"] for m in stay["members"])
    assert name_marker in call("GET", here + "/board", 200)["beds"][0]["occupant"]["name"]
    call(
        "POST",
        stay_url + "/transfer",
        200,
        {"moves": [{"member_id": client_id, "bed_id": beds[0][1]}], "reason": "Quieter bed"},
    )
    call(
        "POST",
        stay_url + "/transfer",
        200,
        {
            "to_shelter_id": there.rsplit("/", 1)[1],
            "moves": [
                {"member_id": client_id, "bed_id": beds[1][0]},
                {"member_id": child_id, "bed_id": beds[1][2]},
            ],
            "reason": "Safer house",
        },
    )
    stay_url = there + f"/stays/{stay['id']}"
    call("GET", stay_url, 200)
    call("POST", stay_url + "/discharge", 200, {"destination": "relatives", "reason": "Sister"})
    call("GET", there + "/stays?status=ended", 200)

    logged = [r for r in caplog.records if r.name == "sigurna.request"]
    assert len(logged) == requests  # every request was logged, and seen here
    text = _rendered(caplog.records)
    for secret in (address_marker, name_marker, child_marker):
        assert secret not in text, secret
