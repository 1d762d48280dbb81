"""Break-glass and its review, consents and do-not-disclose, "who saw this case", status history,
contacts and services, links, and the plan's append-only revisions."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from core.models import Role
from notifications.models import OutboxMessage
from safety_plans import errors
from tests.safety_plans.conftest import Clinic, all_no, ok


def test_break_glass_alerts_the_owner_and_the_other_supervisors_and_waits_for_review(
    clinic: Clinic, db: Session
) -> None:
    c = clinic
    c.case = c.open_case()
    third = c.world.user(c.ngo, Role.SUPERVISOR, email="sup3@ngo.example.org")
    c.world.db.commit()
    opening = c.break_glass(c.supervisor, reason="She called the night line, owner away")
    assert opening["case_number"] == c.case["number"]
    assert opening["expires_at"] == (c.now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (opening["reviewed_at"], opening["review_note"]) == (None, None)

    db.expire_all()
    alerts = db.exec(
        select(OutboxMessage)
        .where(OutboxMessage.topic == "case.break_glass")
        .order_by(col(OutboxMessage.recipient))
    ).all()
    number = c.case["number"]
    assert [(m.recipient, m.subject, m.idempotency_key) for m in alerts] == [
        (
            "owner@ngo.example.org",
            f"Break-glass on case {number}",
            f"break-glass:{opening['id']}:u{c.owner.id}",
        ),
        (
            "sup2@ngo.example.org",
            f"Break-glass on case {number}",
            f"break-glass:{opening['id']}:u{c.supervisor2.id}",
        ),
        (
            "sup3@ngo.example.org",
            f"Break-glass on case {number}",
            f"break-glass:{opening['id']}:u{third.id}",
        ),
    ]
    assert alerts[0].body == (
        f"Sigurna: case {number} was opened by break-glass for one hour. The opening waits "
        "for a second supervisor's review: https://sigurna.example.org/"
    )

    c.as_(c.supervisor)
    assert ok(c.client.get(c.url))["access"] == "break_glass"
    pending = ok(c.client.get(c.org + "/break-glass"))
    assert [p["id"] for p in pending] == [opening["id"]]
    refused = c.client.post(
        f"{c.org}/break-glass/{opening['id']}/sign-off", json={"note": "I was right"}
    )
    assert (refused.status_code, refused.json()["message"]) == (403, errors.SIGN_OFF_SELF)

    c.world.clock.advance(timedelta(minutes=30))
    c.as_(c.supervisor2)
    signed = ok(
        c.client.post(f"{c.org}/break-glass/{opening['id']}/sign-off", json={"note": "Justified"})
    )
    assert (signed["reviewed_by"], signed["review_note"]) == (str(c.supervisor2.id), "Justified")
    assert signed["reviewed_at"] == c.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ok(c.client.get(c.org + "/break-glass")) == []
    assert [r["id"] for r in ok(c.client.get(c.org + "/break-glass?pending=false"))] == [
        opening["id"]
    ]
    # The hour is over: the opener is out again.
    c.world.clock.advance(timedelta(minutes=30))
    c.as_(c.supervisor)
    assert c.client.get(c.url).status_code == 404


def test_a_withdrawn_consent_stops_the_next_read(clinic: Clinic) -> None:
    c = clinic
    c.case = c.open_case()
    consent = c.consent(c.csw, ["identity"])
    c.as_(c.officer)
    shared = f"/shared-cases/{c.case['id']}"
    assert ok(c.client.get(shared))["name"] == "Ana Test"
    c.as_(c.owner)
    withdrawn = ok(c.client.post(f"{c.url}/consents/{consent['id']}/withdraw"))
    assert (withdrawn["live"], withdrawn["withdrawn_at"]) == (
        False,
        c.now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    c.as_(c.officer)
    assert c.client.get(shared).status_code == 404


def test_do_not_disclose_blocks_consent_reads_and_outsiders_never_see_the_case(
    clinic: Clinic,
) -> None:
    c = clinic
    c.case = c.open_case()
    c.consent(c.csw, ["risk", "identity"])
    ok(c.client.patch(c.url, json={"do_not_disclose": True}))
    c.as_(c.officer)
    refused = c.client.get(f"/shared-cases/{c.case['id']}")
    assert (refused.status_code, refused.json()["message"]) == (404, "Not found.")
    c.as_(c.other)
    assert ok(c.client.get(c.cases)) == {"items": [], "next_cursor": None}
    assert c.case["id"] not in c.client.get(c.cases + "/work-list").text
    assert c.client.get(c.url + "/links").status_code == 404
    # The team still works it.
    c.as_(c.member)
    assert [i["id"] for i in ok(c.client.get(c.cases))["items"]] == [c.case["id"]]


def test_who_saw_this_case_lists_every_read_and_refusal_for_the_owner_only(
    clinic: Clinic,
) -> None:
    c = clinic
    c.case = c.open_case()
    c.as_(c.member)
    ok(c.client.get(c.url))
    c.as_(c.other)
    assert c.client.get(c.url + "/plan").status_code == 404
    c.break_glass(c.supervisor)
    c.as_(c.supervisor)
    ok(c.client.get(c.url + "/contacts"))
    c.as_(c.member)
    refused = c.client.get(c.url + "/readers")
    assert (refused.status_code, refused.json()["message"]) == (403, errors.OWNER_ONLY)

    c.as_(c.owner)
    report = ok(c.client.get(c.url + "/readers"))
    assert [(r["action"], r["user_id"], r["basis"]) for r in report] == [
        ("case.created", str(c.owner.id), None),
        ("case.read", str(c.member.id), "team"),
        ("case.refused", str(c.other.id), None),
        ("case.break_glass", str(c.supervisor.id), None),
        ("case.read", str(c.supervisor.id), "break_glass"),
        ("case.refused", str(c.member.id), None),  # the member asked for the owner's report
        ("case.read", str(c.owner.id), "team"),
    ]


def test_status_changes_keep_their_history(clinic: Clinic) -> None:
    c = clinic
    c.case = c.open_case()
    steps = [
        ({"status": "dormant", "reason": "no_contact"}, "dormant", "no_contact"),
        ({"status": "closed", "reason": "goals_met"}, "closed", "goals_met"),
        ({"status": "open"}, "open", None),
    ]
    for body, status, reason in steps:
        c.world.clock.advance(timedelta(days=1))
        c.as_(c.owner)
        changed = ok(c.client.post(c.url + "/status", json=body))
        assert (changed["status"], changed["status_reason"]) == (status, reason)
    history = ok(c.client.get(c.url + "/status"))
    assert [(h["status"], h["reason"], h["changed_by"]) for h in history] == [
        ("open", None, str(c.owner.id)),
        ("dormant", "no_contact", str(c.owner.id)),
        ("closed", "goals_met", str(c.owner.id)),
        ("open", None, str(c.owner.id)),
    ]
    assert [ok(c.client.get(c.cases + "?status=open"))["items"][0]["id"]] == [c.case["id"]]
    assert ok(c.client.get(c.cases + "?status=closed"))["items"] == []


def test_a_closed_case_takes_no_writes_until_it_is_reopened(clinic: Clinic) -> None:
    c = clinic
    c.case = c.open_case()
    c.as_(c.owner)
    ok(c.client.post(c.url + "/status", json={"status": "closed", "reason": "moved_away"}))
    contact = {"channel": "email", "occurred_at": c.now.isoformat()}
    refused = c.client.post(c.url + "/contacts", json=contact)
    assert (refused.status_code, refused.json()["message"]) == (409, errors.CLOSED)
    patched = c.client.patch(c.url, json={"municipality": "Demo Town"})
    assert (patched.status_code, patched.json()["message"]) == (409, errors.CLOSED)
    assert ok(c.client.get(c.url + "/contacts")) == []  # reading it still works
    ok(c.client.post(c.url + "/status", json={"status": "open"}))
    ok(c.client.post(c.url + "/contacts", json=contact), 201)


def test_contacts_and_services_are_logged_in_order(clinic: Clinic) -> None:
    c = clinic
    c.case = c.open_case()
    earlier = c.now - timedelta(hours=3)
    later = c.now - timedelta(hours=1)
    ok(
        c.client.post(
            c.url + "/contacts",
            json={"channel": "email", "occurred_at": later.isoformat(), "note": "Wrote back"},
        ),
        201,
    )
    ok(
        c.client.post(
            c.url + "/contacts",
            json={"channel": "walk_in", "occurred_at": earlier.isoformat(), "duration_minutes": 45},
        ),
        201,
    )
    contacts = ok(c.client.get(c.url + "/contacts"))
    assert [
        (x["channel"], x["duration_minutes"], x["note"], x["counselor_id"]) for x in contacts
    ] == [
        ("walk_in", 45, None, str(c.owner.id)),
        ("email", None, "Wrote back", str(c.owner.id)),
    ]
    ok(
        c.client.post(
            c.url + "/services",
            json={
                "kind": "escort",
                "given_at": earlier.isoformat(),
                "duration_minutes": 120,
                "escort_place": "court",
                "at_night": False,
                "given_by": str(c.member.id),
            },
        ),
        201,
    )
    services = ok(c.client.get(c.url + "/services"))
    assert [
        (s["kind"], s["duration_minutes"], s["escort_place"], s["at_night"], s["given_by"])
        for s in services
    ] == [("escort", 120, "court", False, str(c.member.id))]


def test_a_stay_links_to_one_case_only(clinic: Clinic) -> None:
    c = clinic
    stay = c.admit()
    c.case = c.open_case()
    first = c.case
    c.link_stay(stay)
    links = ok(c.client.get(c.url + "/links"))
    assert [(x["kind"], x["target_id"], x["linked_by"]) for x in links] == [
        ("stay", stay, str(c.owner.id))
    ]
    c.case = c.open_case(name="Druga")
    again = c.client.post(c.url + "/links", json={"kind": "stay", "target_id": stay})
    # Answered as for a stay that is not the organisation's: another case's is not for her to know.
    assert (again.status_code, again.json()["message"]) == (
        422,
        "target_id: not a stay of this organisation that can be linked to this case.",
    )
    assert ok(c.client.get(c.url + "/links")) == []
    c.case = first


def test_plan_revisions_are_append_only_and_compare_field_by_field(clinic: Clinic) -> None:
    c = clinic
    c.case = c.open_case()
    assert c.client.get(c.url + "/plan").json()["message"] == errors.NO_PLAN
    one = {"code_word": "sunce", "escape_plan": {"bag": "at her sister's"}}
    two = {
        "code_word": "sunce",
        "escape_plan": {"bag": "at work", "documents": "copies at the NGO"},
        "safe_contacts": [{"name": "Sister", "how": "in person"}],
    }
    ok(c.client.post(c.url + "/plan", json=one), 201)
    c.world.clock.advance(timedelta(hours=1))
    c.as_(c.member)
    ok(c.client.post(c.url + "/plan", json=two), 201)

    revisions = ok(c.client.get(c.url + "/plan/revisions"))
    assert [(r["revision"], r["author_id"]) for r in revisions] == [
        (1, str(c.owner.id)),
        (2, str(c.member.id)),
    ]
    assert ok(c.client.get(c.url + "/plan/revisions/1"))["plan"]["escape_plan"]["bag"] == (
        "at her sister's"
    )
    assert ok(c.client.get(c.url + "/plan"))["revision"] == 2
    diff = ok(c.client.get(c.url + "/plan/diff?from=1&to=2"))
    assert diff == {
        "from_revision": 1,
        "to_revision": 2,
        "changes": [
            {"field": "escape_plan.bag", "before": "at her sister's", "after": "at work"},
            {"field": "escape_plan.documents", "before": None, "after": "copies at the NGO"},
            {
                "field": "safe_contacts",
                "before": [],
                "after": [{"name": "Sister", "how": "in person", "note": None}],
            },
        ],
    }


def test_a_high_assessment_calls_a_case_conference_a_supervisor_finishes(
    clinic: Clinic,
) -> None:
    c = clinic
    c.case = c.open_case()
    made = ok(
        c.client.post(c.url + "/risk-assessments", json={"answers": all_no(separation="yes")}),
        201,
    )
    assert (made["level"], made["computed_level"], made["critical_yes"]) == (
        "high",
        "high",
        ["separation"],
    )
    c.as_(c.supervisor)
    tasks = ok(c.client.get(c.org + "/case-tasks"))
    assert [(t["case_number"], t["kind"], t["due_at"]) for t in tasks] == [
        (c.case["number"], "case_conference", "2026-03-04T09:00:00Z")
    ]
    done = ok(c.client.post(f"{c.org}/case-tasks/{tasks[0]['id']}/done"))
    assert done["done_at"] == c.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ok(c.client.get(c.org + "/case-tasks")) == []


def test_a_step_belongs_to_someone_on_the_team_and_leaves_her_list_with_her(
    clinic: Clinic,
) -> None:
    c = clinic
    c.case = c.open_case(team=[str(c.member.id)])
    c.as_(c.owner)
    due = (c.now - timedelta(hours=1)).isoformat()
    outside = c.client.post(
        c.url + "/steps",
        json={
            "agency": "police",
            "what": "MARKER-STEP",
            "owner_id": str(c.spare.id),
            "due_at": due,
        },
    )
    assert (outside.status_code, outside.json()["message"]) == (
        422,
        errors.STEP_OWNER_NOT_A_COLLEAGUE,
    )
    made = c.client.post(
        c.url + "/steps",
        json={
            "agency": "police",
            "what": "MARKER-STEP",
            "owner_id": str(c.member.id),
            "due_at": due,
        },
    )
    assert made.status_code == 201, made.text
    c.as_(c.member)
    assert [s["what"] for s in ok(c.client.get(c.cases + "/work-list"))["steps_overdue"]] == [
        "MARKER-STEP"
    ]
    c.as_(c.owner)
    ok(c.client.delete(f"{c.url}/team/{c.member.id}"))
    c.as_(c.member)  # off the team: her step no longer shows her what it says
    listed = c.client.get(c.cases + "/work-list")
    assert listed.json()["steps_overdue"] == []
    assert "MARKER" not in listed.text
