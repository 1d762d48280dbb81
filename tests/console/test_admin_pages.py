"""The administrator's pages: accounts and roles, API tokens, settings, hotlines."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from core.config import Settings
from core.models import ApiToken, Organisation, Role, User, UserRole
from hotline.models import Hotline
from tests.conftest import World
from tests.console.conftest import browse_as, post_form


@dataclass
class Office:
    organisation: Organisation
    admin: User
    supervisor: User
    counselor: User

    @property
    def base(self) -> str:
        return f"/console/o/{self.organisation.id}"


@pytest.fixture
def office(world: World) -> Office:
    organisation = world.organisation(name="SOS Nikšić")
    return Office(
        organisation,
        world.user(organisation, Role.ADMIN, display_name="Admin Person"),
        world.user(organisation, Role.SUPERVISOR, display_name="Sanja Supervisor"),
        world.user(organisation, Role.COUNSELOR, display_name="Ana Counselor"),
    )


def _count(db: Session, model: type[Any]) -> int:
    return int(db.exec(select(func.count()).select_from(model)).one())


def _secret(html: str) -> str:
    found = re.search(r'<p class="secret">([^<]+)</p>', html)
    assert found is not None
    return found.group(1)


def _roles(db: Session, user: User) -> set[Role]:
    return {Role(r) for r in db.exec(select(UserRole.role).where(UserRole.user_id == user.id))}


def test_an_admin_creates_an_account_and_sees_its_password_once(
    client: TestClient, world: World, office: Office, db: Session, settings: Settings
) -> None:
    browse_as(client, world.login_cookie(office.admin, second_factor=True))
    listing = client.get(f"{office.base}/users")
    assert listing.status_code == 200
    assert 'aria-current="page">Users</a>' in listing.text
    assert f'href="{office.base}/tokens"' in listing.text
    assert f'href="{office.base}/settings"' in listing.text
    assert "Ana Counselor" in listing.text
    assert 'value="csw_officer"' not in listing.text  # an NGO cannot give it

    before = _count(db, User)
    no_roles = post_form(
        client,
        settings,
        f"{office.base}/users",
        {"display_name": "Vesna Novak", "email": "vesna@example.org"},
    )
    assert no_roles.status_code == 422
    assert "roles" in no_roles.text
    assert _count(db, User) == before

    created = post_form(
        client,
        settings,
        f"{office.base}/users",
        {
            "display_name": "Vesna Novak",
            "email": "vesna@example.org",
            "roles": ["counselor", "supervisor"],
            "is_volunteer": "true",
        },
    )
    assert created.status_code == 200
    password = _secret(created.text)
    user = db.exec(select(User).where(User.email == "vesna@example.org")).one()
    assert (user.display_name, user.is_volunteer, user.must_change_password) == (
        "Vesna Novak",
        True,
        True,
    )
    assert _roles(db, user) == {Role.COUNSELOR, Role.SUPERVISOR}
    assert password not in client.get(f"{office.base}/users/{user.id}").text
    assert password not in client.get(f"{office.base}/users").text


def test_an_admin_changes_disables_resets_and_unlocks_an_account(
    client: TestClient, world: World, office: Office, db: Session, settings: Settings
) -> None:
    browse_as(client, world.login_cookie(office.admin, second_factor=True))
    url = f"{office.base}/users/{office.counselor.id}"
    assert client.get(url).status_code == 200

    saved = post_form(
        client, settings, url, {"display_name": "Ana Marković", "roles": ["supervisor"]}
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{url}?done=user_saved"
    db.refresh(office.counselor)
    assert office.counselor.display_name == "Ana Marković"
    assert _roles(db, office.counselor) == {Role.SUPERVISOR}
    empty = post_form(client, settings, url, {"display_name": "Ana", "roles": []})
    assert empty.status_code == 422
    assert _roles(db, office.counselor) == {Role.SUPERVISOR}

    disabled = post_form(client, settings, f"{url}/disable", {"reason": "left the team"})
    assert disabled.status_code == 303
    assert disabled.headers["location"] == f"{url}?done=user_disabled"
    db.refresh(office.counselor)
    assert office.counselor.disabled_at is not None
    enabled = post_form(client, settings, f"{url}/enable")
    assert enabled.status_code == 303
    db.refresh(office.counselor)
    assert office.counselor.disabled_at is None

    reset = post_form(client, settings, f"{url}/reset-password")
    assert reset.status_code == 200
    assert len(_secret(reset.text)) >= 12
    db.refresh(office.counselor)
    assert office.counselor.must_change_password is True

    unlocked = post_form(client, settings, f"{url}/unlock")
    assert unlocked.status_code == 303
    assert unlocked.headers["location"] == f"{url}?done=user_unlocked"
    no_factor = post_form(client, settings, f"{url}/second-factor/reset")
    assert no_factor.status_code == 409
    assert '<div class="problem" role="alert">' in no_factor.text


def test_tokens_are_shown_once_and_revoked(
    client: TestClient, world: World, office: Office, db: Session, settings: Settings
) -> None:
    browse_as(client, world.login_cookie(office.admin, second_factor=True))
    url = f"{office.base}/tokens"
    assert client.get(url).status_code == 200
    admin_token = post_form(client, settings, url, {"name": "Case system", "role": "admin"})
    assert admin_token.status_code == 422
    assert _count(db, ApiToken) == 0
    created = post_form(client, settings, url, {"name": "Case system", "role": "supervisor"})
    assert created.status_code == 200
    secret = _secret(created.text)
    token = db.exec(select(ApiToken)).one()
    assert secret.startswith(token.prefix)
    assert secret not in client.get(url).text
    revoked = post_form(client, settings, f"{url}/{token.id}/revoke", {"reason": "rotated"})
    assert revoked.status_code == 303
    assert revoked.headers["location"] == f"{url}?done=token_revoked"
    db.refresh(token)
    assert token.revoked_at is not None


def test_the_organisation_settings(
    client: TestClient, world: World, office: Office, db: Session, settings: Settings
) -> None:
    browse_as(client, world.login_cookie(office.admin, second_factor=True))
    url = f"{office.base}/settings"
    assert 'value="SOS Nikšić"' in client.get(url).text
    bad = post_form(client, settings, url, {"name": "SOS", "time_zone": "Mars/Olympus"})
    assert bad.status_code == 422
    db.refresh(office.organisation)
    assert (office.organisation.name, office.organisation.time_zone) == (
        "SOS Nikšić",
        "Europe/Podgorica",
    )
    good = post_form(
        client,
        settings,
        url,
        {"name": "SOS Nikšić Centar", "country_code": "ME", "time_zone": "Europe/Belgrade"},
    )
    assert good.status_code == 303
    assert good.headers["location"] == f"{url}?done=settings_saved"
    db.refresh(office.organisation)
    assert (office.organisation.name, office.organisation.time_zone) == (
        "SOS Nikšić Centar",
        "Europe/Belgrade",
    )


def test_hotlines_are_set_up_and_changed(
    client: TestClient, world: World, office: Office, db: Session, settings: Settings
) -> None:
    browse_as(client, world.login_cookie(office.admin, second_factor=True))
    url = f"{office.base}/hotlines"
    assert client.get(url).status_code == 200
    form = {
        "name": "SOS line",
        "twilio_number": "+44 20 7946 0150",
        "office_numbers": "+442079460151\n+442079460152",
        "language": "cnr",
        "holiday_categories": ["public", "orthodox"],
        "hours_mon": "08:00-16:00",
        "hours_tue": "08:00-12:00, 13:00-16:00",
    }
    bad = post_form(client, settings, url, {**form, "twilio_number": "call me"})
    assert bad.status_code == 422
    assert _count(db, Hotline) == 0
    created = post_form(client, settings, url, form)
    assert created.status_code == 303
    hotline = db.exec(select(Hotline)).one()
    assert created.headers["location"] == f"{url}/{hotline.id}?done=hotline_created"
    assert (hotline.twilio_number, hotline.office_numbers, hotline.time_zone) == (
        "+442079460150",
        ["+442079460151", "+442079460152"],
        "Europe/Podgorica",
    )
    assert hotline.office_hours == {"mon": ["08:00-16:00"], "tue": ["08:00-12:00", "13:00-16:00"]}
    assert hotline.on_call_24h is False

    page = client.get(f"{url}/{hotline.id}")
    assert 'value="08:00-12:00, 13:00-16:00"' in page.text
    changed = post_form(
        client,
        settings,
        f"{url}/{hotline.id}",
        {
            "name": "SOS line North",
            "twilio_number": "+442079460150",
            "office_numbers": "",
            "time_zone": "Europe/Podgorica",
            "holiday_country": "ME",
            "holiday_categories": ["public"],
            "on_call_24h": "true",
            "office_ring_seconds": "20",
            "primary_ring_seconds": "30",
            "backup_ring_seconds": "20",
            "supervisors_ring_seconds": "25",
        },
    )
    assert changed.status_code == 303, changed.text
    assert changed.headers["location"] == f"{url}/{hotline.id}?done=hotline_saved"
    db.refresh(hotline)
    assert (hotline.name, hotline.office_numbers, hotline.on_call_24h) == (
        "SOS line North",
        [],
        True,
    )
    assert (hotline.office_hours, hotline.primary_ring_seconds) == ({}, 30)


def test_the_admin_pages_answer_as_the_api_does(
    client: TestClient, world: World, office: Office, settings: Settings
) -> None:
    org = office.organisation.id
    browse_as(client, world.login_cookie(office.supervisor, second_factor=True))
    assert client.get(f"{office.base}/users").status_code == 200  # as GET users
    assert client.get(f"/organisations/{org}/users").status_code == 200
    for path in ("tokens", "settings"):
        assert client.get(f"{office.base}/{path}").status_code == 403
    assert client.get(f"/organisations/{org}/tokens").status_code == 403
    refused = post_form(
        client,
        settings,
        f"{office.base}/users",
        {"display_name": "X Y", "email": "x@example.org", "roles": ["counselor"]},
    )
    assert refused.status_code == 403
    browse_as(client, world.login_cookie(office.counselor, second_factor=True))
    assert client.get(f"{office.base}/users").status_code == 403
    hotlines = client.get(f"{office.base}/hotlines")
    assert hotlines.status_code == 200  # counselors read the hotlines, as the API lets them
    assert "Set up a hotline" not in hotlines.text
    assert post_form(client, settings, f"{office.base}/hotlines", {"name": "X"}).status_code == 403
    stranger = world.user(world.organisation(), Role.ADMIN)
    browse_as(client, world.login_cookie(stranger, second_factor=True))
    for path in ("users", "tokens", "settings", "hotlines", f"users/{office.admin.id}"):
        assert client.get(f"{office.base}/{path}").status_code == 404
