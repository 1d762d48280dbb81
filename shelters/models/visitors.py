"""Keeping people out: perpetrators recorded against residents, entry approvals, the entry log."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from pydantic import AwareDatetime, field_validator, model_validator
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime
from core.models import check_name
from shelters.models.shelters import Body


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


class PerpetratorCreate(Body):
    name: str = Field(min_length=2, max_length=120)

    _name = field_validator("name")(check_name)


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


class ApprovalCreate(Body):
    person_name: str = Field(min_length=2, max_length=120)
    organisation: str = Field(min_length=2, max_length=120)
    purpose: str = Field(min_length=3, max_length=500)
    valid_from: AwareDatetime
    valid_until: AwareDatetime
    # Needed, and only heeded, when the name is close to a barred person's (a supervisor's call).
    override_reason: str | None = Field(default=None, min_length=10, max_length=500)

    _names = field_validator("person_name", "organisation")(check_name)

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
