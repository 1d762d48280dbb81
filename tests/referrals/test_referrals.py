"""Referrals: every admission reaches the competent CSW at once, its deadline is never missed
silently, and a CSW sees only its own referrals and only what the consent allows."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.crypto import FieldCipher
from core.db import UnitOfWork
from core.models import OrganisationKind, Role
from notifications.models import Channel
from referrals import service
from referrals.models import (
    LegalBasis,
    Referral,
    ReferralReminder,
    ReferralStatus,
    ReminderKind,
    ReminderState,
    Team,
)
from shelters.models import CswOutcome, Stay
from tests.conftest import act_as, make_case
from tests.referrals.conftest import (
    BASE_URL,
    CHILD_TEAM_EMAIL,
    CSW_EMAIL,
    CSW_HEAD_EMAIL,
    CSW_SMS,
    Network,
    outbox_rows,
    referrals_of,
    reminders,
)
from tests.shelters.conftest import admission

PODGORICA = "Europe/Podgorica"


def at(local: str) -> datetime:
    """A Podgorica wall-clock time as an aware instant."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(PODGORICA))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def admit(client: TestClient, network: Network, body: dict[str, Any]) -> dict[str, Any]:
    network.login(client, network.place.staff)
    response = client.post(f"{network.place.url}/stays", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def sweep(uow: UnitOfWork, clock: FrozenClock) -> int:
    return service.sweep(uow, now=clock.now(), base_url=BASE_URL)


# --- an admission makes its referrals --------------------------------------------------------


def test_an_admission_refers_the_client_to_the_competent_csw_and_her_children_to_its_team(
    client: TestClient, network: Network, db: Session, clock: FrozenClock
) -> None:
    stay = admit(client, network, admission(2, 9))
    general, children = referrals_of(db, uuid.UUID(stay["id"]))
    assert (general.team, children.team) == (Team.GENERAL, Team.CHILD_PROTECTION)
    for referral in (general, children):
        assert referral.to_organisation_id == network.csw.id
        assert referral.from_organisation_id == network.ngo.id
        assert referral.municipality_id == network.municipality.id
        assert referral.status is ReferralStatus.OPEN
        assert referral.consent_scope == []
        assert referral.created_at == clock.now()
        assert referral.reference.startswith("RF-")
        assert len(referral.reference) == 11
    # The CSW decides by the stay's planned end: 7 local days after admission.
    assert general.deadline == utc(stay["planned_end"].replace("Z", "")) == utc("2026-03-09 09:00")
    assert general.deadline == utc(stay["decision_due_at"].replace("Z", ""))
    assert (general.legal_basis, general.people, general.children) == (
        LegalBasis.EMERGENCY_ACCOMMODATION,
        3,
        2,
    )
    # The children's referral has the same deadline, and the same reminders.
    assert (children.legal_basis, children.deadline, children.people) == (
        LegalBasis.CHILD_AT_RISK,
        utc("2026-03-09 09:00"),
        2,
    )
    for referral in (general, children):
        assert [(r.kind, r.sequence, r.due_at) for r in reminders(db, referral)] == [
            (ReminderKind.CREATED, 0, clock.now()),
            (ReminderKind.BEFORE_3_DAYS, 0, utc("2026-03-06 09:00")),
            (ReminderKind.BEFORE_1_DAY, 0, utc("2026-03-08 09:00")),
            (ReminderKind.DEADLINE, 0, utc("2026-03-09 09:00")),
            (ReminderKind.OVERDUE, 1, utc("2026-03-10 09:00")),
        ]
    actions = db.exec(
        select(AuditEvent.action).where(AuditEvent.subject_id == str(general.id))
    ).all()
    assert actions == ["referral.created"]


def test_a_failed_admission_makes_no_referral(
    client: TestClient, network: Network, db: Session
) -> None:
    network.login(client, network.place.staff)
    body = admission(name="Ana Test", age=34)
    body["client"]["sex"] = "male"
    response = client.post(f"{network.place.url}/stays", json=body)
    assert response.status_code == 409
    message = response.json()["message"]
    assert message.endswith(
        "A man who is a victim is not admitted as a user of this service: refer him to another "
        "service of the protection system (POST /organisations/{org_id}/referrals, source call or "
        "case, to a partner service); the partner shelters listed, if any, take men."
    )
    assert db.exec(select(func.count()).select_from(Referral)).one() == 0


@pytest.mark.parametrize(
    ("admitted", "expected"),
    [
        # The last Saturday of October 2027, the night the clocks go back (03:00 CEST -> 02:00
        # CET on Sunday 31 October): the deadline is 23:30 local seven days later, 169 hours on.
        (
            "2027-10-30 23:30",
            {
                ReminderKind.CREATED: "2027-10-30 21:30",
                ReminderKind.BEFORE_3_DAYS: "2027-11-03 22:30",
                ReminderKind.BEFORE_1_DAY: "2027-11-05 22:30",
                ReminderKind.DEADLINE: "2027-11-06 22:30",
                ReminderKind.OVERDUE: "2027-11-07 22:30",
            },
        ),
        # The last Saturday of October 2026 comes after that year's change (25 October).
        (
            "2026-10-31 23:30",
            {
                ReminderKind.CREATED: "2026-10-31 22:30",
                ReminderKind.BEFORE_3_DAYS: "2026-11-04 22:30",
                ReminderKind.BEFORE_1_DAY: "2026-11-06 22:30",
                ReminderKind.DEADLINE: "2026-11-07 22:30",
                ReminderKind.OVERDUE: "2026-11-08 22:30",
            },
        ),
        # Spring: the deadline is the Saturday before the change, the first overdue day after it.
        (
            "2027-03-20 23:30",
            {
                ReminderKind.CREATED: "2027-03-20 22:30",
                ReminderKind.BEFORE_3_DAYS: "2027-03-24 22:30",
                ReminderKind.BEFORE_1_DAY: "2027-03-26 22:30",
                ReminderKind.DEADLINE: "2027-03-27 22:30",
                ReminderKind.OVERDUE: "2027-03-28 21:30",
            },
        ),
    ],
    ids=["2027-10-30", "2026-10-31", "2027-03-20"],
)
def test_reminders_fall_due_at_the_exact_instants_and_are_sent_then_and_not_before(
    client: TestClient,
    network: Network,
    db: Session,
    clock: FrozenClock,
    uow: UnitOfWork,
    admitted: str,
    expected: dict[ReminderKind, str],
) -> None:
    clock.set(at(admitted))
    stay = admit(client, network, admission())
    (referral,) = referrals_of(db, uuid.UUID(stay["id"]))
    assert referral.deadline == utc(expected[ReminderKind.DEADLINE])
    rows = reminders(db, referral)
    assert {r.kind: r.due_at for r in rows} == {k: utc(v) for k, v in expected.items()}
    # Walk the clock to each instant: a second before, nothing goes out; at it, its messages.
    for row in rows:
        due = utc(expected[row.kind])
        if due > clock.now():
            clock.set(due - timedelta(seconds=1))
            assert sweep(uow, clock) == 0
            clock.set(due)
        before = len(outbox_rows(db))
        assert sweep(uow, clock) == 1
        topics = {m.topic for m in outbox_rows(db)[before:]}
        assert topics == {f"referral.{row.kind}"}
        db.refresh(row)
        assert row.state is ReminderState.DONE
        assert row.done_at == due
    # Overdue repeats daily at the same local time (the next one is already a row).
    following = reminders(db, referral)[-1]
    assert (following.kind, following.sequence, following.state) == (
        ReminderKind.OVERDUE,
        2,
        ReminderState.PENDING,
    )
    from core.localtime import add_local_days

    assert following.due_at == add_local_days(utc(expected[ReminderKind.DEADLINE]), 2, PODGORICA)


def test_each_message_says_only_the_reference_the_deadline_and_where_to_log_in(
    client: TestClient, network: Network, db: Session, clock: FrozenClock, uow: UnitOfWork
) -> None:
    stay = admit(client, network, admission())
    (referral,) = referrals_of(db, uuid.UUID(stay["id"]))
    assert sweep(uow, clock) == 1
    ref = referral.reference
    text = (
        f"Sigurna: New referral {ref}. Decision due by 2026-03-09 10:00 (Europe/Podgorica). "
        f"Log in to see it: {BASE_URL}/"
    )
    payload = json.dumps(
        {
            "deadline": "2026-03-09T09:00:00+00:00",
            "login": f"{BASE_URL}/",
            "overdue_day": None,
            "referral": ref,
            "type": "referral.created",
        },
        separators=(",", ":"),
    )
    contacts = network.contacts
    first = reminders(db, referral)[0]
    assert [
        (m.channel, m.recipient, m.subject, m.body, m.idempotency_key, m.organisation_id)
        for m in sorted(outbox_rows(db), key=lambda m: m.channel)
    ] == [
        (
            Channel.EMAIL,
            CSW_EMAIL,
            f"Sigurna: referral {ref}",
            text,
            f"referral:{first.id}:{contacts['email'].id}",
            network.ngo.id,
        ),
        (
            Channel.SMS,
            CSW_SMS,
            None,
            text,
            f"referral:{first.id}:{contacts['sms'].id}",
            network.ngo.id,
        ),
        (
            Channel.WEBHOOK,
            contacts["webhook"].address,
            None,
            payload,
            f"referral:{first.id}:{contacts['webhook'].id}",
            network.ngo.id,
        ),
    ]
    webhook = next(m for m in outbox_rows(db) if m.channel is Channel.WEBHOOK)
    assert webhook.secret_sealed == contacts["webhook"].secret_sealed
    # Sweeping again sends nothing more.
    assert sweep(uow, clock) == 0
    assert len(outbox_rows(db)) == 3


def test_children_go_to_the_child_protection_team(
    client: TestClient, network: Network, db: Session, clock: FrozenClock, uow: UnitOfWork
) -> None:
    stay = admit(client, network, admission(6))
    _, children = referrals_of(db, uuid.UUID(stay["id"]))
    assert sweep(uow, clock) == 2
    first = reminders(db, children)[0]
    recipients = sorted(
        m.recipient for m in outbox_rows(db) if m.idempotency_key.startswith(f"referral:{first.id}")
    )
    assert recipients == sorted([CHILD_TEAM_EMAIL, network.contacts["webhook"].address])


def test_overdue_decisions_escalate_daily_to_both_sides_until_decided(
    client: TestClient, network: Network, db: Session, clock: FrozenClock, uow: UnitOfWork
) -> None:
    stay = admit(client, network, admission())
    (referral,) = referrals_of(db, uuid.UUID(stay["id"]))
    clock.set(utc("2026-03-10 09:00"))  # one local day after the deadline
    # Everything that fell due while nobody swept goes out now (a scheduler catching up).
    assert sweep(uow, clock) == 5
    day_one = reminders(db, referral)[4]
    assert (day_one.kind, day_one.sequence) == (ReminderKind.OVERDUE, 1)
    # Catching up, the stale "3 days before", "1 day before" and "deadline" are not sent: only
    # the referral itself and where it stands now.
    assert {m.topic for m in outbox_rows(db)} == {"referral.created", "referral.overdue"}
    overdue = [m for m in outbox_rows(db) if m.idempotency_key.startswith(f"referral:{day_one.id}")]
    assert sorted(m.recipient for m in overdue) == sorted(
        [
            CSW_EMAIL,
            CSW_SMS,
            network.contacts["webhook"].address,
            CSW_HEAD_EMAIL,  # the CSW's head
            "supervisor@ngo.example.org",  # the shelter's supervisor
        ]
    )
    assert {m.body for m in overdue if m.channel is Channel.EMAIL} == {
        f"Sigurna: OVERDUE (day 1): referral {referral.reference} needed a decision by "
        f"2026-03-09 10:00 (Europe/Podgorica). Log in to see it: {BASE_URL}/"
    }
    clock.set(utc("2026-03-11 09:00"))
    assert sweep(uow, clock) == 1
    assert [r.sequence for r in reminders(db, referral) if r.kind is ReminderKind.OVERDUE] == [
        1,
        2,
        3,
    ]
    # The decision cancels what is pending; nothing more goes out.
    network.login(client, network.officer)
    decided = client.post(
        f"/referrals/inbox/{referral.id}/decision",
        json={
            "outcome": "declined",
            "decision_date": "2026-03-11",
            "decision_number": "CSW-PG 12/2026",
        },
    )
    assert decided.status_code == 200, decided.text
    last = reminders(db, referral)[-1]
    db.refresh(last)
    assert last.state is ReminderState.CANCELLED
    clock.set(utc("2026-03-20 09:00"))
    assert sweep(uow, clock) == 0


def test_a_decision_updates_the_stay_and_is_audited(
    client: TestClient, network: Network, db: Session, clock: FrozenClock
) -> None:
    stay = admit(client, network, admission())
    (referral,) = referrals_of(db, uuid.UUID(stay["id"]))
    clock.advance(timedelta(days=3))
    network.login(client, network.officer)
    response = client.post(
        f"/referrals/inbox/{referral.id}/decision",
        json={
            "outcome": "longer_term_accommodation",
            "decision_date": "2026-03-05",
            "decision_number": "CSW-PG 7/2026",
            "placement": "Longer-term shelter (test)",
            "stay_until": "2026-03-12T10:00:00+01:00",
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "decided"
    assert body["decision"] == {
        "outcome": "longer_term_accommodation",
        "decision_date": "2026-03-05",
        "decision_number": "CSW-PG 7/2026",
        "placement": "Longer-term shelter (test)",
        "note": None,
        "decided_at": "2026-03-05T09:00:00Z",
    }
    row = db.get(Stay, uuid.UUID(stay["id"]))
    assert row is not None
    db.refresh(row)
    assert row.csw_outcome is CswOutcome.LONGER_TERM_ACCOMMODATION
    assert row.csw_decided_at == clock.now()
    assert row.planned_end == utc("2026-03-12 09:00")
    actions = set(db.exec(select(AuditEvent.action)).all())
    assert {"referral.decided", "shelter.csw_decision_applied"} <= actions
    # The sender's supervisors are told, without details.
    told = [m for m in outbox_rows(db) if m.topic == "referral.decided"]
    assert [(m.recipient, m.body) for m in told] == [
        (
            "supervisor@ngo.example.org",
            f"Sigurna: Referral {referral.reference}: the recipient recorded its decision. "
            f"Log in to see it: {BASE_URL}/",
        )
    ]
    # A decision is made once.
    again = client.post(
        f"/referrals/inbox/{referral.id}/decision",
        json={"outcome": "declined", "decision_date": "2026-03-05", "decision_number": "X"},
    )
    assert again.status_code == 409
    assert again.json()["message"] == "This referral is decided: it can no longer change."


def test_a_csw_sees_only_its_own_referrals(
    client: TestClient, network: Network, db: Session
) -> None:
    stay = admit(client, network, admission())
    (referral,) = referrals_of(db, uuid.UUID(stay["id"]))
    other_csw = network.world.organisation(OrganisationKind.CSW)
    stranger = network.world.user(other_csw, Role.CSW_OFFICER)
    network.login(client, stranger)
    for method, path, body in (
        ("GET", f"/referrals/inbox/{referral.id}", None),
        ("POST", f"/referrals/inbox/{referral.id}/acknowledge", None),
        ("POST", f"/referrals/inbox/{referral.id}/information-requests", {"text": "Who?"}),
        (
            "POST",
            f"/referrals/inbox/{referral.id}/decision",
            {"outcome": "declined", "decision_date": "2026-03-02", "decision_number": "1"},
        ),
    ):
        response = client.request(method, path, json=body)
        assert response.status_code == 404, (path, response.text)
        assert response.json() == {"error": "not_found", "message": "Not found."}
    assert client.get("/referrals/inbox").json() == []
    db.refresh(referral)
    assert referral.status is ReferralStatus.OPEN
    # Its own officer sees it in the inbox (nothing personal in the list).
    network.login(client, network.officer)
    listed = client.get("/referrals/inbox").json()
    assert [(r["reference"], r["from_organisation_name"], r["municipality"]) for r in listed] == [
        (referral.reference, "SOS Test Line", "Podgorica")
    ]


def test_what_a_csw_reads_is_what_the_consent_or_the_law_allows_and_each_read_is_audited(
    client: TestClient, network: Network, db: Session
) -> None:
    stay = admit(client, network, admission(5, name="Mara Consent"))
    general, children = referrals_of(db, uuid.UUID(stay["id"]))
    network.login(client, network.officer)
    read = client.get(f"/referrals/inbox/{general.id}").json()
    assert (read["client"], read["shared_children"], read["circumstances"]) == (None, None, None)
    assert "Mara" not in json.dumps(read)
    # A child at risk is reported to child protection by law: the children are identified to
    # the centre's child-protection team only; this officer is not on it (test_child_protection).
    child_read = client.get(f"/referrals/inbox/{children.id}").json()
    assert (child_read["shared_children"], child_read["children_ages"]) == (None, [5])
    assert (child_read["names_withheld"], child_read["client"]) == (True, None)
    # She agrees to share who she is and what happened, not her children.
    network.login(client, network.place.staff)
    consent = client.put(
        f"/organisations/{network.ngo.id}/referrals/{general.id}/consent",
        json={"scope": ["identity", "circumstances"], "circumstances": "Left home tonight."},
    )
    assert consent.status_code == 200, consent.text
    assert consent.json()["consent_scope"] == ["circumstances", "identity"]
    network.login(client, network.officer)
    read = client.get(f"/referrals/inbox/{general.id}").json()
    assert read["client"] == {"name": "Mara Consent", "sex": "female", "age": 34}
    assert read["shared_children"] is None
    assert read["circumstances"] == "Left home tonight."
    reads = db.exec(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == "referral.read",
            col(AuditEvent.subject_id).in_([str(general.id), str(children.id)]),
        )
    ).one()
    assert reads == 3
    consent_events = db.exec(
        select(AuditEvent.reason).where(AuditEvent.action == "referral.consent_recorded")
    ).all()
    assert consent_events == ["scope circumstances,identity"]


def test_information_requests_and_answers_go_both_ways(
    client: TestClient, network: Network, db: Session, clock: FrozenClock
) -> None:
    stay = admit(client, network, admission())
    (referral,) = referrals_of(db, uuid.UUID(stay["id"]))
    network.login(client, network.officer)
    assert client.post(f"/referrals/inbox/{referral.id}/acknowledge").json()["status"] == (
        "acknowledged"
    )
    asked = client.post(
        f"/referrals/inbox/{referral.id}/information-requests",
        json={"text": "Is there a protection order?"},
    )
    assert asked.status_code == 201
    clock.advance(timedelta(hours=2))
    network.login(client, network.place.supervisor)
    sent = client.get(f"/organisations/{network.ngo.id}/referrals/{referral.id}").json()
    assert sent["status"] == "information_requested"
    assert [(n["direction"], n["text"]) for n in sent["notes"]] == [
        ("question", "Is there a protection order?")
    ]
    answered = client.post(
        f"/organisations/{network.ngo.id}/referrals/{referral.id}/answers",
        json={"text": "Yes, issued on 1 March."},
    )
    assert answered.status_code == 201
    topics = [m.topic for m in outbox_rows(db)]
    assert topics.count("referral.information_requested") == 1  # the NGO's supervisor
    assert topics.count("referral.answered") == 3  # the CSW's e-mail, SMS and webhook
    network.login(client, network.officer)
    read = client.get(f"/referrals/inbox/{referral.id}").json()
    assert read["status"] == "acknowledged"
    assert [n["direction"] for n in read["notes"]] == ["question", "answer"]


def test_an_unaddressed_referral_alerts_the_sender_until_it_is_addressed(
    client: TestClient, network: Network, db: Session, clock: FrozenClock, uow: UnitOfWork
) -> None:
    stay = admit(client, network, admission(municipality="Testgrad"))
    (referral,) = referrals_of(db, uuid.UUID(stay["id"]))
    assert (referral.to_organisation_id, referral.municipality_id) == (None, None)
    assert reminders(db, referral)[0].kind is ReminderKind.UNADDRESSED
    assert sweep(uow, clock) == 1
    assert [(m.recipient, m.body) for m in outbox_rows(db)] == [
        (
            "supervisor@ngo.example.org",
            f"Sigurna: Referral {referral.reference} has no competent CSW in the directory: "
            "address it now. Decision due by 2026-03-09 10:00 (Europe/Podgorica). "
            f"Log in to see it: {BASE_URL}/",
        )
    ]
    network.login(client, network.place.staff)
    path = f"/organisations/{network.ngo.id}/referrals/{referral.id}/recipient"
    assert client.put(path, json={"to_organisation_id": str(network.csw.id)}).status_code == 403
    network.login(client, network.place.supervisor)
    response = client.put(path, json={"to_organisation_id": str(network.csw.id)})
    assert response.status_code == 200, response.text
    assert response.json()["to_organisation_name"] == "CSW Podgorica (test)"
    clock.advance(timedelta(minutes=1))
    assert sweep(uow, clock) == 1
    assert {m.recipient for m in outbox_rows(db)[1:]} == {
        CSW_EMAIL,
        CSW_SMS,
        network.contacts["webhook"].address,
    }


def test_a_recipient_without_contacts_is_reported_to_the_sender(
    client: TestClient, network: Network, db: Session, clock: FrozenClock, uow: UnitOfWork
) -> None:
    for contact in network.contacts.values():
        contact.enabled = False
        db.add(contact)
    db.flush()
    stay = admit(client, network, admission())
    (referral,) = referrals_of(db, uuid.UUID(stay["id"]))
    assert sweep(uow, clock) == 1
    assert [(m.recipient, m.body) for m in outbox_rows(db)] == [
        (
            "supervisor@ngo.example.org",
            f"Sigurna: referral {referral.reference} could not be sent: its recipient has no "
            f"notification contact. Call them, and log in: {BASE_URL}/",
        )
    ]


# --- referrals from calls and cases ----------------------------------------------------------


def test_a_referral_from_a_case_needs_consent_or_a_legal_basis_and_bad_input_changes_nothing(
    client: TestClient, network: Network, db: Session
) -> None:
    police = network.world.organisation(OrganisationKind.PARTNER, name="Police (test)")
    counselor = network.world.user(network.ngo, Role.COUNSELOR)
    case_id = make_case(db, counselor)
    network.login(client, counselor)
    url = f"/organisations/{network.ngo.id}/referrals"
    base = {
        "source": "case",
        "case_id": str(case_id),
        "to_organisation_id": str(police.id),
        "client": {"name": "Marko Test", "sex": "male", "age": 40},
    }
    bad = [
        (
            base,
            "body: record the client's consent (consent.scope), or the legal basis for "
            "referring without it (legal_basis)",
        ),
        (
            {**base, "consent": {"scope": []}, "case_id": None},
            "body: case_id: a referral from a case names the case",
        ),
        (
            {**base, "consent": {"scope": []}, "case_id": str(uuid.uuid4())},
            "case_id: no case of the organisation with you on its team.",
        ),
        (
            {**base, "consent": {"scope": []}, "source": "admission"},
            "body: source: admissions make their referral themselves; use call or case",
        ),
        (
            {**base, "consent": {"scope": []}, "municipality_id": str(network.municipality.id)},
            "body: name either to_organisation_id or municipality_id",
        ),
        (
            {**base, "legal_basis": "legal_obligation"},
            "body: legal_note: say which obligation of the law applies",
        ),
        (
            {**base, "consent": {"scope": []}, "to_organisation_id": str(network.ngo.id)},
            "to_organisation_id: an organisation does not refer to itself.",
        ),
        (
            {**base, "consent": {"scope": []}, "to_organisation_id": str(uuid.uuid4())},
            "to_organisation_id: no such organisation.",
        ),
        (
            {**base, "consent": {"scope": []}, "source": "call", "call_id": str(uuid.uuid4())},
            "call_id: the organisation has no such call.",
        ),
    ]
    for body, message in bad:
        response = client.post(url, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["message"] == message
    assert db.exec(select(func.count()).select_from(Referral)).one() == 0
    # A man who is a victim is referred to another service, with his consent.
    made = client.post(url, json={**base, "consent": {"scope": ["identity"]}})
    assert made.status_code == 201, made.text
    body = made.json()
    assert (body["source"], body["to_organisation_name"], body["deadline"]) == (
        "case",
        "Police (test)",
        None,
    )
    assert [r["kind"] for r in body["reminders"]] == ["created"]


# --- the directory ---------------------------------------------------------------------------


def test_the_directory_ships_montenegro_and_csws_keep_their_own_municipalities(
    client: TestClient, network: Network, db: Session
) -> None:
    network.login(client, network.place.staff)
    listed = client.get("/municipalities", params={"country": "ME"}).json()
    assert len(listed) == 25
    assert [m["name"] for m in listed[:3]] == ["Andrijevica", "Bar", "Berane"]
    podgorica = next(m for m in listed if m["name"] == "Podgorica")
    assert podgorica["csw_name"] == "CSW Podgorica (test)"
    # An NGO's admin cannot touch the directory.
    ngo_admin = network.world.user(network.ngo, Role.ADMIN)
    network.login(client, ngo_admin)
    refused = client.post("/municipalities", json={"country_code": "RS", "name": "Testovo"})
    assert refused.status_code == 403
    # A CSW's admin adds a municipality it serves, and claims one nobody serves.
    network.login(client, network.csw_admin)
    added = client.post("/municipalities", json={"country_code": "rs", "name": "  Testovo "})
    assert added.status_code == 201, added.text
    assert (added.json()["name"], added.json()["csw_name"]) == ("Testovo", "CSW Podgorica (test)")
    twice = client.post("/municipalities", json={"country_code": "RS", "name": "TESTOVO"})
    assert twice.status_code == 409
    niksic = next(m for m in listed if m["name"] == "Nikšić")
    claimed = client.put(f"/municipalities/{niksic['id']}/csw")
    assert claimed.json()["csw_organisation_id"] == str(network.csw.id)
    # Taking another CSW's municipality is the operator's act, never an API call.
    other = network.world.organisation(OrganisationKind.CSW)
    network.login(client, network.world.user(other, Role.ADMIN))
    taken = client.put(f"/municipalities/{podgorica['id']}/csw")
    assert taken.status_code == 409
    assert service.find_municipality(db, country_code="ME", name="niksic") is not None


def test_names_match_without_case_accents_or_spacing(db: Session) -> None:
    assert service.fold("  Nikšić ") == "niksic"
    assert service.fold("HERCEG   novi") == "herceg novi"
    assert service.fold("Đakovica") == "djakovica"
    found = service.find_municipality(db, country_code="ME", name="zabljak")
    assert found is not None
    assert found.name == "Žabljak"


# --- nothing personal in messages or logs ----------------------------------------------------


def test_a_marker_in_every_personal_field_never_reaches_a_message_or_a_log(
    client: TestClient,
    network: Network,
    db: Session,
    clock: FrozenClock,
    uow: UnitOfWork,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "Zqmarker" + uuid.uuid4().hex[:10]
    stay = admit(
        client,
        network,
        {
            **admission(3, name=f"Ana {marker}"),
            "children": [{"name": f"Child {marker}", "sex": "female", "age": 3}],
        },
    )
    general, _children = referrals_of(db, uuid.UUID(stay["id"]))
    network.login(client, network.place.staff)
    client.put(
        f"/organisations/{network.ngo.id}/referrals/{general.id}/consent",
        json={"scope": ["identity", "children", "circumstances"], "circumstances": marker},
    )
    network.login(client, network.officer)
    client.post(
        f"/referrals/inbox/{general.id}/information-requests", json={"text": f"About {marker}?"}
    )
    network.login(client, network.place.supervisor)
    client.post(
        f"/organisations/{network.ngo.id}/referrals/{general.id}/answers",
        json={"text": f"{marker} is safe."},
    )
    network.login(client, network.officer)
    assert marker in client.get(f"/referrals/inbox/{general.id}").text  # she consented
    client.post(
        f"/referrals/inbox/{general.id}/decision",
        json={
            "outcome": "longer_term_accommodation",
            "decision_date": "2026-03-02",
            "decision_number": "7",
            "placement": f"House {marker}",
            "note": marker,
        },
    )
    clock.advance(timedelta(days=10))
    sweep(uow, clock)
    messages = outbox_rows(db)
    assert len(messages) >= 6
    for message in messages:
        assert marker not in f"{message.body}{message.subject}{message.recipient}"
        assert marker not in (message.idempotency_key + message.topic)
    logged = "\n".join(record.getMessage() + repr(record.__dict__) for record in caplog.records)
    assert marker not in logged
    audit_text = " ".join(str(r) for r in db.exec(select(AuditEvent.reason)).all())
    assert marker not in audit_text
    # At rest, everything personal is sealed.
    raw = db.exec(select(Referral.dossier_sealed, Referral.decision_sealed)).all()
    assert all(marker.encode() not in (a or b"") + (b or b"") for a, b in raw)


def test_a_failed_sweep_leaves_its_reminders_pending_and_a_bad_row_holds_up_no_other(
    client: TestClient,
    network: Network,
    db: Session,
    clock: FrozenClock,
    uow: UnitOfWork,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Messages and the reminders they come from commit together or not at all; a reminder
    that cannot be swept is logged and retried, and the others still go out."""
    first = admit(client, network, admission(name="Ana Prva"))
    second = admit(client, network, admission(name="Ana Druga"))
    (bad,) = referrals_of(db, uuid.UUID(first["id"]))
    (good,) = referrals_of(db, uuid.UUID(second["id"]))
    from notifications import service as outbox

    original = outbox.enqueue_many

    def refuses_one(session: Session, *, now: datetime, messages: Any) -> int:
        written = original(session, now=now, messages=messages)
        if any(bad.reference in m.body for m in messages):
            raise RuntimeError("the database went away")
        return written

    monkeypatch.setattr(outbox, "enqueue_many", refuses_one)
    assert sweep(uow, clock) == 1
    assert len(outbox_rows(db)) == 3
    assert all(good.reference in m.body for m in outbox_rows(db))
    stuck = reminders(db, bad)[0]
    db.refresh(stuck)
    assert stuck.state is ReminderState.PENDING
    logged = [r for r in caplog.records if r.name == "sigurna.referrals"]
    assert [(r.getMessage(), r.__dict__.get("subject_id")) for r in logged] == [
        ("referral sweep batch failed", None),
        ("referral reminder could not be swept", str(stuck.id)),
    ]
    monkeypatch.setattr(outbox, "enqueue_many", original)
    assert sweep(uow, clock) == 1
    state = db.exec(select(ReferralReminder.state).where(ReferralReminder.id == stuck.id)).one()
    assert state is ReminderState.DONE
    assert len(outbox_rows(db)) == 6


def test_a_withdrawn_referral_disappears_from_the_inbox_and_stops_its_reminders(
    client: TestClient, network: Network, db: Session, clock: FrozenClock, uow: UnitOfWork
) -> None:
    stay = admit(client, network, admission())
    (referral,) = referrals_of(db, uuid.UUID(stay["id"]))
    network.login(client, network.place.supervisor)
    response = client.post(
        f"/organisations/{network.ngo.id}/referrals/{referral.id}/withdraw",
        json={"reason": "Admitted in error"},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert {r.state for r in reminders(db, referral)} == {ReminderState.CANCELLED}
    clock.advance(timedelta(days=30))
    assert sweep(uow, clock) == 0
    network.login(client, network.officer)
    assert client.get(f"/referrals/inbox/{referral.id}").status_code == 404
    act_as(client, None)


def test_a_scheduler_down_for_days_sends_one_overdue_reminder_and_schedules_the_next_ahead(
    client: TestClient, network: Network, db: Session, clock: FrozenClock, uow: UnitOfWork
) -> None:
    stay = admit(client, network, admission())
    (referral,) = referrals_of(db, uuid.UUID(stay["id"]))
    clock.set(utc("2026-03-13 12:00"))  # four days and three hours after the deadline
    assert sweep(uow, clock) == 5
    overdue = [m for m in outbox_rows(db) if m.topic == "referral.overdue"]
    assert {m.body for m in overdue if m.channel is Channel.SMS} == {
        f"Sigurna: OVERDUE (day 1): referral {referral.reference} needed a decision by "
        f"2026-03-09 10:00 (Europe/Podgorica). Log in to see it: {BASE_URL}/"
    }
    pending = [r for r in reminders(db, referral) if r.state is ReminderState.PENDING]
    assert [(r.kind, r.sequence, r.due_at) for r in pending] == [
        (ReminderKind.OVERDUE, 5, utc("2026-03-14 09:00"))
    ]
    assert sweep(uow, clock) == 0


def test_on_the_senders_side_each_sees_the_referrals_of_their_own_work(
    client: TestClient, network: Network, db: Session, cipher: FieldCipher
) -> None:
    stay = admit(client, network, admission())
    (admitted,) = referrals_of(db, uuid.UUID(stay["id"]))
    world = network.world
    from tests.shelters.conftest import assign, make_shelter

    other_house, _ = make_shelter(world, cipher, network.ngo, name="Other house")
    elsewhere = world.user(network.ngo, Role.SHELTER_STAFF)
    assign(world, other_house, elsewhere)
    counselor = world.user(network.ngo, Role.COUNSELOR)
    case_id = make_case(db, counselor)
    url = f"/organisations/{network.ngo.id}/referrals"
    network.login(client, counselor)
    made = client.post(
        url,
        json={
            "source": "case",
            "case_id": str(case_id),
            "to_organisation_id": str(network.csw.id),
            "consent": {"scope": []},
        },
    )
    assert made.status_code == 201
    from_case = made.json()["id"]

    def seen_by(user: Any) -> set[str]:
        network.login(client, user)
        listed = {r["id"] for r in client.get(url).json()}
        for referral_id in (str(admitted.id), from_case):
            status = client.get(f"{url}/{referral_id}").status_code
            assert status == (200 if referral_id in listed else 404), (user.email, referral_id)
        return listed

    assert seen_by(network.place.supervisor) == {str(admitted.id), from_case}
    assert seen_by(network.place.staff) == {str(admitted.id)}  # her shelter's stay
    assert seen_by(elsewhere) == set()  # another shelter's staff
    assert seen_by(counselor) == {from_case}
    assert seen_by(world.user(network.ngo, Role.COUNSELOR)) == {from_case}


def test_referrals_go_only_where_their_basis_allows(
    client: TestClient, network: Network, db: Session
) -> None:
    stay = admit(client, network, admission(7))
    general, children = referrals_of(db, uuid.UUID(stay["id"]))
    partner = network.world.organisation(OrganisationKind.PARTNER, name="Health centre (test)")
    other_csw = network.world.organisation(OrganisationKind.CSW, name="CSW Other (test)")
    network.login(client, network.place.supervisor)
    base = f"/organisations/{network.ngo.id}/referrals"
    # An admission's referral goes to a CSW, and consent given for one recipient is not moved.
    refused = client.put(
        f"{base}/{general.id}/recipient", json={"to_organisation_id": str(partner.id)}
    )
    assert (refused.status_code, refused.json()["message"]) == (
        422,
        "The competent body must be a Center for Social Work (kind csw).",
    )
    client.put(f"{base}/{general.id}/consent", json={"scope": ["identity"]})
    moved = client.put(
        f"{base}/{general.id}/recipient", json={"to_organisation_id": str(other_csw.id)}
    )
    assert moved.status_code == 200
    assert (moved.json()["consent_scope"], moved.json()["consent_recorded_at"]) == ([], None)
    # A child at risk is reported to a CSW's child-protection team, without consent; not
    # anywhere else.
    case_id = str(make_case(db, network.place.supervisor))
    case = {"source": "case", "case_id": case_id, "legal_basis": "child_at_risk"}
    for body in (
        {**case, "to_organisation_id": str(network.csw.id)},  # the general team
        {**case, "to_organisation_id": str(partner.id), "team": "child_protection"},
    ):
        response = client.post(base, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["message"].startswith("legal_basis: a child at risk is referred")
    ok = client.post(
        base, json={**case, "to_organisation_id": str(network.csw.id), "team": "child_protection"}
    )
    assert ok.status_code == 201, ok.text
    far = client.post(
        base,
        json={
            "source": "case",
            "case_id": case_id,
            "to_organisation_id": str(partner.id),
            "consent": {"scope": []},
            "respond_by": "9999-12-31T12:00:00Z",
        },
    )
    assert (far.status_code, far.json()["message"]) == (
        422,
        "respond_by: must be in the future, and at most 90 days ahead.",
    )
    # The CSW's decision moves a stay only through the admission's own referral.
    network.login(client, network.officer)
    decision = {"outcome": "other_measure", "decision_date": "2026-03-02", "decision_number": "9"}
    wrong = client.post(
        f"/referrals/inbox/{children.id}/decision",
        json={**decision, "stay_until": "2026-03-06T10:00:00+01:00"},
    )
    assert (wrong.status_code, wrong.json()["message"]) == (
        422,
        "stay_until: only the CSW's decision on an admission moves a stay.",
    )
    blank = client.post(
        f"/referrals/inbox/{children.id}/decision", json={**decision, "decision_number": "   "}
    )
    assert (blank.status_code, blank.json()["message"]) == (
        422,
        "decision_number: must not be blank",
    )
    db.refresh(children)
    assert children.status is ReferralStatus.OPEN
