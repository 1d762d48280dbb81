"""Shelters, rooms and beds; stays with their people and bed occupancies; assessments, work plans,
perpetrators kept out, entry approvals and turn-aways.

A shelter's address, every person's name and every free-text field (notes, reasons,
justifications, a visitor's organisation and purpose, a stay's municipality) are sealed (AES-GCM,
`core.crypto`): `<field>_key_id` + `<field>_sealed`, opened only to answer the people who may read
them. Reasons given for an act live in `shelter_reason`, which its audit event names. The bed board
shows names only to that shelter's staff. Occupancy periods are half-open `[starts_at, ends_at)`
with `ends_at` NULL while open; PostgreSQL refuses overlapping periods for one bed or one person
with exclusion constraints, SQLite with triggers (both made in migration 0004).
"""

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import AwareDatetime, field_validator, model_validator
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, enum_type
from core.models import STRICT_BODY, check_name, check_time_zone

MAX_STAY_DAYS = 7
MAX_CHILDREN = 12


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class Group(StrEnum):
    """Who a shelter is for (a shelter may serve several groups)."""

    WOMEN = "women"
    WOMEN_WITH_CHILDREN = "women_with_children"
    LGBTI_YOUTH = "lgbti_youth"
    TRAFFICKING_VICTIMS = "trafficking_victims"
    UNACCOMPANIED_CHILDREN = "unaccompanied_children"


class BedKind(StrEnum):
    BED = "bed"
    COT = "cot"
    EMERGENCY = "emergency"  # a bed in the emergency room


class BedState(StrEnum):
    FREE = "free"
    OCCUPIED = "occupied"
    RESERVED = "reserved"
    OUT_OF_SERVICE = "out_of_service"


class Channel(StrEnum):
    """How the request for accommodation came (seed line 2327)."""

    IN_PERSON = "in_person"
    HOTLINE = "hotline"
    POLICE = "police"
    CSW = "csw"
    NGO = "ngo"
    OTHER = "other"


class MemberRole(StrEnum):
    CLIENT = "client"
    CHILD = "child"


class StayStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class Destination(StrEnum):
    HOME = "home"
    RELATIVES = "relatives"
    CSW_PLACEMENT = "csw_placement"  # longer-term accommodation by CSW decision
    ANOTHER_SHELTER = "another_shelter"
    SUPPORT_AT_DISTANCE = "support_at_distance"
    OWN_DECISION = "own_decision"  # left on her own decision


class CswOutcome(StrEnum):
    """The CSW's decision on accommodation, as the stay records it."""

    LONGER_TERM_ACCOMMODATION = "longer_term_accommodation"
    OTHER_MEASURE = "other_measure"
    DECLINED = "declined"


class OccupancyKind(StrEnum):
    OCCUPIED = "occupied"
    RESERVED = "reserved"


class ExtensionStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class SentTo(StrEnum):
    """Where a person we could not take was sent."""

    PARTNER_SHELTER = "partner_shelter"
    SUPPORT_AT_DISTANCE = "support_at_distance"
    OTHER_SERVICE = "other_service"
    NOWHERE = "nowhere"
    UNKNOWN = "unknown"


def _check_unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a value")
    return values


# --- shelters, rooms, beds -------------------------------------------------------------------


class EligibilityBase(SQLModel):
    sexes: list[Sex] = Field(default_factory=lambda: [Sex.FEMALE], sa_type=sa.JSON)
    min_age: int = Field(default=18, ge=0, le=120)
    max_age: int | None = Field(default=None, ge=0, le=120)
    groups: list[Group] = Field(default_factory=list, sa_type=sa.JSON)
    accepts_children: bool = True  # accompanying children stay with their parent


class ShelterBase(EligibilityBase):
    name: str = Field(min_length=2, max_length=120)
    time_zone: str = Field(default="Europe/Podgorica", max_length=64)
    hard_capacity: int = Field(ge=1, le=500)
    soft_capacity: int | None = Field(default=None, ge=1, le=600)
    soft_capacity_max_nights: int = Field(default=0, ge=0, le=90)


