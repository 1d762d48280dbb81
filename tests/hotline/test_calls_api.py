"""The call log and callback tasks as counselors use them after a call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.models import Role
from hotline.models import CallbackTask, TaskStatus
from tests.conftest import World, act_as
from tests.hotline.conftest import CALLER, Line, call_params, twilio

EVENING = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)


def _missed_call(client: TestClient, sid: str) -> None:
    twilio(client, "/hotline/voice", call_params(sid))
    twilio(client, "/hotline/voice/status", call_params(sid, CallStatus="completed"))


def _last_audit(db: Session) -> AuditEvent:
    event = db.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
    assert event is not None
    return event


def test_the_call_log_shows_two_digits_and_spots_a_repeat_caller(
    client: TestClient, line: Line, world: World, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    _missed_call(client, "CA" + "1" * 32)
    clock.advance(timedelta(minutes=10))
    _missed_call(client, "CA" + "2" * 32)
    counselor = world.user(line.organisation, Role.COUNSELOR)
    act_as(client, world.login_cookie(counselor))
    response = client.get(f"/organisations/{line.organisation.id}/calls")
    assert response.status_code == 200
    calls = response.json()
    assert [c["caller_last_two_digits"] for c in calls] == ["56", "56"]
    assert [c["earlier_calls_from_same_number"] for c in calls] == [1, 0]
    assert CALLER not in response.text
    assert CALLER[1:] not in response.text
    detail = client.get(f"/organisations/{line.organisation.id}/calls/{calls[0]['id']}").json()
    assert [r["kind"] for r in detail["rungs"]] == ["primary"]


def test_revealing_a_number_is_explicit_and_audited(
    client: TestClient, line: Line, world: World, clock: FrozenClock, db: Session
) -> None:
    clock.set(EVENING)
    _missed_call(client, "CA" + "1" * 32)
    supervisor = world.user(line.organisation, Role.SUPERVISOR)
    act_as(client, world.login_cookie(supervisor))
    call_id = client.get(f"/organisations/{line.organisation.id}/calls").json()[0]["id"]
    url = f"/organisations/{line.organisation.id}/calls/{call_id}/reveal-caller"
    missing = client.post(url, json={})
    assert missing.status_code == 422
    assert "reason" in missing.json()["message"]
    revealed = client.post(url, json={"reason": "calling back as agreed"})
    assert revealed.status_code == 200
    assert revealed.json() == {"value": CALLER}
    event = _last_audit(db)
    assert (event.action, event.subject_id, event.reason) == (
        "call.caller_revealed",
        call_id,
        "calling back as agreed",
    )
    assert event.actor_id == str(supervisor.id)
    assert CALLER not in (event.reason or "")


def test_account_admins_and_other_organisations_see_no_calls(
    client: TestClient, line: Line, world: World, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    _missed_call(client, "CA" + "1" * 32)
    admin = world.user(line.organisation, Role.ADMIN)
    act_as(client, world.login_cookie(admin))
    assert client.get(f"/organisations/{line.organisation.id}/calls").status_code == 403
    stranger_org = world.organisation()
    stranger = world.user(stranger_org, Role.SUPERVISOR)
    act_as(client, world.login_cookie(stranger))
    assert client.get(f"/organisations/{line.organisation.id}/calls").status_code == 404
    assert client.get(f"/organisations/{stranger_org.id}/calls").json() == []


def test_classifying_a_call(
    client: TestClient, line: Line, world: World, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    _missed_call(client, "CA" + "1" * 32)
    act_as(client, world.login_cookie(line.primary))
    calls_url = f"/organisations/{line.organisation.id}/calls"
    call_id = client.get(calls_url).json()[0]["id"]
    bad = client.patch(f"{calls_url}/{call_id}", json={"caller_type": "abuser"})
    assert bad.status_code == 422
    good = client.patch(
        f"{calls_url}/{call_id}", json={"caller_type": "witness", "urgency": "acute"}
    )
    assert good.status_code == 200
    assert (good.json()["caller_type"], good.json()["urgency"]) == ("witness", "acute")


def test_a_callback_task_needs_an_outcome_to_close(
    client: TestClient, line: Line, world: World, clock: FrozenClock, db: Session
) -> None:
    clock.set(EVENING)
    _missed_call(client, "CA" + "1" * 32)
    act_as(client, world.login_cookie(line.primary))
    tasks_url = f"/organisations/{line.organisation.id}/callback-tasks"
    tasks = client.get(tasks_url).json()
    assert len(tasks) == 1
    task = tasks[0]
    assert task["safe_to_call_back"] == "unknown"
    assert task["overdue"] is False
    assert task["assigned_user_id"] == str(line.primary.id)
    clock.advance(timedelta(minutes=15))
    assert client.get(tasks_url).json()[0]["overdue"] is True

    not_safe = client.patch(f"{tasks_url}/{task['id']}", json={"safe_to_call_back": "no"})
    assert not_safe.json()["safe_to_call_back"] == "no"
    refused = client.post(f"{tasks_url}/{task['id']}/close", json={})
    assert refused.status_code == 422
    assert "cannot be closed without an outcome" in refused.json()["message"]
    stored = db.exec(select(CallbackTask)).one()
    assert stored.status == TaskStatus.OPEN
    closed = client.post(f"{tasks_url}/{task['id']}/close", json={"outcome": "not_safe"})
    assert closed.status_code == 200
    assert (closed.json()["status"], closed.json()["outcome"]) == ("closed", "not_safe")
    assert client.get(tasks_url).json() == []
    assert _last_audit(db).action == "callback_task.closed"
