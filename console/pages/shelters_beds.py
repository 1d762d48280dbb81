"""The bed board and what the shelter's staff do on it: hold a free bed for someone on her way
(and release the hold), take a free bed out of service or bring it back, and (a supervisor)
switch the shelter's lockdown on or off.

The board mirrors GET .../board (WorkCtx); each form mirrors its API route with that route's
gate: POST .../holds, DELETE .../holds/{hold_id} and PUT .../beds/{bed_id}/service (WorkCtx),
PUT .../lockdown (DecideCtx, whose policy admits only callers WorkCtx admits, so a refused
lockdown may show the board again). `shelters` includes this module's router.
"""

import itertools
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from console.forms import Form, act, local_instants, parse, values
from console.pages.shelters_common import shelter_url, shelter_values
from console.render import N_, done_messages, page, redirect, view_of
from core.routing import Router
from shelters.deps import DecideCtx, Gate, WorkCtx
from shelters.models import BedServiceSet, BedState, HoldCreate, LockdownSet
from shelters.router import configuration

router = Router(include_in_schema=False)
SHELTER = "/o/{org_id}/shelters/{shelter_id}"

done_messages(
    {
        "bed_held": N_("The bed is held."),
        "hold_released": N_("The hold is released: the bed is free."),
        "bed_out_of_service": N_("The bed is out of service."),
        "bed_in_service": N_("The bed is back in service."),
        "lockdown_on": N_("The lockdown is on: every entry approval is suspended."),
        "lockdown_off": N_("The lockdown is off."),
    }
)


def board(
    request: Request,
    ctx: Gate,
    status: int = 200,
    message: str | None = None,
    failed: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    """The bed board, grouped by room (by name); after a refused form, with the problem and
    what she entered in the form that failed (`failed`: "hold", "lockdown" or a bed's id)."""
    found = configuration.bed_board_route(ctx)
    ordered = sorted(found.beds, key=lambda b: (b.room_name, str(b.room_id)))
    rooms = [
        (name, list(beds))
        for (name, _), beds in itertools.groupby(ordered, key=lambda b: (b.room_name, b.room_id))
    ]
    return page(
        view_of(request, ctx),
        "shelters/board.html",
        status,
        board=found,
        rooms=rooms,
        free_beds=[b for b in ordered if b.state is BedState.FREE],
        message=message,
        failed=failed,
        entered=entered or {},
        **shelter_values(ctx),
    )


def _failed(
    request: Request, ctx: Gate, failed: str, entered: dict[str, Any]
) -> Callable[[int, str], Response]:
    """The board again with the problem and what she entered."""

    def again(status: int, message: str) -> Response:
        return board(request, ctx, status, message, failed, entered)

    return again


def _back(ctx: Gate, done: str) -> Response:
    """After a form: the board, saying what was done."""
    return redirect(shelter_url(ctx.shelter.organisation_id, ctx.shelter.id) + "/board", done=done)


@router.post(SHELTER + "/holds")
def hold_form(request: Request, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors POST .../holds (WorkCtx): `until` is the organisation's wall clock."""
    entered = values(form)

    def work() -> object:
        data = dict(entered)
        local_instants(data, ("until",), view_of(request, ctx).formats.zone)
        return configuration.hold_route(parse(HoldCreate, data), ctx)

    return act(ctx.session, work, _failed(request, ctx, "hold", entered), _back(ctx, "bed_held"))


@router.post(SHELTER + "/holds/{hold_id}/release")
def release_form(request: Request, hold_id: uuid.UUID, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors DELETE .../holds/{hold_id} (WorkCtx)."""
    return act(
        ctx.session,
        lambda: configuration.release_hold_route(hold_id, ctx),
        _failed(request, ctx, "release", {}),
        _back(ctx, "hold_released"),
    )


@router.post(SHELTER + "/beds/{bed_id}/service")
def bed_service_form(request: Request, bed_id: uuid.UUID, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors PUT .../beds/{bed_id}/service (WorkCtx): out of service, or back in it."""
    entered = values(form)
    return act(
        ctx.session,
        lambda: configuration.bed_service_route(bed_id, parse(BedServiceSet, entered), ctx),
        _failed(request, ctx, str(bed_id), entered),
        lambda bed: _back(ctx, "bed_out_of_service" if bed.out_of_service else "bed_in_service"),
    )


class _BedChosen(BaseModel):
    """The bed a form names in a select rather than in its address."""

    model_config = ConfigDict(extra="ignore")
    bed_id: uuid.UUID


@router.post(SHELTER + "/beds/out-of-service")
def out_of_service_form(request: Request, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors PUT .../beds/{bed_id}/service (WorkCtx) for the bed chosen in the board's one
    "out of service" form (a form a free bed would make a 40-bed board heavy to render)."""
    entered = values(form)

    def work() -> object:
        bed_id = parse(_BedChosen, entered).bed_id
        data = {"out_of_service": True, "reason": entered.get("reason")}
        return configuration.bed_service_route(bed_id, parse(BedServiceSet, data), ctx)

    return act(
        ctx.session,
        work,
        _failed(request, ctx, "out_of_service", entered),
        lambda _: _back(ctx, "bed_out_of_service"),
    )


@router.post(SHELTER + "/lockdown")
def lockdown_form(request: Request, form: Form, ctx: DecideCtx) -> Response:
    """Mirrors PUT .../lockdown (DecideCtx): on or off, with the reason the API asks."""
    entered = values(form)
    return act(
        ctx.session,
        lambda: configuration.lockdown_route(parse(LockdownSet, entered), ctx),
        _failed(request, ctx, "lockdown", entered),
        lambda shelter: _back(ctx, "lockdown_on" if shelter.lockdown else "lockdown_off"),
    )
