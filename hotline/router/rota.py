"""Staff routes: the rota (shifts, covers, swaps), who is on duty, and the gaps ahead."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime
from sqlmodel import Session, SQLModel

from core.clock import ensure_utc
from core.deps import NowDep, SessionDep
from core.models import User
from hotline import service
from hotline.deps import Oversight, Reader, roster_follows_changes
from hotline.models import (
    OverrideCreate,
    OverrideKind,
    Position,
    Shift,
    ShiftCreate,
    ShiftOverride,
    SwapCreate,
)
from hotline.rota import on_duty

router = APIRouter(tags=["hotline"], dependencies=[Depends(roster_follows_changes)])

HOTLINE = "/organisations/{org_id}/hotlines/{hotline_id}"
DEFAULT_SHIFT_LISTING = timedelta(days=14)


# --- response shapes -----------------------------------------------------------------------------


class OverridePublic(SQLModel):
    id: uuid.UUID
    position: Position
    user_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    user_name: str
    kind: OverrideKind
    swap_group: uuid.UUID | None
    reason: str


class ShiftPublic(SQLModel):
    id: uuid.UUID
    hotline_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    primary_user_id: uuid.UUID
    primary_name: str
    backup_user_id: uuid.UUID | None
    backup_name: str | None
    overrides: list[OverridePublic]


class DutyPerson(SQLModel):
    user_id: uuid.UUID
    display_name: str


class OnDutyPublic(SQLModel):
    at: datetime
    primary: DutyPerson | None
    backup: DutyPerson | None


class GapPublic(SQLModel):
    starts_at: datetime
    ends_at: datetime
    missing: list[Position]


def _override_public(override: ShiftOverride, names: dict[uuid.UUID, str]) -> OverridePublic:
    return OverridePublic.model_validate(
        override, from_attributes=True, update={"user_name": names.get(override.user_id, "")}
    )


def _shifts_public(
    session: Session, shifts: list[Shift], overrides: list[ShiftOverride]
) -> list[ShiftPublic]:
    names = service.display_names(
        session,
        [u for s in shifts for u in (s.primary_user_id, s.backup_user_id)]
        + [o.user_id for o in overrides],
    )
    return [
        ShiftPublic(
            id=shift.id,
            hotline_id=shift.hotline_id,
            starts_at=shift.starts_at,
            ends_at=shift.ends_at,
            primary_user_id=shift.primary_user_id,
            primary_name=names.get(shift.primary_user_id, ""),
            backup_user_id=shift.backup_user_id,
            backup_name=names.get(shift.backup_user_id) if shift.backup_user_id else None,
            overrides=[_override_public(o, names) for o in overrides if o.shift_id == shift.id],
        )
        for shift in shifts
    ]


def _person(session: Session, user_id: uuid.UUID | None) -> DutyPerson | None:
    user = session.get(User, user_id) if user_id is not None else None
    return DutyPerson(user_id=user.id, display_name=user.display_name) if user else None


# --- the routes ----------------------------------------------------------------------------------


@router.get(HOTLINE + "/shifts")
def list_shifts_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    _: Reader,
    session: SessionDep,
    now: NowDep,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
) -> list[ShiftPublic]:
    """Shifts overlapping [from, until), by default the next 14 days, with their overrides."""
    hotline = service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    begin = start or now
    shifts = service.list_shifts(
        session, hotline=hotline, start=begin, until=until or begin + DEFAULT_SHIFT_LISTING
    )
    overrides = service.overrides_of(session, [s.id for s in shifts])
    return _shifts_public(session, shifts, overrides)


@router.post(HOTLINE + "/shifts", status_code=201)
def create_shift_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    body: ShiftCreate,
    principal: Oversight,
    session: SessionDep,
    now: NowDep,
) -> ShiftPublic:
    """Add a shift; it may not overlap another shift of the hotline."""
    shift = service.create_shift(
        session,
        now=now,
        hotline=service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        data=body,
        created_by=principal.user_id,
        actor=principal.actor(),
    )
    return _shifts_public(session, [shift], [])[0]


@router.delete(HOTLINE + "/shifts/{shift_id}", status_code=204)
def delete_shift_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    shift_id: uuid.UUID,
    principal: Oversight,
    session: SessionDep,
    now: NowDep,
) -> None:
    """Remove a shift and its overrides."""
    service.delete_shift(
        session,
        now=now,
        hotline=service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        shift_id=shift_id,
        actor=principal.actor(),
    )


@router.post(HOTLINE + "/shifts/{shift_id}/overrides", status_code=201)
def add_override_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    shift_id: uuid.UUID,
    body: OverrideCreate,
    principal: Oversight,
    session: SessionDep,
    now: NowDep,
) -> OverridePublic:
    """Someone covers a position for all or part of a shift."""
    override = service.add_override(
        session,
        now=now,
        hotline=service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        shift_id=shift_id,
        data=body,
        made_by=principal.user_id,
        actor=principal.actor(),
    )
    return _override_public(override, service.display_names(session, [override.user_id]))


@router.post(HOTLINE + "/shifts/{shift_id}/swap", status_code=201)
def swap_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    shift_id: uuid.UUID,
    body: SwapCreate,
    principal: Oversight,
    session: SessionDep,
    now: NowDep,
) -> list[OverridePublic]:
    """Two shifts exchange who holds a position."""
    rows = service.swap_shifts(
        session,
        now=now,
        hotline=service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id),
        shift_id=shift_id,
        data=body,
        made_by=principal.user_id,
        actor=principal.actor(),
    )
    names = service.display_names(session, [r.user_id for r in rows])
    return [_override_public(r, names) for r in rows]


@router.get(HOTLINE + "/on-duty")
def on_duty_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    _: Reader,
    session: SessionDep,
    now: NowDep,
    at: AwareDatetime | None = None,
) -> OnDutyPublic:
    """Who is primary and backup at an instant (now by default)."""
    hotline = service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    instant = ensure_utc(at) if at is not None else now
    duty = on_duty(session, hotline_id=hotline.id, at=instant)
    return OnDutyPublic(
        at=instant, primary=_person(session, duty.primary), backup=_person(session, duty.backup)
    )


@router.get(HOTLINE + "/gaps")
def gaps_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, _: Oversight, session: SessionDep, now: NowDep
) -> list[GapPublic]:
    """Stretches of the next 14 days, outside office hours, without a primary or a backup."""
    hotline = service.get_hotline(session, organisation_id=org_id, hotline_id=hotline_id)
    return [
        GapPublic(starts_at=g.starts_at, ends_at=g.ends_at, missing=list(g.missing))
        for g in service.rota_gaps(session, now=now, hotline=hotline)
    ]
