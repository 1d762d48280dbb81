"""Stays with their people and bed occupancies, holds, transfers, discharges and extensions."""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import AwareDatetime, field_validator, model_validator
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, enum_type
from core.models import check_name
from shelters.models.shelters import Body, Group, Sex, check_unique

MAX_STAY_DAYS = 7
MAX_CHILDREN = 12


class AdmissionChannel(StrEnum):
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
    channel: AdmissionChannel = Field(sa_type=enum_type(AdmissionChannel, "stay_channel"))
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


class PersonIn(Body):
    name: str = Field(min_length=1, max_length=120)
    sex: Sex
    age: int = Field(ge=0, le=120)
    bed_id: uuid.UUID | None = None  # left out: the service picks a free bed

    _name = field_validator("name")(check_name)


class AdmissionCreate(Body):
    client: PersonIn
    children: list[PersonIn] = Field(default_factory=list, max_length=MAX_CHILDREN)
    channel: AdmissionChannel
    call_id: uuid.UUID | None = None
    municipality: str = Field(min_length=2, max_length=80)
    group: Group | None = None  # which of the shelter's groups the client belongs to
    contract_days: int = Field(default=MAX_STAY_DAYS, ge=1, le=MAX_STAY_DAYS)
    at_distance: bool = False
    use_soft_capacity: bool = False
    # A night admission entered later: when she really arrived (at most 24 hours ago).
    admitted_at: AwareDatetime | None = None

    _municipality = field_validator("municipality")(check_name)

    @model_validator(mode="after")
    def _consistent(self) -> "AdmissionCreate":
        if self.call_id is not None and self.channel is not AdmissionChannel.HOTLINE:
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
    channel: AdmissionChannel
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


class HoldCreate(Body):
    bed_id: uuid.UUID
    until: AwareDatetime
    note: str = Field(min_length=3, max_length=200)


class HoldPublic(SQLModel):
    id: uuid.UUID
    bed_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime | None
    note: str | None


class Move(Body):
    member_id: uuid.UUID
    bed_id: uuid.UUID


class TransferCreate(Body):
    to_shelter_id: uuid.UUID | None = None  # left out: another bed in the same shelter
    moves: list[Move] = Field(min_length=1, max_length=MAX_CHILDREN + 1)
    reason: str = Field(min_length=3, max_length=500)

    @model_validator(mode="after")
    def _distinct(self) -> "TransferCreate":
        check_unique([m.member_id for m in self.moves])
        check_unique([m.bed_id for m in self.moves])
        return self


class DischargeCreate(Body):
    destination: Destination
    reason: str = Field(min_length=3, max_length=500)


class ExtensionCreate(Body):
    new_end: AwareDatetime
    justification: str = Field(min_length=20, max_length=2000)


class ExtensionDecision(Body):
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
