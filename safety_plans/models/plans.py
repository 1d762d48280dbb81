"""Risk assessments, the Individual Safety Plan's revisions, the victim assistance plan's steps,
the case's deadline rows and the tasks a case gives a supervisor."""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, enum_type


class RiskAssessment(SQLModel, table=True):
    """One risk assessment with the instrument's answers (sealed) and the level they gave."""

    __tablename__ = "safety_risk_assessment"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="safety_case.id", index=True)
    instrument: str = Field(max_length=40)
    instrument_version: int
    computed_level: str = Field(max_length=16)
    level: str = Field(max_length=16)  # computed, or raised by professional judgement
    points: int
    # {"answers": {...}, "judgement_reason": "..."} sealed together.
    key_id: str = Field(max_length=32)
    sealed: bytes = Field(sa_type=sa.LargeBinary)
    assessed_at: datetime = Field(sa_type=UTCDateTime)
    assessed_by: uuid.UUID = Field(foreign_key="user_account.id")
    reassess_by: datetime = Field(sa_type=UTCDateTime)


class PlanRevision(SQLModel, table=True):
    """One revision of the Individual Safety Plan, the whole plan sealed: append-only."""

    __tablename__ = "safety_plan_revision"
    __table_args__ = (sa.UniqueConstraint("case_id", "revision"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="safety_case.id")
    revision: int
    key_id: str = Field(max_length=32)
    sealed: bytes = Field(sa_type=sa.LargeBinary)
    author_id: uuid.UUID = Field(foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class Agency(StrEnum):
    POLICE = "police"
    CSW = "csw"
    HEALTH = "health"
    COURT = "court"
    SCHOOL = "school"
    NGO = "ngo"


class StepStatus(StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


OPEN_STEP_STATUSES = frozenset({StepStatus.PLANNED, StepStatus.IN_PROGRESS})


class AssistanceStep(SQLModel, table=True):
    """A step of the victim assistance plan: which agency does what, whose it is, by when."""

    __tablename__ = "safety_assistance_step"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="safety_case.id", index=True)
    agency: Agency = Field(sa_type=enum_type(Agency, "safety_agency"))
    what_key_id: str = Field(max_length=32)
    what_sealed: bytes = Field(sa_type=sa.LargeBinary)
    owner_id: uuid.UUID = Field(foreign_key="user_account.id")
    due_at: datetime = Field(sa_type=UTCDateTime)
    status: StepStatus = Field(sa_type=enum_type(StepStatus, "safety_step_status"))
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class DeadlineKind(StrEnum):
    REASSESS_SOON = "reassess_soon"  # a day before the reassessment is due
    REASSESS_OVERDUE = "reassess_overdue"  # when it falls due
    STEP_OVERDUE = "step_overdue"  # an assistance step passed its due date


class DeadlineState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    CANCELLED = "cancelled"


class CaseDeadline(SQLModel, table=True):
    """A reminder that falls due at an instant, swept once by the scheduler (never a timer)."""

    __tablename__ = "safety_deadline"
    __table_args__ = (sa.Index("ix_safety_deadline_state_due_at", "state", "due_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="safety_case.id", index=True)
    kind: DeadlineKind = Field(sa_type=enum_type(DeadlineKind, "safety_deadline_kind"))
    # The assessment or step it is about: a new assessment or a moved step cancels the old rows.
    subject_id: uuid.UUID
    due_at: datetime = Field(sa_type=UTCDateTime)
    state: DeadlineState = Field(sa_type=enum_type(DeadlineState, "safety_deadline_state"))
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TaskKind(StrEnum):
    CASE_CONFERENCE = "case_conference"  # a multi-agency case conference after a high risk


class CaseTask(SQLModel, table=True):
    """Something a case asks of a supervisor (any supervisor of the organisation may take it)."""

    __tablename__ = "safety_case_task"
    __table_args__ = (
        sa.Index("ix_safety_case_task_organisation_id_done_at", "organisation_id", "done_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id")
    case_id: uuid.UUID = Field(foreign_key="safety_case.id", index=True)
    kind: TaskKind = Field(sa_type=enum_type(TaskKind, "safety_task_kind"))
    created_at: datetime = Field(sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
