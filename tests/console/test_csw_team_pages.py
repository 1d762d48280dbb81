"""A Centre for Social Work's child-protection team from the console (mirrors the API's
/referrals/child-protection-team): who is on it, putting a colleague on it, taking her off.
Fictional data only."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from core.config import Settings
from core.models import Organisation, OrganisationKind, Role, User
from tests.conftest import World
from tests.console.conftest import browse_as, post_form
from tests.console.test_shelter_pages import text

PAGE = "/console/child-protection-team"
API = "/referrals/child-protection-team"


@pytest.fixture
def centre(world: World, db: Session) -> tuple[Organisation, dict[str, User]]:
    csw = world.organisation(OrganisationKind.CSW, name="CSW Test Centre")
    people = {
        "keeper": world.user(csw, Role.SUPERVISOR, display_name="Vesna Supervisor"),
        "officer": world.user(csw, Role.CSW_OFFICER, display_name="Ana Officer"),
        "other": world.user(csw, Role.CSW_OFFICER, display_name="Bojana Officer"),
        "gone": world.user(csw, Role.CSW_OFFICER, display_name="Dijana Former"),
        "admin": world.user(csw, Role.ADMIN, display_name="Irena Admin"),
    }
    people["gone"].disabled_at = world.clock.now()
    db.add(people["gone"])
    db.flush()
    return csw, people


def test_the_keeper_puts_a_colleague_on_the_team_and_takes_her_off(
    client: TestClient,
    settings: Settings,
    world: World,
    centre: tuple[Organisation, dict[str, User]],
) -> None:
    _, people = centre
    browse_as(client, world.login_cookie(people["keeper"], second_factor=True))
    home = client.get("/console/")
    assert f'href="{PAGE}"' in home.text

    empty = client.get(PAGE)
    assert empty.status_code == 200
    assert "Nobody is on the team" in text(empty.text)
    options = empty.text.split('id="team-user"')[1].split("</select>")[0]
    for name in ("Ana Officer", "Bojana Officer", "Vesna Supervisor"):
        assert name in options
    assert "Dijana Former" not in options  # disabled
    assert "Irena Admin" not in options  # neither officer nor supervisor

    added = post_form(client, settings, PAGE, {"user_id": str(people["officer"].id)})
    assert added.status_code == 303, added.text
    assert added.headers["location"] == PAGE + "?done=csw_team_added"
    assert [m["display_name"] for m in client.get(API).json()] == ["Ana Officer"]
    shown = client.get(added.headers["location"])
    assert "She is on the team: she reads children" in text(shown.text)
    assert "Take Ana Officer off the team" in shown.text
    assert "Ana Officer" not in shown.text.split('id="team-user"')[1].split("</select>")[0]

    removed = post_form(client, settings, f"{PAGE}/{people['officer'].id}/remove", {})
    assert removed.status_code == 303, removed.text
    assert removed.headers["location"] == PAGE + "?done=csw_team_removed"
    assert client.get(API).json() == []


def test_a_choice_the_api_refuses_is_shown_and_changes_nothing(
    client: TestClient,
    settings: Settings,
    world: World,
    centre: tuple[Organisation, dict[str, User]],
) -> None:
    _, people = centre
    browse_as(client, world.login_cookie(people["keeper"], second_factor=True))
    nobody = post_form(client, settings, PAGE, {"user_id": ""})
    assert nobody.status_code == 422
    assert "choose a colleague to put on the team" in nobody.text
    admin = post_form(client, settings, PAGE, {"user_id": str(people["admin"].id)})
    assert admin.status_code == 422
    assert "Please check what you entered." in admin.text
    assert client.get(API).json() == []


def test_only_a_centres_keepers_see_the_team(
    client: TestClient, world: World, centre: tuple[Organisation, dict[str, User]]
) -> None:
    _, people = centre
    browse_as(client, world.login_cookie(people["officer"], second_factor=True))
    assert f'href="{PAGE}"' not in client.get("/console/").text
    assert client.get(PAGE).status_code == client.get(API).status_code == 403
    ngo = world.organisation(name="SOS Test Line")
    supervisor = world.user(ngo, Role.SUPERVISOR)
    browse_as(client, world.login_cookie(supervisor, second_factor=True))
    assert f'href="{PAGE}"' not in client.get("/console/").text
    assert client.get(PAGE).status_code == client.get(API).status_code
