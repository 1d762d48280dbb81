"""The console's session pages in a real browser: the login page and its headers, a wrong
password, login with the second factor to each role's first page, the language switch kept on
the account, logout, forms without their token, and the idle-timeout notice. axe-core runs on
the login, second-factor and first page of every demo role; every page is screenshotted."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from console.security import CONTENT_SECURITY_POLICY, FORM_EXPIRED
from core.auth import SESSION_COOKIE
from tests.console.browser.conftest import BROWSER_LOCALES, Live, LoginAs, OpenPage
from tests.console.browser.helpers import (
    SIGNED_IN,
    check_accessibility,
    password_step,
    screenshot,
    second_factor_step,
    submit,
    t,
    visit,
    watch_of,
)
from tests.console.browser.seed import CSW, LINE, SHELTER_ORG

# One demo account per role (others sign in elsewhere, so no TOTP step is spent twice at once),
# and the page the console opens first for that role: the first link of her menu, which must
# open (an administrator's first link is her organisation's first page she may open).
ROLES = {
    "admin": ("admin@sos-north.example.org", "/console/o/{org}/users"),
    "supervisor": ("supervisor@shelter-south.example.org", "/console/o/{org}/duty"),
    "counselor": ("volunteer@sos-north.example.org", "/console/o/{org}/duty"),
    "shelter_staff": ("shelter@sos-north.example.org", "/console/o/{org}/shelters"),
    "csw_officer": ("officer@csw.example.org", "/console/inbox"),
}
ORGANISATIONS = {"sos-north": LINE, "shelter-south": SHELTER_ORG, "csw": CSW}
INLINE_SCRIPT = """() => {
  const script = document.createElement("script");
  script.textContent = "window.inlineRan = true";
  document.head.appendChild(script);
  return window.inlineRan === true;
}"""


def test_login_page_renders_under_its_csp_without_errors(page: Page, live: Live) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    response = page.goto("/console/login")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    expect(page.get_by_label("E-mail address")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_visible()
    page.wait_for_load_state("networkidle")
    # Its own stylesheet and scripts, from this server only (a CDN would be a leak).
    assert {u.removeprefix(live.base_url) for u in asked} >= {
        "/console/login",
        "/console/static/console.css",
        "/console/static/vendor/htmx.min.js",
        "/console/static/console.js",
    }
    assert all(u.startswith("http://127.0.0.1:") for u in asked), asked
    assert page.evaluate("() => typeof window.htmx") == "object"
    # The browser enforces the policy: an injected inline script does not run.
    watch_of(page).allow(r"inline script violates the following Content Security Policy")
    assert page.evaluate(INLINE_SCRIPT) is False
    check_accessibility(page)
    screenshot(page, "session-login")


def test_a_wrong_password_shows_the_error(page: Page, live: Live) -> None:
    watch_of(page).allow(r"status of 401")
    page.goto("/console/login")
    page.get_by_label("E-mail address").fill("counselor@shelter-south.example.org")
    page.get_by_label("Password").fill("not-the-password-at-all")
    with page.expect_response(re.compile(r"/console/login$")) as answer:
        page.get_by_role("button", name="Log in").click()
    assert answer.value.status == 401
    expect(page).to_have_url(re.compile(r"/console/login$"))
    expect(page.get_by_role("alert")).to_have_text(
        "Login failed: the e-mail address or password is wrong, or the account is temporarily "
        "locked. Try again, or ask your administrator."
    )
    check_accessibility(page)
    screenshot(page, "session-login-failed")


@pytest.mark.parametrize("role", list(ROLES))
def test_login_and_second_factor_land_on_the_roles_first_page(
    open_page: OpenPage, live: Live, role: str
) -> None:
    email, first = ROLES[role]
    organisation = ORGANISATIONS[email.split("@")[1].split(".")[0]]
    expected = first.format(org=live.seeded.organisations[organisation])
    page = open_page()
    page.goto("/console/login")
    visit(page, f"session-{role}-1-login")
    account = live.accounts[email]
    password_step(page, email, account.password)
    if account.totp_secret is not None:
        # The console asks for the second factor before case content: she passes it here.
        page.goto("/console/second-factor")
        expect(page.get_by_role("heading", level=1)).to_have_text("Second factor")
        visit(page, f"session-{role}-2-second-factor")
        second_factor_step(page, live.accounts.code(email))
    expect(page).to_have_url(live.base_url + expected)
    expect(page.get_by_role("heading", level=1)).to_have_count(1)
    nav = page.get_by_role("navigation", name="Main menu")
    expect(nav.get_by_role("link").first).to_have_attribute("href", expected)
    expect(nav.locator("[aria-current=page]")).to_have_attribute("href", expected)
    expect(page.locator("header .who")).to_have_text(email)
    reloaded = page.reload()
    assert reloaded is not None
    assert reloaded.status == 200
    visit(page, f"session-{role}-3-first-page")


def test_montenegrin_cyrillic_is_kept_on_the_account(
    open_page: OpenPage, live: Live, login_as: LoginAs
) -> None:
    email = "counselor@shelter-south.example.org"
    page = open_page()
    login_as(page, email)
    first = page.url
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("#language").select_option("sr_Cyrl")
    submit(page, "header form[action='/console/language']")
    expect(page).to_have_url(first)
    expect(page.locator("html")).to_have_attribute("lang", "sr-Cyrl-ME")
    expect(page.locator("#language option:checked")).to_have_attribute("value", "sr_Cyrl")
    expect(page.get_by_role("heading", level=1)).to_have_text(t("sr_Cyrl", "On duty"))
    expect(page.get_by_role("button", name=t("sr_Cyrl", "Log out"))).to_be_visible()
    visit(page, "session-language-cyrillic")
    submit(page, "header form[action='/console/logout']")
    # Another browser, announcing English: after login the account's language wins.
    again = open_page(locale=BROWSER_LOCALES["en"])
    again.goto("/console/login")
    expect(again.locator("html")).to_have_attribute("lang", "en")
    login_as(again, email)
    expect(again).to_have_url(first)
    expect(again.locator("html")).to_have_attribute("lang", "sr-Cyrl-ME")
    expect(again.get_by_role("heading", level=1)).to_have_text(t("sr_Cyrl", "On duty"))
    visit(again, "session-language-remembered")


def test_logout_ends_the_session(page: Page, live: Live, login_as: LoginAs) -> None:
    login_as(page, "volunteer@shelter-south.example.org")
    first = page.url
    [cookie] = [c for c in page.context.cookies() if c["name"] == SESSION_COOKIE]
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/console/login\?done=logged_out$"))
    expect(page.get_by_role("status")).to_have_text("You are logged out.")
    visit(page, "session-logged-out")
    assert SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}
    page.go_back()
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in")
    page.goto(first)
    page.reload()
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    # The old cookie, sent again, opens nothing: the server ended the session.
    page.context.add_cookies(
        [{"name": SESSION_COOKIE, "value": cookie["value"], "url": live.base_url}]
    )
    page.goto(first)
    expect(page).to_have_url(re.compile(r"/console/login\?next="))


def test_a_form_without_its_token_is_refused(page: Page, live: Live, login_as: LoginAs) -> None:
    login_as(page, "supervisor@csw.example.org", second_factor=False)
    first = page.url
    forms: list[tuple[str, dict[str, str | float | bool]]] = [
        ("/console/language", {"language": "sr_Cyrl", "next": "/console/"}),
        ("/console/logout", {}),
        ("/console/language", {"language": "sr_Cyrl", "csrf_token": "0" * 64}),
    ]
    for path, form in forms:
        answer = page.request.post(path, form=form, max_redirects=0)
        assert answer.status == 403, (path, answer.status)
        assert FORM_EXPIRED in answer.text()
    # Nothing changed: still signed in, still in English.
    page.goto(first)
    expect(page).to_have_url(first)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    screenshot(page, "session-after-refused-forms")


def test_the_idle_timeout_is_announced(page: Page, live: Live, login_as: LoginAs) -> None:
    page.clock.install()
    login_as(page, "supervisor@csw.example.org", second_factor=False)
    notice = page.locator("#session-clock")
    expect(notice).to_be_visible()
    ends = datetime.fromisoformat(str(notice.get_attribute("data-expires")))
    left = ends - datetime.fromisoformat(page.evaluate("() => new Date().toISOString()"))
    assert timedelta(minutes=29) < left <= timedelta(minutes=30), left
    expect(notice).to_contain_text("If you stay idle, your session ends at")
    warning = notice.get_by_role("alert")
    expect(warning).to_be_hidden()
    visit(page, "session-idle-notice")
    page.clock.fast_forward(int((left - timedelta(seconds=90)).total_seconds() * 1000))
    expect(warning).to_be_visible()
    expect(warning).to_have_text("Your session is about to end. Open or reload a page to keep it.")
    screenshot(page, "session-idle-warning")
    page.clock.fast_forward(2 * 60 * 1000)
    expect(page).to_have_url(re.compile(r"/console/login$"))
    assert SIGNED_IN.search(page.url) is None
