"""Signing in and out of the console: login, second factor, language, forms' tokens, headers."""

from __future__ import annotations

import re

import pyotp
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from console import i18n
from console.security import CONTENT_SECURITY_POLICY, FORM_COOKIE
from core import second_factor
from core.audit import AuditEvent
from core.auth import SESSION_COOKIE, token_digest
from core.config import Settings
from core.crypto import cipher_from_settings
from core.models import AuthSession, Role
from tests.conftest import FIXTURE_PASSWORD, World
from tests.console.conftest import browse_as, post_form

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _events(db: Session, action: str) -> int:
    return len(db.exec(select(AuditEvent.id).where(AuditEvent.action == action)).all())


def _lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found is not None
    return found.group(1)


def test_the_login_page_is_served_with_the_console_headers(client: TestClient) -> None:
    answer = client.get("/console/login")
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert FORM_COOKIE in answer.cookies
    assert _lang(answer.text) == "en"
    assert "<h1>Log in</h1>" in answer.text
    # No inline script or style: only files of this server.
    assert "<script>" not in answer.text
    assert "style=" not in answer.text
    assert re.findall(r'<script src="([^"]+)"', answer.text) == [
        "/console/static/vendor/htmx.min.js",
        "/console/static/console.js",
    ]


def test_the_browser_language_chooses_the_page_language_before_login(client: TestClient) -> None:
    answer = client.get("/console/login", headers={"Accept-Language": "sr-Cyrl-ME,sr;q=0.8"})
    assert _lang(answer.text) == "sr-Cyrl-ME"
    with i18n.use(i18n.BY_CODE["sr_Cyrl"]):
        title = i18n.gettext("Log in")
    assert title != "Log in"
    assert f"<h1>{title}</h1>" in answer.text
    answer = client.get("/console/login", headers={"Accept-Language": "sq-AL,sq;q=0.9"})
    assert _lang(answer.text) == "sq"


