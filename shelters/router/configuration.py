"""Configuring shelters (staff, rooms, beds) and the beds as they are: the bed board, holds."""

from __future__ import annotations

import uuid

from core import users
from core.deps import CipherDep, NowDep, SessionDep
from core.models import Role
from core.routing import Router
from shelters import service
from shelters.deps import ConfigureCtx, Configurer, DecideCtx, ReadCtx, Reader, WorkCtx
from shelters.models import (
    BedCreate,
    BedPublic,
    BedServiceSet,
    HoldCreate,
    HoldPublic,
    LockdownSet,
    RoomCreate,
    RoomPublic,
    ShelterCreate,
    ShelterPublic,
    ShelterUpdate,
)
from shelters.router.answers import (
    BedBoard,
    StaffMember,
    bed_public,
    board_public,
    hold_public,
    shelter_public,
)
from shelters.router.paths import ORG, SHELTER

router = Router(tags=["shelters"])


# --- shelters and staff ----------------------------------------------------------------------


@router.get(ORG)
def list_shelters_route(
    org_id: uuid.UUID, principal: Reader, session: SessionDep
) -> list[ShelterPublic]:
    """The organisation's shelters (staff see the ones they work in); never an address."""
    shelters = service.list_shelters(session, organisation_id=org_id)
    if not principal.roles & {Role.ADMIN, Role.SUPERVISOR}:
        shelters = [
            s
            for s in shelters
            if service.is_staff(session, shelter_id=s.id, user_id=principal.user_id)
        ]
    return [ShelterPublic.model_validate(s, from_attributes=True) for s in shelters]


@router.post(ORG, status_code=201)
def create_shelter_route(
    org_id: uuid.UUID,
    body: ShelterCreate,
    principal: Configurer,
    session: SessionDep,
    now: NowDep,
    cipher: CipherDep,
) -> ShelterPublic:
    """Register a shelter; its address is sealed at once."""
    shelter = service.create_shelter(
        session,
        now=now,
        organisation=users.get_organisation(session, org_id),
        data=body,
        cipher=cipher,
        actor=principal.actor(),
    )
    return shelter_public(shelter, cipher=cipher, sees_people=Role.SUPERVISOR in principal.roles)


@router.get(SHELTER)
def get_shelter_route(ctx: ReadCtx) -> ShelterPublic:
    """One shelter; the address only for its staff and the organisation's supervisors."""
    return shelter_public(ctx.shelter, cipher=ctx.cipher, sees_people=ctx.sees_people)


@router.patch(SHELTER)
def update_shelter_route(body: ShelterUpdate, ctx: ConfigureCtx) -> ShelterPublic:
    """Change a shelter's configuration (eligibility, capacity, address, ...)."""
    shelter = service.update_shelter(ctx.act, ctx.shelter, body)
    return shelter_public(shelter, cipher=ctx.cipher, sees_people=ctx.sees_people)


@router.put(SHELTER + "/lockdown")
def lockdown_route(body: LockdownSet, ctx: DecideCtx) -> ShelterPublic:
    """Switch the lockdown on (every entry approval suspended) or off."""
    shelter = service.set_lockdown(ctx.act, ctx.shelter, body.lockdown, body.reason)
    return shelter_public(shelter, cipher=ctx.cipher, sees_people=ctx.sees_people)


@router.get(SHELTER + "/staff")
def list_staff_route(ctx: ConfigureCtx) -> list[StaffMember]:
    """Who works in the shelter."""
    return [
        StaffMember(user_id=u.id, display_name=u.display_name)
        for u in service.list_staff(ctx.session, shelter=ctx.shelter)
    ]


@router.put(SHELTER + "/staff/{user_id}")
def assign_staff_route(user_id: uuid.UUID, ctx: ConfigureCtx) -> StaffMember:
    """Assign a shelter_staff user to the shelter (idempotent)."""
    user = service.assign_staff(
        ctx.session, now=ctx.now, shelter=ctx.shelter, user_id=user_id, actor=ctx.actor
    )
    return StaffMember(user_id=user.id, display_name=user.display_name)


@router.delete(SHELTER + "/staff/{user_id}", status_code=204)
def remove_staff_route(user_id: uuid.UUID, ctx: ConfigureCtx) -> None:
    """Take a user off the shelter's staff: they lose its address and residents at once."""
    service.remove_staff(
        ctx.session, now=ctx.now, shelter=ctx.shelter, user_id=user_id, actor=ctx.actor
    )


# --- rooms and beds --------------------------------------------------------------------------


@router.get(SHELTER + "/rooms")
def list_rooms_route(ctx: ReadCtx) -> list[RoomPublic]:
    return [
        RoomPublic.model_validate(r, from_attributes=True)
        for r in service.list_rooms(ctx.session, shelter=ctx.shelter)
    ]


@router.post(SHELTER + "/rooms", status_code=201)
def add_room_route(body: RoomCreate, ctx: ConfigureCtx) -> RoomPublic:
    room = service.add_room(
        ctx.session, now=ctx.now, shelter=ctx.shelter, data=body, actor=ctx.actor
    )
    return RoomPublic.model_validate(room, from_attributes=True)


@router.get(SHELTER + "/beds")
def list_beds_route(ctx: ReadCtx) -> list[BedPublic]:
    beds = service.list_beds(ctx.session, shelter_id=ctx.shelter.id)
    return [bed_public(ctx.cipher, b) for b in beds]


@router.post(SHELTER + "/beds", status_code=201)
def add_bed_route(body: BedCreate, ctx: ConfigureCtx) -> BedPublic:
    bed = service.add_bed(ctx.session, now=ctx.now, shelter=ctx.shelter, data=body, actor=ctx.actor)
    return bed_public(ctx.cipher, bed)


@router.put(SHELTER + "/beds/{bed_id}/service")
def bed_service_route(bed_id: uuid.UUID, body: BedServiceSet, ctx: WorkCtx) -> BedPublic:
    """Take a free bed out of service (repairs, infection) or bring it back."""
    bed = service.set_bed_service(
        ctx.session,
        now=ctx.now,
        shelter=ctx.shelter,
        bed_id=bed_id,
        out_of_service=body.out_of_service,
        reason=body.reason,
        cipher=ctx.cipher,
        actor=ctx.actor,
    )
    return bed_public(ctx.cipher, bed)


@router.get(SHELTER + "/board")
def bed_board_route(ctx: WorkCtx) -> BedBoard:
    """Every bed with its state now and who is in it (the shelter's staff only)."""
    board = service.bed_board(ctx.session, shelter=ctx.shelter, now=ctx.now)
    return board_public(board, shelter=ctx.shelter, now=ctx.now, cipher=ctx.cipher)


@router.post(SHELTER + "/holds", status_code=201)
def hold_route(body: HoldCreate, ctx: WorkCtx) -> HoldPublic:
    """Reserve a free bed for someone on their way (at most 24 hours)."""
    hold = service.hold_bed(
        ctx.session, now=ctx.now, shelter=ctx.shelter, data=body, cipher=ctx.cipher, actor=ctx.actor
    )
    return hold_public(ctx.cipher, hold)


@router.delete(SHELTER + "/holds/{hold_id}", status_code=204)
def release_hold_route(hold_id: uuid.UUID, ctx: WorkCtx) -> None:
    service.release_hold(
        ctx.session, now=ctx.now, shelter=ctx.shelter, hold_id=hold_id, actor=ctx.actor
    )
