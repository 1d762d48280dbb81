"""The shelters' HTTP surface: configuration, bed board, stays, assessments, visitors, figures.

Thin handlers: the policy and the shelter gate (`shelters.deps`) decide who gets in, the service
decides what happens. Addresses and names appear only in answers to a shelter's own staff and
its organisation's supervisors.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from sqlmodel import Session, SQLModel

from core import users
from core.clock import ensure_utc
from core.crypto import FieldCipher
from core.deps import CipherDep, ClockDep, RequestIdDep, SessionDep
from core.errors import InvalidInput
from core.models import Role
from shelters import service
from shelters.deps import (
    ConfigureGate,
    Configurer,
    DecideGate,
    FiguresReader,
    Gate,
    NetworkReader,
    Reader,
    ReadGate,
    WorkGate,
    other_shelter,
)
from shelters.models import (
    AdmissionCreate,
    AdmissionPublic,
    ApprovalCreate,
    ApprovalPublic,
    AssessmentCreate,
    AssessmentPublic,
    Bed,
    BedCreate,
    BedKind,
    BedOccupancy,
    BedPublic,
    BedServiceSet,
    BedState,
    DischargeCreate,
    EntryApproval,
    EntryPublic,
    ExtensionCreate,
    ExtensionDecision,
    ExtensionPublic,
    Group,
    HoldCreate,
    HoldPublic,
    LockdownSet,
    MemberPublic,
    PerpetratorCreate,
    PerpetratorPublic,
    ReasonPublic,
    RoomCreate,
    RoomPublic,
    Sex,
    Shelter,
    ShelterCreate,
    ShelterPublic,
    ShelterUpdate,
    Stay,
    StayExtension,
    StayPublic,
    StayStatus,
    TransferCreate,
    TurnAwayPublic,
    TurnAwayUpdate,
    WorkPlanCreate,
    WorkPlanPublic,
)

router = APIRouter(tags=["shelters"])

ORG = "/organisations/{org_id}/shelters"
SHELTER = ORG + "/{shelter_id}"
STAY = SHELTER + "/stays/{stay_id}"


# --- response shapes -------------------------------------------------------------------------


class StaffMember(SQLModel):
    user_id: uuid.UUID
    display_name: str


class Occupant(SQLModel):
    stay_id: uuid.UUID
    stay_reference: str
    member_id: uuid.UUID
    name: str
    role: str


class BoardBed(SQLModel):
    bed_id: uuid.UUID
    room_id: uuid.UUID
    label: str
    kind: BedKind
    state: BedState
    since: datetime | None
    until: datetime | None
    occupant: Occupant | None
    hold_id: uuid.UUID | None


class BedBoard(SQLModel):
    shelter_id: uuid.UUID
    at: datetime
    hard_capacity: int
    soft_capacity: int | None
    people: int
    free: int
    beds: list[BoardBed]


class AvailabilityPublic(SQLModel):
    shelter_id: uuid.UUID
    shelter_name: str
    organisation_id: uuid.UUID
    organisation_name: str
    free_beds: int
    free_cots: int


class AdmissionRefused(SQLModel):
    error: str
    message: str
    turn_away_id: uuid.UUID
    failed: list[str]
    alternatives: list[AvailabilityPublic]
    support_at_distance: bool


class OverdueAssessment(SQLModel):
    stay_id: uuid.UUID
    reference: str
    due_at: datetime


class EndingStay(SQLModel):
    stay_id: uuid.UUID
    reference: str
    planned_end: datetime


class AttentionPublic(SQLModel):
    assessments_overdue: list[OverdueAssessment]
    ending_within_24h: list[EndingStay]
    extensions_pending: list[ExtensionPublic]
    nights_over_hard_capacity: int


class FiguresPublic(SQLModel):
    shelter_id: uuid.UUID
    shelter_name: str
    nights_in_period: int
    hard_capacity: int
    bed_nights: int
    child_bed_nights: int
    occupancy_rate: float
    admissions: int
    people_admitted: int
    children_admitted: int
    admissions_by_channel: dict[str, int]
    at_distance_admissions: int
    stays_ended: int
    average_length_of_stay_days: float | None
    extensions_approved: int
    turn_aways: int
    turned_away_children: int


# --- helpers ---------------------------------------------------------------------------------


def _shelter_public(shelter: Shelter, *, cipher: FieldCipher, sees_people: bool) -> ShelterPublic:
    public = ShelterPublic.model_validate(shelter, from_attributes=True)
    if sees_people:
        public.address = service.reveal_address(cipher, shelter)
    return public


_STAY_PRIVATE = {
    "organisation_id",
    "admitted_by",
    "created_at",
    "municipality_key_id",
    "municipality_sealed",
}


def _stays_public(
    session: Session, stays: list[Stay], *, cipher: FieldCipher, now: datetime
) -> list[StayPublic]:
    ids = [s.id for s in stays]
    members = service.members_of(session, ids)
    beds = service.beds_of(session, ids, now=now)
    return [
        StayPublic(
            **stay.model_dump(exclude=_STAY_PRIVATE),
            municipality=service.reveal_municipality(cipher, stay),
            members=[
                MemberPublic(
                    id=m.id,
                    role=m.role,
                    name=service.reveal_member_name(cipher, m),
                    sex=m.sex,
                    age=m.age,
                    bed_id=beds.get(m.id),
                )
                for m in members[stay.id]
            ],
        )
        for stay in stays
    ]


def _stay_public(session: Session, stay: Stay, *, cipher: FieldCipher, now: datetime) -> StayPublic:
    return _stays_public(session, [stay], cipher=cipher, now=now)[0]


def _extension_public(cipher: FieldCipher, extension: StayExtension) -> ExtensionPublic:
    text = service.reveal_extension(cipher, extension)
    return ExtensionPublic(
        id=extension.id,
        stay_id=extension.stay_id,
        previous_end=extension.previous_end,
        new_end=extension.new_end,
        justification=text.justification,
        status=extension.status,
        requested_by=extension.requested_by,
        requested_at=extension.requested_at,
        decided_by=extension.decided_by,
        decided_at=extension.decided_at,
        decision_note=text.decision_note,
    )


def _bed_public(cipher: FieldCipher, bed: Bed) -> BedPublic:
    return BedPublic(
        id=bed.id,
        room_id=bed.room_id,
        label=bed.label,
        kind=bed.kind,
        out_of_service=bed.out_of_service,
        out_of_service_reason=service.reveal_bed_reason(cipher, bed),
    )


def _hold_public(cipher: FieldCipher, hold: BedOccupancy) -> HoldPublic:
    return HoldPublic(
        id=hold.id,
        bed_id=hold.bed_id,
        starts_at=hold.starts_at,
        ends_at=hold.ends_at,
        note=service.reveal_note(cipher, hold),
    )


def _approvals_public(
    session: Session, approvals: list[EntryApproval], *, cipher: FieldCipher
) -> list[ApprovalPublic]:
    overrides = service.overrides_of(session, (a.id for a in approvals))
    found: list[ApprovalPublic] = []
    for approval in approvals:
        text = service.reveal_approval(cipher, approval)
        override = overrides.get(approval.id)
        found.append(
            ApprovalPublic(
                id=approval.id,
                person_name=text.person_name,
                organisation=text.organisation,
                purpose=text.purpose,
                valid_from=approval.valid_from,
                valid_until=approval.valid_until,
                approved_by=approval.approved_by,
                created_at=approval.created_at,
                revoked_at=approval.revoked_at,
                override_by=override.recorded_by if override else None,
                override_at=override.created_at if override else None,
                override_reason=service.reveal_reason(cipher, override) if override else None,
            )
        )
    return found


def _availability_public(found: list[service.Availability]) -> list[AvailabilityPublic]:
    return [AvailabilityPublic.model_validate(a, from_attributes=True) for a in found]


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
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> ShelterPublic:
    """Register a shelter; its address is sealed at once."""
    shelter = service.create_shelter(
        session,
        now=clock.now(),
        organisation=users.get_organisation(session, org_id),
        data=body,
        cipher=cipher,
        actor=principal.actor(request_id),
    )
    return _shelter_public(shelter, cipher=cipher, sees_people=Role.SUPERVISOR in principal.roles)


@router.get(SHELTER)
def get_shelter_route(gate: ReadGate, cipher: CipherDep) -> ShelterPublic:
    """One shelter; the address only for its staff and the organisation's supervisors."""
    return _shelter_public(gate.shelter, cipher=cipher, sees_people=gate.sees_people)


