"""A marker in the mother's and the children's names reaches the child-protection team and
nobody else: not another reader at the centre, not a message in the outbox, not a log line,
not the audit log."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.db import UnitOfWork
from core.logs import ConsoleFormatter, JsonFormatter
from core.models import Role
from tests.referrals.conftest import Network, bearer, join_team, outbox_rows, referrals_of
from tests.referrals.test_referrals import admit, sweep, utc
from tests.shelters.conftest import admission


def _rendered(records: list[logging.LogRecord]) -> str:
    """Every way a record can reach an operator: both formatters and its raw attributes."""
    json_formatter, console = JsonFormatter(), ConsoleFormatter()
    parts: list[str] = []
    for record in records:
        parts += [json_formatter.format(record), console.format(record)]
        parts += [repr(value) for value in record.__dict__.values()]
    return "\n".join(parts)


def test_no_name_reaches_a_reader_outside_the_team_a_message_or_a_log(
    client: TestClient,
    network: Network,
    db: Session,
    clock: FrozenClock,
    uow: UnitOfWork,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    marker = "Zqsurname" + uuid.uuid4().hex[:10]
    body = admission(name=f"Ana {marker}")
    body["children"] = [
        {"name": f"Zqmila {marker}", "sex": "female", "age": 5},
        {"name": f"Zqluka {marker}", "sex": "male", "age": 1},
    ]
    stay = admit(client, network, body)
    general, children = referrals_of(db, uuid.UUID(stay["id"]))
    world = network.world
    member = world.user(network.csw, Role.CSW_OFFICER)
    supervisor = world.user(network.csw, Role.SUPERVISOR)
    token = bearer(world, network.csw, Role.CSW_OFFICER)
    inbox = f"/referrals/inbox/{children.id}"
    answers: list[str] = []
    for user in (network.officer, supervisor):
        network.login(client, user)
        answers += [client.get(inbox).text, client.get("/referrals/inbox").text]
        answers.append(client.get(f"/referrals/inbox/{general.id}").text)
    client.cookies.clear()
    answers.append(client.get(inbox, headers=token.headers).text)
    network.login(client, network.officer)
    answers.append(client.post(inbox + "/acknowledge").text)
    answers.append(client.post(inbox + "/information-requests", json={"text": "School?"}).text)
    network.login(client, network.csw_admin)
    answers.append(client.get("/referrals/child-protection-team").text)
    network.login(client, network.place.supervisor)  # the sender's own side carries no dossier
    answers.append(client.get(f"/organisations/{network.ngo.id}/referrals/{children.id}").text)
    assert len(answers) == 11
    for answer in answers:
        assert marker not in answer
        assert "Zqmila" not in answer
        assert "Zqluka" not in answer
    join_team(client, network.csw_admin, member, network)
    network.login(client, member)  # the team identifies the children (and so the surname)
    assert client.get(inbox).text.count(marker) == 2
    for day in range(10):
        clock.set(utc("2026-03-02 09:00") + timedelta(days=day))
        sweep(uow, clock)
    messages = outbox_rows(db)
    topics = {m.topic for m in messages if children.reference in m.body}
    assert topics == {
        "referral.created",
        "referral.information_requested",
        "referral.before_3_days",
        "referral.before_1_day",
        "referral.deadline",
        "referral.overdue",
    }
    for message in messages:
        sent = f"{message.body}{message.subject}{message.recipient}{message.idempotency_key}"
        assert marker not in sent + message.topic
    assert marker not in _rendered(caplog.records)
    reasons = " ".join(str(r) for r in db.exec(select(AuditEvent.reason)).all())
    assert marker not in reasons
