"""Every route of cases, shared cases, break-glass and case tasks, called by every kind of caller:
the exact status each gets. Policy refusals (admin, token, no second factor, wrong role) are 403;
another organisation's path is 404 (the policy); a caller the case gate refuses is 404 too."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from core.access import served_routes
from core.app import create_app
from core.models import Role
from safety_plans.models import CaseTask
from tests.conftest import make_settings
from tests.safety_plans.conftest import Clinic, all_no, ok

PREFIXES = ("/cases", "/shared-cases", "/break-glass", "/case-tasks")


@dataclass
class Targets:
    """What the routes name: filled in by the set-up of each world."""

    spare_member: str = ""
    step_id: str = ""
    spare_consent: str = ""
    opening_id: str = ""
    task_id: str = ""
    stay_to_link: str = ""


Body = Callable[[Clinic, Targets], dict[str, Any] | None]
Url = Callable[[Clinic, Targets], str]


def _none(c: Clinic, t: Targets) -> None:
    return None


# Kinds of route: what the caller needs to be let in.
CASE_READ = "case-read"  # the gate (team, shelter, break-glass), read
CASE_WRITE = "case-write"  # the gate, write
CASE_MANAGE = "case-manage"  # the gate, write, on the team's own basis (not a stay or break-glass)
OWNER_REPORT = "owner-report"  # the gate, then the owner only
ORG_WORK = "org-work"  # the WORK policy, no gate
SHARED = "shared"  # the SHARED policy, then the gate (consent or team)
SUPERVISE = "supervise"  # the SUPERVISE policy, no gate


@dataclass(frozen=True)
class Route:
    kind: str
    url: Url
    body: Body
    ok: int


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/organisations/{org_id}/cases"): Route(ORG_WORK, lambda c, t: c.cases, _none, 200),
    ("POST", "/organisations/{org_id}/cases"): Route(
        ORG_WORK,
        lambda c, t: c.cases,
        lambda c, t: {"name": "Nova", "owner_id": str(c.owner.id)},
        201,
    ),
    ("GET", "/organisations/{org_id}/cases/work-list"): Route(
        ORG_WORK, lambda c, t: c.cases + "/work-list", _none, 200
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}"): Route(
        CASE_READ, lambda c, t: c.url, _none, 200
    ),
    ("PATCH", "/organisations/{org_id}/cases/{case_id}"): Route(
        CASE_MANAGE, lambda c, t: c.url, lambda c, t: {"municipality": "Nikšić"}, 200
    ),
    ("POST", "/organisations/{org_id}/cases/{case_id}/status"): Route(
        CASE_WRITE,
        lambda c, t: c.url + "/status",
        lambda c, t: {"status": "dormant", "reason": "client_paused"},
        200,
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/status"): Route(
        CASE_READ, lambda c, t: c.url + "/status", _none, 200
    ),
    ("POST", "/organisations/{org_id}/cases/{case_id}/team"): Route(
        CASE_MANAGE, lambda c, t: c.url + "/team", lambda c, t: {"user_id": str(c.spare.id)}, 201
    ),
    ("DELETE", "/organisations/{org_id}/cases/{case_id}/team/{user_id}"): Route(
        CASE_MANAGE, lambda c, t: f"{c.url}/team/{t.spare_member}", _none, 200
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/links"): Route(
        CASE_READ, lambda c, t: c.url + "/links", _none, 200
    ),
    ("POST", "/organisations/{org_id}/cases/{case_id}/links"): Route(
        CASE_WRITE,
        lambda c, t: c.url + "/links",
        lambda c, t: {"kind": "stay", "target_id": t.stay_to_link},
        201,
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/contacts"): Route(
        CASE_READ, lambda c, t: c.url + "/contacts", _none, 200
    ),
    ("POST", "/organisations/{org_id}/cases/{case_id}/contacts"): Route(
        CASE_WRITE,
        lambda c, t: c.url + "/contacts",
        lambda c, t: {"channel": "walk_in", "occurred_at": c.now.isoformat()},
        201,
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/services"): Route(
        CASE_READ, lambda c, t: c.url + "/services", _none, 200
    ),
    ("POST", "/organisations/{org_id}/cases/{case_id}/services"): Route(
        CASE_WRITE,
        lambda c, t: c.url + "/services",
        lambda c, t: {
            "kind": "information",
            "given_at": c.now.isoformat(),
            "duration_minutes": 30,
        },
        201,
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/risk-assessments"): Route(
        CASE_READ, lambda c, t: c.url + "/risk-assessments", _none, 200
    ),
    ("POST", "/organisations/{org_id}/cases/{case_id}/risk-assessments"): Route(
        CASE_WRITE,
        lambda c, t: c.url + "/risk-assessments",
        lambda c, t: {"answers": all_no()},
        201,
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/plan"): Route(
        CASE_READ, lambda c, t: c.url + "/plan", _none, 200
    ),
    ("POST", "/organisations/{org_id}/cases/{case_id}/plan"): Route(
        CASE_WRITE, lambda c, t: c.url + "/plan", lambda c, t: {"safe_to_call": True}, 201
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/plan/revisions"): Route(
        CASE_READ, lambda c, t: c.url + "/plan/revisions", _none, 200
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/plan/revisions/{number}"): Route(
        CASE_READ, lambda c, t: c.url + "/plan/revisions/1", _none, 200
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/plan/diff"): Route(
        CASE_READ, lambda c, t: c.url + "/plan/diff?from=1&to=2", _none, 200
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/steps"): Route(
        CASE_READ, lambda c, t: c.url + "/steps", _none, 200
    ),
    ("POST", "/organisations/{org_id}/cases/{case_id}/steps"): Route(
        CASE_WRITE,
        lambda c, t: c.url + "/steps",
        lambda c, t: {
            "agency": "police",
            "what": "Ask about the order",
            "due_at": (c.now + timedelta(days=3)).isoformat(),
        },
        201,
    ),
    ("PATCH", "/organisations/{org_id}/cases/{case_id}/steps/{step_id}"): Route(
        CASE_WRITE,
        lambda c, t: f"{c.url}/steps/{t.step_id}",
        lambda c, t: {"status": "in_progress"},
        200,
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/consents"): Route(
        CASE_READ, lambda c, t: c.url + "/consents", _none, 200
    ),
    ("POST", "/organisations/{org_id}/cases/{case_id}/consents"): Route(
        CASE_MANAGE,
        lambda c, t: c.url + "/consents",
        lambda c, t: {
            "recipient_organisation_id": str(c.neighbour.id),
            "purpose": "Shared counselling",
            "sections": ["risk"],
            "expires_at": (c.now + timedelta(days=10)).isoformat(),
        },
        201,
    ),
    ("POST", "/organisations/{org_id}/cases/{case_id}/consents/{consent_id}/withdraw"): Route(
        CASE_MANAGE, lambda c, t: f"{c.url}/consents/{t.spare_consent}/withdraw", _none, 200
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/export"): Route(
        CASE_READ, lambda c, t: c.url + "/export", _none, 200
    ),
    ("GET", "/organisations/{org_id}/cases/{case_id}/readers"): Route(
        OWNER_REPORT, lambda c, t: c.url + "/readers", _none, 200
    ),
    ("GET", "/shared-cases/{case_id}"): Route(
        SHARED, lambda c, t: f"/shared-cases/{c.case['id']}", _none, 200
    ),
    ("GET", "/organisations/{org_id}/break-glass"): Route(
        SUPERVISE, lambda c, t: c.org + "/break-glass", _none, 200
    ),
    ("POST", "/organisations/{org_id}/break-glass/{opening_id}/sign-off"): Route(
        SUPERVISE,
        lambda c, t: f"{c.org}/break-glass/{t.opening_id}/sign-off",
        lambda c, t: {"note": "Checked with the night line"},
        200,
    ),
    ("GET", "/organisations/{org_id}/case-tasks"): Route(
        SUPERVISE, lambda c, t: c.org + "/case-tasks", _none, 200
    ),
    ("POST", "/organisations/{org_id}/case-tasks/{task_id}/done"): Route(
        SUPERVISE, lambda c, t: f"{c.org}/case-tasks/{t.task_id}/done", _none, 200
    ),
    # Last: opening a case by break-glass lets the caller in from then on.
    ("POST", "/organisations/{org_id}/break-glass"): Route(
        SUPERVISE,
        lambda c, t: c.org + "/break-glass",
        lambda c, t: {
            "case_number": c.case["number"],
            "reason": "Police asked about her whereabouts tonight",
        },
        201,
    ),
}


def test_the_table_names_every_route_of_cases_and_only_those() -> None:
    app = create_app(make_settings("sqlite:///:memory:"))
    try:
        served = {
            (method, route.path)
            for route in served_routes(app)
            # The console's case pages: tests/console/test_page_matrix.py.
            if route.is_api
            and not route.path.startswith("/console")
            and any(p in route.path for p in PREFIXES)
            for method in route.methods
            if method != "HEAD"
        }
    finally:
        app.state.engine.dispose()
    assert served == set(ROUTES)


# --- callers ----------------------------------------------------------------------------------

# What each caller is let into. "team": the gate admits reads and writes; "consent": it admits
# /shared-cases only; "none": the gate refuses. `roles` are the caller's, `home` whether the
# caller belongs to the case's organisation; `policy_403` a refusal before any role or gate.


@dataclass(frozen=True)
class Caller:
    name: str
    roles: frozenset[Role]
    home: bool
    gate: str  # team, consent, none
    owner: bool = False
    policy_403: bool = False
    borrowed: bool = False  # on the case through a stay or a break-glass opening, not the team


COUNSELOR = frozenset({Role.COUNSELOR})
SUPERVISOR = frozenset({Role.SUPERVISOR})
STAFF = frozenset({Role.SHELTER_STAFF})

CALLERS = [
    Caller("owner", COUNSELOR, True, "team", owner=True),
    Caller("team-member", COUNSELOR, True, "team"),
    Caller("other-counselor", COUNSELOR, True, "none"),
    Caller("staff-before-stay", STAFF, True, "none"),
    Caller("staff-during-stay", STAFF, True, "team", borrowed=True),
    Caller("staff-after-stay", STAFF, True, "none"),
    Caller("other-org-counselor", COUNSELOR, False, "none"),
    Caller("csw-live-consent", frozenset({Role.CSW_OFFICER}), False, "consent"),
    Caller("csw-expired-consent", frozenset({Role.CSW_OFFICER}), False, "none"),
    Caller("csw-withdrawn-consent", frozenset({Role.CSW_OFFICER}), False, "none"),
    Caller("supervisor-live-break-glass", SUPERVISOR, True, "team", borrowed=True),
    Caller("supervisor-expired-break-glass", SUPERVISOR, True, "none"),
    Caller("supervisor-without-break-glass", SUPERVISOR, True, "none"),
    Caller("admin", frozenset({Role.ADMIN}), True, "none"),
    Caller("api-token", COUNSELOR, True, "none", policy_403=True),
    Caller("owner-without-second-factor", COUNSELOR, True, "none", policy_403=True),
]

WORK_ROLES = frozenset({Role.COUNSELOR, Role.SUPERVISOR, Role.SHELTER_STAFF})
SHARED_ROLES = frozenset({Role.CSW_OFFICER, Role.SUPERVISOR})


def expected(caller: Caller, route: Route) -> int:
    if caller.policy_403:
        return 403
    if route.kind == SHARED:
        if not caller.roles & SHARED_ROLES:
            return 403
        return route.ok if caller.gate in ("team", "consent") else 404
    if not caller.home:
        return 404  # another organisation's path: answered as absent by the policy
    roles = SUPERVISOR if route.kind == SUPERVISE else WORK_ROLES
    if not caller.roles & roles:
        return 403
    if route.kind in (ORG_WORK, SUPERVISE):
        return route.ok
    if caller.gate != "team":
        return 404
    if route.kind == OWNER_REPORT and not caller.owner:
        return 403
    if route.kind == CASE_MANAGE and caller.borrowed:
        return 403
    return route.ok


def build(clinic: Clinic, caller: Caller) -> tuple[Targets, dict[str, str]]:
    """The world for one caller: a case with a high assessment (so a task), two plan
    revisions, a step, a spare consent and a spare team member, a colleague's break-glass
    opening; then what this caller needs. Returns the targets and the caller's headers."""
    c, db, clock = clinic, clinic.world.db, clinic.world.clock
    t = Targets()
    c.case = c.open_case(team=[str(c.member.id), str(c.other.id)])
    t.spare_member = str(c.other.id)
    ok(c.client.post(c.url + "/risk-assessments", json={"answers": all_no(weapon="yes")}), 201)
    ok(c.client.post(c.url + "/plan", json={"code_word": "sunce"}), 201)
    ok(c.client.post(c.url + "/plan", json={"code_word": "mjesec"}), 201)
    step = ok(
        c.client.post(
            c.url + "/steps",
            json={
                "agency": "csw",
                "what": "Apply for support",
                "due_at": (c.now + timedelta(days=5)).isoformat(),
            },
        ),
        201,
    )
    t.step_id = step["id"]
    t.spare_consent = c.consent(c.neighbour, ["identity"])["id"]
    t.task_id = str(db.exec(select(CaseTask.id)).one())
    t.opening_id = c.break_glass(c.supervisor2)["id"]
    t.stay_to_link = c.admit()
    expires = timedelta(hours=1)
    user = {
        "owner": c.owner,
        "team-member": c.member,
        "other-counselor": c.spare,
        "other-org-counselor": c.outsider,
        "admin": c.admin,
        "owner-without-second-factor": c.owner,
    }.get(caller.name)
    if caller.name.startswith("staff"):
        user = c.staff
        if caller.name != "staff-before-stay":
            stay = c.admit()
            c.link_stay(stay)
            if caller.name == "staff-after-stay":
                c.discharge(stay)
    elif caller.name.startswith("csw"):
        user = c.officer
        consent = c.consent(c.csw, ["risk"], expires_in=expires)
        if caller.name == "csw-withdrawn-consent":
            ok(c.client.post(f"{c.url}/consents/{consent['id']}/withdraw"))
    elif caller.name.startswith("supervisor"):
        user = c.supervisor
        if caller.name != "supervisor-without-break-glass":
            c.break_glass(c.supervisor)
    if caller.name.endswith("expired-consent") or caller.name.endswith("expired-break-glass"):
        clock.advance(expires)  # expires_at == now: over
    if caller.name == "api-token":
        c.as_(None)
        return t, c.token()
    assert user is not None
    c.as_(user, second_factor=caller.name != "owner-without-second-factor")
    return t, {}


