"""The counselor's pages: on duty, callback tasks, the call log, her shifts and her duty phone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.config import Settings
from core.models import Role
from hotline.models import (
    CalendarFeed,
    Call,
    CallbackOutcome,
    CallbackTask,
    CallerType,
    DutyPhone,
    SafeToCallBack,
    TaskStatus,
    Urgency,
)
from notifications.models import OutboxMessage
from tests.conftest import World
from tests.console.conftest import browse_as, post_form
from tests.hotline.conftest import CALLER, Line, call_params, make_line, twilio

EVENING = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)


@pytest.fixture
def line(world: World) -> Line:
    now = world.clock.now()
    return make_line(world, shift_from=now - timedelta(days=1), shift_until=now + timedelta(days=1))


def _missed_call(client: TestClient, sid: str) -> None:
    twilio(client, "/hotline/voice", call_params(sid))
    twilio(client, "/hotline/voice/status", call_params(sid, CallStatus="completed"))


def _tasks(db: Session) -> list[CallbackTask]:
    return list(db.exec(select(CallbackTask).order_by(col(CallbackTask.due_at))).all())


def _last_audit(db: Session) -> AuditEvent | None:
    return db.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()


def test_a_night_shift_marks_a_task_unsafe_and_closes_another(
    client: TestClient,
    line: Line,
    world: World,
    clock: FrozenClock,
    db: Session,
    settings: Settings,
) -> None:
    clock.set(EVENING)
    _missed_call(client, "CA" + "1" * 32)
    clock.advance(timedelta(minutes=5))
    _missed_call(client, "CA" + "2" * 32)
    first, second = _tasks(db)
    browse_as(client, world.login_cookie(line.primary, second_factor=True))
    base = f"/console/o/{line.organisation.id}/duty"

    shown = client.get(base)
    assert shown.status_code == 200
    assert first.short_ref in shown.text
    assert second.short_ref in shown.text
    assert "Primary Person" in shown.text
    assert "Backup Person" in shown.text
    assert "<legend>Safe to call back?</legend>" in shown.text
    assert 'aria-current="page">On duty</a>' in shown.text
    assert CALLER not in shown.text

    saved = post_form(client, settings, f"{base}/tasks/{first.id}", {"safe_to_call_back": "no"})
    assert saved.status_code == 303
    assert saved.headers["location"] == f"{base}?done=task_saved"
    db.refresh(first)
    assert first.safe_to_call_back == SafeToCallBack.NO
    after = client.get(saved.headers["location"])
    assert "The callback task is saved." in after.text
    assert '<span class="tag no">No</span>' in after.text

    refused = post_form(client, settings, f"{base}/tasks/{second.id}/close", {"outcome": ""})
    assert refused.status_code == 422
    assert "cannot be closed without an outcome" in refused.text
    db.refresh(second)
    assert second.status == TaskStatus.OPEN

    closed = post_form(client, settings, f"{base}/tasks/{second.id}/close", {"outcome": "reached"})
    assert closed.status_code == 303
    assert closed.headers["location"] == f"{base}?done=task_closed"
    db.refresh(second)
    assert (second.status, second.outcome) == (TaskStatus.CLOSED, CallbackOutcome.REACHED)
    remaining = client.get(base)
    assert first.short_ref in remaining.text
    assert second.short_ref not in remaining.text


def test_a_bad_safe_answer_changes_nothing(
    client: TestClient,
    line: Line,
    world: World,
    clock: FrozenClock,
    db: Session,
    settings: Settings,
) -> None:
    clock.set(EVENING)
    _missed_call(client, "CA" + "1" * 32)
    [task] = _tasks(db)
    browse_as(client, world.login_cookie(line.primary, second_factor=True))
    base = f"/console/o/{line.organisation.id}/duty"
    before = _last_audit(db)
    bad = post_form(client, settings, f"{base}/tasks/{task.id}", {"safe_to_call_back": "maybe"})
    assert bad.status_code == 422
    assert "safe_to_call_back" in bad.text
    db.refresh(task)
    assert task.safe_to_call_back == SafeToCallBack.UNKNOWN
    assert _last_audit(db) == before
    forged = client.post(f"{base}/tasks/{task.id}", data={"safe_to_call_back": "no"})
    assert forged.status_code == 403
    db.refresh(task)
    assert task.safe_to_call_back == SafeToCallBack.UNKNOWN


def test_the_duty_pages_answer_as_the_api_does(
    client: TestClient, line: Line, world: World, settings: Settings
) -> None:
    org = line.organisation.id
    admin = world.user(line.organisation, Role.ADMIN)
    browse_as(client, world.login_cookie(admin, second_factor=True))
    for path in ("duty", "calls", "duty/rota", "duty/phone"):
        assert client.get(f"/console/o/{org}/{path}").status_code == 403
        assert client.get(f"/organisations/{org}/callback-tasks").status_code == 403
    stranger = world.user(world.organisation(), Role.SUPERVISOR)
    browse_as(client, world.login_cookie(stranger, second_factor=True))
    assert client.get(f"/console/o/{org}/duty").status_code == 404
    assert client.get(f"/console/o/{org}/calls").status_code == 404
    browse_as(client, None)
    anonymous = client.get(f"/console/o/{org}/duty", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/console/login?next=/console/o/{org}/duty"


def test_the_call_log_reveals_a_number_only_with_a_reason(
    client: TestClient,
    line: Line,
    world: World,
    clock: FrozenClock,
    db: Session,
    settings: Settings,
) -> None:
    clock.set(EVENING)
    _missed_call(client, "CA" + "1" * 32)
    call = db.exec(select(Call)).one()
    browse_as(client, world.login_cookie(line.supervisor, second_factor=True))
    calls = f"/console/o/{line.organisation.id}/calls"
    listing = client.get(calls)
    assert listing.status_code == 200
    assert f"{calls}/{call.id}" in listing.text
    assert "<td>56" in listing.text
    assert CALLER not in listing.text
    assert CALLER[1:] not in listing.text
    detail = client.get(f"{calls}/{call.id}")
    assert detail.status_code == 200
    assert CALLER not in detail.text
    assert "Reveal the full number" in detail.text

    before = _last_audit(db)
    short = post_form(client, settings, f"{calls}/{call.id}/reveal-caller", {"reason": "why"})
    assert short.status_code == 422
    assert CALLER not in short.text
    assert _last_audit(db) == before

    revealed = post_form(
        client, settings, f"{calls}/{call.id}/reveal-caller", {"reason": "calling back as agreed"}
    )
    assert revealed.status_code == 200
    assert f'<p class="secret">{CALLER}</p>' in revealed.text
    event = _last_audit(db)
    assert event is not None
    assert (event.action, event.subject_id, event.reason) == (
        "call.caller_revealed",
        str(call.id),
        "calling back as agreed",
    )
    assert CALLER not in client.get(f"{calls}/{call.id}").text


def test_classifying_a_call(
    client: TestClient,
    line: Line,
    world: World,
    clock: FrozenClock,
    db: Session,
    settings: Settings,
) -> None:
    clock.set(EVENING)
    _missed_call(client, "CA" + "1" * 32)
    call = db.exec(select(Call)).one()
    browse_as(client, world.login_cookie(line.primary, second_factor=True))
    url = f"/console/o/{line.organisation.id}/calls/{call.id}"
    bad = post_form(client, settings, url, {"caller_type": "abuser"})
    assert bad.status_code == 422
    db.refresh(call)
    assert (call.caller_type, call.urgency) == (None, None)
    good = post_form(client, settings, url, {"caller_type": "witness", "urgency": "acute"})
    assert good.status_code == 303
    assert good.headers["location"] == f"{url}?done=call_classified"
    db.refresh(call)
    assert (call.caller_type, call.urgency) == (CallerType.WITNESS, Urgency.ACUTE)
    page = client.get(good.headers["location"])
    assert '<option value="witness" selected>Witness</option>' in page.text


def test_her_shifts_and_a_calendar_link_shown_once(
    client: TestClient, line: Line, world: World, db: Session, settings: Settings
) -> None:
    browse_as(client, world.login_cookie(line.backup, second_factor=True))
    url = f"/console/o/{line.organisation.id}/duty/rota"
    shown = client.get(url)
    assert shown.status_code == 200
    assert "SOS line" in shown.text
    assert "<td>Backup</td>" in shown.text
    created = post_form(client, settings, f"{url}/calendar-feed")
    assert created.status_code == 200
    link = re.search(r'<p class="secret">([^<]+)</p>', created.text)
    assert link is not None
    assert "/calendar/" in link.group(1) or link.group(1).startswith("http")
    feed = db.exec(select(CalendarFeed).where(CalendarFeed.user_id == line.backup.id)).one()
    assert feed.revoked_at is None
    assert link.group(1) not in client.get(url).text


def test_she_sets_and_confirms_her_duty_phone(
    client: TestClient, line: Line, world: World, db: Session, settings: Settings
) -> None:
    counselor = world.user(line.organisation, Role.COUNSELOR, display_name="New Person")
    browse_as(client, world.login_cookie(counselor, second_factor=True))
    url = f"/console/o/{line.organisation.id}/duty/phone"
    assert client.get(url).status_code == 200
    bad = post_form(client, settings, url, {"number": "not a number"})
    assert bad.status_code == 422
    assert db.exec(select(DutyPhone).where(DutyPhone.user_id == counselor.id)).first() is None
    sent = post_form(client, settings, url, {"number": "+61 491 570 019"})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{url}?done=phone_code_sent"
    message = db.exec(select(OutboxMessage).where(OutboxMessage.recipient == "+61491570019")).one()
    found = re.search(r"code is (\d{6})\.", message.body)
    assert found is not None
    code = found.group(1)
    wrong_code = "000000" if code != "000000" else "111111"
    wrong = post_form(client, settings, f"{url}/verify", {"code": wrong_code})
    assert wrong.status_code == 422
    assert "code: the code is wrong." in wrong.text
    phone = db.exec(select(DutyPhone).where(DutyPhone.user_id == counselor.id)).one()
    assert (phone.code_attempts, phone.verified_at) == (1, None)
    right = post_form(client, settings, f"{url}/verify", {"code": code})
    assert right.status_code == 303
    assert right.headers["location"] == f"{url}?done=phone_verified"
    db.refresh(phone)
    assert phone.verified_at is not None
