"""Who else may read a case: consents to share it with another organisation, and break-glass
openings by a supervisor outside the team (each on a review list until a second supervisor signs
it off)."""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime


class Section(StrEnum):
    """The parts of a case a consent can share (and the parts a read is audited for)."""

    IDENTITY = "identity"  # name, year of birth or age band, municipality, languages
    RISK = "risk"  # the latest risk assessment's level and date
    SAFETY_PLAN = "safety_plan"  # the current Individual Safety Plan
    ASSISTANCE_PLAN = "assistance_plan"  # the victim assistance plan's steps


class Consent(SQLModel, table=True):
    """Her consent to share sections of her case with one organisation, for one purpose, until
    an expiry (at most a year); withdrawn, it stops the next read."""

    __tablename__ = "safety_consent"
    __table_args__ = (sa.Index("ix_safety_consent_recipient_case", "recipient_id", "case_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="safety_case.id", index=True)
    recipient_id: uuid.UUID = Field(foreign_key="organisation.id")
    purpose_key_id: str = Field(max_length=32)
    purpose_sealed: bytes = Field(sa_type=sa.LargeBinary)
    sections: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    recorded_by: uuid.UUID = Field(foreign_key="user_account.id")
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    withdrawn_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")


class BreakGlass(SQLModel, table=True):
    """A supervisor outside the team opened a case for an hour, with a written reason."""

    __tablename__ = "safety_break_glass"
    __table_args__ = (
        sa.Index("ix_safety_break_glass_user_case", "user_id", "case_id"),
        sa.Index("ix_safety_break_glass_organisation_reviewed", "organisation_id", "reviewed_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id")
    case_id: uuid.UUID = Field(foreign_key="safety_case.id")
    user_id: uuid.UUID = Field(foreign_key="user_account.id")
    reason_key_id: str = Field(max_length=32)
    reason_sealed: bytes = Field(sa_type=sa.LargeBinary)
    opened_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reviewed_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    review_key_id: str | None = Field(default=None, max_length=32)
    review_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
