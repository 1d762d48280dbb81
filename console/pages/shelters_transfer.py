"""Moving a stay's people: to other beds of this shelter, or the whole group to another of the
organisation's shelters (when the house is no longer safe for her, say).

Mirrors POST .../stays/{stay_id}/transfer (WorkCtx). The page offers the shelters that route
would take as a destination (`shelters.deps.other_shelter`: her own shelters' people she sees)
and the free beds of the one chosen, read from its board as the API gives it to her (each
destination admitted by the shelter gate's own rule, `admit_to_shelter`, under the same policy).
"""

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from console.forms import Form, act, parse, values
from console.pages.shelters_common import her_shelters, shelter_url, shelter_values
from console.render import N_, done_messages, page, redirect, view_of
from core.errors import AppError
from core.routing import Router
from shelters.deps import Gate, WorkCtx
from shelters.models import BedState, StayStatus, TransferCreate
from shelters.router import configuration, stays
from shelters.router.answers import BoardBed

router = Router(include_in_schema=False)
TRANSFER = "/o/{org_id}/shelters/{shelter_id}/stays/{stay_id}/transfer"
BED_FIELD = "bed-"  # a member's field: bed-<member id> = the bed she moves to ("" = stays)

done_messages({"transferred": N_("The move is done: the beds are as chosen.")})


def _destinations(ctx: Gate) -> list[Gate]:
    """The shelters a transfer from this one may go to, this one first: those of the
    organisation whose people she sees, each admitted as its own routes would admit her."""
    others = her_shelters(ctx.shelter.organisation_id, ctx)
    return [ctx, *(g for _, g in others if g.shelter.id != ctx.shelter.id and g.sees_people)]


def _free_beds(target: Gate) -> list[BoardBed]:
    board = configuration.bed_board_route(target)
    free = [b for b in board.beds if b.state is BedState.FREE]
    return sorted(free, key=lambda b: (b.room_name, b.label, str(b.bed_id)))


def _transfer_page(
    request: Request,
    ctx: Gate,
    stay_id: uuid.UUID,
    to: uuid.UUID | None,
    status: int = 200,
    message: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    stay = stays.get_stay_route(stay_id, ctx)
    destinations = _destinations(ctx)
    chosen = next((d for d in destinations if d.shelter.id == to), destinations[0])
    beds_here = {b.id: b.label for b in configuration.list_beds_route(ctx)}
    base = shelter_url(ctx.shelter.organisation_id, ctx.shelter.id)
    return page(
        view_of(request, ctx),
        "shelters/transfer.html",
        status,
        stay=stay,
        active_stay=stay.status is StayStatus.ACTIVE,
        choices=[d.shelter for d in destinations],
        target=chosen.shelter,
        moving_shelter=chosen.shelter.id != ctx.shelter.id,
        free_beds=_free_beds(chosen) if stay.status is StayStatus.ACTIVE else [],
        beds_here=beds_here,
        bed_field=BED_FIELD,
        stay_url=f"{base}/stays/{stay_id}",
        message=message,
        entered=entered or {},
        **shelter_values(ctx),
    )


@router.get(TRANSFER)
def transfer_page(
    request: Request, stay_id: uuid.UUID, ctx: WorkCtx, to: uuid.UUID | None = None
) -> Response:
    """The move form: where to (`to`: another of her shelters; this one when left out) and a
    free bed there for each person who moves."""
    return _transfer_page(request, ctx, stay_id, to)


def transfer_body(entered: dict[str, Any], here: uuid.UUID) -> dict[str, Any]:
    """The API's body from the form: the destination (left out when it is this shelter), a move
    for each person given a bed, the reason."""
    moves = [
        {"member_id": key[len(BED_FIELD) :], "bed_id": value}
        for key, value in entered.items()
        if key.startswith(BED_FIELD) and value
    ]
    body: dict[str, Any] = {"moves": moves, "reason": entered.get("reason", "")}
    to = entered.get("to_shelter_id") or ""
    if to and to != str(here):
        body["to_shelter_id"] = to
    return body


@router.post(TRANSFER)
def transfer_form(request: Request, stay_id: uuid.UUID, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors POST .../stays/{stay_id}/transfer (WorkCtx); then the stay's page, in the
    shelter she is now in."""
    entered = values(form)
    body = transfer_body(entered, ctx.shelter.id)
    to: uuid.UUID | None = None
    try:
        to = uuid.UUID(str(body.get("to_shelter_id") or ctx.shelter.id))
    except ValueError:
        to = None

    def failed(status: int, message: str) -> Response:
        return _transfer_page(request, ctx, stay_id, to, status, message, entered)

    def after(moved: Any) -> Response:
        url = shelter_url(ctx.shelter.organisation_id, moved.shelter_id)
        return redirect(f"{url}/stays/{stay_id}", done="transferred")

    try:
        parsed = parse(TransferCreate, body)
    except AppError as exc:
        return failed(exc.status_code, exc.message)
    return act(ctx.session, lambda: stays.transfer_route(stay_id, parsed, ctx), failed, after)
