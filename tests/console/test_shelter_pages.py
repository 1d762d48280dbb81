"""The shelter staff's console pages: the list, the bed board, the admission with its referral
preview, the stay with its clocks, visitors, turn-aways and the network's free beds.
Fictional data only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from core.audit import AuditEvent
from core.config import Settings
from core.crypto import FieldCipher, cipher_from_settings
from core.models import Organisation, OrganisationKind, Role, User
from notifications.models import Channel, OutboxMessage, Purpose
from referrals import service as referrals_service
from referrals.models import Referral
from shelters.models import EntryApproval, EntryLog, Stay, StayExtension, TurnAway
from tests.conftest import World, act_as
from tests.console.conftest import browse_as, post_form
from tests.referrals.conftest import add_contact
from tests.shelters.conftest import Place, assign, make_shelter

CSW_NAME = "CSW Podgorica (test)"


@dataclass
class Desk:
    place: Place
    csw: Organisation
    officer: User

    @property
    def base(self) -> str:
        return f"/console/o/{self.place.organisation.id}/shelters/{self.place.shelter.id}"

    @property
    def api(self) -> str:
        return self.place.url


@pytest.fixture
def desk(world: World, settings: Settings, db: Session) -> Desk:
    cipher: FieldCipher = cipher_from_settings(settings)
    ngo = world.organisation(name="SOS Test Line")
    shelter, beds = make_shelter(world, cipher, ngo)
    staff = world.user(ngo, Role.SHELTER_STAFF, display_name="Night Worker")
    supervisor = world.user(ngo, Role.SUPERVISOR, display_name="Shift Supervisor")
    assign(world, shelter, staff)
    csw = world.organisation(OrganisationKind.CSW, name=CSW_NAME)
    officer = world.user(csw, Role.CSW_OFFICER)
    municipality = referrals_service.find_municipality(db, country_code="ME", name="Podgorica")
    assert municipality is not None
    municipality.csw_organisation_id = csw.id
    db.add(municipality)
    db.flush()
    for purpose in (Purpose.REFERRALS, Purpose.CHILD_PROTECTION):
        add_contact(
            db,
            settings,
            cipher,
            csw,
            Channel.EMAIL,
            f"{purpose}@csw.example.org",
            purpose,
            now=world.clock.now(),
        )
    return Desk(Place(ngo, shelter, beds, staff, supervisor, world), csw, officer)


def as_user(client: TestClient, world: World, user: User) -> TestClient:
    return browse_as(client, world.login_cookie(user, second_factor=True))


def count(db: Session, table: Any) -> int:
    return int(db.exec(select(func.count()).select_from(table)).one())


def counts(db: Session) -> tuple[int, ...]:
    db.expire_all()
    return tuple(count(db, t) for t in (Stay, Referral, OutboxMessage, AuditEvent, TurnAway))


ADMISSION = {
    "client-name": "Ana Test",
    "client-sex": "female",
    "client-age": "34",
    "children-0-name": "Mia Test",
    "children-0-sex": "female",
    "children-0-age": "6",
    "children-1-name": "Leo Test",
    "children-1-sex": "male",
    "children-1-age": "1",
    "channel": "in_person",
    "municipality": "Podgorica",
    "consent-scope": ["identity"],
}


def text(html: str) -> str:
    """The page's text, tags removed and spaces folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def admit(client: TestClient, settings: Settings, desk: Desk) -> str:
    """Admit the woman and her two children; the stay page's path."""
    saved = post_form(client, settings, desk.base + "/admit", {**ADMISSION, "action": "save"})
    assert saved.status_code == 303, saved.text
    return saved.headers["location"].split("?")[0]


