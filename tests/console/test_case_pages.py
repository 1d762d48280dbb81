"""The cases desk of the console: each page shows what its API route answers to the same person,
refuses whom the route refuses with the same status, and is audited exactly as the route is; each
form acts through the API route (and a failed one changes nothing)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from console import i18n
from core.audit import AuditEvent
from core.config import Settings
from core.models import User
from safety_plans.models import (
    AssistanceStep,
    CaseContact,
    CaseService,
    Consent,
    PlanRevision,
    RiskAssessment,
    SafetyCase,
)
from safety_plans.risk import instrument
from tests.console.conftest import browse_as, post_form
from tests.safety_plans import conftest as case_world
from tests.safety_plans.conftest import Clinic, all_no, count, ok

# The cases tests' world (a counselling service, its team, a shelter, neighbours), shared.
clinic = case_world.clinic
cipher = case_world.cipher

MARKER = re.compile(r"MARKER-[A-Z]+")
PLAN = {
    "safe_contacts": [{"name": "MARKER-SAFECONTACT", "how": "at work"}],
    "code_word": "MARKER-CODEWORD",
    "escape_plan": {"where_to_go": "MARKER-ESCAPE"},
    "her_decisions": "MARKER-DECISIONS stays for now",
}


def browse(c: Clinic, user: User, *, second_factor: bool = True) -> None:
    """The client as a browser of `user` (her second factor passed unless told)."""
    browse_as(c.client, c.world.login_cookie(user, second_factor=second_factor))
    c.world.db.commit()


def page_url(c: Clinic, tail: str = "") -> str:
    return f"/console/o/{c.ngo.id}/cases/{c.case['id']}{tail}"


def last_event(db: Session) -> int:
    return int(db.exec(select(func.coalesce(func.max(AuditEvent.id), 0))).one())


def events_since(db: Session, since: int) -> list[AuditEvent]:
    db.expire_all()
    return list(
        db.exec(select(AuditEvent).where(col(AuditEvent.id) > since).order_by(col(AuditEvent.id)))
    )


def shape(event: AuditEvent) -> tuple[Any, ...]:
    """An audit event as the page and the API must agree on it: all but the view it names (a
    page names its own path: "GET /console/o/{org_id}/cases/{case_id}")."""
    reason = event.reason
    if event.action == "case.read":
        reason = (reason or "").partition("; ")[0]
    elif event.action == "case.refused":
        reason = None
    return (
        event.action,
        event.subject_type,
        event.subject_id,
        event.organisation_id,
        event.actor_type,
        event.actor_id,
        reason,
    )


def markers_in(text: str) -> set[str]:
    return set(MARKER.findall(text))


def with_markers(c: Clinic) -> None:
    """A case with markers in its sealed fields: name, contact note, step, plan (2 revisions),
    the purpose of a consent to the neighbour NGO."""
    c.case = c.open_case(name="MARKER-NAME Ana")
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
            c.url + "/steps",
            json={
                "agency": "police",
                "what": "MARKER-STEP ask for the order",
                "due_at": (c.now + timedelta(days=2)).isoformat(),
            },
        ),
        201,
    )
    ok(c.client.post(c.url + "/plan", json=PLAN), 201)
    ok(c.client.post(c.url + "/plan", json={**PLAN, "safe_to_call": True}), 201)
    c.consent(c.neighbour, ["identity"], purpose="MARKER-PURPOSE shelter request")


# (console page, the API GET it mirrors), as paths of a clinic with a case.
PAGES: dict[str, tuple[str, str]] = {
    "list": ("/console/o/{org}/cases", "/organisations/{org}/cases"),
    "case": ("/console/o/{org}/cases/{case}", "/organisations/{org}/cases/{case}"),
    "risk": (
        "/console/o/{org}/cases/{case}/risk",
        "/organisations/{org}/cases/{case}/risk-assessments",
    ),
    "plan": ("/console/o/{org}/cases/{case}/plan", "/organisations/{org}/cases/{case}/plan"),
    "compare": (
        "/console/o/{org}/cases/{case}/plan/compare?from=1&to=2",
        "/organisations/{org}/cases/{case}/plan/diff?from=1&to=2",
    ),
    "readers": (
        "/console/o/{org}/cases/{case}/readers",
        "/organisations/{org}/cases/{case}/readers",
    ),
    "break-glass": ("/console/o/{org}/break-glass", "/organisations/{org}/break-glass"),
    "case-tasks": ("/console/o/{org}/case-tasks", "/organisations/{org}/case-tasks"),
    "shared": ("/console/shared-cases/{case}", "/shared-cases/{case}"),
}


def paths(c: Clinic, name: str) -> tuple[str, str]:
    console, api = PAGES[name]
    values = {"org": c.ngo.id, "case": c.case["id"]}
    return console.format(**values), api.format(**values)


def test_her_case_list_work_list_and_a_new_case(
    clinic: Clinic, settings: Settings, db: Session
) -> None:
    c = clinic
    c.case = c.open_case(name="Ana Test")
    browse(c, c.owner)
    listed = c.client.get(f"/console/o/{c.ngo.id}/cases")
    assert listed.status_code == 200
    assert (
        f'href="/console/o/{c.ngo.id}/cases/{c.case["id"]}">{c.case["number"]}</a>' in listed.text
    )
    assert "<td>Ana Test</td>" in listed.text
    assert "Nothing is overdue or due soon on your cases." in listed.text
    assert '<a href="/console/o/' + str(c.ngo.id) + '/cases" aria-current="page">Cases</a>' in (
        listed.text
    )

    made = post_form(
        c.client,
        settings,
        f"/console/o/{c.ngo.id}/cases",
        {
            "name": "Mira Nova",
            "birth_year": "1990",
            "municipality": "Nikšić",
            "languages": "sr, en",
            "violence_types": ["physical", "economic"],
            "children_involved": "true",
        },
    )
    assert made.status_code == 303
    target = made.headers["location"]
    match = re.fullmatch(rf"/console/o/{c.ngo.id}/cases/([0-9a-f-]+)\?done=case_opened", target)
    assert match is not None
    case = ok(c.client.get(f"{c.cases}/{match.group(1)}"))
    assert (case["name"], case["birth_year"], case["municipality"]) == ("Mira Nova", 1990, "Nikšić")
    assert (case["languages"], case["violence_types"]) == (["en", "sr"], ["economic", "physical"])
    assert (case["children_involved"], case["owner_id"]) == (True, str(c.owner.id))
    shown = c.client.get(target)
    assert shown.status_code == 200
    assert '<p class="flash" role="status">The case is opened.</p>' in shown.text
    assert f"<h1>Case {case['number']}</h1>" in shown.text


def test_a_bad_new_case_shows_the_problem_and_opens_nothing(
    clinic: Clinic, settings: Settings, db: Session
) -> None:
    c = clinic
    browse(c, c.owner)
    before = count(db, SafetyCase)
    bad = post_form(
        c.client, settings, f"/console/o/{c.ngo.id}/cases", {"name": "Mira", "birth_year": "1800"}
    )
    assert bad.status_code == 422
    assert "Please check what you entered." in bad.text
    assert 'value="Mira"' in bad.text  # what she typed is offered again
    assert count(db, SafetyCase) == before
    # A form without this browser's token is refused before anything is read or done.
    forged = c.client.post(f"/console/o/{c.ngo.id}/cases", data={"name": "Mira"})
    assert forged.status_code == 403
    assert count(db, SafetyCase) == before


def test_the_case_page_and_its_forms(clinic: Clinic, settings: Settings, db: Session) -> None:
    c = clinic
    c.case = c.open_case(name="Ana Test")
    browse(c, c.member)
    base = page_url(c)
    shown = c.client.get(base)
    assert shown.status_code == 200
    assert "<dt>Name</dt><dd>Ana Test</dd>" in shown.text
    assert "<dt>Status</dt><dd>Open</dd>" in shown.text
    assert "Who saw this case" not in shown.text  # the owner's report: not the member's link

    contact = post_form(
        c.client,
        settings,
        base + "/contacts",
        {
            "channel": "walk_in",
            "occurred_at": "2026-03-02T08:30",
            "duration_minutes": "20",
            "note": "Came with her sister",
        },
    )
    assert (contact.status_code, contact.headers["location"]) == (
        303,
        base + "?done=contact_logged",
    )
    contacts = ok(c.client.get(c.url + "/contacts"))
    # 08:30 on the organisation's wall clock (Podgorica, UTC+1 in March).
    assert [(x["channel"], x["occurred_at"], x["note"]) for x in contacts] == [
        ("walk_in", "2026-03-02T07:30:00Z", "Came with her sister")
    ]

    service = post_form(
        c.client,
        settings,
        base + "/services",
        {
            "kind": "escort",
            "given_at": "2026-03-02T09:00",
            "duration_minutes": "90",
            "escort_place": "court",
        },
    )
    assert (service.status_code, service.headers["location"]) == (
        303,
        base + "?done=service_logged",
    )
    services = ok(c.client.get(c.url + "/services"))
    assert [(s["kind"], s["escort_place"], s["at_night"]) for s in services] == [
        ("escort", "court", False)
    ]

    step = post_form(
        c.client,
        settings,
        base + "/steps",
        {"agency": "csw", "what": "Ask for the child's placement", "due_at": "2026-03-05T12:00"},
    )
    assert (step.status_code, step.headers["location"]) == (303, base + "?done=step_added")
    step_id = ok(c.client.get(c.url + "/steps"))[0]["id"]
    moved = post_form(c.client, settings, f"{base}/steps/{step_id}", {"status": "done"})
    assert (moved.status_code, moved.headers["location"]) == (303, base + "?done=step_updated")
    assert [s["status"] for s in ok(c.client.get(c.url + "/steps"))] == ["done"]

    dormant = post_form(
        c.client, settings, base + "/status", {"status": "dormant", "reason": "client_paused"}
    )
    assert (dormant.status_code, dormant.headers["location"]) == (303, base + "?done=case_status")
    page = c.client.get(base + "?done=case_status")
    assert "<dt>Status</dt><dd>Dormant (She paused the work)</dd>" in page.text
    assert "The case's status is changed." in page.text
    assert "<td>Walk-in</td>" in page.text
    assert "<td>Came with her sister</td>" in page.text
    assert "<p>Ask for the child&#39;s placement</p>" in page.text
    closed = post_form(
        c.client, settings, base + "/status", {"status": "closed", "reason": "goals_met"}
    )
    assert closed.status_code == 303
    assert ok(c.client.get(c.url))["status"] == "closed"
    reopened = post_form(c.client, settings, base + "/status", {"status": "open"})
    assert reopened.status_code == 303
    # Four changes (all at the frozen instant, so in no particular order).
    assert sorted(h["status"] for h in ok(c.client.get(c.url + "/status"))) == [
        "closed",
        "dormant",
        "open",
        "open",
    ]


def test_a_bad_form_on_the_case_page_shows_the_problem_and_changes_nothing(
    clinic: Clinic, settings: Settings, db: Session
) -> None:
    c = clinic
    c.case = c.open_case()
    browse(c, c.owner)
    base = page_url(c)
    tables = (CaseContact, CaseService, AssistanceStep)
    before = [count(db, t) for t in tables]
    events = last_event(db)
    cases = [
        ("/contacts", {"channel": "routed_call", "occurred_at": "2026-03-02T08:30"}, 422),
        (
            "/services",
            {"kind": "escort", "given_at": "2026-03-02T08:30", "duration_minutes": "5"},
            422,
        ),
        ("/steps", {"agency": "csw", "what": "x", "due_at": "yesterday"}, 422),
        ("/steps/00000000-0000-0000-0000-000000000000", {"status": "done"}, 404),
        ("/status", {"status": "closed"}, 422),
        ("/links", {"kind": "stay", "target_id": "00000000-0000-0000-0000-000000000000"}, 422),
    ]
    for tail, data, status in cases:
        answer = post_form(c.client, settings, base + tail, data)
        assert (tail, answer.status_code) == (tail, status)
        assert (
            '<div class="problem" role="alert"><p>Please check what you entered.</p>' in answer.text
        )
        assert f"<h1>Case {c.case['number']}</h1>" in answer.text
    assert [count(db, t) for t in tables] == before
    assert ok(c.client.get(c.url))["status"] == "open"
    # Nothing was done, so nothing but the reads of the case API above was audited.
    assert {e.action for e in events_since(db, events)} == {"case.read"}


@pytest.mark.parametrize("code", ["sq", "sr_Cyrl"])
def test_the_risk_questions_are_asked_in_her_language(
    clinic: Clinic, settings: Settings, db: Session, code: str
) -> None:
    c = clinic
    c.case = c.open_case()
    c.owner.locale = code
    db.add(c.owner)
    db.flush()
    browse(c, c.owner)
    form = c.client.get(page_url(c, "/risk")).text.replace("&#39;", "'")
    tool = instrument()
    with i18n.use(i18n.language(code)):
        asked = [i18n.gettext(q.text) for q in tool.questions]
        title = i18n.gettext(tool.title)
    for question, text in zip(tool.questions, asked, strict=True):
        assert text != question.text
        assert f"<legend>{text}" in form
    assert title in form
    assert "Has the abuser ever" not in form


def test_the_risk_form_is_the_instrument_and_its_answer_shows_the_level(
    clinic: Clinic, settings: Settings, db: Session
) -> None:
    c = clinic
    c.case = c.open_case()
    browse(c, c.owner)
    risk = page_url(c, "/risk")
    form = c.client.get(risk)
    assert form.status_code == 200
    tool = instrument()
    for question in tool.questions:
        # Every question a fieldset of three radios, in her language (here English).
        assert f"<legend>{question.text}" in form.text.replace("&#39;", "'")
        for answer in ("yes", "no", "unknown"):
            assert f'name="answers.{question.id}" value="{answer}" required>' in form.text
    assert form.text.count("<fieldset>") == len(tool.questions) + 1  # and the judgement's

    answers = {f"answers.{k}": v for k, v in all_no(strangulation="yes", injured="unknown").items()}
    saved = post_form(c.client, settings, risk, answers)
    assert (saved.status_code, saved.headers["location"]) == (303, risk + "?done=risk_assessed")
    assessed = ok(c.client.get(c.url + "/risk-assessments"))
    assert [(a["level"], a["critical_yes"]) for a in assessed] == [("high", ["strangulation"])]
    shown = c.client.get(saved.headers["location"])
    assert '<dd><span class="tag overdue">High</span></dd>' in shown.text
    strangled = next(q.text for q in tool.questions if q.id == "strangulation")
    assert f"<li>{strangled}</li>" in shown.text
    assert "<dt>Unknown answers</dt><dd>1</dd>" in shown.text

    # A judgement below the computed level is refused: the page again, nothing saved.
    lower = {**answers, "judgement": "standard", "judgement_reason": "She seems calm"}
    refused = post_form(c.client, settings, risk, lower)
    assert refused.status_code == 422
    assert "never lower it" in refused.text
    assert 'value="yes" required checked>' in refused.text  # her answers kept
    assert count(db, RiskAssessment) == 1
    # A missing answer is refused the same way.
    missing = {k: v for k, v in answers.items() if k != "answers.weapon"}
    assert post_form(c.client, settings, risk, missing).status_code == 422
    assert count(db, RiskAssessment) == 1


def test_the_plan_its_new_revision_and_two_revisions_side_by_side(
    clinic: Clinic, settings: Settings, db: Session
) -> None:
    c = clinic
    c.case = c.open_case()
    browse(c, c.owner)
    plan = page_url(c, "/plan")
    empty = c.client.get(plan)
    assert empty.status_code == 200
    assert "There is no safety plan yet." in empty.text
    first = {
        "safe_contacts.0.name": "Her sister",
        "safe_contacts.0.how": "at work",
        "safe_contacts.1.name": "",
        "safe_contacts.1.how": "",
        "code_word": "blue kettle",
        "escape_plan.where_to_go": "her aunt's",
        "her_decisions": "Stays for now",
    }
    saved = post_form(c.client, settings, plan, first)
    assert (saved.status_code, saved.headers["location"]) == (303, plan + "?done=plan_revised")
    second = {**first, "safe_to_call": "true", "code_word": "red kettle"}
    assert post_form(c.client, settings, plan, second).status_code == 303
    current = ok(c.client.get(c.url + "/plan"))
    assert current["revision"] == 2
    assert current["plan"]["safe_contacts"] == [
        {"name": "Her sister", "how": "at work", "note": None}
    ]
    assert (current["plan"]["code_word"], current["plan"]["safe_to_call"]) == ("red kettle", True)
    assert current["plan"]["escape_plan"]["where_to_go"] == "her aunt's"

    shown = c.client.get(plan)
    assert 'value="red kettle"' in shown.text  # the form starts from the plan as it stands
    compared = c.client.get(plan + "/compare?from=1&to=2")
    assert compared.status_code == 200
    assert '<div class="side-by-side">' in compared.text
    assert '<h2 id="revision-1">Revision 1</h2>' in compared.text
    assert '<h2 id="revision-2">Revision 2</h2>' in compared.text
    assert "2 fields changed." in compared.text
    changed = '<span class="tag soon">Changed</span>'
    assert compared.text.count(changed) == 4  # two fields, marked in both columns
    assert f"<dt>Code word {changed}</dt>" in compared.text
    assert f"<dt>Safe to call her back {changed}</dt>" in compared.text
    assert "<dt>Safe contacts</dt>" in compared.text  # unchanged, unmarked
    assert "<dd>blue kettle</dd>" in compared.text
    assert "<dd>red kettle</dd>" in compared.text
    # The API's refusals, as pages.
    assert c.client.get(plan + "/compare?from=2&to=2").status_code == 422
    assert c.client.get(plan + "/compare?from=1&to=9").status_code == 404

    # A contact without how to reach her: refused, no revision made.
    bad = post_form(
        c.client, settings, plan, {"safe_contacts.0.name": "Her sister", "code_word": "green"}
    )
    assert bad.status_code == 422
    assert 'value="green"' in bad.text  # what she entered is offered again
    assert count(db, PlanRevision) == 2


def test_who_saw_this_case_is_the_owners_page(clinic: Clinic, settings: Settings) -> None:
    c = clinic
    c.case = c.open_case()
    browse(c, c.member)
    assert c.client.get(page_url(c)).status_code == 200
    readers = page_url(c, "/readers")
    refused = c.client.get(readers)
    assert refused.status_code == 403
    assert c.client.get(c.url + "/readers").status_code == 403
    browse(c, c.owner)
    report = c.client.get(readers)
    assert report.status_code == 200
    assert f"<h1>Who saw case {c.case['number']}</h1>" in report.text
    # The member's page view, her refused attempt, on the page and the route that she used.
    assert f"<td><code>{c.member.id}</code></td>" in report.text
    assert '<td><code lang="en">GET /console/o/{org_id}/cases/{case_id}</code></td>' in report.text
    assert (
        '<td>Refused</td>\n    <td></td>\n    <td><code lang="en">'
        "GET /console/o/{org_id}/cases/{case_id}/readers</code></td>"
    ) in report.text
    assert "<td>Case team</td>" in report.text


def test_break_glass_opens_a_case_for_a_supervisor_and_a_second_one_signs_it_off(
    clinic: Clinic, settings: Settings, db: Session
) -> None:
    c = clinic
    c.case = c.open_case(name="Ana Test")
    desk = f"/console/o/{c.ngo.id}/break-glass"
    browse(c, c.owner)
    assert c.client.get(desk).status_code == 403  # supervisors only, as the API
    browse(c, c.supervisor)
    assert c.client.get(page_url(c)).status_code == 404  # not her team
    assert c.client.get(desk).status_code == 200
    short = post_form(c.client, settings, desk, {"case_number": c.case["number"], "reason": "now"})
    assert short.status_code == 422
    unknown = post_form(
        c.client,
        settings,
        desk,
        {"case_number": "K-NOSUCH", "reason": "She called the night line in danger"},
    )
    assert unknown.status_code == 404
    assert ok(c.client.get(f"{c.org}/break-glass")) == []
    reason = "She called the night line in danger, owner away"
    opened = post_form(
        c.client, settings, desk, {"case_number": c.case["number"], "reason": reason}
    )
    assert (opened.status_code, opened.headers["location"]) == (
        303,
        page_url(c) + "?done=break_glass_opened",
    )
    case = c.client.get(opened.headers["location"])
    assert case.status_code == 200
    assert "You read this case as: Break-glass opening. Every read is recorded." in case.text
    assert "<dt>Name</dt><dd>Ana Test</dd>" in case.text
    review = c.client.get(desk)
    assert f"<dd>{reason}</dd>" in review.text
    assert "Another supervisor signs your own openings off." in review.text
    opening = ok(c.client.get(f"{c.org}/break-glass"))[0]
    own = post_form(c.client, settings, f"{desk}/{opening['id']}/sign-off", {"note": "Mine"})
    assert own.status_code == 403  # not her own
    browse(c, c.supervisor2)
    signed = post_form(c.client, settings, f"{desk}/{opening['id']}/sign-off", {"note": "Fine"})
    assert (signed.status_code, signed.headers["location"]) == (
        303,
        desk + "?done=break_glass_signed",
    )
    assert ok(c.client.get(f"{c.org}/break-glass")) == []
    done = ok(c.client.get(f"{c.org}/break-glass?pending=false"))
    assert [(o["review_note"], o["reviewed_by"]) for o in done] == [("Fine", str(c.supervisor2.id))]


def test_case_conferences_to_call(clinic: Clinic, settings: Settings) -> None:
    c = clinic
    c.case = c.open_case()
    ok(c.client.post(c.url + "/risk-assessments", json={"answers": all_no(weapon="yes")}), 201)
    tasks = f"/console/o/{c.ngo.id}/case-tasks"
    browse(c, c.owner)
    assert c.client.get(tasks).status_code == 403
    listed = c.client.get(f"/console/o/{c.ngo.id}/cases")
    assert "Case conferences to call" not in listed.text  # a supervisor's work
    browse(c, c.supervisor)
    shown = c.client.get(tasks)
    assert shown.status_code == 200
    assert f"<td>{c.case['number']}</td>" in shown.text
    assert "<td>Case conference</td>" in shown.text
    task = ok(c.client.get(f"{c.org}/case-tasks"))[0]
    done = post_form(c.client, settings, f"{tasks}/{task['id']}/done")
    assert (done.status_code, done.headers["location"]) == (303, tasks + "?done=case_task_done")
    assert ok(c.client.get(f"{c.org}/case-tasks")) == []
    again = post_form(c.client, settings, f"{tasks}/{task['id']}/done")
    assert again.status_code == 409
    assert "No case conference waits to be called." in again.text


def test_the_pages_speak_her_language(clinic: Clinic, db: Session) -> None:
    c = clinic
    with_markers(c)
    c.owner.locale = "sr_Cyrl"
    db.add(c.owner)
    db.commit()
    browse(c, c.owner)
    for name in ("list", "case", "risk", "plan", "compare", "readers"):
        shown = c.client.get(paths(c, name)[0])
        assert (name, shown.status_code) == (name, 200)
        assert '<html lang="sr-Cyrl-ME">' in shown.text


def test_the_work_list_shows_overdue_reassessments_and_steps(clinic: Clinic) -> None:
    c = clinic
    c.case = c.open_case()
    ok(c.client.post(c.url + "/risk-assessments", json={"answers": all_no(weapon="yes")}), 201)
    step = {"agency": "police", "what": "Ask for the order", "due_at": c.now.isoformat()}
    ok(c.client.post(c.url + "/steps", json=step), 201)
    c.world.clock.advance(timedelta(days=8))  # a high level is reassessed within 7 days
    browse(c, c.owner)
    listed = c.client.get(f"/console/o/{c.ngo.id}/cases")
    assert listed.status_code == 200
    assert "<h3>Reassessments overdue</h3>" in listed.text
    assert f'<li><a href="{page_url(c, "/risk")}">{c.case["number"]}</a>' in listed.text
    assert "<h3>Your overdue steps</h3>" in listed.text
    assert "Police: Ask for the order" in listed.text
    assert '<span class="tag overdue">High</span>' in listed.text


def test_her_consent_recorded_and_withdrawn_on_the_case_page(
    clinic: Clinic, settings: Settings, db: Session
) -> None:
    c = clinic
    c.case = c.open_case(name="Ana Test")
    browse(c, c.owner)
    base = page_url(c)
    consent = {
        "recipient_organisation_id": str(c.csw.id),
        "purpose": "CSW decision on accommodation",
        "expires_at": "2026-04-01T12:00",
    }
    before = count(db, Consent)
    refused = post_form(c.client, settings, base + "/consents", consent)  # no section named
    assert refused.status_code == 422
    assert count(db, Consent) == before
    recorded = post_form(
        c.client, settings, base + "/consents", {**consent, "sections": ["identity", "risk"]}
    )
    assert (recorded.status_code, recorded.headers["location"]) == (
        303,
        base + "?done=consent_recorded",
    )
    made = ok(c.client.get(c.url + "/consents"))
    assert [(x["sections"], x["live"]) for x in made] == [(["identity", "risk"], True)]
    shown = c.client.get(base)
    assert "<dd>CSW decision on accommodation</dd>" in shown.text
    assert '<span class="tag ok">In force</span>' in shown.text
    browse(c, c.officer)
    shared = c.client.get(f"/console/shared-cases/{c.case['id']}")
    assert shared.status_code == 200
    assert "<dt>Name</dt><dd>Ana Test</dd>" in shared.text
    browse(c, c.member)  # the team may read, only the team's own basis may withdraw
    withdrawn = post_form(c.client, settings, f"{base}/consents/{made[0]['id']}/withdraw")
    assert (withdrawn.status_code, withdrawn.headers["location"]) == (
        303,
        base + "?done=consent_withdrawn",
    )
    browse(c, c.officer)
    assert c.client.get(f"/console/shared-cases/{c.case['id']}").status_code == 404
