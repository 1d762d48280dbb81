"""Console pages: the shelters she may see, the network's free beds, a shelter's bed board,
its turn-aways and its visitors.

Each page names the gate of the API route it mirrors (`shelters.deps`) and calls that route's
function; the admission form, the stay page and the bed board's forms are in `shelters_admit`,
`shelters_stays` and `shelters_beds`, whose routers this module's router includes (so only this
module is registered).
"""

import uuid
from functools import partial
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response

from console.forms import BlankIsNone, Form, act, local_instant, parse, values
from console.pages import shelters_admit, shelters_beds, shelters_stays, shelters_transfer
from console.pages.shelters_common import LABELS, shelter_url, shelter_values
from console.render import N_, PREFIX, done_messages, page, redirect, view_of
from core.context import Context
from core.deps import CipherDep, NowDep, SessionDep
from core.errors import AppError
from core.models import Role
from core.routing import Router
from shelters.deps import DecideCtx, Gate, NetworkReader, Reader, WorkCtx
from shelters.models import ApprovalCreate, Group, Sex, TurnAwayUpdate
from shelters.router import configuration, network, visitors

router = Router(prefix=PREFIX, include_in_schema=False)
SHELTER = "/o/{org_id}/shelters/{shelter_id}"
NETWORK = "/network/availability"

done_messages(
    {
        "turn_away_updated": N_("Where she was sent is recorded."),
        "approval_created": N_("The entry approval is saved."),
        "approval_revoked": N_("The entry approval is revoked."),
        "entry_recorded": N_("The visitor's entry is recorded."),
        "exit_recorded": N_("The visitor's exit is recorded."),
    }
)


# --- the shelters she may see, and the network's free beds ------------------------------------


