"""The CSW officer's inbox: referrals by their decision deadline, one referral as the API answers
her, and its acts (acknowledge, ask for information, record the decision) as forms."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from core.clock import FrozenClock
from core.config import Settings
from core.crypto import cipher_from_settings
from core.models import Organisation, OrganisationKind, Role, User
from referrals import service
from referrals.models import Referral, ReferralStatus
from tests.conftest import World, act_as
from tests.console.conftest import browse_as, post_form
from tests.shelters.conftest import admission, assign, make_shelter

INBOX = "/console/inbox"


@dataclass
class Desk:
    """An NGO with a shelter and its staff, the competent CSW and its officer."""

    world: World
    ngo: Organisation
    shelter_url: str
    staff: User
    csw: Organisation
    officer: User

    def admit(self, client: TestClient, **extra: Any) -> dict[str, Any]:
        """An admission (as the shelter's staff), which refers the client to the CSW."""
        act_as(client, self.world.login_cookie(self.staff))
        response = client.post(self.shelter_url + "/stays", json=admission(**extra))
        assert response.status_code == 201, response.text
        stay: dict[str, Any] = response.json()
        return stay

    def as_officer(self, client: TestClient) -> TestClient:
        return browse_as(client, self.world.login_cookie(self.officer, second_factor=True))


@pytest.fixture
def desk(world: World, settings: Settings, db: Session) -> Desk:
    ngo = world.organisation(name="SOS Test Line")
    shelter, _ = make_shelter(world, cipher_from_settings(settings), ngo)
    staff = world.user(ngo, Role.SHELTER_STAFF)
    assign(world, shelter, staff)
    csw = world.organisation(OrganisationKind.CSW, name="CSW Podgorica (test)")
    officer = world.user(csw, Role.CSW_OFFICER)
    municipality = service.find_municipality(db, country_code="ME", name="Podgorica")
    assert municipality is not None
    municipality.csw_organisation_id = csw.id
    db.add(municipality)
    db.flush()
    url = f"/organisations/{ngo.id}/shelters/{shelter.id}"
    return Desk(world, ngo, url, staff, csw, officer)


def referral_of(db: Session, stay: dict[str, Any]) -> Referral:
    return db.exec(select(Referral).where(Referral.stay_id == uuid.UUID(stay["id"]))).one()


def test_the_inbox_lists_overdue_referrals_first_then_the_soonest_due(
    client: TestClient, desk: Desk, db: Session, clock: FrozenClock
) -> None:
    first = referral_of(db, desk.admit(client))
    clock.advance(timedelta(days=2))
    second = referral_of(db, desk.admit(client, name="Bea Test"))
    clock.advance(timedelta(days=5, hours=1))  # the first is an hour overdue

    desk.as_officer(client)
    api = client.get("/referrals/inbox").json()
    assert [r["reference"] for r in api] == [second.reference, first.reference]  # newest first
    response = client.get(INBOX)

    assert response.status_code == 200
    html = response.text
    assert html.index(first.reference) < html.index(second.reference)
    assert html.count('<span class="tag overdue">Overdue</span>') == 1
    assert f'<a href="/console/inbox/{first.id}">{first.reference}</a>' in html
    assert '<time datetime="2026-03-09T09:00:00+00:00" data-countdown>' in html
    assert 'aria-current="page">Referrals inbox</a>' in html
    # The list says nothing personal.
    assert "Ana Test" not in html
    assert "Bea Test" not in html


def test_the_referral_page_shows_what_the_api_answers_and_its_forms(
    client: TestClient, desk: Desk, db: Session
) -> None:
    referral = referral_of(db, desk.admit(client))
    desk.as_officer(client)
    api = client.get(f"/referrals/inbox/{referral.id}").json()

    response = client.get(f"{INBOX}/{referral.id}")

    assert response.status_code == 200
    html = response.text
    assert f"<h1>Referral {referral.reference}</h1>" in html
    assert api["from_organisation_name"] == "SOS Test Line"
    assert "<dd>SOS Test Line</dd>" in html
    assert "<dd>Emergency accommodation</dd>" in html
    assert "<dd>Nothing beyond what the law requires</dd>" in html
    # Only what the API shares: the client's identity is shared iff the API shares it.
    assert ("Ana Test" in html) is (api["client"] is not None)
    assert '<h2 id="decision">Record the decision</h2>' in html
    assert '<label for="decision_number">Decision number</label>' in html
    assert '<button type="submit">Save the decision</button>' in html
    assert "Acknowledge the referral" in html


def test_an_officer_records_the_decision_and_the_stay_follows_it(
    client: TestClient, desk: Desk, db: Session, settings: Settings
) -> None:
    stay = desk.admit(client)
    referral = referral_of(db, stay)
    desk.as_officer(client)

    response = post_form(
        client,
        settings,
        f"{INBOX}/{referral.id}/decision",
        {
            "outcome": "other_measure",
            "decision_date": "2026-03-02",
            "decision_number": "D-17/2026",
            "placement": "",
            "stay_until": "2026-03-06T10:00",  # Podgorica's time (UTC+1 in March)
            "note": "",
        },
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"{INBOX}/{referral.id}?done=referral_decided"
    decided = client.get(f"/referrals/inbox/{referral.id}").json()
    assert decided["status"] == "decided"
    assert decided["decision"]["decision_number"] == "D-17/2026"
    shown = client.get(response.headers["location"]).text
    assert "The decision is recorded and the sender is told." in shown
    assert "<dd>Another measure</dd>" in shown
    assert "Save the decision" not in shown  # decided once
    listing = client.get(INBOX).text
    assert "No referral is waiting for a decision." in listing
    assert listing.index("<h2>Decided</h2>") < listing.index(referral.reference)
    act_as(client, desk.world.login_cookie(desk.staff))
    after = client.get(f"{desk.shelter_url}/stays/{stay['id']}").json()
    assert after["planned_end"] == "2026-03-06T09:00:00Z"


def test_a_wrong_decision_shows_the_apis_message_and_changes_nothing(
    client: TestClient, desk: Desk, db: Session, settings: Settings
) -> None:
    referral = referral_of(db, desk.admit(client))
    desk.as_officer(client)
    path = f"{INBOX}/{referral.id}/decision"
    body = {
        "outcome": "longer_term_accommodation",
        "decision_date": "2026-03-02",
        "decision_number": "D-18/2026",
    }

    response = post_form(client, settings, path, body)

    assert response.status_code == 422
    assert "placement: longer-term accommodation says where" in response.text
    assert 'value="D-18/2026"' in response.text  # what she typed is kept
    assert client.get(f"/referrals/inbox/{referral.id}").json()["status"] == "open"
    # A form without this browser's token is refused before anything is read.
    forged = client.post(path, data={**body, "placement": "Elsewhere"}, follow_redirects=False)
    assert forged.status_code == 403
    assert client.get(f"/referrals/inbox/{referral.id}").json()["status"] == "open"
    assert "This form has expired" in forged.text


def test_acknowledging_and_asking_for_information(
    client: TestClient, desk: Desk, db: Session, settings: Settings
) -> None:
    referral = referral_of(db, desk.admit(client))
    desk.as_officer(client)
    base = f"{INBOX}/{referral.id}"

    acknowledged = post_form(client, settings, base + "/acknowledge")
    short = post_form(client, settings, base + "/information-requests", {"text": "?"})
    asked = post_form(
        client, settings, base + "/information-requests", {"text": "Does she have a lawyer?"}
    )

    assert acknowledged.status_code == 303
    assert acknowledged.headers["location"] == base + "?done=referral_acknowledged"
    assert short.status_code == 422
    assert asked.status_code == 303
    assert asked.headers["location"] == base + "?done=referral_question_sent"
    api = client.get(f"/referrals/inbox/{referral.id}").json()
    assert api["status"] == ReferralStatus.INFORMATION_REQUESTED
    assert [n["text"] for n in api["notes"]] == ["Does she have a lawyer?"]
    html = client.get(base).text
    assert "<strong>Request for information</strong>" in html
    assert "Does she have a lawyer?" in html
    assert "Acknowledge the referral" not in html


def test_who_may_not_open_the_inbox_gets_what_the_api_answers(
    client: TestClient, desk: Desk, db: Session, world: World
) -> None:
    referral = referral_of(db, desk.admit(client))
    other_csw = world.organisation(OrganisationKind.CSW, name="CSW Nikšić (test)")
    stranger = world.user(other_csw, Role.CSW_OFFICER)
    counselor = world.user(desk.ngo, Role.COUNSELOR)

    browse_as(client, world.login_cookie(stranger, second_factor=True))
    assert client.get(f"/referrals/inbox/{referral.id}").status_code == 404
    assert client.get(f"{INBOX}/{referral.id}").status_code == 404
    assert referral.reference not in client.get(INBOX).text

    browse_as(client, world.login_cookie(counselor, second_factor=True))
    assert client.get("/referrals/inbox").status_code == 403
    assert client.get(INBOX).status_code == 403

    browse_as(client, None)
    signed_out = client.get(INBOX, follow_redirects=False)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/console/login?next=/console/inbox"


def test_a_second_decision_is_refused_with_the_apis_answer(
    client: TestClient, desk: Desk, db: Session, settings: Settings
) -> None:
    referral = referral_of(db, desk.admit(client))
    desk.as_officer(client)
    path = f"{INBOX}/{referral.id}/decision"
    body = {"outcome": "declined", "decision_date": "2026-03-02", "decision_number": "D-19"}
    assert post_form(client, settings, path, body).status_code == 303
    api_again = client.post(f"/referrals/inbox/{referral.id}/decision", json=body)

    again = post_form(client, settings, path, {**body, "decision_number": "D-20"})

    assert again.status_code == api_again.status_code == 409
    assert api_again.json()["message"] in again.text
    assert "Please check what you entered." in again.text
    assert client.get(f"/referrals/inbox/{referral.id}").json()["decision"]["decision_number"] == (
        "D-19"
    )


def test_the_waiting_list_is_shown_a_page_at_a_time_overdue_first(
    client: TestClient, desk: Desk, db: Session, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from console.pages import inbox

    monkeypatch.setattr(inbox, "PAGE_SIZE", 1)
    first = referral_of(db, desk.admit(client))
    clock.advance(timedelta(days=2))
    second = referral_of(db, desk.admit(client, name="Bea Test"))
    clock.advance(timedelta(days=5, hours=1))  # the first is an hour overdue
    desk.as_officer(client)

    one = client.get(INBOX).text
    two = client.get(INBOX, params={"page": 2}).text

    assert first.reference in one
    assert second.reference not in one
    assert "Showing 1–1 of 2." in one  # noqa: RUF001 (the en dash of a range)
    assert '<a href="/console/inbox?page=2">Next page</a>' in one
    assert "Previous page" not in one
    assert second.reference in two
    assert first.reference not in two
    assert '<a href="/console/inbox?page=1">Previous page</a>' in two
    assert client.get(INBOX, params={"page": 0}).status_code == 422
    assert client.get(INBOX, params={"page": 2**63}).status_code == 422
