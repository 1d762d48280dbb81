"""Admission, stays, transfers, discharges and extensions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlmodel import Session

from core.clock import ensure_utc
from core.crypto import FieldCipher
from core.deps import CipherDep, NowDep, SessionDep
from shelters import errors, service
from shelters.deps import (
    DecideGate,
    Gate,
    WorkGate,
    other_shelter,
)
from shelters.models import (
    AdmissionCreate,
    AdmissionPublic,
    DischargeCreate,
    ExtensionCreate,
    ExtensionDecision,
    ExtensionPublic,
    Sex,
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

router = APIRouter(tags=["shelters"])


# --- stays -----------------------------------------------------------------------------------


@router.post(SHELTER + "/stays", status_code=201, responses={409: {"model": AdmissionRefused}})
def admit_route(
    body: AdmissionCreate,
    gate: WorkGate,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> Any:
    """Emergency admission, 24/7. With no eligible free bed: 409 with where else to go.

    The refusal is an answer, not an error: the turn-away it records is kept. A night admission
    entered later names when she arrived (`admitted_at`, at most 24 hours ago). The answer says
    when the group could not be kept in one room (`split_across_rooms`, `notice`).
    """
    result = service.admit(
        session,
        now=now,
        shelter=gate.shelter,
        data=body,
        cipher=cipher,
        actor=gate.principal.actor(),
        actor_roles=gate.principal.roles,
        user_id=gate.user_id,
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
    stay = stay_public(session, result.stay, cipher=cipher, now=now)
    return AdmissionPublic(
        **stay.model_dump(), split_across_rooms=result.split_across_rooms, notice=result.notice
    )


@router.get(SHELTER + "/stays")
def list_stays_route(
    gate: WorkGate,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
    status: StayStatus | None = StayStatus.ACTIVE,
) -> list[StayPublic]:
    """The shelter's stays (active by default), newest first."""
    stays = service.list_stays(session, shelter=gate.shelter, status=status)
    return stays_public(session, stays, cipher=cipher, now=now)


@router.get(STAY)
def get_stay_route(
    stay_id: uuid.UUID, gate: WorkGate, session: SessionDep, now: NowDep, cipher: CipherDep
) -> StayPublic:
    stay = service.get_stay(session, shelter=gate.shelter, stay_id=stay_id)
    return stay_public(session, stay, cipher=cipher, now=now)


@router.post(STAY + "/transfer")
def transfer_route(
    stay_id: uuid.UUID,
    body: TransferCreate,
    gate: WorkGate,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> StayPublic:
    """Move people to other beds here, or the whole group to another of our shelters."""
    target = (
        other_shelter(session, gate, body.to_shelter_id)
        if body.to_shelter_id is not None
        else gate.shelter
    )
    stay = service.transfer(
        session,
        now=now,
        shelter=gate.shelter,
        target=target,
        stay=service.get_stay(session, shelter=gate.shelter, stay_id=stay_id),
        data=body,
        cipher=cipher,
        actor=gate.principal.actor(),
    )
    return stay_public(session, stay, cipher=cipher, now=now)


@router.post(STAY + "/discharge")
def discharge_route(
    stay_id: uuid.UUID,
    body: DischargeCreate,
    gate: WorkGate,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> StayPublic:
    """End the stay with its outcome; the beds are free at once."""
    stay = service.discharge(
        session,
        now=now,
        shelter=gate.shelter,
        stay=service.get_stay(session, shelter=gate.shelter, stay_id=stay_id),
        data=body,
        cipher=cipher,
        actor=gate.principal.actor(),
    )
    return stay_public(session, stay, cipher=cipher, now=now)


@router.get(STAY + "/extensions")
def list_extensions_route(
    stay_id: uuid.UUID, gate: WorkGate, session: SessionDep, cipher: CipherDep
) -> list[ExtensionPublic]:
    stay = service.get_stay(session, shelter=gate.shelter, stay_id=stay_id)
    return [extension_public(cipher, e) for e in service.list_extensions(session, stay=stay)]


@router.post(STAY + "/extensions", status_code=201)
def request_extension_route(
    stay_id: uuid.UUID,
    body: ExtensionCreate,
    gate: WorkGate,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> ExtensionPublic:
    """Ask to keep the stay beyond its planned end, with a written justification."""
    extension = service.request_extension(
        session,
        now=now,
        shelter=gate.shelter,
        stay=service.get_stay(session, shelter=gate.shelter, stay_id=stay_id),
        data=body.model_copy(update={"new_end": ensure_utc(body.new_end)}),
        cipher=cipher,
        user_id=gate.user_id,
        actor=gate.principal.actor(),
    )
    return extension_public(cipher, extension)


def _decide(
    approve: bool,
    stay_id: uuid.UUID,
    extension_id: uuid.UUID,
    body: ExtensionDecision,
    gate: Gate,
    session: Session,
    now: datetime,
    cipher: FieldCipher,
) -> ExtensionPublic:
    stay = service.get_stay(session, shelter=gate.shelter, stay_id=stay_id)
    extension = service.decide_extension(
        session,
        now=now,
        shelter=gate.shelter,
        stay=stay,
        extension=service.get_extension(session, stay=stay, extension_id=extension_id),
        approve=approve,
        note=body.note,
        cipher=cipher,
        user_id=gate.user_id,
        actor=gate.principal.actor(),
    )
    return extension_public(cipher, extension)


@router.post(STAY + "/extensions/{extension_id}/approve")
def approve_extension_route(
    stay_id: uuid.UUID,
    extension_id: uuid.UUID,
    body: ExtensionDecision,
    gate: DecideGate,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> ExtensionPublic:
    """A supervisor approves: the stay's planned end becomes the extension's new end."""
    return _decide(True, stay_id, extension_id, body, gate, session, now, cipher)


@router.post(STAY + "/extensions/{extension_id}/reject")
def reject_extension_route(
    stay_id: uuid.UUID,
    extension_id: uuid.UUID,
    body: ExtensionDecision,
    gate: DecideGate,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> ExtensionPublic:
    return _decide(False, stay_id, extension_id, body, gate, session, now, cipher)