def test_a_signed_out_reader_is_sent_to_the_login_page(client: TestClient) -> None:
    answer = client.get("/console/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=/console/"


def test_login_opens_a_session_and_goes_where_the_reader_was_going(
    client: TestClient, world: World, settings: Settings, db: Session
) -> None:
    org = world.organisation()
    user = world.user(org, Role.ADMIN, email="admin-console@example.org")
    browse_as(client, None)
    answer = post_form(
        client,
        settings,
        "/console/login",
        {"email": user.email, "password": FIXTURE_PASSWORD, "next": "/console/"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"
    token = answer.cookies[SESSION_COOKIE]
    stored = db.exec(select(AuthSession).where(AuthSession.token_hash == token_digest(token))).one()
    assert stored.user_id == user.id
    # The admin's first page is the first item of her menu.
    answer = client.get("/console/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/o/{org.id}/users"


def test_login_never_sends_the_reader_to_another_site(
    client: TestClient, world: World, settings: Settings
) -> None:
    user = world.user(world.organisation(), Role.ADMIN)
    browse_as(client, None)
    for target in ("https://elsewhere.example/", "//elsewhere.example/console/", "/docs"):
        answer = post_form(
            client,
            settings,
            "/console/login",
            {"email": user.email, "password": FIXTURE_PASSWORD, "next": target},
        )
        assert answer.headers["location"] == "/console/"


def test_a_wrong_password_is_a_page_that_says_so_and_is_recorded(
    client: TestClient, world: World, settings: Settings, db: Session
) -> None:
    user = world.user(world.organisation(), Role.COUNSELOR)
    browse_as(client, None)
    before = _events(db, "auth.login_failed")
    answer = post_form(
        client, settings, "/console/login", {"email": user.email, "password": "not it"}
    )
    assert answer.status_code == 401
    assert "Login failed: the e-mail address or password is wrong" in answer.text
    assert SESSION_COOKIE not in answer.cookies
    assert _events(db, "auth.login_failed") == before + 1


def test_a_form_without_this_browsers_token_is_refused_and_changes_nothing(
    client: TestClient, world: World, db: Session
) -> None:
    user = world.user(world.organisation(), Role.COUNSELOR)
    browse_as(client, None)
    before = _events(db, "auth.login_failed") + _events(db, "auth.login")
    for token in (None, "0" * 64):
        data = {"email": user.email, "password": FIXTURE_PASSWORD}
        if token is not None:
            data["csrf_token"] = token
        answer = client.post("/console/login", data=data, follow_redirects=False)
        assert answer.status_code == 403
        assert "This form has expired or did not come from this console" in answer.text
        assert SESSION_COOKIE not in answer.cookies
    assert _events(db, "auth.login_failed") + _events(db, "auth.login") == before


def test_the_second_factor_page_lets_the_session_through(
    client: TestClient, world: World, settings: Settings, db: Session
) -> None:
    user = world.user(world.organisation(), Role.COUNSELOR)
    second_factor.enrol_with_secret(
        db, now=world.clock.now(), user=user, secret=SECRET, cipher=cipher_from_settings(settings)
    )
    cookies = world.login_cookie(user)
    browse_as(client, cookies)
    page = client.get("/console/second-factor")
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.text
    wrong = post_form(client, settings, "/console/second-factor", {"code": "000000"})
    assert wrong.status_code == 401
    assert "That code is wrong or was already used" in wrong.text
    code = pyotp.TOTP(SECRET).at(world.clock.now())
    answer = post_form(client, settings, "/console/second-factor", {"code": code})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/"
    stored = db.exec(
        select(AuthSession).where(AuthSession.token_hash == token_digest(cookies[SESSION_COOKIE]))
    ).one()
    assert stored.second_factor_at == world.clock.now()


def test_logout_ends_the_session(
    client: TestClient, world: World, settings: Settings, db: Session
) -> None:
    user = world.user(world.organisation(), Role.SUPERVISOR)
    cookies = world.login_cookie(user)
    browse_as(client, cookies)
    answer = post_form(client, settings, "/console/logout")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?done=logged_out"
    stored = db.exec(
        select(AuthSession).where(AuthSession.token_hash == token_digest(cookies[SESSION_COOKIE]))
    ).one()
    assert stored.revoked_reason == "logout"
    browse_as(client, cookies)  # the old cookie, replayed
    assert (
        client.get("/console/", follow_redirects=False)
        .headers["location"]
        .startswith("/console/login")
    )


def test_the_chosen_language_is_kept_on_the_account(
    client: TestClient, world: World, settings: Settings, db: Session
) -> None:
    user = world.user(world.organisation(), Role.ADMIN)
    browse_as(client, world.login_cookie(user))
    answer = post_form(
        client, settings, "/console/language", {"language": "sr_Cyrl", "next": "/console/login"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login"
    db.refresh(user)
    assert user.locale == "sr_Cyrl"
    # A new browser, the same account: the account's language wins over the browser's.
    browse_as(client, world.login_cookie(user))
    page = client.get("/console/second-factor", headers={"Accept-Language": "en"})
    assert _lang(page.text) == "sr-Cyrl-ME"
    # An unknown language is English; nothing else is stored.
    post_form(client, settings, "/console/language", {"language": "xx"})
    db.refresh(user)
    assert user.locale == "en"


def test_a_one_time_password_leads_to_the_password_page_first(
    client: TestClient, world: World, settings: Settings, db: Session
) -> None:
    user = world.user(world.organisation(), Role.ADMIN, must_change_password=True)
    browse_as(client, world.login_cookie(user))
    answer = client.get("/console/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/password"
    assert client.get("/console/password").status_code == 200
    answer = post_form(
        client,
        settings,
        "/console/password",
        {"current_password": FIXTURE_PASSWORD, "new_password": "a new and long passphrase 7"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/?done=password_changed"
    db.refresh(user)
    assert user.must_change_password is False


def test_the_idle_timeout_is_shown_on_every_signed_in_page(
    client: TestClient, world: World, settings: Settings
) -> None:
    user = world.user(world.organisation(), Role.COUNSELOR)
    browse_as(client, world.login_cookie(user))
    page = client.get("/console/second-factor")
    # 30 idle minutes from the frozen clock's 09:00 UTC: 10:30 in Podgorica (UTC+1 in March).
    assert "If you stay idle, your session ends at 10:30." in page.text
    assert 'data-expires="2026-03-02T09:30:00+00:00"' in page.text


def test_the_catalogues_do_not_leave_a_latin_letter_in_cyrillic() -> None:
    catalogue = i18n.read_catalogue("sr_Cyrl")
    latin = re.compile(r"[A-Za-zčćšžđČĆŠŽĐ]")
    for message in catalogue:
        if not message.id or not message.string:
            continue
        text = i18n.PLACEHOLDER.sub("", str(message.string))
        assert not latin.search(text), (message.id, message.string)