@router.patch(SHELTER)
def update_shelter_route(
    body: ShelterUpdate,
    gate: ConfigureGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> ShelterPublic:
    """Change a shelter's configuration (eligibility, capacity, address, ...)."""
    shelter = service.update_shelter(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        data=body,
        cipher=cipher,
        actor=gate.principal.actor(request_id),
    )
    return _shelter_public(shelter, cipher=cipher, sees_people=gate.sees_people)


@router.put(SHELTER + "/lockdown")
def lockdown_route(
    body: LockdownSet,
    gate: DecideGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> ShelterPublic:
    """Switch the lockdown on (every entry approval suspended) or off."""
    shelter = service.set_lockdown(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        on=body.lockdown,
        reason=body.reason,
        cipher=cipher,
        actor=gate.principal.actor(request_id),
    )
    return _shelter_public(shelter, cipher=cipher, sees_people=gate.sees_people)


@router.get(SHELTER + "/staff")
def list_staff_route(gate: ConfigureGate, session: SessionDep) -> list[StaffMember]:
    """Who works in the shelter."""
    return [
        StaffMember(user_id=u.id, display_name=u.display_name)
        for u in service.list_staff(session, shelter=gate.shelter)
    ]


@router.put(SHELTER + "/staff/{user_id}")
def assign_staff_route(
    user_id: uuid.UUID,
    gate: ConfigureGate,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> StaffMember:
    """Assign a shelter_staff user to the shelter (idempotent)."""
    user = service.assign_staff(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        user_id=user_id,
        actor=gate.principal.actor(request_id),
    )
    return StaffMember(user_id=user.id, display_name=user.display_name)


@router.delete(SHELTER + "/staff/{user_id}", status_code=204)
def remove_staff_route(
    user_id: uuid.UUID,
    gate: ConfigureGate,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> None:
    """Take a user off the shelter's staff: they lose its address and residents at once."""
    service.remove_staff(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        user_id=user_id,
        actor=gate.principal.actor(request_id),
    )


# --- rooms and beds --------------------------------------------------------------------------


@router.get(SHELTER + "/rooms")
def list_rooms_route(gate: ReadGate, session: SessionDep) -> list[RoomPublic]:
    return [
        RoomPublic.model_validate(r, from_attributes=True)
        for r in service.list_rooms(session, shelter=gate.shelter)
    ]


@router.post(SHELTER + "/rooms", status_code=201)
def add_room_route(
    body: RoomCreate,
    gate: ConfigureGate,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> RoomPublic:
    room = service.add_room(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        data=body,
        actor=gate.principal.actor(request_id),
    )
    return RoomPublic.model_validate(room, from_attributes=True)


@router.get(SHELTER + "/beds")
def list_beds_route(gate: ReadGate, session: SessionDep, cipher: CipherDep) -> list[BedPublic]:
    return [_bed_public(cipher, b) for b in service.list_beds(session, shelter_id=gate.shelter.id)]


@router.post(SHELTER + "/beds", status_code=201)
def add_bed_route(
    body: BedCreate,
    gate: ConfigureGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> BedPublic:
    bed = service.add_bed(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        data=body,
        actor=gate.principal.actor(request_id),
    )
    return _bed_public(cipher, bed)


@router.put(SHELTER + "/beds/{bed_id}/service")
def bed_service_route(
    bed_id: uuid.UUID,
    body: BedServiceSet,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> BedPublic:
    """Take a free bed out of service (repairs, infection) or bring it back."""
    bed = service.set_bed_service(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        bed_id=bed_id,
        out_of_service=body.out_of_service,
        reason=body.reason,
        cipher=cipher,
        actor=gate.principal.actor(request_id),
    )
    return _bed_public(cipher, bed)


@router.get(SHELTER + "/board")
def bed_board_route(
    gate: WorkGate, session: SessionDep, clock: ClockDep, cipher: CipherDep
) -> BedBoard:
    """Every bed with its state now and who is in it (the shelter's staff only)."""
    now = clock.now()
    board = service.bed_board(session, shelter=gate.shelter, now=now)
    stay_ids = {e.occupancy.stay_id for e in board if e.occupancy and e.occupancy.stay_id}
    references = {
        s.id: s.reference
        for s in service.stays_by_id(session, shelter=gate.shelter, stay_ids=stay_ids)
    }
    beds: list[BoardBed] = []
    for entry in board:
        occupant = None
        if entry.member is not None and entry.occupancy is not None and entry.occupancy.stay_id:
            occupant = Occupant(
                stay_id=entry.occupancy.stay_id,
                stay_reference=references.get(entry.occupancy.stay_id, ""),
                member_id=entry.member.id,
                name=service.reveal_member_name(cipher, entry.member),
                role=entry.member.role.value,
            )
        held = entry.state is BedState.RESERVED and entry.occupancy is not None
        beds.append(
            BoardBed(
                bed_id=entry.bed.id,
                room_id=entry.bed.room_id,
                label=entry.bed.label,
                kind=entry.bed.kind,
                state=entry.state,
                since=entry.occupancy.starts_at if entry.occupancy else None,
                until=entry.occupancy.ends_at if entry.occupancy else None,
                occupant=occupant,
                hold_id=entry.occupancy.id if held and entry.occupancy else None,
            )
        )
    taken = sum(1 for b in beds if b.state in (BedState.OCCUPIED, BedState.RESERVED))
    return BedBoard(
        shelter_id=gate.shelter.id,
        at=now,
        hard_capacity=gate.shelter.hard_capacity,
        soft_capacity=gate.shelter.soft_capacity,
        people=taken,
        free=sum(1 for b in beds if b.state is BedState.FREE),
        beds=beds,
    )


@router.post(SHELTER + "/holds", status_code=201)
def hold_route(
    body: HoldCreate,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> HoldPublic:
    """Reserve a free bed for someone on their way (at most 24 hours)."""
    hold = service.hold_bed(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        data=body,
        cipher=cipher,
        actor=gate.principal.actor(request_id),
    )
    return _hold_public(cipher, hold)


@router.delete(SHELTER + "/holds/{hold_id}", status_code=204)
def release_hold_route(
    hold_id: uuid.UUID,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> None:
    service.release_hold(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        hold_id=hold_id,
        actor=gate.principal.actor(request_id),
    )


# --- stays -----------------------------------------------------------------------------------


@router.post(SHELTER + "/stays", status_code=201, responses={409: {"model": AdmissionRefused}})
def admit_route(
    body: AdmissionCreate,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> Any:
    """Emergency admission, 24/7. With no eligible free bed: 409 with where else to go.

    The refusal is an answer, not an error: the turn-away it records is kept. A night admission
    entered later names when she arrived (`admitted_at`, at most 24 hours ago). The answer says
    when the group could not be kept in one room (`split_across_rooms`, `notice`).
    """
    now = clock.now()
    result = service.admit(
        session,
        now=now,
        shelter=gate.shelter,
        data=body,
        cipher=cipher,
        actor=gate.principal.actor(request_id),
        actor_roles=gate.principal.roles,
        user_id=gate.user_id,
    )
    if isinstance(result, service.TurnedAway):
        refused = AdmissionRefused(
            error="no_eligible_bed",
            message=_refusal_message(result.failed, man=body.client.sex is Sex.MALE),
            turn_away_id=result.turn_away.id,
            failed=result.failed,
            alternatives=_availability_public(result.alternatives),
            support_at_distance=True,
        )
        return JSONResponse(status_code=409, content=refused.model_dump(mode="json"))
    stay = _stay_public(session, result.stay, cipher=cipher, now=now)
    return AdmissionPublic(
        **stay.model_dump(), split_across_rooms=result.split_across_rooms, notice=result.notice
    )


_REFUSALS = {
    "sex": "the shelter does not take this person's sex",
    "age": "the person's age is outside the shelter's range",
    "group": "the shelter does not serve this group",
    "children": "the shelter does not take accompanying children",
    "capacity": "the shelter is at capacity",
    "soft_capacity_nights": "the shelter has used its soft capacity for the nights allowed",
    "no_free_bed": "there is no free bed for every person of the group",
}


MEN_ARE_REFERRED = (
    " A man who is a victim is not admitted as a user of this service: refer him to another "
    "service of the protection system (POST /organisations/{org_id}/referrals, source call or "
    "case, to a partner service); the partner shelters listed, if any, take men."
)


def _refusal_message(failed: list[str], *, man: bool) -> str:
    reasons = "; ".join(_REFUSALS[f] for f in failed)
    message = (
        f"No eligible free bed here: {reasons}. The partner shelters listed have free eligible "
        "beds; support at distance is also possible. A turn-away has been recorded."
    )
    return message + (MEN_ARE_REFERRED if man and "sex" in failed else "")


@router.get(SHELTER + "/stays")
def list_stays_route(
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    status: StayStatus | None = StayStatus.ACTIVE,
) -> list[StayPublic]:
    """The shelter's stays (active by default), newest first."""
    stays = service.list_stays(session, shelter=gate.shelter, status=status)
    return _stays_public(session, stays, cipher=cipher, now=clock.now())


@router.get(STAY)
def get_stay_route(
    stay_id: uuid.UUID, gate: WorkGate, session: SessionDep, clock: ClockDep, cipher: CipherDep
) -> StayPublic:
    stay = service.get_stay(session, shelter=gate.shelter, stay_id=stay_id)
    return _stay_public(session, stay, cipher=cipher, now=clock.now())


@router.post(STAY + "/transfer")
def transfer_route(
    stay_id: uuid.UUID,
    body: TransferCreate,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> StayPublic:
    """Move people to other beds here, or the whole group to another of our shelters."""
    now = clock.now()
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
        actor=gate.principal.actor(request_id),
    )
    return _stay_public(session, stay, cipher=cipher, now=now)


@router.post(STAY + "/discharge")
def discharge_route(
    stay_id: uuid.UUID,
    body: DischargeCreate,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> StayPublic:
    """End the stay with its outcome; the beds are free at once."""
    now = clock.now()
    stay = service.discharge(
        session,
        now=now,
        shelter=gate.shelter,
        stay=service.get_stay(session, shelter=gate.shelter, stay_id=stay_id),
        data=body,
        cipher=cipher,
        actor=gate.principal.actor(request_id),
    )
    return _stay_public(session, stay, cipher=cipher, now=now)


@router.get(STAY + "/extensions")
def list_extensions_route(
    stay_id: uuid.UUID, gate: WorkGate, session: SessionDep, cipher: CipherDep
) -> list[ExtensionPublic]:
    stay = service.get_stay(session, shelter=gate.shelter, stay_id=stay_id)
    return [_extension_public(cipher, e) for e in service.list_extensions(session, stay=stay)]


@router.post(STAY + "/extensions", status_code=201)
def request_extension_route(
    stay_id: uuid.UUID,
    body: ExtensionCreate,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> ExtensionPublic:
    """Ask to keep the stay beyond its planned end, with a written justification."""
    extension = service.request_extension(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        stay=service.get_stay(session, shelter=gate.shelter, stay_id=stay_id),
        data=body.model_copy(update={"new_end": ensure_utc(body.new_end)}),
        cipher=cipher,
        user_id=gate.user_id,
        actor=gate.principal.actor(request_id),
    )
    return _extension_public(cipher, extension)


def _decide(
    approve: bool,
    stay_id: uuid.UUID,
    extension_id: uuid.UUID,
    body: ExtensionDecision,
    gate: Gate,
    session: Session,
    now: datetime,
    cipher: FieldCipher,
    request_id: str | None,
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
        actor=gate.principal.actor(request_id),
    )
    return _extension_public(cipher, extension)


@router.post(STAY + "/extensions/{extension_id}/approve")
def approve_extension_route(
    stay_id: uuid.UUID,
    extension_id: uuid.UUID,
    body: ExtensionDecision,
    gate: DecideGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> ExtensionPublic:
    """A supervisor approves: the stay's planned end becomes the extension's new end."""
    return _decide(
        True, stay_id, extension_id, body, gate, session, clock.now(), cipher, request_id
    )


@router.post(STAY + "/extensions/{extension_id}/reject")
def reject_extension_route(
    stay_id: uuid.UUID,
    extension_id: uuid.UUID,
    body: ExtensionDecision,
    gate: DecideGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> ExtensionPublic:
    return _decide(
        False, stay_id, extension_id, body, gate, session, clock.now(), cipher, request_id
    )


# --- assessments and work plans --------------------------------------------------------------


@router.get(STAY + "/assessments")
def list_assessments_route(
    stay_id: uuid.UUID, gate: WorkGate, session: SessionDep, cipher: CipherDep
) -> list[AssessmentPublic]:
    """Every revision of the needs assessment, oldest first."""
    stay = service.get_stay(session, shelter=gate.shelter, stay_id=stay_id)
    return [
        AssessmentPublic(
            id=row.id,
            revision=row.revision,
            author_id=row.author_id,
            created_at=row.created_at,
            **service.open_assessment(cipher, row),
        )
        for row in service.list_assessments(session, stay=stay)
    ]


@router.post(STAY + "/assessments", status_code=201)
def add_assessment_route(
    stay_id: uuid.UUID,
    body: AssessmentCreate,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> AssessmentPublic:
    """Record a (new revision of the) needs assessment."""
    row = service.add_assessment(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        stay=service.get_stay(session, shelter=gate.shelter, stay_id=stay_id),
        data=body,
        cipher=cipher,
        user_id=gate.user_id,
        actor=gate.principal.actor(request_id),
    )
    return AssessmentPublic(
        id=row.id,
        revision=row.revision,
        author_id=row.author_id,
        created_at=row.created_at,
        **body.model_dump(),
    )


@router.get(STAY + "/work-plans")
def list_work_plans_route(
    stay_id: uuid.UUID, gate: WorkGate, session: SessionDep, cipher: CipherDep
) -> list[WorkPlanPublic]:
    """Every revision of the individual work plan, oldest first."""
    stay = service.get_stay(session, shelter=gate.shelter, stay_id=stay_id)
    return [
        WorkPlanPublic(
            id=row.id,
            revision=row.revision,
            author_id=row.author_id,
            created_at=row.created_at,
            **service.open_work_plan(cipher, row),
        )
        for row in service.list_work_plans(session, stay=stay)
    ]


@router.post(STAY + "/work-plans", status_code=201)
def add_work_plan_route(
    stay_id: uuid.UUID,
    body: WorkPlanCreate,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> WorkPlanPublic:
    """Record a (new revision of the) individual work plan: goals, steps, who, by when."""
    row = service.add_work_plan(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        stay=service.get_stay(session, shelter=gate.shelter, stay_id=stay_id),
        data=body,
        cipher=cipher,
        user_id=gate.user_id,
        actor=gate.principal.actor(request_id),
    )
    return WorkPlanPublic(
        id=row.id,
        revision=row.revision,
        author_id=row.author_id,
        created_at=row.created_at,
        goals=body.goals,
    )


@router.get(SHELTER + "/attention")
def attention_route(
    gate: WorkGate, session: SessionDep, clock: ClockDep, cipher: CipherDep
) -> AttentionPublic:
    """Overdue needs assessments, stays ending within 24 hours, extensions awaiting a decision."""
    found = service.attention(session, shelter=gate.shelter, now=clock.now())
    return AttentionPublic(
        assessments_overdue=[
            OverdueAssessment(stay_id=s.id, reference=s.reference, due_at=due)
            for s, due in found.assessments_overdue
        ],
        ending_within_24h=[
            EndingStay(stay_id=s.id, reference=s.reference, planned_end=s.planned_end)
            for s in found.ending_soon
        ],
        extensions_pending=[_extension_public(cipher, e) for e in found.extensions_pending],
        nights_over_hard_capacity=found.over_capacity_nights,
    )


# --- perpetrators, entry approvals, entries --------------------------------------------------


@router.get(STAY + "/perpetrators")
def list_perpetrators_route(
    stay_id: uuid.UUID, gate: WorkGate, session: SessionDep, cipher: CipherDep
) -> list[PerpetratorPublic]:
    stay = service.get_stay(session, shelter=gate.shelter, stay_id=stay_id)
    return [
        PerpetratorPublic(
            id=p.id,
            stay_id=p.stay_id,
            name=service.reveal_perpetrator(cipher, p),
            created_at=p.created_at,
        )
        for p in service.list_perpetrators(session, stay=stay)
    ]


@router.post(STAY + "/perpetrators", status_code=201)
def record_perpetrator_route(
    stay_id: uuid.UUID,
    body: PerpetratorCreate,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> PerpetratorPublic:
    """Record a resident's perpetrator: never approved to enter; live approvals are revoked."""
    row = service.record_perpetrator(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        stay=service.get_stay(session, shelter=gate.shelter, stay_id=stay_id),
        name=body.name,
        cipher=cipher,
        user_id=gate.user_id,
        actor=gate.principal.actor(request_id),
    )
    return PerpetratorPublic(
        id=row.id, stay_id=row.stay_id, name=body.name, created_at=row.created_at
    )


@router.get(SHELTER + "/entry-approvals")
def list_approvals_route(
    gate: WorkGate, session: SessionDep, cipher: CipherDep
) -> list[ApprovalPublic]:
    approvals = service.list_approvals(session, shelter=gate.shelter)
    return _approvals_public(session, approvals, cipher=cipher)


@router.post(SHELTER + "/entry-approvals", status_code=201)
def approve_entry_route(
    body: ApprovalCreate,
    gate: DecideGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> ApprovalPublic:
    """A supervisor lets a third party in, for a stated period and purpose.

    Never a resident's recorded perpetrator (409). A name close to one (an initial, a word more
    or less, a letter or two apart) needs the supervisor's explicit override: `override_reason`
    (409 `override_required` without it); who, when and why are kept and audited.
    """
    approval = service.approve_entry(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        data=body.model_copy(
            update={
                "valid_from": ensure_utc(body.valid_from),
                "valid_until": ensure_utc(body.valid_until),
            }
        ),
        cipher=cipher,
        user_id=gate.user_id,
        actor=gate.principal.actor(request_id),
    )
    return _approvals_public(session, [approval], cipher=cipher)[0]


@router.post(SHELTER + "/entry-approvals/{approval_id}/revoke")
def revoke_approval_route(
    approval_id: uuid.UUID,
    gate: DecideGate,
    session: SessionDep,
    clock: ClockDep,
    cipher: CipherDep,
    request_id: RequestIdDep,
) -> ApprovalPublic:
    approval = service.revoke_approval(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        approval=service.get_approval(session, shelter=gate.shelter, approval_id=approval_id),
        user_id=gate.user_id,
        actor=gate.principal.actor(request_id),
    )
    return _approvals_public(session, [approval], cipher=cipher)[0]


@router.get(SHELTER + "/entries")
def list_entries_route(gate: WorkGate, session: SessionDep) -> list[EntryPublic]:
    """Who came in under which approval, and when they left (newest first)."""
    return [
        EntryPublic.model_validate(e, from_attributes=True)
        for e in service.list_entries(session, shelter=gate.shelter)
    ]


@router.post(SHELTER + "/entry-approvals/{approval_id}/entries", status_code=201)
def record_entry_route(
    approval_id: uuid.UUID,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> EntryPublic:
    """Log a visitor coming in under a live approval."""
    entry = service.record_entry(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        approval=service.get_approval(session, shelter=gate.shelter, approval_id=approval_id),
        user_id=gate.user_id,
        actor=gate.principal.actor(request_id),
    )
    return EntryPublic.model_validate(entry, from_attributes=True)


@router.post(SHELTER + "/entries/{entry_id}/exit")
def record_exit_route(
    entry_id: uuid.UUID,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> EntryPublic:
    entry = service.record_exit(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        entry_id=entry_id,
        actor=gate.principal.actor(request_id),
    )
    return EntryPublic.model_validate(entry, from_attributes=True)


# --- reasons ---------------------------------------------------------------------------------


@router.get(SHELTER + "/reasons")
def list_reasons_route(
    gate: WorkGate,
    session: SessionDep,
    cipher: CipherDep,
    subject_id: uuid.UUID | None = None,
) -> list[ReasonPublic]:
    """Why things were done here (transfers, discharges, lockdowns, beds out of service,
    overrides), newest first: the audit log names these rows and never carries the text."""
    return [
        ReasonPublic(
            id=row.id,
            action=row.action,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            reason=service.reveal_reason(cipher, row),
            recorded_by=row.recorded_by,
            created_at=row.created_at,
        )
        for row in service.list_reasons(session, shelter=gate.shelter, subject_id=subject_id)
    ]


# --- turn-aways, network availability, figures -----------------------------------------------


@router.get(SHELTER + "/turn-aways")
def list_turn_aways_route(gate: WorkGate, session: SessionDep) -> list[TurnAwayPublic]:
    return [
        TurnAwayPublic.model_validate(t, from_attributes=True)
        for t in service.list_turn_aways(session, shelter=gate.shelter)
    ]


@router.patch(SHELTER + "/turn-aways/{turn_away_id}")
def update_turn_away_route(
    turn_away_id: uuid.UUID,
    body: TurnAwayUpdate,
    gate: WorkGate,
    session: SessionDep,
    clock: ClockDep,
    request_id: RequestIdDep,
) -> TurnAwayPublic:
    """Record where a person we could not take was sent."""
    row = service.update_turn_away(
        session,
        now=clock.now(),
        shelter=gate.shelter,
        turn_away_id=turn_away_id,
        data=body,
        actor=gate.principal.actor(request_id),
    )
    return TurnAwayPublic.model_validate(row, from_attributes=True)


@router.get("/network/shelter-availability")
def network_availability_route(
    _: NetworkReader,
    session: SessionDep,
    clock: ClockDep,
    sex: Sex = Sex.FEMALE,
    age: Annotated[int, Query(ge=0, le=120)] = 30,
    children: Annotated[int, Query(ge=0, le=12)] = 0,
    infants: Annotated[int, Query(ge=0, le=12, description="children under three")] = 0,
    group: Group | None = None,
) -> list[AvailabilityPublic]:
    """Shelters across the network with enough free eligible beds: counts only, no places.

    The 50 shelters with most free places; `infants` of the `children` may sleep in cots.
    """
    if infants > children:
        raise InvalidInput("infants: must not be more than children.")
    found = service.network_availability(
        session,
        now=clock.now(),
        sex=sex,
        age=age,
        group=group,
        children=children,
        infants=infants,
    )
    return _availability_public(found)


@router.get("/organisations/{org_id}/shelter-figures")
def figures_route(
    org_id: uuid.UUID,
    _: FiguresReader,
    session: SessionDep,
    clock: ClockDep,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
) -> list[FiguresPublic]:
    """Per shelter: bed nights (in a bed at 00:00 local), occupancy, stays, turn-aways."""
    shelters = service.list_shelters(session, organisation_id=org_id)
    return [
        FiguresPublic(**{**f.__dict__, "occupancy_rate": f.occupancy_rate})
        for f in service.figures(
            session, shelters=shelters, first=first, last=last, now=clock.now()
        )
    ]