@pytest.mark.parametrize("caller", CALLERS, ids=[c.name for c in CALLERS])
def test_route_matrix(clinic: Clinic, caller: Caller) -> None:
    targets, headers = build(clinic, caller)
    found: dict[str, int] = {}
    wanted: dict[str, int] = {}
    for (method, path), route in ROUTES.items():
        label = f"{method} {path}"
        response = clinic.client.request(
            method, route.url(clinic, targets), json=route.body(clinic, targets), headers=headers
        )
        found[label] = response.status_code
        wanted[label] = expected(caller, route)
        if response.status_code == 404:
            assert "Not found." in response.text, label
    assert found == wanted


def test_the_shared_view_of_a_break_glass_supervisor_and_a_consent_reader_differ(
    clinic: Clinic,
) -> None:
    clinic.case = clinic.open_case(name="Ana Test")
    ok(clinic.client.post(clinic.url + "/risk-assessments", json={"answers": all_no()}), 201)
    clinic.consent(clinic.csw, ["risk"])
    clinic.break_glass(clinic.supervisor)

    clinic.as_(clinic.supervisor)
    whole = ok(clinic.client.get(f"/shared-cases/{clinic.case['id']}"))
    assert whole["sections"] == ["assistance_plan", "identity", "risk", "safety_plan"]
    assert whole["name"] == "Ana Test"

    clinic.as_(clinic.officer)
    cut = ok(clinic.client.get(f"/shared-cases/{clinic.case['id']}"))
    assert cut["sections"] == ["risk"]
    assert (cut["name"], cut["plan"], cut["steps"], cut["risk_level"]) == (
        None,
        None,
        None,
        "standard",
    )
    assert cut["purpose"] == "CSW decision on accommodation"
