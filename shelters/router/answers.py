"""What the shelters' routes answer: the response shapes, and the answers made from rows (names,
addresses and free text opened only here, for callers the gate let through)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Session, SQLModel

from core.crypto import FieldCipher
from shelters import service
from shelters.models import (
    ApprovalPublic,
    Bed,
    BedKind,
    BedOccupancy,
    BedPublic,
    BedState,
    EntryApproval,
    ExtensionPublic,
    HoldPublic,
    MemberPublic,
    Shelter,
    ShelterPublic,
    Stay,
    StayExtension,
    StayPublic,
)

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
    room_name: str
    label: str
    kind: BedKind
    state: BedState
    out_of_service_reason: str | None
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


def shelter_public(shelter: Shelter, *, cipher: FieldCipher, sees_people: bool) -> ShelterPublic:
    public = ShelterPublic.model_validate(shelter, from_attributes=True)
    if sees_people:
        public.address = service.reveal_address(cipher, shelter)
    return public


STAY_PRIVATE = {
    "organisation_id",
    "admitted_by",
    "created_at",
    "municipality_key_id",
    "municipality_sealed",
}


def stays_public(
    session: Session, stays: list[Stay], *, cipher: FieldCipher, now: datetime
) -> list[StayPublic]:
    ids = [s.id for s in stays]
    members = service.members_of(session, ids)
    beds = service.beds_of(session, ids, now=now)
    return [
        StayPublic(
            **stay.model_dump(exclude=STAY_PRIVATE),
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


def stay_public(session: Session, stay: Stay, *, cipher: FieldCipher, now: datetime) -> StayPublic:
    return stays_public(session, [stay], cipher=cipher, now=now)[0]


def extension_public(cipher: FieldCipher, extension: StayExtension) -> ExtensionPublic:
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


def bed_public(cipher: FieldCipher, bed: Bed) -> BedPublic:
    return BedPublic(
        id=bed.id,
        room_id=bed.room_id,
        label=bed.label,
        kind=bed.kind,
        out_of_service=bed.out_of_service,
        out_of_service_reason=service.reveal_bed_reason(cipher, bed),
    )


def hold_public(cipher: FieldCipher, hold: BedOccupancy) -> HoldPublic:
    return HoldPublic(
        id=hold.id,
        bed_id=hold.bed_id,
        starts_at=hold.starts_at,
        ends_at=hold.ends_at,
        note=service.reveal_note(cipher, hold),
    )


def approvals_public(
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


def board_public(
    board: list[service.BoardEntry], *, shelter: Shelter, now: datetime, cipher: FieldCipher
) -> BedBoard:
    """The bed board as the shelter's staff see it, with the occupants' names opened. Built with
    `model_construct`: every value is already of its field's type (read from typed columns), and
    the staff of a shelter open it all night, so it skips validating what cannot be invalid."""
    beds: list[BoardBed] = []
    for entry in board:
        bed, period, member = entry.bed, entry.occupancy, entry.member
        occupant = None
        if member is not None and period is not None and period.stay_id:
            occupant = Occupant.model_construct(
                stay_id=period.stay_id,
                stay_reference=period.stay_reference or "",
                member_id=member.id,
                name=service.reveal_occupant(cipher, member),
                role=member.role.value,
            )
        beds.append(
            BoardBed.model_construct(
                bed_id=bed.id,
                room_id=bed.room_id,
                room_name=bed.room_name,
                label=bed.label,
                kind=bed.kind,
                state=entry.state,
                out_of_service_reason=service.reveal_board_reason(cipher, bed),
                since=period.starts_at if period else None,
                until=period.ends_at if period else None,
                occupant=occupant,
                hold_id=period.id if period and entry.state is BedState.RESERVED else None,
            )
        )
    taken = sum(1 for b in beds if b.state in (BedState.OCCUPIED, BedState.RESERVED))
    return BedBoard.model_construct(
        shelter_id=shelter.id,
        at=now,
        hard_capacity=shelter.hard_capacity,
        soft_capacity=shelter.soft_capacity,
        people=taken,
        free=sum(1 for b in beds if b.state is BedState.FREE),
        beds=beds,
    )


def availability_public(found: list[service.Availability]) -> list[AvailabilityPublic]:
    return [
        AvailabilityPublic(
            shelter_id=a.shelter_id,
            shelter_name=a.shelter_name,
            organisation_id=a.organisation_id,
            organisation_name=a.organisation_name,
            free_beds=a.free_beds,
            free_cots=a.free_cots,
        )
        for a in found
    ]
