"""More of the duty pages: her duty phone's number and state, revealing a voicemail, and a
hotline's closed days (each answering as the API route it mirrors)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from core.audit import AuditEvent
from core.clock import FrozenClock
from core.config import Settings
from core.crypto import cipher_from_settings
from core.models import Role
from hotline import service
from hotline.models import Call, DutyPhone, HotlineClosure
from tests.conftest import World
from tests.console.conftest import browse_as, post_form
from tests.console.test_duty_pages import EVENING
from tests.hotline.conftest import (
    BACKUP_PHONE,
    CALLER,
    PRIMARY_PHONE,
    SUPERVISOR_PHONE,
    Line,
    call_params,
    make_line,
    twilio,
)

VOICEMAIL = "https://api.twilio.com/rec/RE2"
NEW_NUMBER = "+61491570019"


@pytest.fixture
def line(world: World) -> Line:
    now = world.clock.now()
    return make_line(world, shift_from=now - timedelta(days=1), shift_until=now + timedelta(days=1))


def _last_audit_id(db: Session) -> int:
    return int(db.exec(select(func.coalesce(func.max(AuditEvent.id), 0))).one())


def _audit_since(db: Session, since: int) -> list[tuple[str, str | None, str | None]]:
    rows = db.exec(
        select(AuditEvent).where(col(AuditEvent.id) > since).order_by(col(AuditEvent.id))
    ).all()
    return [(e.action, e.subject_id, e.reason) for e in rows]


def _missed_call(client: TestClient, db: Session) -> Call:
    sid = "CA" + "1" * 32
    twilio(client, "/hotline/voice", call_params(sid))
    twilio(client, "/hotline/voice/status", call_params(sid, CallStatus="completed"))
    return db.exec(select(Call)).one()


# --- her duty phone --------------------------------------------------------------------------


def test_her_phone_page_shows_her_own_confirmed_number(
    client: TestClient, line: Line, world: World
) -> None:
    browse_as(client, world.login_cookie(line.primary, second_factor=True))
    shown = client.get(f"/console/o/{line.organisation.id}/duty/phone")
    assert shown.status_code == 200
    assert '<h2 id="current-phone">Your duty phone now</h2>' in shown.text
    assert f"<dd>{PRIMARY_PHONE}</dd>" in shown.text
    assert '<span class="tag yes">Yes: it rings when you are on duty</span>' in shown.text
    # Her colleagues' phones are theirs.
    assert BACKUP_PHONE not in shown.text
    assert SUPERVISOR_PHONE not in shown.text


def test_she_sets_a_phone_and_sees_it_unconfirmed(
    client: TestClient, line: Line, world: World, db: Session, settings: Settings
) -> None:
    counselor = world.user(line.organisation, Role.COUNSELOR, display_name="New Person")
    browse_as(client, world.login_cookie(counselor, second_factor=True))
    url = f"/console/o/{line.organisation.id}/duty/phone"
    empty = client.get(url)
    assert empty.status_code == 200
    assert "<p>You have no duty phone yet: set one below.</p>" in empty.text
    for number in (PRIMARY_PHONE, BACKUP_PHONE, SUPERVISOR_PHONE):
        assert number not in empty.text

    before = _last_audit_id(db)
    bad = post_form(client, settings, url, {"number": "+442079460101"})
    assert bad.status_code == 422
    assert "Please check what you entered." in bad.text
    assert "number: must be a mobile number" in bad.text
    assert "You have no duty phone yet: set one below." in bad.text
    assert db.exec(select(DutyPhone).where(DutyPhone.user_id == counselor.id)).first() is None
    assert _audit_since(db, before) == []

    sent = post_form(client, settings, url, {"number": "+61 491 570 019"})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{url}?done=phone_code_sent"
    after = client.get(sent.headers["location"])
    assert "A code was sent to your duty phone by SMS. Enter it below." in after.text
    assert f"<dd>{NEW_NUMBER}</dd>" in after.text
    assert (
        '<span class="tag no">No: it rings only once you enter the code sent to it</span>'
        in after.text
    )
    phone = db.exec(select(DutyPhone).where(DutyPhone.user_id == counselor.id)).one()
    assert (phone.number, phone.verified_at) == (NEW_NUMBER, None)


def test_her_phone_page_is_refused_as_the_api_refuses(
    client: TestClient, line: Line, world: World, settings: Settings, db: Session
) -> None:
    org = line.organisation.id
    admin = world.user(line.organisation, Role.ADMIN)
    stranger = world.user(world.organisation(), Role.SUPERVISOR)
    for user, status in ((admin, 403), (stranger, 404)):
        browse_as(client, world.login_cookie(user, second_factor=True))
        assert client.get(f"/organisations/{org}/duty-phones/me").status_code == status
        page = client.get(f"/console/o/{org}/duty/phone")
        assert page.status_code == status
        assert PRIMARY_PHONE not in page.text
        refused = post_form(
            client, settings, f"/console/o/{org}/duty/phone", {"number": NEW_NUMBER}
        )
        assert refused.status_code == status
        assert db.exec(select(DutyPhone).where(DutyPhone.user_id == user.id)).first() is None


# --- revealing a voicemail -------------------------------------------------------------------


def _voicemail(client: TestClient, db: Session, settings: Settings) -> Call:
    call = _missed_call(client, db)
    service.record_voicemail(
        db,
        call=call,
        cipher=cipher_from_settings(settings),
        recording_sid="RE" + "2" * 32,
        recording_url=VOICEMAIL,
        seconds=42,
    )
    return call


def test_a_voicemail_is_revealed_once_with_a_reason(
    client: TestClient,
    line: Line,
    world: World,
    clock: FrozenClock,
    db: Session,
    settings: Settings,
) -> None:
    clock.set(EVENING)
    call = _voicemail(client, db, settings)
    browse_as(client, world.login_cookie(line.primary, second_factor=True))
    url = f"/console/o/{line.organisation.id}/calls/{call.id}"
    detail = client.get(url)
    assert detail.status_code == 200
    assert "<h2>The voicemail</h2>" in detail.text
    assert '<label for="voicemail-reason">Why do you need to hear the voicemail?</label>' in (
        detail.text
    )
    assert f'action="{url}/reveal-voicemail"' in detail.text
    assert VOICEMAIL not in detail.text

    before = _last_audit_id(db)
    short = post_form(client, settings, f"{url}/reveal-voicemail", {"reason": "why"})
    assert short.status_code == 422
    assert "reason" in short.text
    assert VOICEMAIL not in short.text
    assert _audit_since(db, before) == []

    revealed = post_form(
        client, settings, f"{url}/reveal-voicemail", {"reason": "listening before calling back"}
    )
    assert revealed.status_code == 200
    assert "The voicemail's address, shown this once. Your reason is recorded." in (revealed.text)
    assert (
        f'<p class="secret"><a href="{VOICEMAIL}" rel="noreferrer noopener">{VOICEMAIL}</a></p>'
        in revealed.text
    )
    assert CALLER not in revealed.text
    assert _audit_since(db, before) == [
        ("call.voicemail_revealed", str(call.id), "listening before calling back")
    ]
    assert VOICEMAIL not in client.get(url).text


def test_a_call_without_voicemail_has_none_to_reveal(
    client: TestClient,
    line: Line,
    world: World,
    clock: FrozenClock,
    db: Session,
    settings: Settings,
) -> None:
    clock.set(EVENING)
    call = _missed_call(client, db)
    browse_as(client, world.login_cookie(line.supervisor, second_factor=True))
    url = f"/console/o/{line.organisation.id}/calls/{call.id}"
    assert "reveal-voicemail" not in client.get(url).text
    before = _last_audit_id(db)
    api = client.post(
        f"/organisations/{line.organisation.id}/calls/{call.id}/reveal-voicemail",
        json={"reason": "listening before calling back"},
    )
    assert api.status_code == 404
    answer = post_form(
        client, settings, f"{url}/reveal-voicemail", {"reason": "listening before calling back"}
    )
    assert answer.status_code == 404
    assert api.json()["message"] == (
        "Nothing is kept for this call (withheld, none left, or deleted after retention)."
    )
    assert "Nothing is kept for this call" in answer.text
    assert _audit_since(db, before) == []


def test_revealing_a_voicemail_is_refused_as_the_api_refuses(
    client: TestClient,
    line: Line,
    world: World,
    clock: FrozenClock,
    db: Session,
    settings: Settings,
) -> None:
    clock.set(EVENING)
    call = _voicemail(client, db, settings)
    org = line.organisation.id
    admin = world.user(line.organisation, Role.ADMIN)
    stranger = world.user(world.organisation(), Role.SUPERVISOR)
    before = _last_audit_id(db)
    reason = {"reason": "listening before calling back"}
    for user, status in ((admin, 403), (stranger, 404)):
        browse_as(client, world.login_cookie(user, second_factor=True))
        api = client.post(f"/organisations/{org}/calls/{call.id}/reveal-voicemail", json=reason)
        assert api.status_code == status
        page = post_form(
            client, settings, f"/console/o/{org}/calls/{call.id}/reveal-voicemail", reason
        )
        assert page.status_code == status
        assert VOICEMAIL not in page.text
    assert [a for a, _, _ in _audit_since(db, before) if a == "call.voicemail_revealed"] == []


# --- a hotline's closed days -----------------------------------------------------------------


def _closures(db: Session, line: Line) -> list[tuple[date, str]]:
    rows = db.exec(
        select(HotlineClosure)
        .where(HotlineClosure.hotline_id == line.hotline.id)
        .order_by(col(HotlineClosure.day))
    ).all()
    return [(c.day, c.reason) for c in rows]


def test_a_supervisor_adds_and_removes_a_closed_day(
    client: TestClient, line: Line, world: World, db: Session, settings: Settings
) -> None:
    browse_as(client, world.login_cookie(line.supervisor, second_factor=True))
    org = line.organisation.id
    url = f"/console/o/{org}/rota/{line.hotline.id}/closures"
    duty = client.get(f"/console/o/{org}/duty")
    assert f'<a href="{url}">Closed days</a>' in duty.text
    empty = client.get(url)
    assert empty.status_code == 200
    assert "<h1>Closed days of SOS line</h1>" in empty.text
    assert '<p class="muted">No closed days are set.</p>' in empty.text
    assert 'aria-current="page">Rota</a>' in empty.text

    before = _last_audit_id(db)
    added = post_form(client, settings, url, {"day": "2026-12-31", "reason": "Team training"})
    assert added.status_code == 303
    assert added.headers["location"] == f"{url}?done=closure_added"
    assert _closures(db, line) == [(date(2026, 12, 31), "Team training")]
    listing = client.get(added.headers["location"])
    assert "The closed day is added: calls that day go to the duty rota." in listing.text
    assert "<td>31 Dec 2026</td>" in listing.text
    assert "<td>Team training</td>" in listing.text
    [closure_id] = db.exec(
        select(HotlineClosure.id).where(HotlineClosure.hotline_id == line.hotline.id)
    ).all()
    remove = f"{url}/{closure_id}/remove"
    assert f'action="{remove}"' in listing.text
    assert 'aria-label="Remove the closed day 31 Dec 2026">Remove</button>' in listing.text

    removed = post_form(client, settings, remove)
    assert removed.status_code == 303
    assert removed.headers["location"] == f"{url}?done=closure_removed"
    assert _closures(db, line) == []
    after = client.get(removed.headers["location"])
    assert "The closed day is removed: the office hours apply again." in after.text
    assert "Team training" not in after.text
    assert [(a, r) for a, _, r in _audit_since(db, before)] == [
        ("hotline.closure_added", "day: 2026-12-31"),
        ("hotline.closure_removed", "day: 2026-12-31"),
    ]


def test_a_bad_closed_day_changes_nothing(
    client: TestClient, line: Line, world: World, db: Session, settings: Settings
) -> None:
    browse_as(client, world.login_cookie(line.supervisor, second_factor=True))
    url = f"/console/o/{line.organisation.id}/rota/{line.hotline.id}/closures"
    assert (
        post_form(client, settings, url, {"day": "2026-12-24", "reason": "Staff day"}).status_code
        == 303
    )
    before = _last_audit_id(db)

    not_a_day = post_form(client, settings, url, {"day": "someday", "reason": "Later"})
    assert not_a_day.status_code == 422
    assert "Please check what you entered." in not_a_day.text
    assert "day" in not_a_day.text
    no_reason = post_form(client, settings, url, {"day": "2026-12-31"})
    assert no_reason.status_code == 422
    assert "reason" in no_reason.text
    taken = post_form(client, settings, url, {"day": "2026-12-24", "reason": "Again"})
    assert taken.status_code == 409
    assert "day: the hotline already has a closure on this day." in taken.text
    missing = post_form(client, settings, f"{url}/{line.hotline.id}/remove")
    assert missing.status_code == 404
    assert "Not found." in missing.text
    forged = client.post(url, data={"day": "2026-12-31", "reason": "Forged"})
    assert forged.status_code == 403

    assert _closures(db, line) == [(date(2026, 12, 24), "Staff day")]
    assert _audit_since(db, before) == []


def test_closed_days_are_refused_as_the_api_refuses(
    client: TestClient, line: Line, world: World, db: Session, settings: Settings
) -> None:
    org = line.organisation.id
    closure = HotlineClosure(
        hotline_id=line.hotline.id,
        day=date(2026, 12, 24),
        reason="Staff day",
        created_at=world.clock.now(),
    )
    db.add(closure)
    db.flush()
    api = f"/organisations/{org}/hotlines/{line.hotline.id}/closures"
    url = f"/console/o/{org}/rota/{line.hotline.id}/closures"
    stranger = world.user(world.organisation(), Role.SUPERVISOR)
    for user, status in ((line.primary, 403), (stranger, 404)):
        browse_as(client, world.login_cookie(user, second_factor=True))
        assert client.get(api).status_code == status
        page = client.get(url)
        assert page.status_code == status
        assert "Staff day" not in page.text
        body = {"day": "2026-12-31", "reason": "Team training"}
        assert client.post(api, json=body).status_code == status
        assert post_form(client, settings, url, body).status_code == status
        assert client.delete(f"{api}/{closure.id}").status_code == status
        assert post_form(client, settings, f"{url}/{closure.id}/remove").status_code == status
    assert _closures(db, line) == [(date(2026, 12, 24), "Staff day")]
    # A counselor's duty page does not point to it; an admin may open it, as the API allows.
    browse_as(client, world.login_cookie(line.primary, second_factor=True))
    assert "/closures" not in client.get(f"/console/o/{org}/duty").text
    admin = world.user(line.organisation, Role.ADMIN)
    browse_as(client, world.login_cookie(admin, second_factor=True))
    assert client.get(api).status_code == 200
    shown = client.get(url)
    assert shown.status_code == 200
    assert "<td>Staff day</td>" in shown.text
