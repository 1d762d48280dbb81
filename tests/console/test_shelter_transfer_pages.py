"""Moving a stay's people from the console (mirrors POST .../stays/{stay_id}/transfer): to other
beds of the shelter, or the whole group to another of the organisation's shelters; a move the
API refuses is shown with its problem and changes nothing. Fictional data only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from core.config import Settings
from core.crypto import cipher_from_settings
from core.models import Organisation, Role, User
from shelters.models import Bed, BedKind, Shelter
from tests.conftest import World
from tests.console.conftest import browse_as, post_form
from tests.console.test_shelter_pages import ADMISSION, text
from tests.shelters.conftest import assign, make_shelter

BEDS = (
    ("A1", BedKind.BED),
    ("A2", BedKind.BED),
    ("A3", BedKind.COT),
    ("A4", BedKind.BED),
    ("A5", BedKind.BED),
)
OTHER_BEDS = (("S1", BedKind.BED), ("S2", BedKind.BED), ("S3", BedKind.COT))


@dataclass
class Houses:
    org_id: uuid.UUID
    here: Shelter
    beds: list[Bed]
    there: Shelter
    there_beds: list[Bed]
    staff: User

    def base(self, shelter: Shelter) -> str:
        return f"/console/o/{self.org_id}/shelters/{shelter.id}"

    def bed(self, label: str) -> Bed:
        return next(b for b in self.beds + self.there_beds if b.label == label)


@pytest.fixture
def houses(world: World, settings: Settings) -> Houses:
    cipher = cipher_from_settings(settings)
    ngo = world.organisation(name="SOS Test Line")
    here, beds = make_shelter(world, cipher, ngo, beds=BEDS)
    there, there_beds = make_shelter(world, cipher, ngo, name="Druga kuća", beds=OTHER_BEDS)
    staff = world.user(ngo, Role.SHELTER_STAFF, display_name="Night Worker")
    assign(world, here, staff)
    assign(world, there, staff)
    return Houses(ngo.id, here, beds, there, there_beds, staff)


def admitted(client: TestClient, settings: Settings, world: World, houses: Houses) -> str:
    """The woman and her two children admitted here (beds A1, A2 and the cot A3); her stay's
    page."""
    browse_as(client, world.login_cookie(houses.staff, second_factor=True))
    saved = post_form(
        client, settings, houses.base(houses.here) + "/admit", {**ADMISSION, "action": "save"}
    )
    assert saved.status_code == 303, saved.text
    return saved.headers["location"].split("?")[0]


def beds_of(client: TestClient, houses: Houses, shelter: Shelter, stay_path: str) -> dict[str, str]:
    stay_id = stay_path.rsplit("/", 1)[1]
    api = f"/organisations/{houses.org_id}/shelters/{shelter.id}"
    stay = client.get(f"{api}/stays/{stay_id}")
    assert stay.status_code == 200, stay.text
    labels = {b.id: b.label for b in houses.beds + houses.there_beds}
    return {m["name"]: labels[uuid.UUID(m["bed_id"])] for m in stay.json()["members"]}


def test_she_moves_to_another_bed_of_the_shelter_and_the_children_stay(
    client: TestClient, settings: Settings, world: World, houses: Houses
) -> None:
    stay_path = admitted(client, settings, world, houses)
    assert 'href="' + stay_path + '/transfer"' in client.get(stay_path).text
    form = client.get(stay_path + "/transfer")
    assert form.status_code == 200
    page = text(form.text)
    assert "Ana Test, now in A1" in page
    assert "Mia Test, now in A2" in page
    assert "Sigurna kuća (this shelter)" in page
    assert "Druga kuća" in page
    assert form.text.count('<option value="">Stays where she is</option>') == 3
    assert f'value="{houses.bed("A4").id}"' in form.text
    assert f'value="{houses.bed("A1").id}"' not in form.text  # taken: not offered
    client_member = form.text.split('for="bed-')[1].split('"')[0]

    moved = post_form(
        client,
        settings,
        stay_path + "/transfer",
        {
            "to_shelter_id": str(houses.here.id),
            f"bed-{client_member}": str(houses.bed("A5").id),
            "reason": "Closer to the bathroom",
        },
    )

    assert moved.status_code == 303, moved.text
    assert moved.headers["location"] == stay_path + "?done=transferred"
    assert beds_of(client, houses, houses.here, stay_path) == {
        "Ana Test": "A5",
        "Mia Test": "A2",
        "Leo Test": "A3",
    }
    assert "The move is done: the beds are as chosen." in client.get(moved.headers["location"]).text


def test_the_group_moves_to_another_shelter_together_or_not_at_all(
    client: TestClient, settings: Settings, world: World, houses: Houses
) -> None:
    stay_path = admitted(client, settings, world, houses)
    form = client.get(stay_path + f"/transfer?to={houses.there.id}")
    assert form.status_code == 200
    page = text(form.text)
    assert "Beds in Druga kuća" in page
    assert "The whole group moves together: choose a bed for each person." in page
    assert form.text.count('<option value="">Choose a bed</option>') == 3
    assert f'value="{houses.bed("S1").id}"' in form.text
    assert f'value="{houses.bed("A4").id}"' not in form.text
    ids = [part.split('"')[0] for part in form.text.split('for="bed-')[1:]]
    assert len(ids) == 3

    only_her = post_form(
        client,
        settings,
        stay_path + "/transfer",
        {
            "to_shelter_id": str(houses.there.id),
            f"bed-{ids[0]}": str(houses.bed("S1").id),
            "reason": "The address is known to him",
        },
    )
    assert only_her.status_code == 422, only_her.text
    assert "a stay moves to another shelter with all its people" in only_her.text
    assert "The address is known to him" in only_her.text  # what she typed is kept
    assert beds_of(client, houses, houses.here, stay_path) == {
        "Ana Test": "A1",
        "Mia Test": "A2",
        "Leo Test": "A3",
    }

    everyone = post_form(
        client,
        settings,
        stay_path + "/transfer",
        {
            "to_shelter_id": str(houses.there.id),
            f"bed-{ids[0]}": str(houses.bed("S1").id),
            f"bed-{ids[1]}": str(houses.bed("S2").id),
            f"bed-{ids[2]}": str(houses.bed("S3").id),
            "reason": "The address is known to him",
        },
    )
    assert everyone.status_code == 303, everyone.text
    there_path = houses.base(houses.there) + "/stays/" + stay_path.rsplit("/", 1)[1]
    assert everyone.headers["location"] == there_path + "?done=transferred"
    assert client.get(there_path).status_code == 200
    assert client.get(stay_path).status_code == 404  # no longer a stay of the first house
    assert set(beds_of(client, houses, houses.there, stay_path).values()) == {"S1", "S2", "S3"}


def test_a_shelter_she_does_not_work_in_is_no_destination(
    client: TestClient, settings: Settings, world: World, houses: Houses, db: Session
) -> None:
    cipher = cipher_from_settings(settings)
    organisation = db.get(Organisation, houses.org_id)
    assert organisation is not None
    hidden, hidden_beds = make_shelter(
        world, cipher, organisation, name="Treća kuća", beds=(("H1", BedKind.BED),)
    )
    stay_path = admitted(client, settings, world, houses)
    form = client.get(stay_path + f"/transfer?to={hidden.id}")
    assert form.status_code == 200
    assert "Treća kuća" not in form.text  # neither offered nor chosen
    assert "Beds in Sigurna kuća" in text(form.text)
    ids = [part.split('"')[0] for part in form.text.split('for="bed-')[1:]]
    refused = post_form(
        client,
        settings,
        stay_path + "/transfer",
        {
            "to_shelter_id": str(hidden.id),
            **{f"bed-{m}": str(hidden_beds[0].id) for m in ids[:1]},
            "reason": "Trying a house she does not work in",
        },
    )
    assert refused.status_code == 404
    assert "Treća kuća" not in refused.text
    assert beds_of(client, houses, houses.here, stay_path)["Ana Test"] == "A1"
