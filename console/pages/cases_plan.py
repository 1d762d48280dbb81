"""A case's risk assessment, safety plan (revisions side by side) and "who saw this case".

The risk form is the instrument itself (`safety_plans.risk.instrument()`): its questions are data
in English, not catalogue messages, so the page shows them marked `lang="en"`; everything around
them is translated. The plan form posts the whole plan (`PlanContent`), as a new revision does.
"""

from typing import Any

from fastapi import Query, Request
from fastapi.responses import Response

from console.forms import Form, act, parse, values
from console.pages.cases_common import ESCAPE_FIELDS, LABELS, PLAN_FIELDS, PLAN_TEXTS, case_url
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.errors import NotFound
from core.routing import Router
from safety_plans.deps import CaseGate, CaseOwner, CaseReader, CaseWriter
from safety_plans.models import AssessmentCreate, PlanContent, PlanRevisionPublic
from safety_plans.risk import instrument
from safety_plans.router import plans as api
from safety_plans.router import sharing as sharing_api
from safety_plans.router.plans import MAX_REVISION

router = Router(prefix=PREFIX, include_in_schema=False)
CASE = "/o/{org_id}/cases/{case_id}"
BLANK_CONTACTS = 2  # empty rows the plan form offers for new safe contacts

done_messages(
    {
        "risk_assessed": N_("The assessment is saved; its level is shown below."),
        "plan_revised": N_("The safety plan is saved as a new revision."),
    }
)


def _risk_page(
    request: Request,
    gate: CaseGate,
    *,
    code: int = 200,
    failed: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    """The instrument's form and every assessment (`GET …/risk-assessments`)."""
    assessments = api.list_assessments_route(gate)
    tool = instrument()
    return page(
        view_of(request, gate.ctx),
        "cases/risk.html",
        code,
        active="cases",
        case=gate.case,
        assessments=list(reversed(assessments)),
        tool=tool,
        texts={q.id: q.text for q in tool.questions},
        labels=LABELS,
        failed=failed,
        entered=entered or {},
    )


@router.get(CASE + "/risk")
def risk_page(request: Request, gate: CaseReader) -> Response:
    return _risk_page(request, gate)


def _assessment_body(data: dict[str, Any]) -> dict[str, Any]:
    """`answers.<question>` fields as the body's `answers`; the rest as they are."""
    body: dict[str, Any] = {}
    answers: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("answers."):
            answers[key.removeprefix("answers.")] = value
        else:
            body[key] = value
    body["answers"] = answers
    return body


@router.post(CASE + "/risk")
def risk_form(request: Request, form: Form, gate: CaseWriter) -> Response:
    """Answer the instrument (`POST …/risk-assessments`); the level is computed there."""
    body = _assessment_body(values(form))
    return act(
        gate.session,
        lambda: api.assess_route(parse(AssessmentCreate, body), gate),
        lambda status, message: _risk_page(
            request, gate, code=status, failed=message, entered=body
        ),
        redirect(case_url(gate.case.organisation_id, gate.case.id) + "/risk", done="risk_assessed"),
    )


def _plan_body(data: dict[str, Any]) -> dict[str, Any]:
    """`safe_contacts.<n>.<field>` and `escape_plan.<field>` fields as the plan's lists and
    parts; a field of any other shape is passed on for the model to refuse."""
    body: dict[str, Any] = {}
    contacts: dict[int, dict[str, Any]] = {}
    for key, value in data.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "safe_contacts" and parts[1].isdigit():
            contacts.setdefault(int(parts[1][:3]), {})[parts[2]] = value
        elif len(parts) == 2 and parts[0] == "escape_plan":
            body.setdefault("escape_plan", {})[parts[1]] = value
        else:
            body[key] = value
    body["safe_contacts"] = [contacts[n] for n in sorted(contacts)]
    return body


def _draft(body: dict[str, Any]) -> dict[str, Any]:
    """What she entered, shaped as the form reads a plan (to show it again after a refusal)."""
    draft = PlanContent().model_dump()
    draft.update({k: v for k, v in body.items() if k in draft and k != "escape_plan"})
    draft["escape_plan"].update(
        {k: v for k, v in body.get("escape_plan", {}).items() if k in ESCAPE_FIELDS}
    )
    draft["safe_contacts"] = [
        {"name": c.get("name", ""), "how": c.get("how", ""), "note": c.get("note")}
        for c in body.get("safe_contacts", [])
    ]
    return draft


def _plan_page(
    request: Request,
    gate: CaseGate,
    *,
    code: int = 200,
    failed: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    """The current plan and its revisions (`GET …/plan`, `…/plan/revisions`)."""
    try:
        current: PlanRevisionPublic | None = api.current_plan_route(gate)
    except NotFound:
        current = None
    revisions = api.list_revisions_route(gate)
    draft: Any = entered or (current.plan if current else PlanContent())
    return page(
        view_of(request, gate.ctx),
        "cases/plan.html",
        code,
        active="cases",
        case=gate.case,
        current=current,
        revisions=revisions,
        draft=draft,
        blank_contacts=BLANK_CONTACTS,
        plan_fields=PLAN_FIELDS,
        plan_texts=PLAN_TEXTS,
        escape_fields=ESCAPE_FIELDS,
        labels=LABELS,
        failed=failed,
    )


@router.get(CASE + "/plan")
def plan_page(request: Request, gate: CaseReader) -> Response:
    return _plan_page(request, gate)


@router.post(CASE + "/plan")
def plan_form(request: Request, form: Form, gate: CaseWriter) -> Response:
    """Save the whole plan as a new revision (`POST …/plan`)."""
    body = _plan_body(values(form))
    return act(
        gate.session,
        lambda: api.revise_plan_route(parse(PlanContent, body), gate),
        lambda status, message: _plan_page(
            request, gate, code=status, failed=message, entered=_draft(body)
        ),
        redirect(case_url(gate.case.organisation_id, gate.case.id) + "/plan", done="plan_revised"),
    )


@router.get(CASE + "/plan/compare")
def compare_page(
    request: Request,
    gate: CaseReader,
    from_revision: int = Query(alias="from", ge=1, le=MAX_REVISION),
    to_revision: int = Query(alias="to", ge=1, le=MAX_REVISION),
) -> Response:
    """Two revisions side by side, the changed fields marked (`GET …/plan/diff`)."""
    diff = api.diff_route(gate, from_revision, to_revision)
    before = api.get_revision_route(gate, from_revision)
    after = api.get_revision_route(gate, to_revision)
    return page(
        view_of(request, gate.ctx),
        "cases/compare.html",
        active="cases",
        case=gate.case,
        before=before,
        after=after,
        changed=[change.field for change in diff.changes],
        plan_fields=PLAN_FIELDS,
        plan_texts=PLAN_TEXTS,
        escape_fields=ESCAPE_FIELDS,
        labels=LABELS,
    )


@router.get(CASE + "/readers")
def readers_page(request: Request, gate: CaseOwner) -> Response:
    """Who saw this case: every read, list, export and refused attempt (the owner only)."""
    return page(
        view_of(request, gate.ctx),
        "cases/readers.html",
        active="cases",
        case=gate.case,
        events=sharing_api.readers_route(gate),
        labels=LABELS,
    )
