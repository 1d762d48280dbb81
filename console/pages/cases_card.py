"""One case's page: the card, its status and history, links, contacts, services and the steps
of the assistance plan (`GET …/cases/{case_id}` and the lists the same `CaseReader` gate
answers), and the forms that add to it, each behind the gate of the API route it posts to."""

import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from console.forms import Form, act, local_instants, local_value, parse, values
from console.pages.cases_common import LABELS, case_url
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.routing import Router
from safety_plans.deps import CaseGate, CaseManager, CaseReader, CaseStatusWriter, CaseWriter
from safety_plans.models import (
    ConsentCreate,
    ContactCreate,
    LinkCreate,
    ServiceCreate,
    StatusCreate,
    StepCreate,
    StepUpdate,
)
from safety_plans.router import cases as api
from safety_plans.router import plans as plan_api
from safety_plans.router import sharing as sharing_api

router = Router(prefix=PREFIX, include_in_schema=False)
CASE = "/o/{org_id}/cases/{case_id}"

done_messages(
    {
        "case_status": N_("The case's status is changed."),
        "case_linked": N_("The record is linked to the case."),
        "contact_logged": N_("The contact is logged."),
        "service_logged": N_("The service is logged."),
        "step_added": N_("The step is added to the assistance plan."),
        "step_updated": N_("The step is updated."),
        "consent_recorded": N_("Her consent is recorded."),
        "consent_withdrawn": N_("Her consent is withdrawn."),
    }
)


def show_case(
    request: Request,
    gate: CaseGate,
    *,
    code: int = 200,
    failed: str | None = None,
    form: str | None = None,
    card: dict[str, Any] | None = None,
) -> Response:
    """The case page (the reads of `GET …/cases/{case_id}`, `/status`, `/links`, `/contacts`,
    `/services`, `/steps`, `/consents`: one gate, one audited read); `card`: what she entered
    in the card form, shown again after a refusal (else the card as it stands)."""
    view = view_of(request, gate.ctx)
    zone = view.formats.zone
    return page(
        view,
        "cases/case.html",
        code,
        active="cases",
        case=api.get_case_route(gate),
        history=api.status_history_route(gate),
        links=api.list_links_route(gate),
        contacts=api.list_contacts_route(gate),
        services=api.list_services_route(gate),
        steps=plan_api.list_steps_route(gate),
        consents=sharing_api.list_consents_route(gate),
        labels=LABELS,
        now_local=local_value(gate.now, zone),
        failed=failed,
        failed_form=form,
        card=card,
    )


@router.get(CASE)
def case_page(request: Request, gate: CaseReader) -> Response:
    return show_case(request, gate)


def _failed(request: Request, gate: CaseGate, form_name: str) -> Callable[[int, str], Response]:
    """The case page again with the problem, beside the form that failed (nothing changed)."""

    def failed(code: int, message: str) -> Response:
        return show_case(request, gate, code=code, failed=message, form=form_name)

    return failed


def _back(gate: CaseGate, done: str) -> Response:
    return redirect(case_url(gate.case.organisation_id, gate.case.id), done=done)


@router.post(CASE + "/status")
def status_form(request: Request, form: Form, gate: CaseStatusWriter) -> Response:
    """Make the case dormant, close it with a reason, or reopen it."""
    data = values(form)
    return act(
        gate.session,
        lambda: api.change_status_route(parse(StatusCreate, data), gate),
        _failed(request, gate, "status"),
        _back(gate, "case_status"),
    )


@router.post(CASE + "/links")
def link_form(request: Request, form: Form, gate: CaseWriter) -> Response:
    data = values(form)
    return act(
        gate.session,
        lambda: api.link_route(parse(LinkCreate, data), gate),
        _failed(request, gate, "link"),
        _back(gate, "case_linked"),
    )


@router.post(CASE + "/contacts")
def contact_form(request: Request, form: Form, gate: CaseWriter) -> Response:
    data = values(form)
    local_instants(data, ("occurred_at",), view_of(request, gate.ctx).formats.zone)
    return act(
        gate.session,
        lambda: api.add_contact_route(parse(ContactCreate, data), gate),
        _failed(request, gate, "contact"),
        _back(gate, "contact_logged"),
    )


@router.post(CASE + "/services")
def service_form(request: Request, form: Form, gate: CaseWriter) -> Response:
    data = values(form)
    local_instants(data, ("given_at",), view_of(request, gate.ctx).formats.zone)
    if data.get("kind") != "escort":
        # The escort's two fields belong to an escort only; the form always shows them.
        data.pop("escort_place", None)
        data.pop("at_night", None)
    elif "escort_place" in data:
        data.setdefault("at_night", "false")
    return act(
        gate.session,
        lambda: api.add_service_route(parse(ServiceCreate, data), gate),
        _failed(request, gate, "service"),
        _back(gate, "service_logged"),
    )


@router.post(CASE + "/steps")
def step_form(request: Request, form: Form, gate: CaseWriter) -> Response:
    data = values(form)
    local_instants(data, ("due_at",), view_of(request, gate.ctx).formats.zone)
    return act(
        gate.session,
        lambda: plan_api.add_step_route(parse(StepCreate, data), gate),
        _failed(request, gate, "step"),
        _back(gate, "step_added"),
    )


@router.post(CASE + "/steps/{step_id}")
def step_update_form(
    request: Request, form: Form, step_id: uuid.UUID, gate: CaseWriter
) -> Response:
    """Move a step on (in progress, done, cancelled) or change its due date."""
    data = values(form)
    local_instants(data, ("due_at",), view_of(request, gate.ctx).formats.zone)
    return act(
        gate.session,
        lambda: plan_api.update_step_route(step_id, parse(StepUpdate, data), gate),
        _failed(request, gate, f"step-{step_id}"),
        _back(gate, "step_updated"),
    )


@router.post(CASE + "/consents")
def consent_form(request: Request, form: Form, gate: CaseManager) -> Response:
    """Record her consent to share sections with one organisation until a date."""
    data = values(form, lists=("sections",))
    local_instants(data, ("expires_at",), view_of(request, gate.ctx).formats.zone)
    return act(
        gate.session,
        lambda: sharing_api.record_consent_route(parse(ConsentCreate, data), gate),
        _failed(request, gate, "consent"),
        _back(gate, "consent_recorded"),
    )


@router.post(CASE + "/consents/{consent_id}/withdraw")
def withdraw_form(
    request: Request, form: Form, consent_id: uuid.UUID, gate: CaseManager
) -> Response:
    """She withdraws a consent: the recipient's next read is refused."""
    return act(
        gate.session,
        lambda: sharing_api.withdraw_consent_route(consent_id, gate),
        _failed(request, gate, "consent"),
        _back(gate, "consent_withdrawn"),
    )
