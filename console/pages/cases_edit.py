"""Changing a case: its card and its owner (`PATCH …/cases/{case_id}`), its team (`POST …/team`,
`DELETE …/team/{user_id}`), each behind that route's `CaseManager` gate (the team's own basis);
and the whole case in one document to print (`GET …/export`, the `CaseReader` gate, audited as
that route's read is).

The card form shows every field of the card as it stands and posts them all, so that what she
empties is cleared as the API clears it: an empty field is sent as null (an empty list for the
lists: a hidden empty `violence_types` makes the list present when no box is ticked), and a box
she unticks is sent as false (a hidden `false` before each box; a ticked box's `true` comes
after it and wins). Handing the case over posts the owner alone to the same API route.
"""

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from console.forms import Form, act, parse, values
from console.pages.cases_card import show_case
from console.pages.cases_common import (
    ESCAPE_FIELDS,
    LABELS,
    PLAN_FIELDS,
    PLAN_TEXTS,
    case_url,
    org_url,
    words,
)
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.routing import Router
from safety_plans.deps import CaseGate, CaseManager, CaseReader
from safety_plans.models import CaseUpdate, MemberCreate
from safety_plans.risk import instrument
from safety_plans.router import cases as api
from safety_plans.router import export as export_api

router = Router(prefix=PREFIX, include_in_schema=False)
CASE = "/o/{org_id}/cases/{case_id}"
# The card's fields that null clears (the API refuses null for the others).
CLEARABLE = ("birth_year", "age_band", "municipality")
CHECKBOXES = ("children_involved", "do_not_disclose")

done_messages(
    {
        "case_card_changed": N_("The case's card is changed."),
        "case_handed_over": N_("The case has a new owner."),
        "team_member_added": N_("The colleague is on the case team."),
        "team_member_removed": N_("The colleague is off the case team."),
        "left_case_team": N_("You are off that case's team."),
    }
)


def _card_body(form: FormData) -> dict[str, Any]:
    """The card form as `CaseUpdate`'s body: a field the form has but she left empty is null
    (cleared), the languages a list of codes, the forms of violence a list (maybe empty)."""
    data = values(form, lists=("violence_types",))
    for key in CLEARABLE:
        if key in form and key not in data:
            data[key] = None
    if "languages" in form:
        data["languages"] = words(data.get("languages"))
    return data


def _entered(data: dict[str, Any]) -> dict[str, Any]:
    """What she entered, shaped as the card form reads a case (to show it again)."""
    return {
        "name": data.get("name") or "",
        "birth_year": data.get("birth_year"),
        "age_band": data.get("age_band"),
        "municipality": data.get("municipality"),
        "languages": data.get("languages") or [],
        "violence_types": data.get("violence_types") or [],
        **{key: data.get(key) == "true" for key in CHECKBOXES},
    }


def _back(gate: CaseGate, done: str) -> Response:
    return redirect(case_url(gate.case.organisation_id, gate.case.id), done=done)


@router.post(CASE + "/card")
def card_form(request: Request, form: Form, gate: CaseManager) -> Response:
    """Change her details on the card and the do-not-disclose flag (`PATCH …/cases/{id}`)."""
    data = _card_body(form)
    return act(
        gate.session,
        lambda: api.update_case_route(parse(CaseUpdate, data), gate),
        lambda status, message: show_case(
            request, gate, code=status, failed=message, form="card", card=_entered(data)
        ),
        _back(gate, "case_card_changed"),
    )


@router.post(CASE + "/owner")
def owner_form(request: Request, form: Form, gate: CaseManager) -> Response:
    """Hand the case to another owner (`PATCH …/cases/{id}` with `owner_id`)."""
    data = values(form)
    return act(
        gate.session,
        lambda: api.update_case_route(parse(CaseUpdate, data), gate),
        lambda status, message: show_case(request, gate, code=status, failed=message, form="team"),
        _back(gate, "case_handed_over"),
    )


@router.post(CASE + "/team")
def add_member_form(request: Request, form: Form, gate: CaseManager) -> Response:
    """Put a colleague on the case team (`POST …/team`)."""
    data = values(form)
    return act(
        gate.session,
        lambda: api.add_member_route(parse(MemberCreate, data), gate),
        lambda status, message: show_case(request, gate, code=status, failed=message, form="team"),
        _back(gate, "team_member_added"),
    )


@router.post(CASE + "/team/{user_id}/remove")
def remove_member_form(
    request: Request, form: Form, user_id: uuid.UUID, gate: CaseManager
) -> Response:
    """Take a colleague off the team (`DELETE …/team/{user_id}`; never the owner). Whoever
    takes herself off may no longer open the case: she goes back to her cases."""
    leaving = user_id == gate.user_id
    return act(
        gate.session,
        lambda: api.remove_member_route(user_id, gate),
        lambda status, message: show_case(request, gate, code=status, failed=message, form="team"),
        redirect(org_url(gate.case.organisation_id) + "/cases", done="left_case_team")
        if leaving
        else _back(gate, "team_member_removed"),
    )


@router.get(CASE + "/export")
def export_page(request: Request, gate: CaseReader) -> Response:
    """Everything on the case in one document, every revision included (`GET …/export`): to
    print for the file, or for her when she asks for her file."""
    tool = instrument()
    return page(
        view_of(request, gate.ctx),
        "cases/export.html",
        active="cases",
        export=export_api.export_route(gate),
        texts={q.id: q.text for q in tool.questions},
        plan_fields=PLAN_FIELDS,
        plan_texts=PLAN_TEXTS,
        escape_fields=ESCAPE_FIELDS,
        labels=LABELS,
    )