class Shelter(ShelterBase, table=True):
    """A place people stay. Its address is sealed and shown to its own staff only."""

    __tablename__ = "shelter"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    address_key_id: str = Field(max_length=32)
    address_sealed: bytes = Field(sa_type=sa.LargeBinary)
    lockdown: bool = False
    lockdown_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set when the people in the shelter first exceed its hard capacity; cleared below it.
    over_capacity_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class _ShelterChecks(SQLModel):
    @field_validator("name", check_fields=False)
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value)

    @field_validator("time_zone", check_fields=False)
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)

    @field_validator("address", check_fields=False)
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value)

    @field_validator("sexes", "groups", check_fields=False)
    @classmethod
    def _unique(cls, value: list[Any] | None) -> list[Any] | None:
        return None if value is None else _check_unique(value)


class ShelterCreate(_ShelterChecks, ShelterBase):
    model_config = STRICT_BODY  # type: ignore[assignment]

    address: str = Field(min_length=3, max_length=300)

    @model_validator(mode="after")
    def _consistent(self) -> "ShelterCreate":
        check_eligibility(self.sexes, self.min_age, self.max_age)
        check_capacity(self.hard_capacity, self.soft_capacity, self.soft_capacity_max_nights)
        return self


class ShelterUpdate(_ShelterChecks):
    model_config = STRICT_BODY  # type: ignore[assignment]

    name: str | None = Field(default=None, min_length=2, max_length=120)
    address: str | None = Field(default=None, min_length=3, max_length=300)
    time_zone: str | None = Field(default=None, max_length=64)
    sexes: list[Sex] | None = None
    min_age: int | None = Field(default=None, ge=0, le=120)
    max_age: int | None = Field(default=None, ge=0, le=120)
    groups: list[Group] | None = None
    accepts_children: bool | None = None
    hard_capacity: int | None = Field(default=None, ge=1, le=500)
    soft_capacity: int | None = Field(default=None, ge=1, le=600)
    soft_capacity_max_nights: int | None = Field(default=None, ge=0, le=90)


def check_eligibility(sexes: list[Sex], min_age: int, max_age: int | None) -> None:
    if not sexes:
        raise ValueError("sexes must name at least one sex the shelter takes")
    if max_age is not None and max_age < min_age:
        raise ValueError("max_age must not be below min_age")


def check_capacity(hard: int, soft: int | None, soft_nights: int) -> None:
    if soft is not None and soft <= hard:
        raise ValueError("soft_capacity must be above hard_capacity (or left out)")
    if soft is not None and soft_nights < 1:
        raise ValueError("soft_capacity_max_nights must be at least 1 when soft_capacity is set")


class ShelterPublic(ShelterBase):
    """A shelter as its organisation sees it; `address` only for its staff and supervisors."""

    id: uuid.UUID
    organisation_id: uuid.UUID
    lockdown: bool
    over_capacity_since: datetime | None
    address: str | None = None


