"""Console pages: hotlines and their numbers (list, configure, change), through the hotline
routes. Included by `console.pages.admin`."""

import re
import uuid
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from console.forms import Form, act, parse, values
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.context import Context
from core.routing import Router
from hotline.deps import OversightCtx, ReaderCtx, roster_follows_changes
from hotline.models import WEEKDAYS, HotlineCreate, HotlinePublic, HotlineUpdate, PromptLanguage
from hotline.router import hotlines as hotlines_api

# A change to a hotline rebuilds the cached roster once committed, as the API's routes do.
router = Router(include_in_schema=False, dependencies=[Depends(roster_follows_changes)])
HOTLINES = "/o/{org_id}/hotlines"
HOTLINE = HOTLINES + "/{hotline_id}"
CATEGORIES = ("public", "orthodox", "catholic", "islamic", "hebrew", "workday")
RINGS = ("office", "primary", "backup", "supervisors")

done_messages(
    {
        "hotline_created": N_("The hotline is set up."),
        "hotline_saved": N_("The hotline is saved."),
    }
)
DAY_LABELS = {
    "mon": N_("Monday"),
    "tue": N_("Tuesday"),
    "wed": N_("Wednesday"),
    "thu": N_("Thursday"),
    "fri": N_("Friday"),
    "sat": N_("Saturday"),
    "sun": N_("Sunday"),
}
CATEGORY_LABELS = {
    "public": N_("Public holidays"),
    "orthodox": N_("Orthodox holidays"),
    "catholic": N_("Catholic holidays"),
    "islamic": N_("Islamic holidays"),
    "hebrew": N_("Jewish holidays"),
    "workday": N_("Observed working days"),
}
LANGUAGE_LABELS = {
    PromptLanguage.MONTENEGRIN: N_("Montenegrin"),
    PromptLanguage.ALBANIAN: N_("Albanian"),
    PromptLanguage.ENGLISH: N_("English"),
}
RING_LABELS = {
    "office": N_("Seconds the office rings"),
    "primary": N_("Seconds the primary's phone rings"),
    "backup": N_("Seconds the backup's phone rings"),
    "supervisors": N_("Seconds the supervisors' phones ring"),
}
LABELS: dict[str, Any] = {
    "day_labels": DAY_LABELS,
    "category_labels": CATEGORY_LABELS,
    "language_labels": LANGUAGE_LABELS,
    "ring_labels": RING_LABELS,
}


def _split(text: object) -> list[str]:
    """Several values typed into one field, one per line or separated by commas."""
    return [p.strip() for p in re.split(r"[,\n]", str(text or "")) if p.strip()]


def _hotline_data(form: FormData) -> dict[str, Any]:
    """The form as the hotline body: numbers and office hours as lists, boxes as booleans."""
    data = values(form, lists=("holiday_categories",))
    data["office_numbers"] = _split(data.pop("office_numbers", ""))
    data["office_hours"] = {
        day: _split(data.pop(f"hours_{day}")) for day in WEEKDAYS if f"hours_{day}" in data
    }
    data.setdefault("holiday_categories", [])
    data["on_call_24h"] = "on_call_24h" in data
    return data


def _list_page(
    request: Request, org_id: uuid.UUID, ctx: Context, status: int = 200, problem: str | None = None
) -> Response:
    return page(
        view_of(request, ctx),
        "admin/hotlines.html",
        status,
        active="hotlines",
        hotlines=hotlines_api.list_hotlines_route(org_id, ctx),
        categories=CATEGORIES,
        problem_message=problem,
        **LABELS,
    )


@router.get(HOTLINES)
def hotlines_page(request: Request, org_id: uuid.UUID, ctx: ReaderCtx) -> Response:
    return _list_page(request, org_id, ctx)


@router.post(HOTLINES)
def create_hotline_form(
    request: Request, org_id: uuid.UUID, form: Form, ctx: OversightCtx
) -> Response:
    """Set up a hotline; its zone and holiday country default to the organisation's."""

    def work() -> Any:
        body = parse(HotlineCreate, _hotline_data(form))
        return hotlines_api.create_hotline_route(org_id, body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _list_page(request, org_id, ctx, status, message),
        lambda created: redirect(
            f"{PREFIX}/o/{org_id}/hotlines/{created.id}", done="hotline_created"
        ),
    )


def _hotline_page(
    request: Request,
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    ctx: Context,
    status: int = 200,
    problem: str | None = None,
) -> Response:
    hotline: HotlinePublic = hotlines_api.get_hotline_route(org_id, hotline_id, ctx)
    return page(
        view_of(request, ctx),
        "admin/hotline.html",
        status,
        active="hotlines",
        hotline=hotline,
        weekdays=WEEKDAYS,
        categories=CATEGORIES,
        rings=RINGS,
        problem_message=problem,
        **LABELS,
    )


@router.get(HOTLINE)
def hotline_page(
    request: Request, org_id: uuid.UUID, hotline_id: uuid.UUID, ctx: ReaderCtx
) -> Response:
    return _hotline_page(request, org_id, hotline_id, ctx)


@router.post(HOTLINE)
def update_hotline_form(
    request: Request, org_id: uuid.UUID, hotline_id: uuid.UUID, form: Form, ctx: OversightCtx
) -> Response:
    """Change a hotline's configuration (PATCH hotlines/{hotline_id})."""

    def work() -> Any:
        body = parse(HotlineUpdate, _hotline_data(form))
        return hotlines_api.update_hotline_route(org_id, hotline_id, body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _hotline_page(request, org_id, hotline_id, ctx, status, message),
        redirect(f"{PREFIX}/o/{org_id}/hotlines/{hotline_id}", done="hotline_saved"),
    )