@router.get("/o/{org_id}/shelters")
def shelters_page(
    request: Request,
    org_id: uuid.UUID,
    principal: Reader,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> Response:
    """Mirrors GET /organisations/{org_id}/shelters (Reader)."""
    shelters = configuration.list_shelters_route(org_id, principal, session)
    view = view_of(request, Context(principal, session, now, cipher))
    works = bool(principal.roles & {Role.SUPERVISOR, Role.SHELTER_STAFF})
    return page(
        view,
        "shelters/list.html",
        active="shelters",
        shelters=shelters,
        org_id=org_id,
        works=works,
        network_url=PREFIX + NETWORK,
    )


@router.get(NETWORK)
def availability_page(
    request: Request,
    principal: NetworkReader,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
    sex: Sex = Sex.FEMALE,
    age: Annotated[int, Query(ge=0, le=120)] = 30,
    children: Annotated[int, Query(ge=0, le=12)] = 0,
    infants: Annotated[int, Query(ge=0, le=12)] = 0,
    group: Annotated[Group | None, BlankIsNone] = None,
) -> Response:
    """Mirrors GET /network/shelter-availability (NetworkReader): counts only, no places."""
    view = view_of(request, Context(principal, session, now, cipher))
    asked: dict[str, object] = {
        "sex": sex,
        "age": age,
        "children": children,
        "infants": infants,
        "group": group,
    }
    message, status, found = None, 200, []
    try:
        found = network.network_availability_route(
            principal, session, now, sex, age, children, infants, group
        )
    except AppError as exc:
        message, status = exc.message, exc.status_code
    return page(
        view,
        "shelters/availability.html",
        status,
        active="shelters",
        found=found,
        asked=asked,
        message=message,
        **LABELS,
    )


# --- the bed board ----------------------------------------------------------------------------


@router.get(SHELTER + "/board")
def board_page(request: Request, ctx: WorkCtx) -> Response:
    """Mirrors GET .../board (WorkCtx): one read, grouped by room (by name), with the forms of
    `shelters_beds` (holds, beds out of service, the lockdown)."""
    return shelters_beds.board(request, ctx)


# --- turn-aways -------------------------------------------------------------------------------


def _turn_aways(
    request: Request, ctx: Gate, status: int = 200, message: str | None = None
) -> Response:
    turn_aways = network.list_turn_aways_route(ctx)
    # "Where else to go": the network's counts for a woman (NetworkReader admits everyone
    # WorkCtx does).
    elsewhere = network.network_availability_route(
        ctx.principal, ctx.session, ctx.now, Sex.FEMALE, 30, 0, 0, None
    )
    partners = {a.shelter_id: a.shelter_name for a in elsewhere}
    return page(
        view_of(request, ctx),
        "shelters/turn_aways.html",
        status,
        turn_aways=turn_aways,
        elsewhere=elsewhere,
        partners=partners,
        message=message,
        network_url=PREFIX + NETWORK,
        **shelter_values(ctx),
    )


@router.get(SHELTER + "/turn-aways")
def turn_aways_page(request: Request, ctx: WorkCtx) -> Response:
    """Mirrors GET .../turn-aways (WorkCtx)."""
    return _turn_aways(request, ctx)


def _back(ctx: Gate, page_path: str, done: str) -> Response:
    """After a form: one of the shelter's pages, saying what was done."""
    return redirect(shelter_url(ctx.shelter.organisation_id, ctx.shelter.id) + page_path, done=done)


@router.post(SHELTER + "/turn-aways/{turn_away_id}")
def turn_away_form(request: Request, turn_away_id: uuid.UUID, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors PATCH .../turn-aways/{turn_away_id} (WorkCtx)."""
    data = values(form)
    return act(
        ctx.session,
        lambda: network.update_turn_away_route(turn_away_id, parse(TurnAwayUpdate, data), ctx),
        partial(_turn_aways, request, ctx),
        _back(ctx, "/turn-aways", "turn_away_updated"),
    )


# --- visitors: entry approvals and the entry log ----------------------------------------------


def _visitors(
    request: Request,
    ctx: Gate,
    status: int = 200,
    message: str | None = None,
    entered: dict[str, Any] | None = None,
) -> Response:
    approvals = visitors.list_approvals_route(ctx)
    entries = visitors.list_entries_route(ctx)
    live = [
        a for a in approvals if a.revoked_at is None and a.valid_from <= ctx.now < a.valid_until
    ]
    return page(
        view_of(request, ctx),
        "shelters/visitors.html",
        status,
        approvals=approvals,
        entries=entries,
        names={a.id: a.person_name for a in approvals},
        live={a.id for a in live},
        now=ctx.now,
        message=message,
        entered=entered or {},
        decides=Role.SUPERVISOR in ctx.principal.roles,
        **shelter_values(ctx),
    )


@router.get(SHELTER + "/visitors")
def visitors_page(request: Request, ctx: WorkCtx) -> Response:
    """Mirrors GET .../entry-approvals and GET .../entries (WorkCtx)."""
    return _visitors(request, ctx)


@router.post(SHELTER + "/visitors/approvals")
def approval_form(request: Request, form: Form, ctx: DecideCtx) -> Response:
    """Mirrors POST .../entry-approvals (DecideCtx)."""
    data = values(form)
    zone = view_of(request, ctx).formats.zone

    def work() -> object:
        for field in ("valid_from", "valid_until"):
            data[field] = local_instant(data.get(field), zone)
        body = parse(ApprovalCreate, {k: v for k, v in data.items() if v is not None})
        return visitors.approve_entry_route(body, ctx)

    return act(
        ctx.session,
        work,
        lambda status, message: _visitors(request, ctx, status, message, values(form)),
        _back(ctx, "/visitors", "approval_created"),
    )


@router.post(SHELTER + "/visitors/approvals/{approval_id}/revoke")
def revoke_form(request: Request, approval_id: uuid.UUID, form: Form, ctx: DecideCtx) -> Response:
    """Mirrors POST .../entry-approvals/{approval_id}/revoke (DecideCtx)."""
    return act(
        ctx.session,
        lambda: visitors.revoke_approval_route(approval_id, ctx),
        partial(_visitors, request, ctx),
        _back(ctx, "/visitors", "approval_revoked"),
    )


@router.post(SHELTER + "/visitors/approvals/{approval_id}/entries")
def entry_form(request: Request, approval_id: uuid.UUID, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors POST .../entry-approvals/{approval_id}/entries (WorkCtx)."""
    return act(
        ctx.session,
        lambda: visitors.record_entry_route(approval_id, ctx),
        partial(_visitors, request, ctx),
        _back(ctx, "/visitors", "entry_recorded"),
    )


@router.post(SHELTER + "/visitors/entries/{entry_id}/exit")
def exit_form(request: Request, entry_id: uuid.UUID, form: Form, ctx: WorkCtx) -> Response:
    """Mirrors POST .../entries/{entry_id}/exit (WorkCtx)."""
    return act(
        ctx.session,
        lambda: visitors.record_exit_route(entry_id, ctx),
        partial(_visitors, request, ctx),
        _back(ctx, "/visitors", "exit_recorded"),
    )


router.include_router(shelters_admit.router)
router.include_router(shelters_beds.router)
router.include_router(shelters_stays.router)
router.include_router(shelters_transfer.router)
