"""Marker strings sealed in every sealed field of a case never reach an outsider's response, the
logs, the outbox or the audit table; the audit chain stays whole."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from core import audit
from core.audit import AuditEvent
from core.db import UnitOfWork
from notifications.models import OutboxMessage
from safety_plans.service import sweep
from tests.safety_plans.conftest import Clinic, all_no, ok
from tests.safety_plans.test_route_matrix import ROUTES, SUPERVISE, Targets

MARKER = re.compile(r"MARKER-[A-Z]+")
CASE_MARKERS = {
    "MARKER-NAME",
    "MARKER-NOTE",
    "MARKER-JUDGEMENT",
    "MARKER-SAFECONTACT",
    "MARKER-CODEWORD",
    "MARKER-DECISIONS",
    "MARKER-ESCAPE",
    "MARKER-STEP",
    "MARKER-PURPOSE",
    "MARKER-NEIGHBOURPURPOSE",
}
OPENING_MARKERS = {"MARKER-REASON", "MARKER-REVIEW"}
BASE_URL = "https://sigurna.example.org"


def seal_markers(c: Clinic) -> Targets:
    """A case with a marker in every sealed field; the targets the routes name."""
    t = Targets()
    c.case = c.open_case(name="MARKER-NAME Ana", team=[str(c.member.id), str(c.other.id)])
    t.spare_member = str(c.other.id)
    ok(
        c.client.post(
            c.url + "/contacts",
            json={
                "channel": "office_call",
                "occurred_at": (c.now - timedelta(hours=1)).isoformat(),
                "note": "MARKER-NOTE she was calm",
            },
        ),
        201,
    )
    ok(
        c.client.post(
            c.url + "/risk-assessments",
            json={
                "answers": all_no(),
                "judgement": "high",
                "judgement_reason": "MARKER-JUDGEMENT he found her new flat",
            },
        ),
        201,
    )
    plan = {
        "safe_contacts": [{"name": "MARKER-SAFECONTACT", "how": "at work"}],
        "code_word": "MARKER-CODEWORD",
        "escape_plan": {"where_to_go": "MARKER-ESCAPE"},
        "her_decisions": "MARKER-DECISIONS stays for now",
    }
    ok(c.client.post(c.url + "/plan", json=plan), 201)
    ok(c.client.post(c.url + "/plan", json={**plan, "safe_to_call": True}), 201)
    t.step_id = ok(
        c.client.post(
            c.url + "/steps",
            json={
                "agency": "police",
                "what": "MARKER-STEP ask for the order",
                "due_at": (c.now + timedelta(days=2)).isoformat(),
            },
        ),
        201,
    )["id"]
    c.consent(c.csw, ["risk"], purpose="MARKER-PURPOSE accommodation")
    t.spare_consent = c.consent(c.neighbour, ["identity"], purpose="MARKER-NEIGHBOURPURPOSE")["id"]
    opening = c.break_glass(c.supervisor, reason="MARKER-REASON she called the night line")
    t.opening_id = opening["id"]
    c.as_(c.supervisor2)
    ok(
        c.client.post(
            f"{c.org}/break-glass/{t.opening_id}/sign-off", json={"note": "MARKER-REVIEW fine"}
        )
    )
    t.task_id = "00000000-0000-0000-0000-000000000000"
    t.stay_to_link = "00000000-0000-0000-0000-000000000000"
    return t


def markers_in(text: str) -> set[str]:
    return set(MARKER.findall(text))


def check_stores(db: Session, caplog: pytest.LogCaptureFixture) -> None:
    db.expire_all()
    assert markers_in(caplog.text) == set()
    for message in db.exec(select(OutboxMessage)).all():
        assert markers_in(f"{message.subject} {message.body} {message.recipient}") == set()
    for event in db.exec(select(AuditEvent)).all():
        assert markers_in(repr(event.model_dump())) == set()
    checked, problems = audit.verify(db)
    assert problems == []
    assert checked == len(db.exec(select(AuditEvent.id)).all())


OUTSIDERS = ["other-counselor", "other-org", "csw-risk-consent", "admin", "expired-break-glass"]


@pytest.mark.parametrize("who", OUTSIDERS)
def test_no_marker_reaches_an_outsider_the_logs_the_outbox_or_the_audit(
    clinic: Clinic,
    who: str,
    caplog: pytest.LogCaptureFixture,
    db: Session,
    uow: UnitOfWork,
) -> None:
    caplog.set_level(logging.DEBUG, logger="sigurna")
    c = clinic
    t = seal_markers(c)
    # The team sees them (the markers are really there to be found).
    c.as_(c.owner)
    assert markers_in(c.client.get(c.url).text) == {"MARKER-NAME"}
    assert markers_in(c.client.get(c.url + "/plan").text) == {
        "MARKER-SAFECONTACT",
        "MARKER-CODEWORD",
        "MARKER-DECISIONS",
        "MARKER-ESCAPE",
    }
    assert markers_in(c.client.get(c.url + "/consents").text) == {
        "MARKER-PURPOSE",
        "MARKER-NEIGHBOURPURPOSE",
    }
    user = {
        "other-counselor": c.spare,
        "other-org": c.outsider,
        "csw-risk-consent": c.officer,
        "admin": c.admin,
        "expired-break-glass": c.supervisor,
    }[who]
    c.world.clock.advance(timedelta(hours=1))  # the supervisor's opening is over
    c.as_(user)
    seen: dict[str, set[str]] = {}
    for (method, path), route in ROUTES.items():
        if method not in ("GET", "PATCH") and not path.endswith(("/contacts", "/consents")):
            continue
        response = c.client.request(method, route.url(c, t), json=route.body(c, t))
        found = markers_in(response.text)
        if who == "expired-break-glass" and route.kind == SUPERVISE:
            # The review list shows supervisors why a case was opened, never the case itself.
            found -= OPENING_MARKERS
        if who == "csw-risk-consent" and path == "/shared-cases/{case_id}":
            # The recipient reads the purpose of the consent made to her organisation.
            assert response.status_code == 200, response.text
            assert found == {"MARKER-PURPOSE"}
            found = set()
        if found:
            seen[f"{method} {path}"] = found
    assert seen == {}
    # The reminders: a high assessment's and the step's, at their instants.
    c.world.clock.advance(timedelta(days=8))
    assert sweep.sweep(uow, now=c.now, base_url=BASE_URL) == 3
    topics = sorted(m.topic for m in db.exec(select(OutboxMessage)).all())
    assert topics.count("case.break_glass") == 2  # the owner and the other supervisor
    assert topics.count("case.reassess_soon") == 1
    assert topics.count("case.reassess_overdue") == 1
    assert topics.count("case.step_overdue") == 1
    check_stores(db, caplog)