def test_admission_preview_changes_nothing_then_save_shows_the_stay(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    form = client.get(desk.base + "/admit")
    assert form.status_code == 200
    assert 'name="children-3-age"' in form.text
    assert "Preview the referral" in form.text
    before = counts(db)

    preview = post_form(client, settings, desk.base + "/admit", {**ADMISSION, "action": "preview"})

    assert preview.status_code == 200, preview.text
    shown = text(preview.text)
    assert f"This admission will send a referral to {CSW_NAME} (General team)." in shown
    assert f"This admission will send a referral to {CSW_NAME} (Child protection team)." in shown
    assert "decision due " in shown
    assert "Her name, sex and age" in shown
    assert "Save the admission" in shown
    assert 'type="hidden" name="children-1-age" value="1"' in preview.text
    assert counts(db) == before

    saved = post_form(client, settings, desk.base + "/admit", {**ADMISSION, "action": "save"})

    assert saved.status_code == 303
    stay = db.exec(select(Stay).where(Stay.shelter_id == desk.place.shelter.id)).one()
    assert saved.headers["location"] == f"{desk.base}/stays/{stay.id}?done=admitted"
    assert (stay.people, stay.children) == (3, 2)
    referrals = db.exec(select(Referral).where(Referral.stay_id == stay.id)).all()
    assert sorted((r.team, r.consent_scope) for r in referrals) == [
        ("child_protection", ["identity"]),
        ("general", ["identity"]),
    ]
    page = client.get(saved.headers["location"])
    assert page.status_code == 200
    shown = text(page.text)
    assert "The admission is saved and the referral is sent." in shown
    for label in (
        "Needs assessment (within 24 hours)",
        "Planned end of the stay",
        "Decision of the Centre for Social Work due",
    ):
        assert label in shown
    assert "Not decided yet" in shown
    assert "Overdue" not in shown
    assert shown.count("Sent, not yet opened") == 2


def test_a_bad_admission_form_is_refused_and_saves_nothing(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    before = counts(db)
    data = {**ADMISSION, "client-name": "", "action": "save"}
    answer = post_form(client, settings, desk.base + "/admit", data)
    assert answer.status_code == 422
    assert "Please check what you entered." in answer.text
    assert "client.name" in answer.text
    assert 'value="Mia Test"' in answer.text
    assert counts(db) == before


def test_the_stay_shows_overdue_clocks_and_the_csw_decision(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    stay_path = admit(client, settings, desk)
    general = db.exec(select(Referral).where(Referral.team == "general")).one()
    world.clock.set(world.clock.now() + timedelta(hours=25))
    act_as(client, world.login_cookie(desk.officer))
    decided = client.post(
        f"/referrals/inbox/{general.id}/decision",
        json={"outcome": "declined", "decision_date": "2026-03-03", "decision_number": "PG 1/26"},
    )
    assert decided.status_code == 200, decided.text
    as_user(client, world, desk.place.staff)
    shown = text(client.get(stay_path).text)
    assert "Needs assessment (within 24 hours)" in shown
    assert shown.count("Overdue") == 1
    assert "Declined" in shown
    assert "Decided" in shown


def test_extension_assessment_and_work_plan_forms(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    stay_path = admit(client, settings, desk)
    short = post_form(
        client,
        settings,
        stay_path + "/extensions",
        {"new_end": "2026-03-12T10:00", "justification": "too short"},
    )
    assert short.status_code == 422
    assert count(db, StayExtension) == 0
    asked = post_form(
        client,
        settings,
        stay_path + "/extensions",
        {"new_end": "2026-03-12T10:00", "justification": "She waits for a CSW placement decision."},
    )
    assert asked.status_code == 303
    assert asked.headers["location"] == stay_path + "?done=extension_requested"
    extension = db.exec(select(StayExtension)).one()
    assert extension.new_end.isoformat() == "2026-03-12T09:00:00+00:00"  # 10:00 in Podgorica
    assessed = post_form(
        client,
        settings,
        stay_path + "/assessments",
        {
            "security": "Safe here",
            "love_and_belonging": "Sister",
            "respect": "Yes",
            "self_accomplishment": "Wants work",
        },
    )
    assert assessed.status_code == 303
    planned = post_form(
        client,
        settings,
        stay_path + "/work-plans",
        {
            "goals-0-goal": "Housing",
            "goals-0-steps-0-what": "Apply",
            "goals-0-steps-0-who": "Ana",
            "goals-0-steps-0-by": "2026-03-05T12:00",
        },
    )
    assert planned.status_code == 303, planned.text
    shown = text(client.get(stay_path).text)
    assert "Waiting for a supervisor" in shown
    assert "Wants work" in shown
    assert "Apply: Ana, by" in shown
    assert "Done" in shown
    as_user(client, world, desk.place.supervisor)
    approved = post_form(
        client, settings, f"{stay_path}/extensions/{extension.id}/approve", {"note": "Agreed"}
    )
    assert approved.headers["location"] == stay_path + "?done=extension_approved"
    stay = db.exec(select(Stay)).one()
    db.refresh(stay)
    assert stay.planned_end == extension.new_end


def test_the_bed_board_shows_who_is_where(
    client: TestClient, settings: Settings, desk: Desk, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    stay_path = admit(client, settings, desk)
    board = client.get(desk.base + "/board")
    assert board.status_code == 200
    assert board.text.count('class="bed occupied"') == 3
    assert f'href="{stay_path}"' in board.text
    assert "Occupied" in board.text


def test_the_bed_board_groups_beds_by_room_and_says_why_one_is_out_of_service(
    client: TestClient, desk: Desk, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    bed = desk.place.bed("A3")
    taken = client.put(
        desk.api + f"/beds/{bed.id}/service",
        json={"out_of_service": True, "reason": "Mould on the wall"},
    )
    assert taken.status_code == 200
    board = client.get(desk.base + "/board")
    assert board.status_code == 200
    assert board.text.count("<h2>Room 1</h2>") == 1
    assert board.text.count('class="bed free"') == 2
    out = board.text.split('class="bed out"')[1].split("</li>")[0]
    assert "<strong>A3</strong>" in out
    assert '<span class="small">Mould on the wall</span>' in out


@pytest.mark.parametrize("path", ["/board", "/admit", "/visitors", "/turn-aways"])
def test_a_counselor_and_other_staff_get_what_the_api_answers(
    client: TestClient, desk: Desk, world: World, path: str
) -> None:
    counselor = world.user(desk.place.organisation, Role.COUNSELOR)
    other = world.user(desk.place.organisation, Role.SHELTER_STAFF)  # not on this shelter
    for user in (counselor, other):
        as_user(client, world, user)
        api = client.get(desk.api + ("/board" if path in ("/board", "/admit") else "/entries"))
        assert client.get(desk.base + path).status_code == api.status_code
        assert api.status_code in (403, 404)


def test_visitors_approve_enter_exit_revoke(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    refused = post_form(client, settings, desk.base + "/visitors/approvals", {})
    assert refused.status_code == 403
    as_user(client, world, desk.place.supervisor)
    made = post_form(
        client,
        settings,
        desk.base + "/visitors/approvals",
        {
            "person_name": "Vera Lawyer",
            "organisation": "Legal Aid Test",
            "purpose": "Counsel",
            "valid_from": "2026-03-02T09:00",
            "valid_until": "2026-03-02T18:00",
        },
    )
    assert made.status_code == 303, made.text
    approval = db.exec(select(EntryApproval)).one()
    as_user(client, world, desk.place.staff)
    entered = post_form(client, settings, f"{desk.base}/visitors/approvals/{approval.id}/entries")
    assert entered.headers["location"] == desk.base + "/visitors?done=entry_recorded"
    entry = db.exec(select(EntryLog)).one()
    left = post_form(client, settings, f"{desk.base}/visitors/entries/{entry.id}/exit")
    assert left.status_code == 303
    shown = text(client.get(desk.base + "/visitors").text)
    assert "Vera Lawyer" in shown
    assert "Valid now" in shown
    as_user(client, world, desk.place.supervisor)
    revoked = post_form(client, settings, f"{desk.base}/visitors/approvals/{approval.id}/revoke")
    assert revoked.status_code == 303
    db.refresh(approval)
    assert approval.revoked_at is not None


def test_turn_aways_and_where_else_to_go(
    client: TestClient, settings: Settings, desk: Desk, db: Session, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    many = {
        **ADMISSION,
        "action": "save",
        "children-2-name": "Iva Test",
        "children-2-sex": "female",
        "children-2-age": "3",
    }
    refused = post_form(client, settings, desk.base + "/admit", many)
    assert refused.status_code == 409
    assert "A turn-away has been recorded." in refused.text
    turn_away = db.exec(select(TurnAway)).one()
    page = client.get(desk.base + "/turn-aways")
    assert page.status_code == 200
    assert "Where else to go" in page.text
    updated = post_form(
        client,
        settings,
        f"{desk.base}/turn-aways/{turn_away.id}",
        {"sent_to": "support_at_distance"},
    )
    assert updated.status_code == 303
    db.refresh(turn_away)
    assert turn_away.sent_to == "support_at_distance"


def test_the_shelter_list_and_the_network_page(
    client: TestClient, desk: Desk, world: World
) -> None:
    as_user(client, world, desk.place.staff)
    listed = client.get(f"/console/o/{desk.place.organisation.id}/shelters")
    assert listed.status_code == 200
    assert f'href="{desk.base}/board"' in listed.text
    free = client.get("/console/network/availability?children=1&infants=1")
    assert free.status_code == 200
    assert desk.place.shelter.name in free.text
    bad = client.get("/console/network/availability?children=0&infants=1")
    assert bad.status_code == 422
