"""The cases desk of the console, as whoever opens it: the second factor first; a sealed field
(her name, the plan, a note) on the team's pages and on no page an outsider gets; each page's
status the API route's; each page view audited exactly as its API GET."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from core.access import SECOND_FACTOR_NEEDED
from core.config import Settings
from core.models import User
from safety_plans.models import AssistanceStep, CaseContact, PlanRevision, RiskAssessment
from tests.console.conftest import post_form
from tests.console.test_case_pages import (
    PAGES,
    browse,
    events_since,
    last_event,
    markers_in,
    page_url,
    paths,
    shape,
    with_markers,
)
from tests.safety_plans import conftest as case_world
from tests.safety_plans.conftest import Clinic, all_no, count, ok

# The cases tests' world (a counselling service, its team, a shelter, neighbours), shared.
clinic = case_world.clinic
cipher = case_world.cipher


def test_without_the_second_factor_every_page_goes_to_the_second_factor_page(
    clinic: Clinic, settings: Settings, db: Session
) -> None:
    c = clinic
    c.case = c.open_case()
    for name in PAGES:
        console, api = paths(c, name)
        supervising = name in ("break-glass", "case-tasks", "shared")
        browse(c, c.supervisor if supervising else c.owner, second_factor=False)
        assert c.client.get(api).json()["message"] == SECOND_FACTOR_NEEDED
        answer = c.client.get(console, follow_redirects=False)
        assert (name, answer.status_code, answer.headers["location"]) == (
            name,
            303,
            "/console/second-factor",
        )
    before = count(db, CaseContact)
    data = {"channel": "walk_in", "occurred_at": "2026-03-01T10:00"}
    form = post_form(c.client, settings, page_url(c, "/contacts"), data)
    assert (form.status_code, form.headers["location"]) == (303, "/console/second-factor")
    assert count(db, CaseContact) == before


def test_a_shared_case_shows_the_consented_sections_only(clinic: Clinic) -> None:
    c = clinic
    with_markers(c)
    ok(c.client.post(c.url + "/risk-assessments", json={"answers": all_no(weapon="yes")}), 201)
    c.consent(c.csw, ["risk", "safety_plan"], purpose="CSW decision on accommodation")
    shared = f"/console/shared-cases/{c.case['id']}"
    browse(c, c.officer)
    shown = c.client.get(shared)
    assert shown.status_code == 200
    assert f"<h1>Shared case {c.case['number']}</h1>" in shown.text
    assert "<dd>CSW decision on accommodation</dd>" in shown.text
    assert '<span class="tag overdue">High</span>' in shown.text
    assert markers_in(shown.text) == {
        "MARKER-SAFECONTACT",
        "MARKER-CODEWORD",
        "MARKER-ESCAPE",
        "MARKER-DECISIONS",
    }  # the plan, never her name, the contact note or the steps
    for who in (c.outsider, c.spare, c.admin):
        browse(c, who)
        page, api = c.client.get(shared), c.client.get(f"/shared-cases/{c.case['id']}")
        assert page.status_code == api.status_code
        assert markers_in(page.text) == set()


# The API GETs each page's view stands for (the case list shows the work list too).
AUDITED_AS: dict[str, tuple[str, ...]] = {
    "list": ("/organisations/{org}/cases", "/organisations/{org}/cases/work-list"),
}
OUTSIDERS = ("other-counselor", "shelter-staff-not-on-the-case", "admin", "other-organisation")


def outsider(c: Clinic, who: str) -> User:
    return {
        "other-counselor": c.spare,
        "shelter-staff-not-on-the-case": c.staff,
        "admin": c.admin,
        "other-organisation": c.outsider,
    }[who]


def test_the_team_sees_the_sealed_fields_on_its_pages(clinic: Clinic) -> None:
    c = clinic
    with_markers(c)
    browse(c, c.member)
    assert markers_in(c.client.get(page_url(c)).text) == {
        "MARKER-NAME",
        "MARKER-NOTE",
        "MARKER-STEP",
        "MARKER-PURPOSE",
    }
    plan_markers = {"MARKER-SAFECONTACT", "MARKER-CODEWORD", "MARKER-ESCAPE", "MARKER-DECISIONS"}
    assert markers_in(c.client.get(page_url(c, "/plan")).text) == plan_markers
    assert markers_in(c.client.get(page_url(c, "/plan/compare?from=1&to=2")).text) == plan_markers
    assert markers_in(c.client.get(f"/console/o/{c.ngo.id}/cases").text) == {"MARKER-NAME"}


@pytest.mark.parametrize("who", list(OUTSIDERS))
def test_no_sealed_field_reaches_an_outsider_and_each_page_answers_as_its_route(
    clinic: Clinic, settings: Settings, db: Session, who: str
) -> None:
    c = clinic
    with_markers(c)
    browse(c, outsider(c, who))
    answered: dict[str, tuple[int, int]] = {}
    for name in PAGES:
        console, api = paths(c, name)
        page, route = c.client.get(console), c.client.get(api)
        assert markers_in(page.text) == set(), name
        assert markers_in(route.text) == set(), name
        answered[name] = (page.status_code, route.status_code)
    assert {name: p for name, (p, _) in answered.items()} == {
        name: r for name, (_, r) in answered.items()
    }
    # The case's own pages: 404 for a colleague or shelter worker off the case (as if there
    # were none), 403 for an admin (never let into a case), 404 for another organisation.
    refused = 403 if who == "admin" else 404
    for name in ("case", "risk", "plan", "compare", "readers"):
        assert answered[name][0] == refused, name
    # And her forms change nothing, with the route's status.
    tables = (CaseContact, AssistanceStep, PlanRevision, RiskAssessment)
    before = [count(db, t) for t in tables]
    forms = {
        "/contacts": {"channel": "walk_in", "occurred_at": "2026-03-02T08:30"},
        "/steps": {"agency": "csw", "what": "MARKER-INTRUDER", "due_at": "2026-03-05T12:00"},
        "/plan": {"code_word": "MARKER-INTRUDER"},
        "/risk": {f"answers.{k}": v for k, v in all_no().items()},
        "/status": {"status": "closed", "reason": "other"},
    }
    for tail, data in forms.items():
        answer = post_form(c.client, settings, page_url(c, tail), data)
        assert (tail, answer.status_code) == (tail, refused)
        assert markers_in(answer.text) == set()
    assert [count(db, t) for t in tables] == before


@pytest.mark.parametrize("who", ["owner", "supervisor", "csw-with-consent", *OUTSIDERS])
def test_each_page_view_is_audited_exactly_as_its_api_get(
    clinic: Clinic, db: Session, who: str
) -> None:
    c = clinic
    with_markers(c)
    c.consent(c.csw, ["risk"])
    user = {"owner": c.owner, "supervisor": c.supervisor, "csw-with-consent": c.officer}.get(who)
    browse(c, user or outsider(c, who))
    seen: dict[str, list[str]] = {}
    for name in PAGES:
        console, api = paths(c, name)
        start = last_event(db)
        for path in AUDITED_AS.get(name, (api,)):
            c.client.get(path.format(org=c.ngo.id, case=c.case["id"]))
        by_api = events_since(db, start)
        middle = last_event(db)
        c.client.get(console)
        by_page = events_since(db, middle)
        assert (name, [shape(e) for e in by_page]) == (name, [shape(e) for e in by_api])
        # The page names itself as the view in "who saw this case".
        view = "GET " + PAGES[name][0].format(org="{org_id}", case="{case_id}").split("?")[0]
        for event in by_page:
            if event.action in ("case.read", "case.refused"):
                assert (event.reason or "").endswith(view), name
        seen[name] = [e.action for e in by_page]
    if who == "owner":
        read = ["case.read"]
        assert seen == {
            "list": ["case.listed", "case.listed"],
            "case": read,
            "risk": read,
            "plan": read,
            "compare": read,
            "readers": read,
            "break-glass": [],
            "case-tasks": [],
            "shared": [],
        }
    if who == "other-counselor":
        assert all(seen[n] == ["case.refused"] for n in ("case", "risk", "plan", "compare"))
    if who == "csw-with-consent":
        assert seen["shared"] == ["case.read"]


def test_shelter_staff_read_the_case_while_her_stay_runs(clinic: Clinic) -> None:
    c = clinic
    c.case = c.open_case(name="Ana Test")
    stay = c.admit()
    c.link_stay(stay)
    browse(c, c.staff)
    shown = c.client.get(page_url(c))
    assert shown.status_code == 200
    assert "You read this case as: Shelter staff during a stay." in shown.text
    assert "<dt>Name</dt><dd>Ana Test</dd>" in shown.text
    c.discharge(stay)
    browse(c, c.staff)
    gone = c.client.get(page_url(c))
    assert (gone.status_code, c.client.get(c.url).status_code) == (404, 404)
    assert "Ana Test" not in gone.text
