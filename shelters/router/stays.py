"""Admission, stays, transfers, discharges and extensions."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import JSONResponse

from core.clock import ensure_utc
from core.routing import Router
from shelters import errors, service
from shelters.deps import DecideCtx, Gate, WorkCtx, other_shelter
from shelters.models import (
    AdmissionCreate,
    AdmissionPublic,
    DischargeCreate,
    ExtensionCreate,
    ExtensionDecision,
    ExtensionPublic,
    Sex,
    Stay,
    StayPublic,
    StayStatus,
    TransferCreate,
)
from shelters.router.answers import (
    AdmissionRefused,
    availability_public,
    extension_public,
    stay_public,
    stays_public,
)
from shelters.router.paths import SHELTER, STAY

router = Router(tags=["shelters"])


def _stay(ctx: Gate, stay: Stay) -> StayPublic:
    """The answer about one stay: its people with their names and beds now."""
    return stay_public(ctx.session, stay, cipher=ctx.cipher, now=ctx.now)


# --- stays -----------------------------------------------------------------------------------


@router.post(SHELTER + "/stays", status_code=201, responses={409: {"model": AdmissionRefused}})
def admit_route(body: AdmissionCreate, ctx: WorkCtx) -> Any:
    """Emergency admission, 24/7. With no eligible free bed: 409 with where else to go.

    The refusal is an answer, not an error: the turn-away it records is kept. A night admission
    entered later names when she arrived (`admitted_at`, at most 24 hours ago). The answer says
    when the group could not be kept in one room (`split_across_rooms`, `notice`).
    """
    result = service.admit(
        ctx.session,
        now=ctx.now,
        shelter=ctx.shelter,
        data=body,
        cipher=ctx.cipher,
        actor=ctx.actor,
        actor_roles=ctx.principal.roles,
        user_id=ctx.user_id,
    )
    if isinstance(result, service.TurnedAway):
        refused = AdmissionRefused(
            error="no_eligible_bed",
            message=errors.refusal(result.failed, man=body.client.sex is Sex.MALE),
            turn_away_id=result.turn_away.id,
            failed=result.failed,
            alternatives=availability_public(result.alternatives),
            support_at_distance=True,
        )
        return JSONResponse(status_code=409, content=refused.model_dump(mode="json"))
    return AdmissionPublic(
        **_stay(ctx, result.stay).model_dump(),
        split_across_rooms=result.split_across_rooms,
        notice=result.notice,
    )


@router.get(SHELTER + "/stays")
def list_stays_route(
    ctx: WorkCtx, status: StayStatus | None = StayStatus.ACTIVE
) -> list[StayPublic]:
    """The shelter's stays (active by default), newest first."""
    stays = service.list_stays(ctx.session, shelter=ctx.shelter, status=status)
    return stays_public(ctx.session, stays, cipher=ctx.cipher, now=ctx.now)


@router.get(STAY)
def get_stay_route(stay_id: uuid.UUID, ctx: WorkCtx) -> StayPublic:
    return _stay(ctx, ctx.stay(stay_id))


@router.post(STAY + "/transfer")
def transfer_route(stay_id: uuid.UUID, body: TransferCreate, ctx: WorkCtx) -> StayPublic:
    """Move people to other beds here, or the whole group to another of our shelters."""
    target = ctx.shelter if body.to_shelter_id is None else other_shelter(ctx, body.to_shelter_id)
    stay = service.transfer(
        ctx.session,
        now=ctx.now,
        shelter=ctx.shelter,
        target=target,
        stay=ctx.stay(stay_id),
        data=body,
        cipher=ctx.cipher,
        actor=ctx.actor,
    )
    return _stay(ctx, stay)


@router.post(STAY + "/discharge")
def discharge_route(stay_id: uuid.UUID, body: DischargeCreate, ctx: WorkCtx) -> StayPublic:
    """End the stay with its outcome; the beds are free at once."""
    stay = service.discharge(
        ctx.session,
        now=ctx.now,
        shelter=ctx.shelter,
        stay=ctx.stay(stay_id),
        data=body,
        cipher=ctx.cipher,
        actor=ctx.actor,
    )
    return _stay(ctx, stay)


# --- extensions ------------------------------------------------------------------------------


@router.get(STAY + "/extensions")
def list_extensions_route(stay_id: uuid.UUID, ctx: WorkCtx) -> list[ExtensionPublic]:
    extensions = service.list_extensions(ctx.session, stay=ctx.stay(stay_id))
    return [extension_public(ctx.cipher, e) for e in extensions]


@router.post(STAY + "/extensions", status_code=201)
def request_extension_route(
    stay_id: uuid.UUID, body: ExtensionCreate, ctx: WorkCtx
) -> ExtensionPublic:
    """Ask to keep the stay beyond its planned end, with a written justification."""
    extension = service.request_extension(
        ctx.session,
        now=ctx.now,
        shelter=ctx.shelter,
        stay=ctx.stay(stay_id),
        data=body.model_copy(update={"new_end": ensure_utc(body.new_end)}),
        cipher=ctx.cipher,
        user_id=ctx.user_id,
        actor=ctx.actor,
    )
    return extension_public(ctx.cipher, extension)


def _decide(
    ctx: Gate, stay_id: uuid.UUID, extension_id: uuid.UUID, *, approve: bool, note: str | None
) -> ExtensionPublic:
    """A supervisor's decision on a pending extension of one of the shelter's stays."""
    stay = ctx.stay(stay_id)
    extension = service.decide_extension(
        ctx.session,
        now=ctx.now,
        shelter=ctx.shelter,
        stay=stay,
        extension=service.get_extension(ctx.session, stay=stay, extension_id=extension_id),
        approve=approve,
        note=note,
        cipher=ctx.cipher,
        user_id=ctx.user_id,
        actor=ctx.actor,
    )
    return extension_public(ctx.cipher, extension)


@router.post(STAY + "/extensions/{extension_id}/approve")
def approve_extension_route(
    stay_id: uuid.UUID, extension_id: uuid.UUID, body: ExtensionDecision, ctx: DecideCtx
) -> ExtensionPublic:
    """A supervisor approves: the stay's planned end becomes the extension's new end."""
    return _decide(ctx, stay_id, extension_id, approve=True, note=body.note)


@router.post(STAY + "/extensions/{extension_id}/reject")
def reject_extension_route(
    stay_id: uuid.UUID, extension_id: uuid.UUID, body: ExtensionDecision, ctx: DecideCtx
) -> ExtensionPublic:
    return _decide(ctx, stay_id, extension_id, approve=False, note=body.note)
