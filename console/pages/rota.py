"""Console pages: the supervisor's rota. Two weeks per hotline, day by day, with the gaps the
rota leaves (no primary or no backup outside office hours); adding and removing shifts, covers
(overrides) and swaps, each through the hotline's rota routes."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from console.forms import Form, act, local_instant, parse, values
from console.pages.duty_common import POSITION_LABELS, day_of
from console.render import N_, PREFIX, View, done_messages, page, redirect, view_of
from core.context import Context
from core.errors import InvalidInput
from core.localtime import local_midnight
from core.models import Role, UserPublic
from core.router import list_users_route
from core.routing import Router
from hotline.deps import OversightCtx, roster_follows_changes
from hotline.models import HotlinePublic, OverrideCreate, ShiftCreate, SwapCreate
from hotline.router import hotlines as hotlines_api
from hotline.router import rota as rota_api

# A change to the rota rebuilds the cached roster once committed, as the API's routes do.
router = Router(
    prefix=PREFIX, include_in_schema=False, dependencies=[Depends(roster_follows_changes)]
)
ROTA = "/o/{org_id}/rota"
SHIFTS = ROTA + "/{hotline_id}/shifts"
DAYS = 14

done_messages(
    {
        "shift_added": N_("The shift is added."),
        "shift_removed": N_("The shift is removed."),
        "override_added": N_("The cover is added."),
        "shifts_swapped": N_("The two shifts are swapped."),
    }
)


@dataclass(frozen=True)
class Gap:
    starts_at: datetime
    ends_at: datetime
    missing: list[str]


@dataclass(frozen=True)
class Day:
    day: date
    shifts: list[rota_api.ShiftPublic]
    gaps: list[Gap]


@dataclass(frozen=True)
class HotlineRota:
    hotline: HotlinePublic
    days: list[Day]
    shifts: list[rota_api.ShiftPublic]


def _grid(
    org_id: uuid.UUID, hotline: HotlinePublic, ctx: Context, first: date, zone: str
) -> HotlineRota:
    """The hotline's shifts by local starting day, and its gaps cut at local midnights."""
    bounds = [local_midnight(first + timedelta(days=i), zone) for i in range(DAYS + 1)]
    shifts = rota_api.list_shifts_route(org_id, hotline.id, ctx, start=bounds[0], until=bounds[-1])
    gaps = rota_api.gaps_route(org_id, hotline.id, ctx)
    days = []
    for i in range(DAYS):
        begin, end = bounds[i], bounds[i + 1]
        own = [s for s in shifts if begin <= s.starts_at < end or (i == 0 and s.starts_at < begin)]
        cut = [
            Gap(max(g.starts_at, begin), min(g.ends_at, end), [str(p) for p in g.missing])
            for g in gaps
            if g.starts_at < end and g.ends_at > begin
        ]
        days.append(Day(first + timedelta(days=i), own, cut))
    return HotlineRota(hotline, days, shifts)


def _duty_people(org_id: uuid.UUID, ctx: Context) -> list[UserPublic]:
    """Who may stand duty: enabled counselors and supervisors (the users route: its policy
    admits exactly the roles of the rota's)."""
    return [
        u
        for u in list_users_route(org_id, ctx)
        if not u.disabled and {Role.COUNSELOR, Role.SUPERVISOR} & set(u.roles)
    ]


def _rota_page(
    request: Request,
    org_id: uuid.UUID,
    ctx: Context,
    first: date | None = None,
    status: int = 200,
    problem: str | None = None,
) -> Response:
    view = view_of(request, ctx)
    zone = view.formats.zone
    start = first or (ctx.now.astimezone(zone).date())
    hotlines = hotlines_api.list_hotlines_route(org_id, ctx)
    return page(
        view,
        "rota/index.html",
        status,
        active="rota",
        rotas=[_grid(org_id, h, ctx, start, zone.key) for h in hotlines],
        people=_duty_people(org_id, ctx),
        position_labels=POSITION_LABELS,
        first=start,
        earlier=(start - timedelta(days=DAYS)).isoformat(),
        later=(start + timedelta(days=DAYS)).isoformat(),
        problem_message=problem,
    )


