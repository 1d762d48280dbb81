"""A shelter with rooms, beds and staff, built directly in the database; fictional data only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from core.config import Settings
from core.crypto import FieldCipher, cipher_from_settings
from core.models import Organisation, Role, User
from shelters.models import Bed, BedKind, Room, Shelter, ShelterStaff
from shelters.service import ADDRESS_CONTEXT
from tests.conftest import World, act_as

ADDRESS = "Ulica Izmišljena 7, Testgrad"  # a street that does not exist
SHELTERS = "/organisations/{org}/shelters"


@dataclass
class Place:
    organisation: Organisation
    shelter: Shelter
    beds: list[Bed]
    staff: User
    supervisor: User
    world: World

    def user(self, who: str) -> User:
        return {"staff": self.staff, "supervisor": self.supervisor}[who]

    @property
    def url(self) -> str:
        return f"/organisations/{self.organisation.id}/shelters/{self.shelter.id}"

    def bed(self, label: str) -> Bed:
        return next(b for b in self.beds if b.label == label)


@pytest.fixture
def cipher(settings: Settings) -> FieldCipher:
    return cipher_from_settings(settings)


def make_shelter(
    world: World,
    cipher: FieldCipher,
    organisation: Organisation,
    *,
    name: str = "Sigurna kuća",
    address: str = ADDRESS,
    beds: tuple[tuple[str, BedKind], ...] = (
        ("A1", BedKind.BED),
        ("A2", BedKind.BED),
        ("A3", BedKind.COT),
    ),
    hard_capacity: int | None = None,
    **values: Any,
) -> tuple[Shelter, list[Bed]]:
    now = world.clock.now()
    sealed = cipher.seal(address, context=ADDRESS_CONTEXT)
    shelter = Shelter(
        organisation_id=organisation.id,
        name=name,
        time_zone=values.pop("time_zone", "Europe/Podgorica"),
        hard_capacity=hard_capacity if hard_capacity is not None else len(beds),
        address_key_id=sealed.key_id,
        address_sealed=sealed.blob,
        created_at=now,
        updated_at=now,
        **values,
    )
    world.db.add(shelter)
    world.db.flush()
    room = Room(shelter_id=shelter.id, name="Room 1", created_at=now)
    world.db.add(room)
    world.db.flush()
    made = [
        Bed(shelter_id=shelter.id, room_id=room.id, label=label, kind=kind, created_at=now)
        for label, kind in beds
    ]
    world.db.add_all(made)
    world.db.flush()
    return shelter, made


def assign(world: World, shelter: Shelter, user: User) -> None:
    world.db.add(ShelterStaff(shelter_id=shelter.id, user_id=user.id, created_at=world.clock.now()))
    world.db.flush()


@pytest.fixture
def place(world: World, cipher: FieldCipher) -> Place:
    organisation = world.organisation()
    shelter, beds = make_shelter(world, cipher, organisation)
    staff = world.user(organisation, Role.SHELTER_STAFF, display_name="Shelter Worker")
    supervisor = world.user(organisation, Role.SUPERVISOR, display_name="Shift Supervisor")
    assign(world, shelter, staff)
    return Place(organisation, shelter, beds, staff, supervisor, world)


def admission(
    *children_ages: int, name: str = "Ana Test", age: int = 34, **extra: Any
) -> dict[str, Any]:
    """An admission body: a woman and her children (names are fictional)."""
    body: dict[str, Any] = {
        "client": {"name": name, "sex": "female", "age": age},
        "children": [
            {"name": f"Child {i} Test", "sex": "female", "age": a}
            for i, a in enumerate(children_ages)
        ],
        "channel": "in_person",
        "municipality": "Podgorica",
    }
    body.update(extra)
    return body


def as_(client: TestClient, place: Place, who: str) -> TestClient:
    """Log in afresh as the shelter's staff member or supervisor (at the clock's time now)."""
    return act_as(client, place.world.login_cookie(place.user(who)))


def new_id() -> str:
    return str(uuid.uuid4())
