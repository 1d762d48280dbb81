"""GET /organisations/{org_id}/duty-phones/me: the caller's own duty phone, and nobody else's."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.models import Role
from tests.conftest import World, act_as
from tests.hotline.conftest import BACKUP_PHONE, PRIMARY_PHONE, Line, add_phone

NO_PHONE = {
    "error": "not_found",
    "message": "You have no duty phone: set your duty phone number first.",
}


def test_she_reads_her_own_duty_phone(client: TestClient, world: World, line: Line) -> None:
    act_as(client, world.login_cookie(line.primary))
    response = client.get(f"/organisations/{line.organisation.id}/duty-phones/me")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "user_id": str(line.primary.id),
        "display_name": "Primary Person",
        "number": PRIMARY_PHONE,
        "verified": True,
    }
    # A colleague reads her own, never the first one's.
    act_as(client, world.login_cookie(line.backup))
    other = client.get(f"/organisations/{line.organisation.id}/duty-phones/me")
    assert other.json() == {
        "user_id": str(line.backup.id),
        "display_name": "Backup Person",
        "number": BACKUP_PHONE,
        "verified": True,
    }


def test_an_unconfirmed_phone_says_so(client: TestClient, world: World, line: Line) -> None:
    counselor = world.user(line.organisation, Role.COUNSELOR, display_name="New Person")
    add_phone(world, counselor, "+61491570019", verified=False)
    act_as(client, world.login_cookie(counselor))
    response = client.get(f"/organisations/{line.organisation.id}/duty-phones/me")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "user_id": str(counselor.id),
        "display_name": "New Person",
        "number": "+61491570019",
        "verified": False,
    }


def test_without_a_phone_she_is_told_to_set_one(
    client: TestClient, world: World, line: Line
) -> None:
    # Colleagues with phones (the line's three) are never answered instead of hers.
    counselor = world.user(line.organisation, Role.COUNSELOR, display_name="New Person")
    act_as(client, world.login_cookie(counselor))
    response = client.get(f"/organisations/{line.organisation.id}/duty-phones/me")
    assert response.status_code == 404
    assert response.json() == NO_PHONE
    assert PRIMARY_PHONE not in response.text
    assert BACKUP_PHONE not in response.text


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.COUNSELOR])
def test_another_organisation_is_not_found(
    client: TestClient, world: World, line: Line, role: Role
) -> None:
    stranger = world.user(world.organisation(), role)
    add_phone(world, stranger, "+61491570020")
    act_as(client, world.login_cookie(stranger))
    response = client.get(f"/organisations/{line.organisation.id}/duty-phones/me")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "+61491570020" not in response.text
    assert PRIMARY_PHONE not in response.text


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SHELTER_STAFF, Role.CSW_OFFICER])
def test_a_role_that_stands_no_duty_is_refused(
    client: TestClient, world: World, line: Line, role: Role
) -> None:
    user = world.user(line.organisation, role)
    add_phone(world, user, "+61491570021")
    act_as(client, world.login_cookie(user))
    response = client.get(f"/organisations/{line.organisation.id}/duty-phones/me")
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert "+61491570021" not in response.text


def test_signed_out_is_unauthenticated(client: TestClient, line: Line) -> None:
    act_as(client, None)
    response = client.get(f"/organisations/{line.organisation.id}/duty-phones/me")
    assert response.status_code == 401
