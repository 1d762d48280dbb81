"""Bad bodies on every write of cases: the exact status and message, and nothing changed (no row,
no audit event, no message)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from core.audit import AuditEvent
from notifications.models import OutboxMessage
from safety_plans import errors
from safety_plans.models import (
    AssistanceStep,
    BreakGlass,
    CaseContact,
    CaseDeadline,
    CaseLink,
    CaseMember,
    CaseService,
    CaseTask,
    Consent,
    PlanRevision,
    RiskAssessment,
    SafetyCase,
    StatusChange,
)
from tests.safety_plans.conftest import Clinic, all_no, count, ok

TABLES = (
    SafetyCase,
    CaseMember,
    StatusChange,
    CaseLink,
    CaseContact,
    CaseService,
    RiskAssessment,
    PlanRevision,
    AssistanceStep,
    CaseDeadline,
    CaseTask,
    Consent,
    BreakGlass,
    AuditEvent,
    OutboxMessage,
)


def snapshot(db: Session) -> dict[str, int]:
    db.expire_all()
    return {t.__name__: count(db, t) for t in TABLES}


@dataclass
class Ids:
    done_step: str = ""
    open_step: str = ""
    withdrawn: str = ""
    opening: str = ""  # the supervisor's own opening, signed off
    task: str = ""  # done
    foreign_call: str = ""


Want = tuple[int, str]  # status, message (exact, or a prefix when it ends with "…")


@dataclass(frozen=True)
class Bad:
    who: str  # owner, supervisor
    method: str
    url: Callable[[Clinic, Ids], str]
    body: Callable[[Clinic, Ids], Any]
    want: Want


def iso(c: Clinic, delta: timedelta) -> str:
    return (c.now + delta).isoformat()


def case(suffix: str = "") -> Callable[[Clinic, Ids], str]:
    return lambda c, i: c.url + suffix


def org(suffix: str) -> Callable[[Clinic, Ids], str]:
    return lambda c, i: c.org + suffix


def const(value: Any) -> Callable[[Clinic, Ids], Any]:
    return lambda c, i: value


NOBODY = str(uuid.UUID(int=7))
UNKNOWN_FIELD = "Extra inputs are not permitted"
INVALID = errors.INSTRUMENT
BAD: dict[str, Bad] = {
    # --- the case ---
    "create: unknown field": Bad(
        "owner",
        "POST",
        lambda c, i: c.cases,
        const({"name": "A", "colour": "red"}),
        (422, f"colour: {UNKNOWN_FIELD}"),
    ),
    "create: blank name": Bad(
        "owner",
        "POST",
        lambda c, i: c.cases,
        const({"name": "   "}),
        (422, "name: must not be blank"),
    ),
    "create: wrong violence type": Bad(
        "owner",
        "POST",
        lambda c, i: c.cases,
        const({"name": "A", "violence_types": ["kicks"]}),
        (422, "violence_types.0: Input should be …"),
    ),
    "create: unknown team user": Bad(
        "owner",
        "POST",
        lambda c, i: c.cases,
        const({"name": "A", "team": [NOBODY]}),
        (422, errors.TEAM_NOT_COLLEAGUES),
    ),
    "create: team user of another organisation": Bad(
        "owner",
        "POST",
        lambda c, i: c.cases,
        lambda c, i: {"name": "A", "team": [str(c.outsider.id)]},
        (422, errors.TEAM_NOT_COLLEAGUES),
    ),
    "create: shelter staff as owner": Bad(
        "owner",
        "POST",
        lambda c, i: c.cases,
        lambda c, i: {"name": "A", "owner_id": str(c.staff.id)},
        (422, errors.OWNER_NOT_A_COLLEAGUE),
    ),
    "update: nothing": Bad("owner", "PATCH", case(), const({}), (422, errors.NOTHING_TO_CHANGE)),
    "update: null name": Bad(
        "owner", "PATCH", case(), const({"name": None}), (422, "name: must not be null.")
    ),
    "update: null flag": Bad(
        "owner",
        "PATCH",
        case(),
        const({"do_not_disclose": None}),
        (422, "do_not_disclose: must not be null."),
    ),
    "update: unknown field": Bad(
        "owner", "PATCH", case(), const({"status": "closed"}), (422, f"status: {UNKNOWN_FIELD}")
    ),
    "status: already open": Bad(
        "owner", "POST", case("/status"), const({"status": "open"}), (409, errors.ALREADY_STATUS)
    ),
    "status: closed without reason": Bad(
        "owner",
        "POST",
        case("/status"),
        const({"status": "closed"}),
        (
            422,
            "body: reason: one of client_withdrew, goals_met, moved_away, no_contact, other, "
            "referred_elsewhere",
        ),
    ),
    "status: wrong enum": Bad(
        "owner",
        "POST",
        case("/status"),
        const({"status": "paused"}),
        (422, "status: Input should be …"),
    ),
    "team: unknown user": Bad(
        "owner", "POST", case("/team"), const({"user_id": NOBODY}), (422, errors.NOT_A_COLLEAGUE)
    ),
    "team: removing the owner": Bad(
        "owner",
        "DELETE",
        lambda c, i: f"{c.url}/team/{c.owner.id}",
        const(None),
        (409, errors.OWNER_STAYS),
    ),
    "links: a call of another organisation": Bad(
        "owner",
        "POST",
        case("/links"),
        lambda c, i: {"kind": "call", "target_id": NOBODY},
        (422, "target_id: not a call of this organisation that can be linked to this case."),
    ),
    "links: a stay of another organisation": Bad(
        "owner",
        "POST",
        case("/links"),
        lambda c, i: {"kind": "stay", "target_id": NOBODY},
        (422, "target_id: not a stay of this organisation that can be linked to this case."),
    ),
    "links: wrong kind": Bad(
        "owner",
        "POST",
        case("/links"),
        const({"kind": "letter", "target_id": NOBODY}),
        (422, "kind: Input should be …"),
    ),
    # --- contacts and services ---
    "contact: in the future": Bad(
        "owner",
        "POST",
        case("/contacts"),
        lambda c, i: {"channel": "walk_in", "occurred_at": iso(c, timedelta(minutes=1))},
        (422, "occurred_at: must not be in the future."),
    ),
    "contact: routed call without call_id": Bad(
        "owner",
        "POST",
        case("/contacts"),
        lambda c, i: {"channel": "routed_call", "occurred_at": iso(c, -timedelta(hours=1))},
        (422, "body: call_id: a routed call names its call, and only a routed call does"),
    ),
    "contact: routed call of no call": Bad(
        "owner",
        "POST",
        case("/contacts"),
        lambda c, i: {
            "channel": "routed_call",
            "occurred_at": iso(c, -timedelta(hours=1)),
            "call_id": NOBODY,
        },
        (422, errors.NO_SUCH_CALL),
    ),
    "contact: naive time": Bad(
        "owner",
        "POST",
        case("/contacts"),
        const({"channel": "walk_in", "occurred_at": "2026-03-01T10:00:00"}),
        (422, "occurred_at: Input should have timezone info"),
    ),
    "service: escort without place": Bad(
        "owner",
        "POST",
        case("/services"),
        lambda c, i: {
            "kind": "escort",
            "given_at": iso(c, -timedelta(hours=1)),
            "duration_minutes": 60,
        },
        (422, "body: escort_place and at_night: an escort says where and whether at night"),
    ),
    "service: place without escort": Bad(
        "owner",
        "POST",
        case("/services"),
        lambda c, i: {
            "kind": "information",
            "given_at": iso(c, -timedelta(hours=1)),
            "duration_minutes": 60,
            "escort_place": "court",
        },
        (422, "body: escort_place and at_night belong to an escort only"),
    ),
    "service: zero minutes": Bad(
        "owner",
        "POST",
        case("/services"),
        lambda c, i: {
            "kind": "information",
            "given_at": iso(c, -timedelta(hours=1)),
            "duration_minutes": 0,
        },
        (422, "duration_minutes: Input should be greater than or equal to 1"),
    ),
    "service: in the future": Bad(
        "owner",
        "POST",
        case("/services"),
        lambda c, i: {
            "kind": "information",
            "given_at": iso(c, timedelta(hours=1)),
            "duration_minutes": 5,
        },
        (422, "given_at: must not be in the future."),
    ),
    # --- risk, plan, steps ---
    "risk: missing answer": Bad(
        "owner",
        "POST",
        case("/risk-assessments"),
        const({"answers": {k: v for k, v in all_no().items() if k != "weapon"}}),
        (422, "answers: question 'weapon' has no answer."),
    ),
    "risk: unknown question": Bad(
        "owner",
        "POST",
        case("/risk-assessments"),
        const({"answers": {**all_no(), "stars": "yes"}}),
        (422, "answers: 'stars' is not a question of this instrument."),
    ),
    "risk: wrong answer": Bad(
        "owner",
        "POST",
        case("/risk-assessments"),
        const({"answers": {**all_no(), "weapon": "maybe"}}),
        (422, "answers.weapon: Input should be …"),
    ),
    "risk: judgement without reason": Bad(
        "owner",
        "POST",
        case("/risk-assessments"),
        const({"answers": all_no(), "judgement": "high"}),
        (422, "body: judgement_reason: a professional judgement says why, and only then"),
    ),
    "risk: judgement lowering": Bad(
        "owner",
        "POST",
        case("/risk-assessments"),
        const(
            {
                "answers": all_no(weapon="yes"),
                "judgement": "medium",
                "judgement_reason": "She says he has calmed down",
            }
        ),
        (
            422,
            "answers: professional judgement may raise the level, never lower it: the answers "
            "give high, the judgement says medium.",
        ),
    ),
    "plan: unknown field in a safe contact": Bad(
        "owner",
        "POST",
        case("/plan"),
        const({"safe_contacts": [{"name": "S", "how": "phone", "age": 3}]}),
        (422, f"safe_contacts.0.age: {UNKNOWN_FIELD}"),
    ),
    "step: blank what": Bad(
        "owner",
        "POST",
        case("/steps"),
        lambda c, i: {"agency": "police", "what": " ", "due_at": iso(c, timedelta(days=1))},
        (422, "what: must not be blank"),
    ),
    "step: unknown owner": Bad(
        "owner",
        "POST",
        case("/steps"),
        lambda c, i: {
            "agency": "police",
            "what": "X",
            "owner_id": NOBODY,
            "due_at": iso(c, timedelta(days=1)),
        },
        (422, errors.STEP_OWNER_NOT_A_COLLEAGUE),
    ),
    "step: wrong agency": Bad(
        "owner",
        "POST",
        case("/steps"),
        lambda c, i: {"agency": "army", "what": "X", "due_at": iso(c, timedelta(days=1))},
        (422, "agency: Input should be …"),
    ),
    "step update: a done step": Bad(
        "owner",
        "PATCH",
        lambda c, i: f"{c.url}/steps/{i.done_step}",
        const({"status": "in_progress"}),
        (409, errors.STEP_CLOSED),
    ),
    "step update: nothing": Bad(
        "owner",
        "PATCH",
        lambda c, i: f"{c.url}/steps/{i.open_step}",
        const({}),
        (422, errors.NOTHING_TO_CHANGE),
    ),
    "step update: no such step": Bad(
        "owner",
        "PATCH",
        lambda c, i: f"{c.url}/steps/{NOBODY}",
        const({"status": "done"}),
        (404, errors.NO_SUCH_STEP),
    ),
    # --- consents ---
    "consent: more than a year": Bad(
        "owner",
        "POST",
        case("/consents"),
        lambda c, i: {
            "recipient_organisation_id": str(c.csw.id),
            "purpose": "CSW",
            "sections": ["risk"],
            "expires_at": iso(c, timedelta(days=367)),
        },
        (422, errors.CONSENT_EXPIRY),
    ),
    "consent: in the past": Bad(
        "owner",
        "POST",
        case("/consents"),
        lambda c, i: {
            "recipient_organisation_id": str(c.csw.id),
            "purpose": "CSW",
            "sections": ["risk"],
            "expires_at": iso(c, -timedelta(seconds=1)),
        },
        (422, errors.CONSENT_EXPIRY),
    ),
    "consent: to her own organisation": Bad(
        "owner",
        "POST",
        case("/consents"),
        lambda c, i: {
            "recipient_organisation_id": str(c.ngo.id),
            "purpose": "CSW",
            "sections": ["risk"],
            "expires_at": iso(c, timedelta(days=3)),
        },
        (422, errors.CONSENT_RECIPIENT),
    ),
    "consent: to no organisation": Bad(
        "owner",
        "POST",
        case("/consents"),
        lambda c, i: {
            "recipient_organisation_id": NOBODY,
            "purpose": "CSW",
            "sections": ["risk"],
            "expires_at": iso(c, timedelta(days=3)),
        },
        (422, errors.CONSENT_RECIPIENT),
    ),
    "consent: no sections": Bad(
        "owner",
        "POST",
        case("/consents"),
        lambda c, i: {
            "recipient_organisation_id": str(c.csw.id),
            "purpose": "CSW",
            "sections": [],
            "expires_at": iso(c, timedelta(days=3)),
        },
        (422, "sections: List should have at least 1 item after validation, not 0"),
    ),
    "consent: withdrawn twice": Bad(
        "owner",
        "POST",
        lambda c, i: f"{c.url}/consents/{i.withdrawn}/withdraw",
        const(None),
        (409, errors.CONSENT_WITHDRAWN),
    ),
    "consent: withdrawing no consent": Bad(
        "owner",
        "POST",
        lambda c, i: f"{c.url}/consents/{NOBODY}/withdraw",
        const(None),
        (404, errors.NO_SUCH_CONSENT),
    ),
    # --- break-glass, tasks ---
    "break-glass: reason too short": Bad(
        "supervisor",
        "POST",
        org("/break-glass"),
        lambda c, i: {"case_number": c.case["number"], "reason": "urgent"},
        (422, "reason: String should have at least 20 characters"),
    ),
    "break-glass: no such case": Bad(
        "supervisor",
        "POST",
        org("/break-glass"),
        const({"case_number": "K-0000-99999", "reason": "A reason long enough to pass"}),
        (404, errors.NOT_FOUND),
    ),
    "break-glass: on her own team": Bad(
        "supervisor2",
        "POST",
        org("/break-glass"),
        lambda c, i: {"case_number": c.case["number"], "reason": "A reason long enough to pass"},
        (409, errors.BREAK_GLASS_OWN_TEAM),
    ),
    "sign-off: her own opening": Bad(
        "supervisor",
        "POST",
        lambda c, i: f"{c.org}/break-glass/{i.opening}/sign-off",
        const({"note": "All fine"}),
        (403, errors.SIGN_OFF_SELF),
    ),
    "sign-off: twice": Bad(
        "supervisor2",
        "POST",
        lambda c, i: f"{c.org}/break-glass/{i.opening}/sign-off",
        const({"note": "All fine"}),
        (409, errors.ALREADY_SIGNED),
    ),
    "sign-off: note too short": Bad(
        "supervisor2",
        "POST",
        lambda c, i: f"{c.org}/break-glass/{i.opening}/sign-off",
        const({"note": "ok"}),
        (422, "note: String should have at least 3 characters"),
    ),
    "task: done twice": Bad(
        "supervisor",
        "POST",
        lambda c, i: f"{c.org}/case-tasks/{i.task}/done",
        const(None),
        (409, errors.TASK_DONE),
    ),
    "diff: one revision with itself": Bad(
        "owner",
        "GET",
        case("/plan/diff?from=1&to=1"),
        const(None),
        (422, "from and to: name two different revisions."),
    ),
    "diff: past int64": Bad(
        "owner",
        "GET",
        case("/plan/diff?from=1&to=9223372036854775808"),
        const(None),
        (422, "query.to: Input should be less than or equal to 1000000"),
    ),
    "diff: below one": Bad(
        "owner",
        "GET",
        case("/plan/diff?from=-9223372036854775809&to=2"),
        const(None),
        (422, "query.from: Input should be greater than or equal to 1"),
    ),
    "revision: past the bound": Bad(
        "owner",
        "GET",
        case("/plan/revisions/1000001"),
        const(None),
        (422, "path.number: Input should be less than or equal to 1000000"),
    ),
    "diff: no such revision": Bad(
        "owner",
        "GET",
        case("/plan/diff?from=1&to=9"),
        const(None),
        (404, errors.NO_SUCH_REVISION),
    ),
}


def setup(c: Clinic) -> Ids:
    i = Ids()
    c.case = c.open_case(team=[str(c.member.id), str(c.supervisor2.id)])
    ok(c.client.post(c.url + "/risk-assessments", json={"answers": all_no(weapon="yes")}), 201)
    ok(c.client.post(c.url + "/plan", json={"code_word": "sunce"}), 201)
    step = {"agency": "csw", "what": "Apply", "due_at": iso(c, timedelta(days=2))}
    i.done_step = ok(c.client.post(c.url + "/steps", json=step), 201)["id"]
    ok(c.client.patch(f"{c.url}/steps/{i.done_step}", json={"status": "done"}))
    i.open_step = ok(c.client.post(c.url + "/steps", json=step), 201)["id"]
    i.withdrawn = c.consent(c.csw, ["risk"])["id"]
    ok(c.client.post(f"{c.url}/consents/{i.withdrawn}/withdraw"))
    i.opening = c.break_glass(c.supervisor)["id"]
    c.as_(c.supervisor2)
    ok(c.client.post(f"{c.org}/break-glass/{i.opening}/sign-off", json={"note": "Fine"}))
    task = ok(c.client.get(c.org + "/case-tasks"))[0]["id"]
    ok(c.client.post(f"{c.org}/case-tasks/{task}/done"))
    i.task = task
    return i


def matches(got: Want, want: Want) -> bool:
    status, message = want
    if message.endswith("…"):
        return got[0] == status and got[1].startswith(message[:-1])
    return got == want


def test_every_bad_body_is_refused_exactly_and_changes_nothing(clinic: Clinic, db: Session) -> None:
    c = clinic
    ids = setup(c)
    logins = {
        "owner": c.world.login_cookie(c.owner, second_factor=True),
        "supervisor": c.world.login_cookie(c.supervisor, second_factor=True),
        "supervisor2": c.world.login_cookie(c.supervisor2, second_factor=True),
    }
    c.world.db.commit()
    wrong: dict[str, tuple[Want, Want]] = {}
    changed: dict[str, dict[str, int]] = {}
    for name, bad in BAD.items():
        c.client.cookies.clear()
        c.client.cookies.update(logins[bad.who])
        before = snapshot(db)
        response = c.client.request(bad.method, bad.url(c, ids), json=bad.body(c, ids))
        body = response.json()
        got = (response.status_code, str(body.get("message")))
        if not matches(got, bad.want):
            wrong[name] = (got, bad.want)
        after = snapshot(db)
        if after != before:
            changed[name] = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    assert wrong == {}
    # Only a refused attempt is kept: as one audit event, nothing else.
    assert changed == {"break-glass: no such case": {"AuditEvent": 1}}