class LockdownSet(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    lockdown: bool
    reason: str = Field(min_length=3, max_length=500)


class ShelterStaff(SQLModel, table=True):
    """A user who works in a shelter: sees its address, its residents and its bed board."""

    __tablename__ = "shelter_staff"

    shelter_id: uuid.UUID = Field(foreign_key="shelter.id", primary_key=True, ondelete="CASCADE")
    user_id: uuid.UUID = Field(foreign_key="user_account.id", primary_key=True, index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Room(SQLModel, table=True):
    __tablename__ = "shelter_room"
    __table_args__ = (sa.UniqueConstraint("shelter_id", "name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    shelter_id: uuid.UUID = Field(foreign_key="shelter.id")
    name: str = Field(max_length=60)
    created_at: datetime = Field(sa_type=UTCDateTime)


class RoomCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    name: str = Field(min_length=1, max_length=60)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)


class RoomPublic(SQLModel):
    id: uuid.UUID
    name: str


class Bed(SQLModel, table=True):
    __tablename__ = "shelter_bed"
    __table_args__ = (sa.UniqueConstraint("shelter_id", "label"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    shelter_id: uuid.UUID = Field(foreign_key="shelter.id", index=True)
    room_id: uuid.UUID = Field(foreign_key="shelter_room.id")
    label: str = Field(max_length=40)
    kind: BedKind = Field(sa_type=enum_type(BedKind, "bed_kind"))
    out_of_service: bool = False
    out_of_service_reason_key_id: str | None = Field(default=None, max_length=32)
    out_of_service_reason_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime)


class BedCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    room_id: uuid.UUID
    label: str = Field(min_length=1, max_length=40)
    kind: BedKind = BedKind.BED

    @field_validator("label")
    @classmethod
    def _label(cls, value: str) -> str:
        return check_name(value)


class BedServiceSet(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    out_of_service: bool
    reason: str = Field(min_length=3, max_length=200)


class BedPublic(SQLModel):
    id: uuid.UUID
    room_id: uuid.UUID
    label: str
    kind: BedKind
    out_of_service: bool
    out_of_service_reason: str | None


# --- stays -----------------------------------------------------------------------------------


class Stay(SQLModel, table=True):
    """One admission: a client and her accompanying children, from admission to discharge."""

    __tablename__ = "shelter_stay"
    __table_args__ = (
        sa.Index("ix_shelter_stay_shelter_id_status", "shelter_id", "status"),
        sa.Index("ix_shelter_stay_shelter_id_admitted_at", "shelter_id", "admitted_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id")
    shelter_id: uuid.UUID = Field(foreign_key="shelter.id")
    # An opaque reference for notifications and other organisations: says nothing about anyone.
    reference: str = Field(max_length=16, unique=True)
    channel: Channel = Field(sa_type=enum_type(Channel, "stay_channel"))
    call_id: uuid.UUID | None = Field(default=None)
    # Every stay has one; NULL is allowed only because SQLite cannot add NOT NULL to a table
    # that others reference without rebuilding it (migration 0007).
    municipality_key_id: str = Field(max_length=32, nullable=True)
    municipality_sealed: bytes = Field(sa_type=sa.LargeBinary, nullable=True)
    at_distance: bool = False  # support at distance: a placement outside the shelter, no bed
    # Kept on the stay so that the figures count people without reading every member row.
    people: int = 1
    children: int = 0
    admitted_at: datetime = Field(sa_type=UTCDateTime)
    contract_days: int = Field(default=MAX_STAY_DAYS)
    planned_end: datetime = Field(sa_type=UTCDateTime)
    # The CSW must decide by the end of the contracted emergency stay (extensions do not move it).
    decision_due_at: datetime = Field(sa_type=UTCDateTime)
    status: StayStatus = Field(
        default=StayStatus.ACTIVE, sa_type=enum_type(StayStatus, "stay_status")
    )
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    destination: Destination | None = Field(
        default=None, sa_type=enum_type(Destination, "stay_destination")
    )
    admitted_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    # The competent CSW's decision (recorded through its referral).
    csw_outcome: CswOutcome | None = Field(
        default=None, sa_type=enum_type(CswOutcome, "stay_csw_outcome")
    )
    csw_decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StayMember(SQLModel, table=True):
    """A person in a stay: the client, or one of her children. The name is sealed."""

    __tablename__ = "shelter_stay_member"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    stay_id: uuid.UUID = Field(foreign_key="shelter_stay.id", index=True)
    role: MemberRole = Field(sa_type=enum_type(MemberRole, "stay_member_role"))
    name_key_id: str = Field(max_length=32)
    name_sealed: bytes = Field(sa_type=sa.LargeBinary)
    sex: Sex = Field(sa_type=enum_type(Sex, "person_sex"))
    age: int


class BedOccupancy(SQLModel, table=True):
    """A bed held for a person from `starts_at` until `ends_at` (open while NULL)."""

    __tablename__ = "shelter_bed_occupancy"
    __table_args__ = (
        sa.Index("ix_shelter_bed_occupancy_bed_id_starts_at", "bed_id", "starts_at"),
        sa.Index("ix_shelter_bed_occupancy_shelter_id_ends_at", "shelter_id", "ends_at"),
        # "Which beds are taken now" across the whole network: open or not yet ended.
        sa.Index("ix_shelter_bed_occupancy_ends_at", "ends_at"),
        sa.CheckConstraint(
            "ends_at IS NULL OR ends_at > starts_at", name="occupancy_period_positive"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    shelter_id: uuid.UUID = Field(foreign_key="shelter.id")
    bed_id: uuid.UUID = Field(foreign_key="shelter_bed.id")
    kind: OccupancyKind = Field(sa_type=enum_type(OccupancyKind, "occupancy_kind"))
    stay_id: uuid.UUID | None = Field(default=None, foreign_key="shelter_stay.id", index=True)
    member_id: uuid.UUID | None = Field(default=None, foreign_key="shelter_stay_member.id")
    child: bool = False
    note_key_id: str | None = Field(default=None, max_length=32)
    note_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PersonIn(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    name: str = Field(min_length=1, max_length=120)
    sex: Sex
    age: int = Field(ge=0, le=120)
    bed_id: uuid.UUID | None = None  # left out: the service picks a free bed

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)


class AdmissionCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    client: PersonIn
    children: list[PersonIn] = Field(default_factory=list, max_length=MAX_CHILDREN)
    channel: Channel
    call_id: uuid.UUID | None = None
    municipality: str = Field(min_length=2, max_length=80)
    group: Group | None = None  # which of the shelter's groups the client belongs to
    contract_days: int = Field(default=MAX_STAY_DAYS, ge=1, le=MAX_STAY_DAYS)
    at_distance: bool = False
    use_soft_capacity: bool = False
    # A night admission entered later: when she really arrived (at most 24 hours ago).
    admitted_at: AwareDatetime | None = None

    @field_validator("municipality")
    @classmethod
    def _municipality(cls, value: str) -> str:
        return check_name(value)

    @model_validator(mode="after")
    def _consistent(self) -> "AdmissionCreate":
        if self.call_id is not None and self.channel is not Channel.HOTLINE:
            raise ValueError("call_id goes only with channel 'hotline'")
        for child in self.children:
            if child.age >= 18:
                raise ValueError("children must be under 18")
        if self.at_distance and any(p.bed_id is not None for p in [self.client, *self.children]):
            raise ValueError("support at distance takes no bed: leave bed_id out")
        beds = [p.bed_id for p in [self.client, *self.children] if p.bed_id is not None]
        if len(set(beds)) != len(beds):
            raise ValueError("each person needs a bed of their own")
        return self


class MemberPublic(SQLModel):
    id: uuid.UUID
    role: MemberRole
    name: str
    sex: Sex
    age: int
    bed_id: uuid.UUID | None


class StayPublic(SQLModel):
    id: uuid.UUID
    shelter_id: uuid.UUID
    reference: str
    channel: Channel
    call_id: uuid.UUID | None
    municipality: str
    at_distance: bool
    admitted_at: datetime
    contract_days: int
    planned_end: datetime
    decision_due_at: datetime
    status: StayStatus
    ended_at: datetime | None
    destination: Destination | None
    csw_outcome: CswOutcome | None
    csw_decided_at: datetime | None
    members: list[MemberPublic]


class AdmissionPublic(StayPublic):
    """The answer to an admission: the stay, and whether its group had to be split."""

    split_across_rooms: bool  # the service picked beds in more than one room for the group
    notice: str | None = None


class HoldCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    bed_id: uuid.UUID
    until: AwareDatetime
    note: str = Field(min_length=3, max_length=200)


class HoldPublic(SQLModel):
    id: uuid.UUID
    bed_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime | None
    note: str | None


class Move(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    member_id: uuid.UUID
    bed_id: uuid.UUID


class TransferCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    to_shelter_id: uuid.UUID | None = None  # left out: another bed in the same shelter
    moves: list[Move] = Field(min_length=1, max_length=MAX_CHILDREN + 1)
    reason: str = Field(min_length=3, max_length=500)

    @model_validator(mode="after")
    def _distinct(self) -> "TransferCreate":
        _check_unique([m.member_id for m in self.moves])
        _check_unique([m.bed_id for m in self.moves])
        return self


class DischargeCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    destination: Destination
    reason: str = Field(min_length=3, max_length=500)


class ExtensionCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    new_end: AwareDatetime
    justification: str = Field(min_length=20, max_length=2000)


class ExtensionDecision(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    note: str | None = Field(default=None, max_length=500)


class StayExtension(SQLModel, table=True):
    """A request to keep a stay beyond its planned end, and a supervisor's decision on it."""

    __tablename__ = "shelter_stay_extension"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    stay_id: uuid.UUID = Field(foreign_key="shelter_stay.id", index=True)
    previous_end: datetime = Field(sa_type=UTCDateTime)
    new_end: datetime = Field(sa_type=UTCDateTime)
    justification_key_id: str = Field(max_length=32)
    justification_sealed: bytes = Field(sa_type=sa.LargeBinary)
    status: ExtensionStatus = Field(
        default=ExtensionStatus.PENDING, sa_type=enum_type(ExtensionStatus, "extension_status")
    )
    requested_by: uuid.UUID = Field(foreign_key="user_account.id")
    requested_at: datetime = Field(sa_type=UTCDateTime)
    decided_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_note_key_id: str | None = Field(default=None, max_length=32)
    decision_note_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)


class ExtensionPublic(SQLModel):
    id: uuid.UUID
    stay_id: uuid.UUID
    previous_end: datetime
    new_end: datetime
    justification: str
    status: ExtensionStatus
    requested_by: uuid.UUID
    requested_at: datetime
    decided_by: uuid.UUID | None
    decided_at: datetime | None
    decision_note: str | None


# --- needs assessments and work plans (revised, never overwritten) ------------------------


class NeedsAssessment(SQLModel, table=True):
    """One revision of a stay's needs assessment (Maslow's four areas, seed lines 2310-2319)."""

    __tablename__ = "shelter_needs_assessment"
    __table_args__ = (sa.UniqueConstraint("stay_id", "revision"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    stay_id: uuid.UUID = Field(foreign_key="shelter_stay.id")
    revision: int
    key_id: str = Field(max_length=32)
    sealed: bytes = Field(sa_type=sa.LargeBinary)  # the four areas, as sealed JSON
    author_id: uuid.UUID = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class AssessmentCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    security: str = Field(min_length=1, max_length=4000)
    love_and_belonging: str = Field(min_length=1, max_length=4000)
    respect: str = Field(min_length=1, max_length=4000)
    self_accomplishment: str = Field(min_length=1, max_length=4000)


class AssessmentPublic(AssessmentCreate):
    id: uuid.UUID
    revision: int
    author_id: uuid.UUID
    created_at: datetime


class Step(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    what: str = Field(min_length=1, max_length=500)
    who: str = Field(min_length=1, max_length=120)
    by: AwareDatetime


class Goal(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    goal: str = Field(min_length=1, max_length=500)
    steps: list[Step] = Field(min_length=1, max_length=20)


class WorkPlan(SQLModel, table=True):
    """One revision of a stay's individual work plan."""

    __tablename__ = "shelter_work_plan"
    __table_args__ = (sa.UniqueConstraint("stay_id", "revision"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    stay_id: uuid.UUID = Field(foreign_key="shelter_stay.id")
    revision: int
    key_id: str = Field(max_length=32)
    sealed: bytes = Field(sa_type=sa.LargeBinary)
    author_id: uuid.UUID = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class WorkPlanCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    goals: list[Goal] = Field(min_length=1, max_length=20)


class WorkPlanPublic(WorkPlanCreate):
    id: uuid.UUID
    revision: int
    author_id: uuid.UUID
    created_at: datetime


# --- keeping people out: perpetrators, entry approvals, entries ---------------------------


class Perpetrator(SQLModel, table=True):
    """Someone recorded as a perpetrator against a resident: never approved to enter."""

    __tablename__ = "shelter_perpetrator"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    shelter_id: uuid.UUID = Field(foreign_key="shelter.id", index=True)
    stay_id: uuid.UUID = Field(foreign_key="shelter_stay.id")
    name_key_id: str = Field(max_length=32)
    name_sealed: bytes = Field(sa_type=sa.LargeBinary)
    recorded_by: uuid.UUID = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class PerpetratorCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    name: str = Field(min_length=2, max_length=120)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)


class PerpetratorPublic(SQLModel):
    id: uuid.UUID
    stay_id: uuid.UUID
    name: str
    created_at: datetime


class EntryApproval(SQLModel, table=True):
    """A third party allowed in for a stated period and purpose (seed lines 2331-2336)."""

    __tablename__ = "shelter_entry_approval"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    shelter_id: uuid.UUID = Field(foreign_key="shelter.id", index=True)
    # The person's name, organisation and purpose, as sealed JSON. Every row has them; the
    # columns allow NULL only because SQLite cannot add NOT NULL to a table that others
    # reference without rebuilding it (migration 0007).
    details_key_id: str = Field(max_length=32, nullable=True)
    details_sealed: bytes = Field(sa_type=sa.LargeBinary, nullable=True)
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_until: datetime = Field(sa_type=UTCDateTime)
    approved_by: uuid.UUID = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")


class ApprovalCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    person_name: str = Field(min_length=2, max_length=120)
    organisation: str = Field(min_length=2, max_length=120)
    purpose: str = Field(min_length=3, max_length=500)
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    # Needed, and only heeded, when the name is close to a barred person's (a supervisor's call).
    override_reason: str | None = Field(default=None, min_length=10, max_length=500)

    @field_validator("person_name", "organisation")
    @classmethod
    def _names(cls, value: str) -> str:
        return check_name(value)

    @model_validator(mode="after")
    def _period(self) -> "ApprovalCreate":
        if self.valid_until <= self.valid_from:
            raise ValueError("valid_until must be after valid_from")
        return self


class ApprovalPublic(SQLModel):
    id: uuid.UUID
    person_name: str
    organisation: str
    purpose: str
    valid_from: datetime
    valid_until: datetime
    approved_by: uuid.UUID
    created_at: datetime
    revoked_at: datetime | None
    # A name close to a barred person's, approved by a supervisor's override: who, when, why.
    override_by: uuid.UUID | None = None
    override_at: datetime | None = None
    override_reason: str | None = None


class EntryLog(SQLModel, table=True):
    """A visitor's entry into a shelter under an approval, and their exit."""

    __tablename__ = "shelter_entry_log"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    shelter_id: uuid.UUID = Field(foreign_key="shelter.id", index=True)
    approval_id: uuid.UUID = Field(foreign_key="shelter_entry_approval.id")
    entered_at: datetime = Field(sa_type=UTCDateTime)
    exited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    recorded_by: uuid.UUID = Field(foreign_key="user_account.id")


class EntryPublic(SQLModel):
    id: uuid.UUID
    approval_id: uuid.UUID
    entered_at: datetime
    exited_at: datetime | None
    recorded_by: uuid.UUID


# --- turn-aways ------------------------------------------------------------------------------


class TurnAway(SQLModel, table=True):
    """A request the shelter could not take. No name: only what the figures need."""

    __tablename__ = "shelter_turn_away"
    __table_args__ = (
        sa.Index("ix_shelter_turn_away_shelter_id_occurred_at", "shelter_id", "occurred_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    shelter_id: uuid.UUID = Field(foreign_key="shelter.id")
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    group_size: int
    children: int
    failed: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    sent_to: SentTo = Field(default=SentTo.UNKNOWN, sa_type=enum_type(SentTo, "turn_away_sent_to"))
    sent_to_shelter_id: uuid.UUID | None = Field(default=None)
    recorded_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")


class TurnAwayUpdate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    sent_to: SentTo
    sent_to_shelter_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _shelter(self) -> "TurnAwayUpdate":
        if (self.sent_to is SentTo.PARTNER_SHELTER) != (self.sent_to_shelter_id is not None):
            raise ValueError("sent_to_shelter_id goes with, and only with, 'partner_shelter'")
        return self


class TurnAwayPublic(SQLModel):
    id: uuid.UUID
    occurred_at: datetime
    group_size: int
    children: int
    failed: list[str]
    sent_to: SentTo
    sent_to_shelter_id: uuid.UUID | None


# --- reasons ---------------------------------------------------------------------------------


class ShelterReason(SQLModel, table=True):
    """Why something was done (a transfer, a discharge, a lockdown, a bed taken out of service,
    an override), sealed. The act's audit event names this row instead of carrying the text."""

    __tablename__ = "shelter_reason"
    __table_args__ = (
        sa.Index("ix_shelter_reason_shelter_id_subject_id", "shelter_id", "subject_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    shelter_id: uuid.UUID = Field(foreign_key="shelter.id")
    action: str = Field(max_length=64)
    subject_type: str = Field(max_length=40)
    subject_id: uuid.UUID
    key_id: str = Field(max_length=32)
    sealed: bytes = Field(sa_type=sa.LargeBinary)
    recorded_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class ReasonPublic(SQLModel):
    id: uuid.UUID
    action: str
    subject_type: str
    subject_id: uuid.UUID
    reason: str
    recorded_by: uuid.UUID | None
    created_at: datetime
