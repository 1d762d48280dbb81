"""The child-protection referral has its admission's deadline and the same reminder ladder as
the admission's referral: at creation, 3 days and 1 day before, at the deadline, then daily
while overdue, escalated to the centre's head and the sender's supervisors. The rows are swept
by the one idempotent sweep, and the team's decision stops them."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from core.clock import FrozenClock
from core.db import UnitOfWork
from core.models import Role
from referrals.models import Referral, ReferralReminder, ReminderKind, ReminderState, Team
from tests.referrals.conftest import (
    BASE_URL,
    CHILD_TEAM_EMAIL,
    CSW_HEAD_EMAIL,
    Network,
    join_team,
    outbox_rows,
    referrals_of,
    reminders,
)
from tests.referrals.test_referrals import admit, at, sweep, utc
from tests.shelters.conftest import admission

DUE = "2026-03-09 10:00 (Europe/Podgorica)"
LINES = {
    ReminderKind.CREATED: "New referral {ref}. Decision due by {due}.",
    ReminderKind.BEFORE_3_DAYS: "Reminder: referral {ref} needs a decision by {due}.",
    ReminderKind.BEFORE_1_DAY: "Reminder: referral {ref} needs a decision by {due}.",
    ReminderKind.DEADLINE: "Deadline now: referral {ref} needed a decision by {due}.",
    ReminderKind.OVERDUE: "OVERDUE (day 1): referral {ref} needed a decision by {due}.",
}


def _sent_for(db: Session, row: ReferralReminder) -> list[tuple[str, str]]:
    return sorted(
        (m.recipient, m.body)
        for m in outbox_rows(db)
        if m.idempotency_key.startswith(f"referral:{row.id}:")
    )


def _expected(row: ReferralReminder, referral: Referral, network: Network) -> list[tuple[str, str]]:
    text = f"Sigurna: {LINES[row.kind]} Log in to see it: {BASE_URL}/".format(
        ref=referral.reference, due=DUE
    )
    payload = json.dumps(
        {
            "deadline": "2026-03-09T09:00:00+00:00",
            "login": f"{BASE_URL}/",
            "overdue_day": row.sequence or None,
            "referral": referral.reference,
            "type": f"referral.{row.kind}",
        },
        separators=(",", ":"),
    )
    sent = [(CHILD_TEAM_EMAIL, text), (network.contacts["webhook"].address, payload)]
    if row.kind is ReminderKind.OVERDUE:  # the centre's head, and the shelter's supervisor
        sent += [(CSW_HEAD_EMAIL, text), ("supervisor@ngo.example.org", text)]
    return sorted(sent)


def test_the_child_protection_referral_climbs_the_admissions_reminder_ladder(
    client: TestClient, network: Network, db: Session, clock: FrozenClock, uow: UnitOfWork
) -> None:
    stay = admit(client, network, admission(5, 1))
    general, children = referrals_of(db, uuid.UUID(stay["id"]))
    assert children.team is Team.CHILD_PROTECTION
    assert children.deadline == general.deadline == utc("2026-03-09 09:00")
    rows = reminders(db, children)
    assert [(r.kind, r.sequence, r.due_at, r.state) for r in rows] == [
        (ReminderKind.CREATED, 0, utc("2026-03-02 09:00"), ReminderState.PENDING),
        (ReminderKind.BEFORE_3_DAYS, 0, utc("2026-03-06 09:00"), ReminderState.PENDING),
        (ReminderKind.BEFORE_1_DAY, 0, utc("2026-03-08 09:00"), ReminderState.PENDING),
        (ReminderKind.DEADLINE, 0, utc("2026-03-09 09:00"), ReminderState.PENDING),
        (ReminderKind.OVERDUE, 1, utc("2026-03-10 09:00"), ReminderState.PENDING),
    ]
    for row in rows:
        if row.due_at > clock.now():
            clock.set(row.due_at - timedelta(seconds=1))
            assert sweep(uow, clock) == 0
            clock.set(row.due_at)
        assert sweep(uow, clock) == 2  # this referral's reminder and the admission's
        assert _sent_for(db, row) == _expected(row, children, network)
        db.refresh(row)
        assert (row.state, row.done_at) == (ReminderState.DONE, row.due_at)
        assert sweep(uow, clock) == 0  # idempotent: nothing twice
    following = reminders(db, children)[-1]
    assert (following.kind, following.sequence, following.due_at, following.state) == (
        ReminderKind.OVERDUE,
        2,
        utc("2026-03-11 09:00"),
        ReminderState.PENDING,
    )


def test_the_teams_decision_stops_the_ladder(
    client: TestClient, network: Network, db: Session, clock: FrozenClock, uow: UnitOfWork
) -> None:
    stay = admit(client, network, admission(3))
    _, children = referrals_of(db, uuid.UUID(stay["id"]))
    clock.set(utc("2026-03-10 09:00"))
    assert sweep(uow, clock) == 10  # each referral's five rows (created ... overdue day 1)
    member = network.world.user(network.csw, Role.CSW_OFFICER)
    join_team(client, network.csw_admin, member, network)
    network.login(client, member)
    decided = client.post(
        f"/referrals/inbox/{children.id}/decision",
        json={"outcome": "other_measure", "decision_date": "2026-03-10", "decision_number": "4"},
    )
    assert decided.status_code == 200, decided.text
    assert [(r.kind, r.sequence, r.state) for r in reminders(db, children)][-1] == (
        ReminderKind.OVERDUE,
        2,
        ReminderState.CANCELLED,
    )
    before = len(outbox_rows(db))
    clock.set(utc("2026-03-11 09:00"))
    assert sweep(uow, clock) == 1  # the admission's own referral, still undecided
    assert all(children.reference not in m.body for m in outbox_rows(db)[before:])


@pytest.mark.parametrize(
    ("admitted", "expected"),
    [
        # The night the clocks go back: the deadline is 23:30 local a week on, 169 hours later.
        (
            "2027-10-30 23:30",
            [
                "2027-10-30 21:30",
                "2027-11-03 22:30",
                "2027-11-05 22:30",
                "2027-11-06 22:30",
                "2027-11-07 22:30",
            ],
        ),
        # Spring: the deadline is the Saturday before the change, the first overdue day after.
        (
            "2027-03-20 23:30",
            [
                "2027-03-20 22:30",
                "2027-03-24 22:30",
                "2027-03-26 22:30",
                "2027-03-27 22:30",
                "2027-03-28 21:30",
            ],
        ),
    ],
    ids=["autumn", "spring"],
)
def test_its_reminders_fall_at_exact_local_instants_across_daylight_saving(
    client: TestClient,
    network: Network,
    db: Session,
    clock: FrozenClock,
    admitted: str,
    expected: list[str],
) -> None:
    clock.set(at(admitted))
    stay = admit(client, network, admission(2))
    general, children = referrals_of(db, uuid.UUID(stay["id"]))
    dues: list[datetime] = [r.due_at for r in reminders(db, children)]
    assert dues == [utc(e) for e in expected]
    assert dues == [r.due_at for r in reminders(db, general)]
