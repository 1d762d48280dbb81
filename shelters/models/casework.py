"""Needs assessments and work plans: revised, never overwritten, each revision sealed whole."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from pydantic import AwareDatetime
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime
from shelters.models.shelters import Body


class Revision(SQLModel):
    """The columns of one revision of a stay's case document: its number, the document as
    sealed JSON, who wrote it and when."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    stay_id: uuid.UUID = Field(foreign_key="shelter_stay.id")
    revision: int
    key_id: str = Field(max_length=32)
    sealed: bytes = Field(sa_type=sa.LargeBinary)
    author_id: uuid.UUID = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class NeedsAssessment(Revision, table=True):
    """One revision of a stay's needs assessment (Maslow's four areas, seed lines 2310-2319)."""

    __tablename__ = "shelter_needs_assessment"
    __table_args__ = (sa.UniqueConstraint("stay_id", "revision"),)


class AssessmentCreate(Body):
    security: str = Field(min_length=1, max_length=4000)
    love_and_belonging: str = Field(min_length=1, max_length=4000)
    respect: str = Field(min_length=1, max_length=4000)
    self_accomplishment: str = Field(min_length=1, max_length=4000)


class AssessmentPublic(AssessmentCreate):
    id: uuid.UUID
    revision: int
    author_id: uuid.UUID
    created_at: datetime


class Step(Body):
    what: str = Field(min_length=1, max_length=500)
    who: str = Field(min_length=1, max_length=120)
    by: AwareDatetime


class Goal(Body):
    goal: str = Field(min_length=1, max_length=500)
    steps: list[Step] = Field(min_length=1, max_length=20)


class WorkPlan(Revision, table=True):
    """One revision of a stay's individual work plan."""

    __tablename__ = "shelter_work_plan"
    __table_args__ = (sa.UniqueConstraint("stay_id", "revision"),)


class WorkPlanCreate(Body):
    goals: list[Goal] = Field(min_length=1, max_length=20)


class WorkPlanPublic(WorkPlanCreate):
    id: uuid.UUID
    revision: int
    author_id: uuid.UUID
    created_at: datetime
