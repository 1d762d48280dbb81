"""Staff routes: the rota (shifts, covers, swaps), who is on duty, and the gaps ahead."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import Query
from pydantic import AwareDatetime
from sqlmodel import Session, SQLModel

from core.clock import ensure_utc
from core.models import User
from hotline import service
from hotline.deps import OversightCtx, ReaderCtx
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
from hotline.router.common import HOTLINE, hotline_of, staff_router

router = staff_router()
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


def _overrides_public(session: Session, overrides: list[ShiftOverride]) -> list[OverridePublic]:
    names = service.display_names(session, [o.user_id for o in overrides])
    return [_override_public(o, names) for o in overrides]


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
    ctx: ReaderCtx,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    until: Annotated[AwareDatetime | None, Query()] = None,
) -> list[ShiftPublic]:
    """Shifts overlapping [from, until), by default the next 14 days, with their overrides."""
    hotline = hotline_of(ctx, org_id, hotline_id)
    begin = start or ctx.now
    shifts = service.list_shifts(
        ctx.session, hotline=hotline, start=begin, until=until or begin + DEFAULT_SHIFT_LISTING
    )
    overrides = service.overrides_of(ctx.session, [s.id for s in shifts])
    return _shifts_public(ctx.session, shifts, overrides)


@router.post(HOTLINE + "/shifts", status_code=201)
def create_shift_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, body: ShiftCreate, ctx: OversightCtx
) -> ShiftPublic:
    """Add a shift; it may not overlap another shift of the hotline."""
    shift = service.create_shift(ctx.act, hotline_of(ctx, org_id, hotline_id), body)
    return _shifts_public(ctx.session, [shift], [])[0]


@router.delete(HOTLINE + "/shifts/{shift_id}", status_code=204)
def delete_shift_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, shift_id: uuid.UUID, ctx: OversightCtx
) -> None:
    """Remove a shift and its overrides."""
    hotline = hotline_of(ctx, org_id, hotline_id)
    service.delete_shift(
        ctx.session, now=ctx.now, hotline=hotline, shift_id=shift_id, actor=ctx.actor
    )


@router.post(HOTLINE + "/shifts/{shift_id}/overrides", status_code=201)
def add_override_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    shift_id: uuid.UUID,
    body: OverrideCreate,
    ctx: OversightCtx,
) -> OverridePublic:
    """Someone covers a position for all or part of a shift."""
    override = service.add_override(ctx.act, hotline_of(ctx, org_id, hotline_id), shift_id, body)
    return _overrides_public(ctx.session, [override])[0]


@router.post(HOTLINE + "/shifts/{shift_id}/swap", status_code=201)
def swap_route(
    org_id: uuid.UUID,
    hotline_id: uuid.UUID,
    shift_id: uuid.UUID,
    body: SwapCreate,
    ctx: OversightCtx,
) -> list[OverridePublic]:
    """Two shifts exchange who holds a position."""
    rows = service.swap_shifts(ctx.act, hotline_of(ctx, org_id, hotline_id), shift_id, body)
    return _overrides_public(ctx.session, rows)


@router.get(HOTLINE + "/on-duty")
def on_duty_route(
    org_id: uuid.UUID, hotline_id: uuid.UUID, ctx: ReaderCtx, at: AwareDatetime | None = None
) -> OnDutyPublic:
    """Who is primary and backup at an instant (now by default)."""
    hotline = hotline_of(ctx, org_id, hotline_id)
    instant = ensure_utc(at) if at is not None else ctx.now
    duty = on_duty(ctx.session, hotline_id=hotline.id, at=instant)
    return OnDutyPublic(
        at=instant,
        primary=_person(ctx.session, duty.primary),
        backup=_person(ctx.session, duty.backup),
    )


@router.get(HOTLINE + "/gaps")
def gaps_route(org_id: uuid.UUID, hotline_id: uuid.UUID, ctx: OversightCtx) -> list[GapPublic]:
    """Stretches of the next 14 days, outside office hours, without a primary or a backup."""
    hotline = hotline_of(ctx, org_id, hotline_id)
    return [
        GapPublic(starts_at=g.starts_at, ends_at=g.ends_at, missing=list(g.missing))
        for g in service.rota_gaps(ctx.session, now=ctx.now, hotline=hotline)
    ]
