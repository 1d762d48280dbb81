"""The supervisor's pages: what needs attention across her shelters (deciding an extension,
revoking an entry approval) and how the organisation's notifications were delivered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from core.clock import FrozenClock
from core.config import Settings
from core.crypto import cipher_from_settings
from core.models import Organisation, Role, User
from notifications.models import Channel, DeliveryState, OutboxMessage
from tests.conftest import World, act_as
from tests.console.conftest import browse_as, post_form
from tests.shelters.conftest import admission, assign, make_shelter

JUSTIFICATION = "The CSW decision is delayed by the court hearing date."


@dataclass
class Org:
    world: World
    organisation: Organisation
    shelter_id: str
    staff: User
    supervisor: User

    @property
    def api(self) -> str:
        return f"/organisations/{self.organisation.id}/shelters/{self.shelter_id}"

    @property
    def attention(self) -> str:
        return f"/console/o/{self.organisation.id}/attention"

    def as_(self, client: TestClient, user: User) -> TestClient:
        return browse_as(client, self.world.login_cookie(user, second_factor=True))

    def admit(self, client: TestClient, **extra: Any) -> dict[str, Any]:
        act_as(client, self.world.login_cookie(self.staff))
        response = client.post(self.api + "/stays", json=admission(**extra))
        assert response.status_code == 201, response.text
        stay: dict[str, Any] = response.json()
        return stay

    def extension(self, client: TestClient, stay: dict[str, Any]) -> dict[str, Any]:
        """The staff ask to keep the stay three days longer."""
        act_as(client, self.world.login_cookie(self.staff))
        response = client.post(
            self.api + f"/stays/{stay['id']}/extensions",
            json={"new_end": "2026-03-12T09:00:00Z", "justification": JUSTIFICATION},
        )
        assert response.status_code == 201, response.text
        extension: dict[str, Any] = response.json()
        return extension


@pytest.fixture
def org(world: World, settings: Settings) -> Org:
    organisation = world.organisation(name="SOS Test Line")
    shelter, _ = make_shelter(world, cipher_from_settings(settings), organisation, name="Kuća A")
    staff = world.user(organisation, Role.SHELTER_STAFF)
    supervisor = world.user(organisation, Role.SUPERVISOR)
    assign(world, shelter, staff)
    return Org(world, organisation, str(shelter.id), staff, supervisor)


def extension_form(org: Org, stay: dict[str, Any], extension: dict[str, Any], act: str) -> str:
    return f"{org.attention}/{org.shelter_id}/stays/{stay['id']}/extensions/{extension['id']}/{act}"


def test_a_supervisor_approves_an_extension_with_a_justification(
    client: TestClient, org: Org, settings: Settings
) -> None:
    stay = org.admit(client)
    extension = org.extension(client, stay)
    org.as_(client, org.supervisor)

    page = client.get(org.attention)

    assert page.status_code == 200
    html = page.text
    assert "<h2>Extensions waiting for a decision</h2>" not in html  # an h3, under the shelter
    assert "Kuća A</h2>" in html
    assert "<h3>Extensions waiting for a decision</h3>" in html
    assert f"<dd>{JUSTIFICATION}</dd>" in html
    assert f'<label for="note-{extension["id"]}">Justification</label>' in html
    assert '<button type="submit">Approve the extension</button>' in html
    assert 'aria-current="page">Attention</a>' in html

    response = post_form(
        client, settings, extension_form(org, stay, extension, "approve"), {"note": "Agreed"}
    )

    assert response.status_code == 303
    assert response.headers["location"] == org.attention + "?done=extension_approved"
    act_as(client, org.world.login_cookie(org.staff))
    decided = client.get(org.api + f"/stays/{stay['id']}/extensions").json()
    assert [(e["status"], e["decision_note"]) for e in decided] == [("approved", "Agreed")]
    assert client.get(org.api + f"/stays/{stay['id']}").json()["planned_end"] == (
        "2026-03-12T09:00:00Z"
    )
    org.as_(client, org.supervisor)
    after = client.get(response.headers["location"]).text
    assert "The extension is approved: the planned end has moved." in after
    assert "Approve the extension" not in after


def test_a_decided_extension_cannot_be_decided_again_and_the_page_says_why(
    client: TestClient, org: Org, settings: Settings
) -> None:
    stay = org.admit(client)
    extension = org.extension(client, stay)
    org.as_(client, org.supervisor)
    rejected = post_form(client, settings, extension_form(org, stay, extension, "reject"))
    again = post_form(client, settings, extension_form(org, stay, extension, "approve"))

    assert rejected.status_code == 303
    assert rejected.headers["location"] == org.attention + "?done=extension_rejected"
    assert again.status_code == 409
    assert "Please check what you entered." in again.text
    assert "<h1>What needs your attention</h1>" in again.text
    act_as(client, org.world.login_cookie(org.staff))
    decided = client.get(org.api + f"/stays/{stay['id']}/extensions").json()
    assert [e["status"] for e in decided] == ["rejected"]
    assert client.get(org.api + f"/stays/{stay['id']}").json()["planned_end"] == (
        "2026-03-09T09:00:00Z"
    )


def test_stays_ending_and_entry_approvals_in_force_and_revoking_one(
    client: TestClient, org: Org, settings: Settings
) -> None:
    stay = org.admit(client, contract_days=1)
    org.as_(client, org.supervisor)
    approval = client.post(
        org.api + "/entry-approvals",
        json={
            "person_name": "Test Plumber",
            "organisation": "Test Repairs Ltd",
            "purpose": "Fix the boiler",
            "valid_from": "2026-03-02T08:00:00Z",
            "valid_until": "2026-03-02T18:00:00Z",
        },
    ).json()
    org.as_(client, org.supervisor)

    html = client.get(org.attention).text

    assert "<h3>Stays ending within 24 hours</h3>" in html
    assert f">{stay['reference']}</a>" in html
    assert '<time datetime="2026-03-03T09:00:00+00:00" data-countdown>' in html
    assert "<td>Test Plumber</td>" in html
    revoke = f"{org.attention}/{org.shelter_id}/entry-approvals/{approval['id']}/revoke"
    assert f'action="{revoke}"' in html

    response = post_form(client, settings, revoke)

    assert response.status_code == 303
    assert response.headers["location"] == org.attention + "?done=entry_approval_revoked"
    listed = client.get(org.api + "/entry-approvals").json()
    assert listed[0]["revoked_at"] == "2026-03-02T09:00:00Z"
    assert "Test Plumber" not in client.get(org.attention).text


def test_who_may_see_the_attention_list_is_who_the_api_lets_see_it(
    client: TestClient, org: Org, settings: Settings, world: World
) -> None:
    stay = org.admit(client)
    extension = org.extension(client, stay)
    admin = world.user(org.organisation, Role.ADMIN)
    stranger = world.user(world.organisation(), Role.SUPERVISOR)

    org.as_(client, org.staff)  # the shelter's staff see its list, but may not decide
    assert client.get(org.api + "/attention").status_code == 200
    assert client.get(org.attention).status_code == 200
    refused = post_form(client, settings, extension_form(org, stay, extension, "approve"))
    assert refused.status_code == 403
    # An admin's role is refused; another organisation's supervisor finds nothing there.
    for user, status in ((admin, 403), (stranger, 404)):
        org.as_(client, user)
        assert client.get(org.api + "/attention").status_code == status
        assert client.get(org.attention).status_code == status
    org.as_(client, org.supervisor)
    api_extensions = client.get(org.api + f"/stays/{stay['id']}/extensions").json()
    assert [e["status"] for e in api_extensions] == ["pending"]


# --- notifications --------------------------------------------------------------------------


def message(
    org: Org, db: Session, clock: FrozenClock, state: DeliveryState, n: int
) -> OutboxMessage:
    row = OutboxMessage(
        organisation_id=org.organisation.id,
        idempotency_key=f"test:{org.organisation.id}:{n}",
        topic="referral.reminder",
        channel=Channel.SMS,
        recipient="+61491570156",
        body=f"Secret body {n}",
        state=state,
        attempts=5 if state is DeliveryState.DEAD else 1,
        next_attempt_at=clock.now() + timedelta(minutes=5),
        last_error="provider refused" if state is DeliveryState.DEAD else None,
        created_at=clock.now() - timedelta(minutes=n),
        dead_at=clock.now() if state is DeliveryState.DEAD else None,
    )
    db.add(row)
    db.flush()
    return row


def test_the_notifications_page_shows_delivery_and_retries_a_failed_message(
    client: TestClient, org: Org, settings: Settings, db: Session, clock: FrozenClock
) -> None:
    dead = message(org, db, clock, DeliveryState.DEAD, 1)
    pending = message(org, db, clock, DeliveryState.PENDING, 2)
    base = f"/console/o/{org.organisation.id}/notifications"
    org.as_(client, org.supervisor)

    page = client.get(base)

    assert page.status_code == 200
    html = page.text
    assert '<span class="tag no">Failed</span>' in html
    assert '<span class="tag unknown">Waiting</span>' in html
    assert html.count("<td>…156</td>") == 2  # masked, as the API answers
    assert "+61491570156" not in html
    assert "Secret body" not in html
    assert html.count(">Retry</button>") == 1
    assert f'action="{base}/{dead.id}/retry"' in html
    only_dead = client.get(base + "?state=dead").text
    assert '<span class="tag unknown">Waiting</span>' not in only_dead
    assert f'action="{base}/{dead.id}/retry"' in only_dead

    retried = post_form(client, settings, f"{base}/{dead.id}/retry")
    again = post_form(client, settings, f"{base}/{dead.id}/retry")

    assert retried.status_code == 303
    assert retried.headers["location"] == base + "?done=notification_retried"
    assert again.status_code == 409
    states = {
        m["id"]: m["state"]
        for m in client.get(f"/organisations/{org.organisation.id}/notifications").json()
    }
    assert states == {str(dead.id): "pending", str(pending.id): "pending"}


def test_only_the_organisations_supervisors_see_its_notifications(
    client: TestClient, org: Org, world: World
) -> None:
    admin = world.user(org.organisation, Role.ADMIN)
    stranger = world.user(world.organisation(), Role.SUPERVISOR)
    api = f"/organisations/{org.organisation.id}/notifications"
    page = f"/console/o/{org.organisation.id}/notifications"
    for user, status in ((admin, 403), (org.staff, 403), (stranger, 404)):
        org.as_(client, user)
        assert client.get(api).status_code == status
        assert client.get(page).status_code == status
