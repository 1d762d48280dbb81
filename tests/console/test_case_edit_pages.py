"""The case page's card and team forms and the case's print view: each acts through its API
route (`PATCH …/cases/{case_id}`, `POST …/team`, `DELETE …/team/{user_id}`, `GET …/export`),
shows the API's refusal with its status and changes nothing then, and refuses whom the route
refuses."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session

from core.access import SECOND_FACTOR_NEEDED
from core.config import Settings
from core.models import User
from tests.console.conftest import post_form
from tests.console.test_case_pages import (
    browse,
    events_since,
    last_event,
    markers_in,
    page_url,
    shape,
    with_markers,
)
from tests.safety_plans import conftest as case_world
from tests.safety_plans.conftest import Clinic, all_no, ok

# The cases tests' world (a counselling service, its team, a shelter, neighbours), shared.
clinic = case_world.clinic
cipher = case_world.cipher

PROBLEM = '<div class="problem" role="alert"><p>Please check what you entered.</p>'
CARD = {
    "name": "Ana Nova",
    "birth_year": "",
    "age_band": "26_35",
    "municipality": "",
    "languages": "sq, en",
    # The form's hidden empty field, then the ticked boxes.
    "violence_types": ["", "economic", "psychological"],
    # The hidden "false" alone: the box is not ticked.
    "children_involved": "false",
    # The hidden "false", then the ticked box's "true".
    "do_not_disclose": ["false", "true"],
}
DETAILS: dict[str, Any] = {
    "name": "Ana Test",
    "birth_year": 1990,
    "municipality": "Nikšić",
    "languages": ["sr"],
    "violence_types": ["physical"],
    "children_involved": True,
}


def card_of(case: dict[str, Any]) -> tuple[Any, ...]:
    keys = (
        "name",
        "birth_year",
        "age_band",
        "municipality",
        "languages",
        "violence_types",
        "children_involved",
        "do_not_disclose",
        "owner_id",
    )
    return tuple(case[k] for k in keys)


def actions_since(db: Session, since: int) -> list[str]:
    return [e.action for e in events_since(db, since) if e.action != "case.read"]


def test_the_card_form_shows_the_card_and_changes_it(
    clinic: Clinic, settings: Settings, db: Session
) -> None:
    c = clinic
    c.case = c.open_case(**DETAILS)
    browse(c, c.member)
    base = page_url(c)
    shown = c.client.get(base)
    assert shown.status_code == 200
    # The form starts from the card as it stands.
    assert 'name="name" required maxlength="200" autocomplete="off" value="Ana Test">' in shown.text
    assert 'name="birth_year" type="number"' in shown.text
    assert 'inputmode="numeric" value="1990">' in shown.text
    assert 'name="municipality" maxlength="80" value="Nikšić">' in shown.text
    assert 'id="card-languages" name="languages" maxlength="60" value="sr">' in shown.text
    assert 'name="violence_types" value="physical" checked>' in shown.text
    assert 'name="violence_types" value="sexual">' in shown.text
    assert 'id="card-children" name="children_involved" value="true" checked>' in shown.text
    assert 'id="card-do-not-disclose" name="do_not_disclose" value="true">' in shown.text
    assert f'<a href="{base}/export">Everything on the case, to print</a>' in shown.text

    since = last_event(db)
    changed = post_form(c.client, settings, base + "/card", CARD)
    assert (changed.status_code, changed.headers["location"]) == (
        303,
        base + "?done=case_card_changed",
    )
    assert card_of(ok(c.client.get(c.url))) == (
        "Ana Nova",
        None,
        "26_35",
        None,
        ["en", "sq"],
        ["economic", "psychological"],
        False,
        True,
        str(c.owner.id),
    )
    assert actions_since(db, since) == ["case.updated"]
    page = c.client.get(changed.headers["location"])
    assert '<p class="flash" role="status">The case\'s card is changed.</p>' in page.text
    assert "<dt>Name</dt><dd>Ana Nova</dd>" in page.text
    assert "<dt>Do not disclose</dt><dd>Yes</dd>" in page.text
    assert "<dt>Municipality</dt>" not in page.text  # cleared
    assert 'name="violence_types" value="economic" checked>' in page.text


def test_a_bad_card_shows_the_problem_and_changes_nothing(
    clinic: Clinic, settings: Settings, db: Session
) -> None:
    c = clinic
    c.case = c.open_case(**DETAILS)
    browse(c, c.owner)
    base = page_url(c)
    before = card_of(ok(c.client.get(c.url)))
    since = last_event(db)
    bad = post_form(c.client, settings, base + "/card", {**CARD, "birth_year": "1800"})
    assert bad.status_code == 422
    assert PROBLEM in bad.text
    assert "birth_year" in bad.text
    assert 'value="Ana Nova">' in bad.text  # what she entered is offered again
    assert 'name="violence_types" value="economic" checked>' in bad.text
    assert 'name="violence_types" value="physical">' in bad.text
    languages = post_form(c.client, settings, base + "/card", {**CARD, "languages": "english"})
    assert languages.status_code == 422
    assert "languages are ISO 639 codes" in languages.text
    # An empty form: the API's "nothing to change".
    empty = post_form(c.client, settings, base + "/card")
    assert empty.status_code == 422
    assert "Nothing to change: send at least one field." in empty.text
    assert card_of(ok(c.client.get(c.url))) == before
    assert actions_since(db, since) == []


def test_handing_the_case_over(clinic: Clinic, settings: Settings, db: Session) -> None:
    c = clinic
    c.case = c.open_case()
    browse(c, c.owner)
    base = page_url(c)
    shown = c.client.get(base)
    member = f'<span id="member-{c.member.id}"><code>{c.member.id}</code></span>'
    assert member in shown.text
    assert f'<span id="member-{c.owner.id}">You (owner)</span>' in shown.text
    assert f'<input type="hidden" name="owner_id" value="{c.member.id}">' in shown.text
    assert f'action="{base}/team/{c.owner.id}/remove"' not in shown.text  # the owner stays
    # Shelter staff may be on the team but may not own the case: refused, nothing changed.
    since = last_event(db)
    staff = post_form(c.client, settings, base + "/owner", {"owner_id": str(c.staff.id)})
    assert staff.status_code == 422
    assert PROBLEM in staff.text
    assert "owner_id: not a counselor or supervisor of this organisation." in staff.text
    assert ok(c.client.get(c.url))["team"] == sorted([str(c.owner.id), str(c.member.id)])
    assert ok(c.client.get(c.url))["owner_id"] == str(c.owner.id)
    assert actions_since(db, since) == []

    handed = post_form(c.client, settings, base + "/owner", {"owner_id": str(c.member.id)})
    assert (handed.status_code, handed.headers["location"]) == (
        303,
        base + "?done=case_handed_over",
    )
    assert ok(c.client.get(c.url))["owner_id"] == str(c.member.id)
    page = c.client.get(handed.headers["location"])
    assert '<p class="flash" role="status">The case has a new owner.</p>' in page.text
    assert f'<span id="member-{c.member.id}"><code>{c.member.id}</code> (owner)</span>' in page.text


def test_adding_and_removing_a_colleague(clinic: Clinic, settings: Settings, db: Session) -> None:
    c = clinic
    c.case = c.open_case()
    browse(c, c.owner)
    base = page_url(c)
    added = post_form(c.client, settings, base + "/team", {"user_id": str(c.spare.id)})
    assert (added.status_code, added.headers["location"]) == (
        303,
        base + "?done=team_member_added",
    )
    team = sorted(str(u.id) for u in (c.owner, c.member, c.spare))
    assert ok(c.client.get(c.url))["team"] == team
    page = c.client.get(added.headers["location"])
    assert '<p class="flash" role="status">The colleague is on the case team.</p>' in page.text
    assert f'<span id="member-{c.spare.id}"><code>{c.spare.id}</code></span>' in page.text

    removed = post_form(c.client, settings, f"{base}/team/{c.spare.id}/remove")
    assert (removed.status_code, removed.headers["location"]) == (
        303,
        base + "?done=team_member_removed",
    )
    assert ok(c.client.get(c.url))["team"] == sorted([str(c.owner.id), str(c.member.id)])
    page = c.client.get(removed.headers["location"])
    assert '<p class="flash" role="status">The colleague is off the case team.</p>' in page.text
    assert f"<code>{c.spare.id}</code>" not in page.text

    # She takes herself off: her cases next, and the case is closed to her.
    browse(c, c.member)
    left = post_form(c.client, settings, f"{base}/team/{c.member.id}/remove")
    assert (left.status_code, left.headers["location"]) == (
        303,
        f"/console/o/{c.ngo.id}/cases?done=left_case_team",
    )
    cases = c.client.get(left.headers["location"])
    assert '<p class="flash" role="status">You are off that case\'s team.</p>' in cases.text
    assert c.client.get(base).status_code == 404


def _bad_team_forms(c: Clinic) -> dict[str, tuple[str, dict[str, str], int, str]]:
    """Each refused team form: (console tail, form, status, what the problem says)."""
    return {
        "not-an-id": ("/team", {"user_id": "not-a-user"}, 422, "user_id"),
        "missing": ("/team", {}, 422, "user_id"),
        "an-admin": (
            "/team",
            {"user_id": str(c.admin.id)},
            422,
            "user_id: not a counselor, supervisor or shelter worker of this organisation.",
        ),
        "the-owner": (
            f"/team/{c.owner.id}/remove",
            {},
            409,
            "The owner stays on the team: hand the case to another owner first.",
        ),
        "not-on-the-team": (f"/team/{c.spare.id}/remove", {}, 404, "Not found."),
    }


@pytest.mark.parametrize(
    "name", ["not-an-id", "missing", "an-admin", "the-owner", "not-on-the-team"]
)
def test_a_bad_team_form_shows_the_problem_and_changes_nothing(
    clinic: Clinic, settings: Settings, db: Session, name: str
) -> None:
    c = clinic
    c.case = c.open_case()
    browse(c, c.owner)
    tail, data, status, message = _bad_team_forms(c)[name]
    before = ok(c.client.get(c.url))["team"]
    since = last_event(db)
    answer = post_form(c.client, settings, page_url(c, tail), data)
    assert answer.status_code == status
    assert f"<h1>Case {c.case['number']}</h1>" in answer.text
    assert PROBLEM in answer.text
    assert message in answer.text
    assert ok(c.client.get(c.url))["team"] == before
    assert actions_since(db, since) == []


def _forms(c: Clinic) -> dict[str, tuple[str, dict[str, str], str, str, dict[str, str] | None]]:
    """Each form: (console tail, form, API method, API tail, API body)."""
    spare = {"user_id": str(c.spare.id)}
    return {
        "card": ("/card", {"name": "MARKER-INTRUDER"}, "PATCH", "", {"name": "MARKER-INTRUDER"}),
        "owner": (
            "/owner",
            {"owner_id": str(c.spare.id)},
            "PATCH",
            "",
            {"owner_id": str(c.spare.id)},
        ),
        "add": ("/team", spare, "POST", "/team", spare),
        "remove": (f"/team/{c.member.id}/remove", {}, "DELETE", f"/team/{c.member.id}", None),
    }


@pytest.mark.parametrize("form", ["card", "owner", "add", "remove"])
@pytest.mark.parametrize("who", ["not-on-the-team", "break-glass", "admin", "no-second-factor"])
def test_each_form_refuses_whom_its_api_route_refuses(
    clinic: Clinic, settings: Settings, db: Session, form: str, who: str
) -> None:
    c = clinic
    c.case = c.open_case(name="Ana Test")
    if who == "break-glass":
        c.break_glass(c.supervisor)  # reads and writes, but not the team's own acts
    user: User = {"not-on-the-team": c.spare, "break-glass": c.supervisor, "admin": c.admin}.get(
        who, c.owner
    )
    tail, data, method, api_tail, body = _forms(c)[form]
    browse(c, user, second_factor=who != "no-second-factor")
    before = last_event(db)
    answer = post_form(c.client, settings, page_url(c, tail), data)
    by_page = events_since(db, before)
    middle = last_event(db)
    api = c.client.request(method, c.url + api_tail, json=body)
    by_api = events_since(db, middle)
    assert [shape(e) for e in by_page] == [shape(e) for e in by_api]
    if who == "no-second-factor":
        assert api.json()["message"] == SECOND_FACTOR_NEEDED
        assert (answer.status_code, answer.headers["location"]) == (303, "/console/second-factor")
    else:
        expected = {"not-on-the-team": 404, "break-glass": 403, "admin": 403}[who]
        assert (answer.status_code, api.status_code) == (expected, expected)
        assert markers_in(answer.text) == set()
        if who == "break-glass":
            assert "Only the case team changes who is on it" in answer.text
        if expected == 404:
            assert "Ana Test" not in answer.text
    c.as_(c.owner)
    case = ok(c.client.get(c.url))
    assert (case["name"], case["owner_id"]) == ("Ana Test", str(c.owner.id))
    assert case["team"] == sorted([str(c.owner.id), str(c.member.id)])


def test_a_reader_outside_the_team_gets_no_team_forms(clinic: Clinic) -> None:
    c = clinic
    c.case = c.open_case()
    c.break_glass(c.supervisor)
    browse(c, c.supervisor)
    shown = c.client.get(page_url(c))
    assert shown.status_code == 200
    assert page_url(c, "/card") not in shown.text
    assert page_url(c, "/team") not in shown.text
    assert page_url(c, "/owner") not in shown.text
    assert f'<span id="member-{c.owner.id}"><code>{c.owner.id}</code> (owner)</span>' in shown.text


def test_a_closed_case_takes_no_card_or_team_change(
    clinic: Clinic, settings: Settings, db: Session
) -> None:
    c = clinic
    c.case = c.open_case()
    ok(c.client.post(c.url + "/status", json={"status": "closed", "reason": "goals_met"}))
    browse(c, c.owner)
    base = page_url(c)
    shown = c.client.get(base)
    assert base + "/card" not in shown.text
    assert base + "/team" not in shown.text
    since = last_event(db)
    for tail, data in (
        ("/card", CARD),
        ("/team", {"user_id": str(c.spare.id)}),
        (f"/team/{c.member.id}/remove", {}),
    ):
        answer = post_form(c.client, settings, base + tail, data)
        assert (tail, answer.status_code) == (tail, 409)
        assert "The case is closed: reopen it first." in answer.text
    assert ok(c.client.get(c.url))["name"] == "Ana Test"
    assert actions_since(db, since) == []


def test_the_print_view_holds_everything_and_is_audited_as_the_export(
    clinic: Clinic, db: Session
) -> None:
    c = clinic
    with_markers(c)
    ok(c.client.post(c.url + "/risk-assessments", json={"answers": all_no(weapon="yes")}), 201)
    browse(c, c.member)
    export = page_url(c, "/export")
    before = last_event(db)
    ok(c.client.get(c.url + "/export"))
    by_api = events_since(db, before)
    middle = last_event(db)
    shown = c.client.get(export)
    by_page = events_since(db, middle)
    assert shown.status_code == 200
    assert [shape(e) for e in by_page] == [shape(e) for e in by_api]
    assert [e.action for e in by_page] == ["case.read"]
    assert (by_page[0].reason or "").endswith("GET /console/o/{org_id}/cases/{case_id}/export")
    assert f"<h1>Everything on case {c.case['number']}</h1>" in shown.text
    assert markers_in(shown.text) == {
        "MARKER-NAME",
        "MARKER-NOTE",
        "MARKER-STEP",
        "MARKER-PURPOSE",
        "MARKER-SAFECONTACT",
        "MARKER-CODEWORD",
        "MARKER-ESCAPE",
        "MARKER-DECISIONS",
    }
    assert "<h3>Revision 1</h3>" in shown.text
    assert "<h3>Revision 2</h3>" in shown.text
    assert f"<li><code>{c.owner.id}</code> (owner)</li>" in shown.text
    assert "<li>You</li>" in shown.text
    assert "<td>Call on the office line</td>" in shown.text
    weapon = "Has the abuser ever used a weapon or an object to hurt her?"
    assert f"<li>{weapon}</li>" in shown.text  # a critical item answered yes
    assert f"<li>{weapon}: Yes</li>" in shown.text
    assert '<dt>Level</dt><dd><span class="tag overdue">High</span></dd>' in shown.text


@pytest.mark.parametrize("who", ["not-on-the-team", "admin", "other-organisation"])
def test_the_print_view_refuses_whom_the_export_refuses(
    clinic: Clinic, db: Session, who: str
) -> None:
    c = clinic
    with_markers(c)
    user = {"not-on-the-team": c.spare, "admin": c.admin, "other-organisation": c.outsider}[who]
    browse(c, user)
    page, api = c.client.get(page_url(c, "/export")), c.client.get(c.url + "/export")
    assert page.status_code == api.status_code == (403 if who == "admin" else 404)
    assert markers_in(page.text) == set()
    browse(c, c.owner, second_factor=False)
    assert c.client.get(c.url + "/export").json()["message"] == SECOND_FACTOR_NEEDED
    answer = c.client.get(page_url(c, "/export"), follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/second-factor")
