"""Shelters, rooms and beds: who a shelter takes (eligibility), its capacity, its sealed address
and its staff."""

import secrets
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import field_validator, model_validator
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, enum_type
from core.models import STRICT_BODY, check_name, check_time_zone


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


class Body(SQLModel):
    """A request body: a field it does not know is refused, never ignored."""

    model_config = STRICT_BODY  # type: ignore[assignment]


def check_unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a value")
    return values


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


def new_board_version() -> int:
    """A shelter's next board version: random, 40 bits (a network's sum of 10 000 of them still
    fits a 64-bit integer)."""
    return secrets.randbits(40)


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
    # Beds in service (other than cots) and cots in service that no open-ended period holds:
    # kept by every flush that changes a bed or an occupancy (`shelters.models.free_beds`), so
    # that the network's free beds are read, not counted. Holds end at a set time and lapse on
    # their own: they are subtracted when read. Read them with a query, never from a loaded row.
    beds_unoccupied: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    cots_unoccupied: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Drawn anew, in the same flush, by every change to what the bed board or the network's free
    # beds are read from (`shelters.models.free_beds`): a board or a network answer kept in
    # memory is good while the versions it was read at stand (`shelters.service.board_cache`).
    # Read it with a query, never from a loaded row.
    board_version: int = Field(
        default_factory=new_board_version,
        sa_type=sa.BigInteger,
        sa_column_kwargs={"server_default": "0"},
    )
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class _ShelterChecks(Body):
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
        return None if value is None else check_unique(value)


class ShelterCreate(_ShelterChecks, ShelterBase):
    address: str = Field(min_length=3, max_length=300)

    @model_validator(mode="after")
    def _consistent(self) -> "ShelterCreate":
        check_eligibility(self.sexes, self.min_age, self.max_age)
        check_capacity(self.hard_capacity, self.soft_capacity, self.soft_capacity_max_nights)
        return self


class ShelterUpdate(_ShelterChecks):
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


class LockdownSet(Body):
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


class RoomCreate(Body):
    name: str = Field(min_length=1, max_length=60)

    _name = field_validator("name")(check_name)


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


class BedCreate(Body):
    room_id: uuid.UUID
    label: str = Field(min_length=1, max_length=40)
    kind: BedKind = BedKind.BED

    _label = field_validator("label")(check_name)


class BedServiceSet(Body):
    out_of_service: bool
    reason: str = Field(min_length=3, max_length=200)


class BedPublic(SQLModel):
    id: uuid.UUID
    room_id: uuid.UUID
    label: str
    kind: BedKind
    out_of_service: bool
    out_of_service_reason: str | None
