"""Every console page as every caller: the same answer as the API route whose data it shows.

A page names the API route it mirrors here (MIRRORS). The test checks that the page's policy is
that route's policy, then opens the page and the route as every caller of the core route
matrix (tests/core/test_access.py): a denied caller gets the same 403 or 404 from both (the
console sends the signed-out to its login page, and a session without its second factor to that
page, where the API answers 401 or 403), and no page shows a shelter's address or a resident's
name to a caller who may not see them. A form is refused to every caller the API route refuses.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from console.security import FORM_COOKIE, FORM_FIELD, token_for
from core.access import SECOND_FACTOR_NEEDED, Policy, served_routes
from core.app import create_app
from core.models import Role
from tests.conftest import make_settings
from tests.core.test_access import CALLERS, SEES_PEOPLE, Matrix, _sign_in, _url

O = "/organisations/{org_id}"  # noqa: E741 (the API's organisation prefix)
SHELTER = O + "/shelters/{shelter_id}"
STAY = SHELTER + "/stays/{stay_id}"
CASE = O + "/cases/{case_id}"
C = "/console"
CO = C + "/o/{org_id}"
CS = CO + "/shelters/{shelter_id}"
CA = CO + "/attention/{shelter_id}"
HOTLINE = O + "/hotlines/{hotline_id}"
TEAM = "/referrals/child-protection-team"
INBOX = "/referrals/inbox/{referral_id}"
CSTAY = CS + "/stays/{stay_id}"

# Pages open to anyone (they protect themselves: login throttling, form tokens).
PUBLIC_PAGES = {
    ("GET", C),
    ("GET", C + "/login"),
    ("POST", C + "/login"),
    ("POST", C + "/language"),
}
# (method, console path) -> (method, API path) of the route whose gate and data it uses.
MIRRORS: dict[tuple[str, str], tuple[str, str]] = {
    # Signing in and out.
    ("GET", C + "/"): ("POST", "/auth/password"),
    ("POST", C + "/logout"): ("POST", "/auth/logout"),
    ("GET", C + "/second-factor"): ("GET", "/auth/mfa"),
    ("POST", C + "/second-factor"): ("POST", "/auth/mfa/verify"),
    ("POST", C + "/second-factor/enrol"): ("POST", "/auth/mfa/enrol"),
    ("POST", C + "/second-factor/confirm"): ("POST", "/auth/mfa/confirm"),
    ("GET", C + "/password"): ("POST", "/auth/password"),
    ("POST", C + "/password"): ("POST", "/auth/password"),
    # The counselor on duty.
    ("GET", CO + "/duty"): ("GET", O + "/callback-tasks"),
    ("POST", CO + "/duty/tasks/{task_id}"): ("PATCH", O + "/callback-tasks/{task_id}"),
    ("POST", CO + "/duty/tasks/{task_id}/close"): ("POST", O + "/callback-tasks/{task_id}/close"),
    ("GET", CO + "/duty/rota"): ("POST", O + "/duty-phones/me/calendar-feed"),
    ("POST", CO + "/duty/rota/calendar-feed"): ("POST", O + "/duty-phones/me/calendar-feed"),
    ("GET", CO + "/duty/phone"): ("GET", O + "/duty-phones/me"),
    ("POST", CO + "/duty/phone"): ("PUT", O + "/duty-phones/me"),
    ("POST", CO + "/duty/phone/verify"): ("POST", O + "/duty-phones/me/verify"),
    ("GET", CO + "/calls"): ("GET", O + "/calls"),
    ("GET", CO + "/calls/{call_id}"): ("GET", O + "/calls/{call_id}"),
    ("POST", CO + "/calls/{call_id}"): ("PATCH", O + "/calls/{call_id}"),
    ("POST", CO + "/calls/{call_id}/reveal-caller"): ("POST", O + "/calls/{call_id}/reveal-caller"),
    ("POST", CO + "/calls/{call_id}/reveal-voicemail"): (
        "POST",
        O + "/calls/{call_id}/reveal-voicemail",
    ),
    ("GET", CO + "/rota/{hotline_id}/closures"): ("GET", HOTLINE + "/closures"),
    ("POST", CO + "/rota/{hotline_id}/closures"): ("POST", HOTLINE + "/closures"),
    ("POST", CO + "/rota/{hotline_id}/closures/{closure_id}/remove"): (
        "DELETE",
        HOTLINE + "/closures/{closure_id}",
    ),
    # The supervisor: rota, attention, notifications.
    ("GET", CO + "/rota"): ("GET", HOTLINE + "/gaps"),
    ("POST", CO + "/rota/{hotline_id}/shifts"): ("POST", HOTLINE + "/shifts"),
    ("POST", CO + "/rota/{hotline_id}/shifts/remove"): ("DELETE", HOTLINE + "/shifts/{shift_id}"),
    ("POST", CO + "/rota/{hotline_id}/shifts/overrides"): (
        "POST",
        HOTLINE + "/shifts/{shift_id}/overrides",
    ),
    ("POST", CO + "/rota/{hotline_id}/shifts/swap"): ("POST", HOTLINE + "/shifts/{shift_id}/swap"),
    ("GET", CO + "/attention"): ("GET", SHELTER + "/attention"),
    ("POST", CA + "/stays/{stay_id}/extensions/{extension_id}/approve"): (
        "POST",
        STAY + "/extensions/{extension_id}/approve",
    ),
    ("POST", CA + "/stays/{stay_id}/extensions/{extension_id}/reject"): (
        "POST",
        STAY + "/extensions/{extension_id}/reject",
    ),
    ("POST", CA + "/entry-approvals/{approval_id}/revoke"): (
        "POST",
        SHELTER + "/entry-approvals/{approval_id}/revoke",
    ),
    ("GET", CO + "/notifications"): ("GET", O + "/notifications"),
    ("POST", CO + "/notifications/{message_id}/retry"): (
        "POST",
        O + "/notifications/{message_id}/retry",
    ),
    # Shelters: the bed board, admissions, stays, visitors, turn-aways.
    ("GET", CO + "/shelters"): ("GET", O + "/shelters"),
    ("GET", C + "/network/availability"): ("GET", "/network/shelter-availability"),
    ("GET", CS + "/board"): ("GET", SHELTER + "/board"),
    ("POST", CS + "/holds"): ("POST", SHELTER + "/holds"),
    ("POST", CS + "/holds/{hold_id}/release"): ("DELETE", SHELTER + "/holds/{hold_id}"),
    ("POST", CS + "/beds/{bed_id}/service"): ("PUT", SHELTER + "/beds/{bed_id}/service"),
    ("POST", CS + "/beds/out-of-service"): ("PUT", SHELTER + "/beds/{bed_id}/service"),
    ("POST", CS + "/lockdown"): ("PUT", SHELTER + "/lockdown"),
    ("GET", CS + "/admit"): ("POST", SHELTER + "/stays"),
    ("POST", CS + "/admit"): ("POST", SHELTER + "/stays"),
    ("GET", CSTAY): ("GET", STAY),
    ("POST", CSTAY + "/extensions"): ("POST", STAY + "/extensions"),
    ("POST", CSTAY + "/extensions/{extension_id}/approve"): (
        "POST",
        STAY + "/extensions/{extension_id}/approve",
    ),
    ("POST", CSTAY + "/extensions/{extension_id}/reject"): (
        "POST",
        STAY + "/extensions/{extension_id}/reject",
    ),
    ("POST", CSTAY + "/assessments"): ("POST", STAY + "/assessments"),
    ("POST", CSTAY + "/work-plans"): ("POST", STAY + "/work-plans"),
    ("POST", CSTAY + "/discharge"): ("POST", STAY + "/discharge"),
    ("GET", CSTAY + "/transfer"): ("POST", STAY + "/transfer"),
    ("POST", CSTAY + "/transfer"): ("POST", STAY + "/transfer"),
    ("GET", CS + "/turn-aways"): ("GET", SHELTER + "/turn-aways"),
    ("POST", CS + "/turn-aways/{turn_away_id}"): ("PATCH", SHELTER + "/turn-aways/{turn_away_id}"),
    ("GET", CS + "/visitors"): ("GET", SHELTER + "/entry-approvals"),
    ("POST", CS + "/visitors/approvals"): ("POST", SHELTER + "/entry-approvals"),
    ("POST", CS + "/visitors/approvals/{approval_id}/revoke"): (
        "POST",
        SHELTER + "/entry-approvals/{approval_id}/revoke",
    ),
    ("POST", CS + "/visitors/approvals/{approval_id}/entries"): (
        "POST",
        SHELTER + "/entry-approvals/{approval_id}/entries",
    ),
    ("POST", CS + "/visitors/entries/{entry_id}/exit"): (
        "POST",
        SHELTER + "/entries/{entry_id}/exit",
    ),
    # The CSW officer's inbox.
    ("GET", C + "/inbox"): ("GET", "/referrals/inbox"),
    ("GET", C + "/inbox/{referral_id}"): ("GET", INBOX),
    ("POST", C + "/inbox/{referral_id}/acknowledge"): ("POST", INBOX + "/acknowledge"),
    ("POST", C + "/inbox/{referral_id}/information-requests"): (
        "POST",
        INBOX + "/information-requests",
    ),
    ("POST", C + "/inbox/{referral_id}/decision"): ("POST", INBOX + "/decision"),
    # A CSW's child-protection team.
    ("GET", C + "/child-protection-team"): ("GET", TEAM),
    ("POST", C + "/child-protection-team"): ("PUT", TEAM + "/{user_id}"),
    ("POST", C + "/child-protection-team/{user_id}/remove"): ("DELETE", TEAM + "/{user_id}"),
    # Cases and safety plans.
    ("GET", CO + "/cases"): ("GET", O + "/cases"),
    ("POST", CO + "/cases"): ("POST", O + "/cases"),
    ("GET", CO + "/cases/{case_id}"): ("GET", CASE),
    ("POST", CO + "/cases/{case_id}/card"): ("PATCH", CASE),
    ("POST", CO + "/cases/{case_id}/owner"): ("PATCH", CASE),
    ("POST", CO + "/cases/{case_id}/team"): ("POST", CASE + "/team"),
    ("POST", CO + "/cases/{case_id}/team/{user_id}/remove"): ("DELETE", CASE + "/team/{user_id}"),
    ("GET", CO + "/cases/{case_id}/export"): ("GET", CASE + "/export"),
    ("POST", CO + "/cases/{case_id}/status"): ("POST", CASE + "/status"),
    ("POST", CO + "/cases/{case_id}/links"): ("POST", CASE + "/links"),
    ("POST", CO + "/cases/{case_id}/contacts"): ("POST", CASE + "/contacts"),
    ("POST", CO + "/cases/{case_id}/services"): ("POST", CASE + "/services"),
    ("POST", CO + "/cases/{case_id}/steps"): ("POST", CASE + "/steps"),
    ("POST", CO + "/cases/{case_id}/steps/{step_id}"): ("PATCH", CASE + "/steps/{step_id}"),
    ("POST", CO + "/cases/{case_id}/consents"): ("POST", CASE + "/consents"),
    ("POST", CO + "/cases/{case_id}/consents/{consent_id}/withdraw"): (
        "POST",
        CASE + "/consents/{consent_id}/withdraw",
    ),
    ("GET", CO + "/cases/{case_id}/risk"): ("GET", CASE + "/risk-assessments"),
    ("POST", CO + "/cases/{case_id}/risk"): ("POST", CASE + "/risk-assessments"),
    ("GET", CO + "/cases/{case_id}/plan"): ("GET", CASE + "/plan"),
    ("POST", CO + "/cases/{case_id}/plan"): ("POST", CASE + "/plan"),
    ("GET", CO + "/cases/{case_id}/plan/compare"): ("GET", CASE + "/plan/diff"),
    ("GET", CO + "/cases/{case_id}/readers"): ("GET", CASE + "/readers"),
    ("GET", CO + "/break-glass"): ("GET", O + "/break-glass"),
    ("POST", CO + "/break-glass"): ("POST", O + "/break-glass"),
    ("POST", CO + "/break-glass/{opening_id}/sign-off"): (
        "POST",
        O + "/break-glass/{opening_id}/sign-off",
    ),
    ("GET", CO + "/case-tasks"): ("GET", O + "/case-tasks"),
    ("POST", CO + "/case-tasks/{task_id}/done"): ("POST", O + "/case-tasks/{task_id}/done"),
    ("GET", C + "/shared-cases/{case_id}"): ("GET", "/shared-cases/{case_id}"),
    # The administrator.
    ("GET", CO + "/users"): ("GET", O + "/users"),
    ("POST", CO + "/users"): ("POST", O + "/users"),
    ("GET", CO + "/users/{user_id}"): ("GET", O + "/users/{user_id}"),
    ("POST", CO + "/users/{user_id}"): ("PATCH", O + "/users/{user_id}"),
    **{
        ("POST", CO + "/users/{user_id}/" + act): ("POST", O + "/users/{user_id}/" + act)
        for act in (
            "disable",
            "enable",
            "revoke-sessions",
            "reset-password",
            "unlock",
            "second-factor/reset",
        )
    },
    ("GET", CO + "/tokens"): ("GET", O + "/tokens"),
    ("POST", CO + "/tokens"): ("POST", O + "/tokens"),
    ("POST", CO + "/tokens/{token_id}/revoke"): ("POST", O + "/tokens/{token_id}/revoke"),
    ("GET", CO + "/settings"): ("PATCH", O),
    ("POST", CO + "/settings"): ("PATCH", O),
    ("GET", CO + "/hotlines"): ("GET", O + "/hotlines"),
    ("POST", CO + "/hotlines"): ("POST", O + "/hotlines"),
    ("GET", CO + "/hotlines/{hotline_id}"): ("GET", HOTLINE),
    ("POST", CO + "/hotlines/{hotline_id}"): ("PATCH", HOTLINE),
}


def _console_routes() -> dict[tuple[str, str], tuple[Policy, ...]]:
    app = create_app(make_settings("sqlite:///:memory:"))
    found = {
        (method, route.path): route.policies
        for route in served_routes(app)
        if route.is_api and route.path.startswith(C)
        for method in route.methods
        if method != "HEAD"
    }
    app.state.engine.dispose()
    return found


CONSOLE = _console_routes()
API = {
    (method, route.path): route.policies
    for route in served_routes(create_app(make_settings("sqlite:///:memory:")))
    if route.is_api and not route.path.startswith(C)
    for method in route.methods
}
PAGES = sorted(MIRRORS)


def test_every_console_route_names_the_api_route_it_mirrors() -> None:
    unnamed = set(CONSOLE) - set(MIRRORS) - PUBLIC_PAGES
    stale = (set(MIRRORS) | PUBLIC_PAGES) - set(CONSOLE)
    assert unnamed == set(), "add the page to MIRRORS with the API route whose gate it uses"
    assert stale == set()


@pytest.mark.parametrize(("method", "path"), PAGES, ids=[f"{m} {p}" for m, p in PAGES])
def test_a_page_has_the_policy_of_its_api_route(method: str, path: str) -> None:
    mirrored = MIRRORS[(method, path)]
    assert mirrored in API, mirrored
    assert CONSOLE[(method, path)] == API[mirrored]


def _expected(api: Any) -> tuple[int, str | None]:
    """What the console answers where the API answered `api`: (status, redirect or None)."""
    if api.status_code == 401:
        return 303, C + "/login"
    if api.status_code == 403 and api.json().get("message") == SECOND_FACTOR_NEEDED:
        return 303, C + "/second-factor"
    return api.status_code, None


def _request(client: TestClient, method: str, url: str, headers: dict[str, str], form: bool) -> Any:
    if not form:
        return client.request(method, url, headers=headers, follow_redirects=False)
    client.cookies.set(FORM_COOKIE, "matrix-browser")
    settings = client.app.state.settings  # type: ignore[attr-defined]
    data = {FORM_FIELD: token_for(settings, "matrix-browser")}
    return client.request(method, url, headers=headers, data=data, follow_redirects=False)


@pytest.mark.parametrize(("method", "path"), PAGES, ids=[f"{m} {p}" for m, p in PAGES])
@pytest.mark.parametrize(
    ("label", "home", "role", "via"), CALLERS, ids=[caller[0] for caller in CALLERS]
)
def test_page_matrix(
    matrix_call: Matrix,
    method: str,
    path: str,
    label: str,
    home: str,
    role: Role | None,
    via: str,
) -> None:
    population, client = matrix_call.population, matrix_call.client
    api_method, api_path = MIRRORS[(method, path)]
    # Each request in a savepoint of its own, rolled back: neither sees what the other did.
    headers = _sign_in(client, population, label)
    savepoint = matrix_call.session.begin_nested()
    api = client.request(
        api_method,
        _url(api_path, population),
        headers=headers,
        json=None if api_method == "GET" else {},
    )
    savepoint.rollback()
    matrix_call.session.expire_all()
    _sign_in(client, population, label)
    savepoint = matrix_call.session.begin_nested()
    page = _request(client, method, _url(path, population), headers, method != "GET")
    savepoint.rollback()
    status, target = _expected(api)
    denied = api.status_code in (401, 403, 404)
    if denied:
        assert page.status_code == status, (page.status_code, api.status_code, page.text[:400])
        if target is not None:
            assert page.headers["location"].startswith(target)
    elif method == "GET":
        assert page.status_code in (200, 303), (page.status_code, page.text[:400])
    else:
        assert page.status_code < 500, page.text[:400]
        assert page.status_code not in (401, 403, 404), page.text[:400]
    if label not in SEES_PEOPLE:
        markers = (population.shelter.address_marker, population.shelter.name_marker)
        for marker in markers:
            assert marker not in page.text, (label, path)
