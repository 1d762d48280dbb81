"""Her cases: the list (`GET …/cases`), the work list (`GET …/cases/work-list`) and a new case
(`POST …/cases`), all behind the `Worker` gate of `safety_plans.deps`."""

import uuid
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response

from console.forms import BlankIsNone, Form, act, parse, values
from console.pages.cases_common import AGE_BANDS, LABELS, VIOLENCE, case_url, words
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.routing import Router
from safety_plans.deps import Worker
from safety_plans.models import CaseCreate, CaseStatus
from safety_plans.router import cases as api

router = Router(prefix=PREFIX, include_in_schema=False)

done_messages({"case_opened": N_("The case is opened.")})


def _list_page(
    request: Request,
    org_id: uuid.UUID,
    ctx: Worker,
    *,
    status: CaseStatus | None = None,
    cursor: str | None = None,
    code: int = 200,
    failed: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    found = api.list_cases_route(org_id, ctx, status=status, cursor=cursor)
    work = api.work_list_route(org_id, ctx)
    return page(
        view_of(request, ctx),
        "cases/list.html",
        code,
        active="cases",
        org_id=org_id,
        cases=found,
        work=work,
        status_filter=status.value if status else None,
        labels=LABELS,
        age_bands=AGE_BANDS,
        violence=VIOLENCE,
        failed=failed,
        entered=entered or {},
    )


@router.get("/o/{org_id}/cases")
def cases_page(
    request: Request,
    org_id: uuid.UUID,
    ctx: Worker,
    status: Annotated[CaseStatus | None, BlankIsNone] = None,
    cursor: str | None = Query(default=None, max_length=200),
) -> Response:
    """Her cases, 50 a page, and what needs doing on them."""
    return _list_page(request, org_id, ctx, status=status, cursor=cursor)


@router.post("/o/{org_id}/cases")
def open_case_form(request: Request, form: Form, org_id: uuid.UUID, ctx: Worker) -> Response:
    """Open a case (she owns it); then its page."""
    data = values(form, lists=("violence_types",))
    if "languages" in data:
        data["languages"] = words(data["languages"])
    return act(
        ctx.session,
        lambda: api.create_case_route(org_id, parse(CaseCreate, data), ctx),
        lambda status, message: _list_page(
            request, org_id, ctx, code=status, failed=message, entered=data
        ),
        lambda made: redirect(case_url(org_id, made.id), done="case_opened"),
    )
