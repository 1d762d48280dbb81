"""Accounts and API tokens through the admin API: what works, and bad input that changes nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.models import ApiToken, Organisation, OrganisationKind, Role, User, UserRole
from tests.conftest import World, act_as


def _count(db: Session, model: type[Any]) -> int:
    return int(db.exec(select(func.count()).select_from(model)).one())


def _snapshot(db: Session) -> tuple[int, int, int, int]:
    return (_count(db, User), _count(db, UserRole), _count(db, ApiToken), _count(db, AuditEvent))


@pytest.fixture
def admin_client(client: TestClient, world: World) -> tuple[TestClient, Organisation]:
    organisation = world.organisation(OrganisationKind.NGO)
    admin = world.user(organisation, Role.ADMIN)
    act_as(client, world.login_cookie(admin))
    return client, organisation


def test_admin_creates_an_account_with_a_one_time_password(
    admin_client: tuple[TestClient, Organisation], db: Session
) -> None:
    client, organisation = admin_client
    response = client.post(
        f"/organisations/{organisation.id}/users",
        json={
            "email": "New.Counselor@Example.org",
            "display_name": "  New   Counselor ",
            "roles": ["counselor"],
            "is_volunteer": True,
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new.counselor@example.org"
    assert body["display_name"] == "New Counselor"
    assert body["roles"] == ["counselor"]
    assert body["is_volunteer"] is True
    assert body["must_change_password"] is True
    assert len(body["one_time_password"]) == 20
    user = db.get(User, uuid.UUID(body["id"]))
    assert user is not None
    assert body["one_time_password"] not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")
    event = db.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert event is not None
    assert (event.action, event.subject_id, event.reason) == (
        "user.created",
        body["id"],
        "roles: counselor",
    )


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 422, "email: Field required"),
        ({"email": "not-an-address", "display_name": "X", "roles": ["counselor"]}, 422, "email"),
        (
            {"email": "a@example.org", "display_name": "", "roles": ["counselor"]},
            422,
            "display_name",
        ),
        ({"email": "a@example.org", "display_name": "   ", "roles": ["counselor"]}, 422, "blank"),
        ({"email": "a@example.org", "display_name": "A", "roles": []}, 422, "roles"),
        ({"email": "a@example.org", "display_name": "A", "roles": ["wizard"]}, 422, "roles.0"),
        (
            {"email": "a@example.org", "display_name": "A", "roles": ["csw_officer"]},
            422,
            "cannot give the role(s) csw_officer",
        ),
        (
            {
                "email": "a@example.org",
                "display_name": "A",
                "roles": ["counselor"],
                "password": "short",
            },
            422,
            "at least 12 characters",
        ),
        (
            {
                "email": "a@example.org",
                "display_name": "A",
                "roles": ["counselor"],
                "password": "Password1234!",
            },
            422,
            "too common",
        ),
        (
            {
                "email": "a@example.org",
                "display_name": "A",
                "roles": ["counselor"],
                "password": "qwertyuiopasdf",
            },
            422,
            "simple sequence",
        ),
        (
            {
                "email": "a@example.org",
                "display_name": "A",
                "roles": ["counselor"],
                "passwrod": "violet-harbour-ledger-91",
            },
            422,
            "passwrod: Extra inputs are not permitted",
        ),
    ],
)
def test_user_creation_with_bad_input_is_refused_and_changes_nothing(
    admin_client: tuple[TestClient, Organisation],
    db: Session,
    body: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    client, organisation = admin_client
    before = _snapshot(db)
    response = client.post(f"/organisations/{organisation.id}/users", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"] == "invalid_input"
    assert fragment in response.json()["message"]
    assert _snapshot(db) == before


def test_duplicate_email_is_a_conflict_that_changes_nothing(
    admin_client: tuple[TestClient, Organisation], world: World, db: Session
) -> None:
    client, organisation = admin_client
    world.user(world.organisation(), Role.COUNSELOR, email="taken@example.org")
    before = _snapshot(db)
    response = client.post(
        f"/organisations/{organisation.id}/users",
        json={"email": "TAKEN@example.org", "display_name": "Someone", "roles": ["counselor"]},
    )
    assert response.status_code == 409
    assert response.json() == {
        "error": "conflict",
        "message": "An account with this e-mail address already exists.",
    }
    assert _snapshot(db) == before


def test_role_changes_apply_to_the_next_request(
    client: TestClient, world: World, db: Session
) -> None:
    organisation = world.organisation()
    admin = world.user(organisation, Role.ADMIN)
    person = world.user(organisation, Role.COUNSELOR)
    person_cookie = world.login_cookie(person)
    admin_cookie = world.login_cookie(admin)
    users_url = f"/organisations/{organisation.id}/users"
    assert act_as(client, person_cookie).get(users_url).status_code == 403
    response = act_as(client, admin_cookie).patch(
        f"{users_url}/{person.id}", json={"roles": ["counselor", "supervisor"]}
    )
    assert response.status_code == 200
    assert response.json()["roles"] == ["counselor", "supervisor"]
    assert act_as(client, person_cookie).get(users_url).status_code == 200


def test_an_admin_cannot_lock_themselves_out(
    admin_client: tuple[TestClient, Organisation], db: Session
) -> None:
    client, organisation = admin_client
    me = client.get("/auth/me").json()["user"]["id"]
    before = _snapshot(db)
    demote = client.patch(
        f"/organisations/{organisation.id}/users/{me}", json={"roles": ["supervisor"]}
    )
    assert demote.status_code == 422
    assert "own admin role" in demote.json()["message"]
    disable = client.post(f"/organisations/{organisation.id}/users/{me}/disable")
    assert disable.status_code == 422
    assert "own account" in disable.json()["message"]
    assert _snapshot(db) == before


def test_token_is_shown_once_stored_hashed_and_scoped(
    admin_client: tuple[TestClient, Organisation], db: Session
) -> None:
    client, organisation = admin_client
    response = client.post(
        f"/organisations/{organisation.id}/tokens",
        json={"name": "Case system", "role": "counselor"},
    )
    assert response.status_code == 201
    created = response.json()
    secret = created["token"]
    assert secret.startswith("sgn_")
    assert created["prefix"] == secret[:10]
    stored = db.get(ApiToken, uuid.UUID(created["id"]))
    assert stored is not None
    assert secret not in stored.token_hash
    listed = client.get(f"/organisations/{organisation.id}/tokens").json()
    assert [t["id"] for t in listed] == [created["id"]]
    assert all("token" not in t for t in listed)

    act_as(client, None)
    bearer = {"Authorization": f"Bearer {secret}"}
    me = client.get("/auth/me", headers=bearer)
    assert me.status_code == 200
    assert me.json()["via"] == "token"
    assert me.json()["roles"] == ["counselor"]
    assert me.json()["organisation"]["id"] == str(organisation.id)
    # Tokens act for a case system: account administration is not theirs.
    assert client.get(f"/organisations/{organisation.id}/users", headers=bearer).status_code == 403


def test_revoked_and_expired_tokens_stop_working_at_once(
    admin_client: tuple[TestClient, Organisation], world: World, clock: FrozenClock
) -> None:
    client, organisation = admin_client
    admin_cookies = dict(client.cookies)
    expires = (clock.now() + timedelta(hours=1)).isoformat()
    first = client.post(
        f"/organisations/{organisation.id}/tokens",
        json={"name": "Expiring", "role": "supervisor", "expires_at": expires},
    ).json()
    second = client.post(
        f"/organisations/{organisation.id}/tokens", json={"name": "Revoked", "role": "supervisor"}
    ).json()
    revoke = client.post(
        f"/organisations/{organisation.id}/tokens/{second['id']}/revoke", json={"reason": "leaked"}
    )
    assert revoke.status_code == 200
    assert revoke.json()["revoked_at"] == clock.now().isoformat().replace("+00:00", "Z")

    act_as(client, None)
    assert (
        client.get("/auth/me", headers={"Authorization": f"Bearer {second['token']}"}).status_code
        == 401
    )
    first_bearer = {"Authorization": f"Bearer {first['token']}"}
    assert client.get("/auth/me", headers=first_bearer).status_code == 200
    clock.advance(timedelta(hours=1))
    assert client.get("/auth/me", headers=first_bearer).status_code == 401
    assert (
        client.get("/auth/me", headers={"Authorization": "Bearer sgn_made-up"}).status_code == 401
    )
    assert client.get("/auth/me", headers={"Authorization": "Basic abc"}).status_code == 401
    act_as(client, admin_cookies)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "name: Field required"),
        ({"name": "x", "role": "counselor"}, "name"),
        ({"name": "Case system", "role": "admin"}, "cannot be given the admin role"),
        ({"name": "Case system", "role": "csw_officer"}, "cannot give the role(s) csw_officer"),
        (
            {"name": "Case system", "role": "counselor", "expires_at": "2020-01-01T00:00:00Z"},
            "expiry must be in the future",
        ),
        (
            {"name": "Case system", "role": "counselor", "expires_at": "2030-01-01T00:00:00"},
            "timezone",
        ),
        ({"name": "Case system", "role": "counselor", "expires_at": "soon"}, "expires_at"),
    ],
)
def test_token_creation_with_bad_input_is_refused_and_changes_nothing(
    admin_client: tuple[TestClient, Organisation], db: Session, body: dict[str, Any], fragment: str
) -> None:
    client, organisation = admin_client
    before = _snapshot(db)
    response = client.post(f"/organisations/{organisation.id}/tokens", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_input"
    assert fragment in response.json()["message"]
    assert _snapshot(db) == before


def test_revoking_another_organisations_token_is_not_found(
    admin_client: tuple[TestClient, Organisation], world: World, db: Session
) -> None:
    client, organisation = admin_client
    other = world.organisation()
    from tests.core.test_access import _token

    foreign_id, _ = _token(world, other.id, Role.COUNSELOR)
    response = client.post(f"/organisations/{organisation.id}/tokens/{foreign_id}/revoke")
    assert response.status_code == 404
    foreign = db.get(ApiToken, foreign_id)
    assert foreign is not None
    assert foreign.revoked_at is None


def test_organisation_update_is_audited_and_validated(
    admin_client: tuple[TestClient, Organisation], db: Session
) -> None:
    client, organisation = admin_client
    url = f"/organisations/{organisation.id}"
    bad = client.patch(url, json={"time_zone": "Mars/Olympus"})
    assert bad.status_code == 422
    assert "IANA time zone" in bad.json()["message"]
    assert client.patch(url, json={}).status_code == 422
    good = client.patch(url, json={"time_zone": "Europe/Belgrade", "country_code": "rs"})
    assert good.status_code == 200
    assert (good.json()["time_zone"], good.json()["country_code"]) == ("Europe/Belgrade", "RS")