@router.get(ROTA)
def rota_page(
    request: Request,
    org_id: uuid.UUID,
    ctx: OversightCtx,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
) -> Response:
    """Fourteen days from today in the organisation's zone (or from `?from=YYYY-MM-DD`)."""
    return _rota_page(request, org_id, ctx, day_of(start))


def _after(org_id: uuid.UUID, form: FormData, done: str) -> Response:
    """Back to the rota at the fortnight the form was sent from."""
    query = {"done": done}
    start = form.get("from")
    if isinstance(start, str) and day_of(start) is not None:
        query["from"] = start
    return redirect(f"{PREFIX}/o/{org_id}/rota", **query)


def _failed(
    request: Request, org_id: uuid.UUID, ctx: Context, form: FormData
) -> Callable[[int, str], Response]:
    """The rota again, at the fortnight the form was sent from, with the problem."""
    start = form.get("from")
    first = day_of(start) if isinstance(start, str) else None
    return partial(_rota_page, request, org_id, ctx, first)


def _data(form: FormData, view: View | None = None) -> dict[str, Any]:
    """The form's values without `from`; with a `view`, its local times as instants."""
    data = values(form)
    if view is not None:
        for field in ("starts_at", "ends_at"):
            if field in data:
                data[field] = local_instant(data[field], view.formats.zone, field)
    data.pop("from", None)
    return data


def _shift_id(data: dict[str, Any], field: str = "shift_id") -> uuid.UUID:
    try:
        return uuid.UUID(str(data.pop(field, "")))
    except ValueError:
        raise InvalidInput(f"{field}: choose a shift.") from None


@router.post(SHIFTS)
def add_shift_form(
    request: Request, org_id: uuid.UUID, hotline_id: uuid.UUID, form: Form, ctx: OversightCtx
) -> Response:
    """Add a shift (POST hotlines/{hotline_id}/shifts)."""

    def work() -> None:
        body = parse(ShiftCreate, _data(form, view_of(request, ctx)))
        rota_api.create_shift_route(org_id, hotline_id, body, ctx)

    failed = _failed(request, org_id, ctx, form)
    return act(ctx.session, work, failed, _after(org_id, form, "shift_added"))


@router.post(SHIFTS + "/remove")
def remove_shift_form(
    request: Request, org_id: uuid.UUID, hotline_id: uuid.UUID, form: Form, ctx: OversightCtx
) -> Response:
    """Remove a shift and its overrides (DELETE hotlines/{hotline_id}/shifts/{shift_id})."""

    def work() -> None:
        rota_api.delete_shift_route(org_id, hotline_id, _shift_id(values(form)), ctx)

    failed = _failed(request, org_id, ctx, form)
    return act(ctx.session, work, failed, _after(org_id, form, "shift_removed"))


@router.post(SHIFTS + "/overrides")
def override_form(
    request: Request, org_id: uuid.UUID, hotline_id: uuid.UUID, form: Form, ctx: OversightCtx
) -> Response:
    """Someone covers a position (POST shifts/{shift_id}/overrides)."""

    def work() -> None:
        data = _data(form, view_of(request, ctx))
        shift_id = _shift_id(data)
        rota_api.add_override_route(org_id, hotline_id, shift_id, parse(OverrideCreate, data), ctx)

    failed = _failed(request, org_id, ctx, form)
    return act(ctx.session, work, failed, _after(org_id, form, "override_added"))


@router.post(SHIFTS + "/swap")
def swap_form(
    request: Request, org_id: uuid.UUID, hotline_id: uuid.UUID, form: Form, ctx: OversightCtx
) -> Response:
    """Two shifts exchange who holds a position (POST shifts/{shift_id}/swap)."""

    def work() -> None:
        data = _data(form)
        shift_id = _shift_id(data)
        rota_api.swap_route(org_id, hotline_id, shift_id, parse(SwapCreate, data), ctx)

    failed = _failed(request, org_id, ctx, form)
    return act(ctx.session, work, failed, _after(org_id, form, "shifts_swapped"))
