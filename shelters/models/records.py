"""Turn-aways (requests the shelter could not take) and the sealed reasons given for acts."""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import model_validator
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, enum_type
from shelters.models.shelters import Body


class SentTo(StrEnum):
    """Where a person we could not take was sent."""

    PARTNER_SHELTER = "partner_shelter"
    SUPPORT_AT_DISTANCE = "support_at_distance"
    OTHER_SERVICE = "other_service"
    NOWHERE = "nowhere"
    UNKNOWN = "unknown"


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


class TurnAwayUpdate(Body):
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
