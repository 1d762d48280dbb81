"""A child at risk is referred without consent to the CSW's child-protection team: only that
team identifies the children; everyone else at the centre reads the referral without names or
sexes; another CSW finds nothing; and every read is audited, saying what it showed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core import audit
from core.audit import AuditEvent
from core.models import OrganisationKind, Role, User
from referrals.models import Referral
from tests.conftest import make_case
from tests.referrals.conftest import Bearer, Network, bearer, join_team, referrals_of
from tests.referrals.test_referrals import admit
from tests.shelters.conftest import admission

CHILDREN = [
    {"name": "Mila Petrović", "sex": "female", "age": 5},
    {"name": "Luka Petrović", "sex": "male", "age": 1},
]
NAMED = "shown: children named (child-protection team)"
UNNAMED = "shown: children unnamed (ages only)"
NOT_FOUND = {"error": "not_found", "message": "Not found."}


@dataclass(frozen=True)
class Centre:
    """The network's CSW: an officer for its child-protection team (`join` puts them on it), a
    supervisor who is not on it, and its case system's token (nor is the network's `officer`)."""

    member: User
    supervisor: User
    token: Bearer

    def join(self, client: TestClient, network: Network) -> None:
        join_team(client, network.csw_admin, self.member, network)


@pytest.fixture
def centre(network: Network) -> Centre:
    world = network.world
    member = world.user(
        network.csw, Role.CSW_OFFICER, email="children-officer@csw-podgorica.example.org"
    )
    supervisor = world.user(network.csw, Role.SUPERVISOR)
    return Centre(member, supervisor, bearer(world, network.csw, Role.CSW_OFFICER))


def as_reader(
    client: TestClient, network: Network, who: User | Bearer, method: str, path: str, **kw: Any
) -> httpx2.Response:
    """A request as a user (session cookie) or as a case system (API token)."""
    if isinstance(who, Bearer):
        client.cookies.clear()
        return client.request(method, path, headers=who.headers, **kw)
    network.login(client, who)
    return client.request(method, path, **kw)


def admitted_children(client: TestClient, network: Network, db: Session) -> Referral:
    stay = admit(client, network, {**admission(name="Ana Petrović"), "children": CHILDREN})
    _, children = referrals_of(db, uuid.UUID(stay["id"]))
    return children


def reads(db: Session, referral: Referral) -> list[tuple[str, str | None, Any, str | None]]:
    rows = db.exec(
        select(AuditEvent)
        .where(AuditEvent.action == "referral.read", AuditEvent.subject_id == str(referral.id))
        .order_by(col(AuditEvent.id))
    ).all()
    return [(r.actor_type, r.actor_id, r.organisation_id, r.reason) for r in rows]


def unnamed(body: dict[str, Any]) -> tuple[Any, ...]:
    fields = ("shared_children", "children_ages", "names_withheld", "client")
    return tuple(body.get(field) for field in fields)


def test_only_the_child_protection_team_reads_the_childrens_names(
    client: TestClient, network: Network, db: Session, centre: Centre
) -> None:
    children = admitted_children(client, network, db)
    path = f"/referrals/inbox/{children.id}"
    # Everyone at the centre outside the team: "2 children, ages 1 and 5", no name, no sex.
    for who in (network.officer, centre.supervisor, centre.token):
        response = as_reader(client, network, who, "GET", path)
        assert response.status_code == 200, response.text
        assert unnamed(response.json()) == (None, [1, 5], True, None)
        for word in ("Petrović", "Mila", "Luka", '"sex"', "male"):
            assert word not in response.text
    centre.join(client, network)
    named = as_reader(client, network, centre.member, "GET", path)
    assert named.status_code == 200, named.text
    body = named.json()
    assert body["shared_children"] == CHILDREN
    assert (body["children_ages"], body["names_withheld"], body["client"]) == ([1, 5], False, None)
    assert (body["team"], body["legal_basis"], body["people"], body["children"]) == (
        "child_protection",
        "child_at_risk",
        2,
        2,
    )
    csw = network.csw.id
    assert reads(db, children) == [
        ("user", str(network.officer.id), csw, UNNAMED),
        ("user", str(centre.supervisor.id), csw, UNNAMED),
        ("api_token", centre.token.id, csw, UNNAMED),
        ("user", str(centre.member.id), csw, NAMED),
    ]
    checked, problems = audit.verify(db)  # the reads are links of the hash chain
    assert (checked >= 4, problems) == (True, [])


def test_another_csw_and_its_own_team_find_nothing_and_nothing_is_audited(
    client: TestClient, network: Network, db: Session, centre: Centre
) -> None:
    children = admitted_children(client, network, db)
    centre.join(client, network)
    world = network.world
    other = world.organisation(OrganisationKind.CSW, name="CSW Other (test)")
    stranger = world.user(other, Role.CSW_OFFICER)
    their_member = world.user(other, Role.SUPERVISOR)
    join_team(client, world.user(other, Role.ADMIN), their_member, network)
    outsiders: list[User | Bearer] = [
        stranger,
        their_member,
        bearer(world, other, Role.CSW_OFFICER),
        network.place.supervisor,  # the sender: it reads its own side, not the inbox
    ]
    for who in outsiders:
        for method, suffix in (("GET", ""), ("POST", "/acknowledge")):
            path = f"/referrals/inbox/{children.id}{suffix}"
            response = as_reader(client, network, who, method, path)
            assert (response.status_code, response.json()) == (404, NOT_FOUND)
        listed = as_reader(client, network, who, "GET", "/referrals/inbox")
        assert (listed.status_code, listed.json()) == (200, [])
    assert reads(db, children) == []
    db.refresh(children)
    assert children.acknowledged_at is None


def test_the_inbox_list_is_the_same_for_everyone_at_the_centre_and_names_nobody(
    client: TestClient, network: Network, db: Session, centre: Centre
) -> None:
    children = admitted_children(client, network, db)
    expected = {
        "id": str(children.id),
        "reference": children.reference,
        "team": "child_protection",
        "from_organisation_name": "SOS Test Line",
        "municipality": "Podgorica",
        "people": 2,
        "children": 2,
        "deadline": "2026-03-09T09:00:00Z",
        "status": "open",
        "created_at": "2026-03-02T09:00:00Z",
    }
    centre.join(client, network)
    for who in (centre.member, network.officer, centre.token):
        listed = as_reader(client, network, who, "GET", "/referrals/inbox")
        assert listed.status_code == 200
        assert [r for r in listed.json() if r["team"] == "child_protection"] == [expected]
        assert "Petrovi" not in listed.text


def test_acts_answer_each_reader_as_a_read_does_and_are_audited_as_reads(
    client: TestClient, network: Network, db: Session, centre: Centre
) -> None:
    children = admitted_children(client, network, db)
    path = f"/referrals/inbox/{children.id}"
    acknowledged = as_reader(client, network, network.officer, "POST", path + "/acknowledge")
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["status"] == "acknowledged"
    assert unnamed(acknowledged.json()) == (None, [1, 5], True, None)
    centre.join(client, network)
    decision = {"outcome": "other_measure", "decision_date": "2026-03-03", "decision_number": "9"}
    decided = as_reader(client, network, centre.member, "POST", path + "/decision", json=decision)
    assert decided.status_code == 200, decided.text
    assert decided.json()["shared_children"] == CHILDREN
    csw = network.csw.id
    assert reads(db, children) == [
        ("user", str(network.officer.id), csw, UNNAMED),
        ("user", str(centre.member.id), csw, NAMED),
    ]
    actions = db.exec(
        select(AuditEvent.action)
        .where(AuditEvent.subject_id == str(children.id))
        .order_by(col(AuditEvent.id))
    ).all()
    assert actions == [
        "referral.created",
        "referral.acknowledged",
        "referral.read",
        "referral.decided",
        "referral.read",
    ]


def test_a_child_at_risk_referred_from_a_case_is_named_to_the_team_and_by_consent_to_all(
    client: TestClient, network: Network, db: Session, centre: Centre
) -> None:
    counselor = network.world.user(network.ngo, Role.COUNSELOR)
    case_id = make_case(db, counselor)
    network.login(client, counselor)
    made = client.post(
        f"/organisations/{network.ngo.id}/referrals",
        json={
            "source": "case",
            "case_id": str(case_id),
            "to_organisation_id": str(network.csw.id),
            "team": "child_protection",
            "legal_basis": "child_at_risk",
            "children": CHILDREN,
        },
    )
    assert made.status_code == 201, made.text
    referral_id = made.json()["id"]
    path = f"/referrals/inbox/{referral_id}"
    officer = as_reader(client, network, network.officer, "GET", path).json()
    assert unnamed(officer) == (None, [1, 5], True, None)
    centre.join(client, network)
    assert as_reader(client, network, centre.member, "GET", path).json()["shared_children"] == (
        CHILDREN
    )
    # She agrees the centre may know who her children are: then it is her consent, not the law.
    network.login(client, counselor)
    consent = client.put(
        f"/organisations/{network.ngo.id}/referrals/{referral_id}/consent",
        json={"scope": ["children"]},
    )
    assert consent.status_code == 200, consent.text
    officer = as_reader(client, network, network.officer, "GET", path).json()
    assert (officer["shared_children"], officer["names_withheld"]) == (CHILDREN, False)
    referral = db.get(Referral, uuid.UUID(referral_id))
    assert referral is not None
    assert [r[3] for r in reads(db, referral)] == [
        UNNAMED,
        NAMED,
        "shown: children named (consent)",
    ]
