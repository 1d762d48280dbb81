"""What the cases API takes and gives: strict request bodies (unknown fields refused) and the
shapes of its answers."""

import uuid
from datetime import datetime
from typing import Self

from pydantic import AwareDatetime, field_validator, model_validator
from sqlmodel import Field, SQLModel

from core.models import STRICT_BODY
from safety_plans.models.cases import (
    AgeBand,
    CaseStatus,
    ContactChannel,
    EscortPlace,
    LinkKind,
    ServiceKind,
    ViolenceType,
)
from safety_plans.models.plans import Agency, StepStatus
from safety_plans.models.sharing import Section
from safety_plans.risk import Answer, RiskLevel


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        raise ValueError("must not be blank")
    return text


def _unique_sorted(value: list[str]) -> list[str]:
    return sorted(set(value))


CLOSE_REASONS = frozenset(
    {"goals_met", "client_withdrew", "moved_away", "referred_elsewhere", "no_contact", "other"}
)
DORMANT_REASONS = frozenset({"no_contact", "client_paused", "other"})


# --- cases ------------------------------------------------------------------------------------


class CaseFields(SQLModel):
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    age_band: AgeBand | None = None
    municipality: str | None = Field(default=None, min_length=2, max_length=80)
    languages: list[str] = Field(default_factory=list, max_length=8)
    children_involved: bool = False
    violence_types: list[ViolenceType] = Field(default_factory=list, max_length=10)
    do_not_disclose: bool = False

    _municipality = field_validator("municipality")(_text)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        for code in value:
            if not (2 <= len(code) <= 3 and code.isalpha() and code.islower()):
                raise ValueError("languages are ISO 639 codes such as sr, sq, en, rom")
        return _unique_sorted(value)

    @field_validator("violence_types")
    @classmethod
    def _types(cls, value: list[ViolenceType]) -> list[ViolenceType]:
        return sorted(set(value))


class CaseCreate(CaseFields):
    """A new case; its owner is the caller unless another counselor of the team is named."""

    model_config = STRICT_BODY  # type: ignore[assignment]

    name: str = Field(min_length=1, max_length=200)
    owner_id: uuid.UUID | None = None
    team: list[uuid.UUID] = Field(default_factory=list, max_length=20)

    _name = field_validator("name")(_text)


class CaseUpdate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    name: str | None = Field(default=None, min_length=1, max_length=200)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    age_band: AgeBand | None = None
    municipality: str | None = Field(default=None, min_length=2, max_length=80)
    languages: list[str] | None = Field(default=None, max_length=8)
    children_involved: bool | None = None
    violence_types: list[ViolenceType] | None = Field(default=None, max_length=10)
    do_not_disclose: bool | None = None
    owner_id: uuid.UUID | None = None

    _name = field_validator("name", "municipality")(_text)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else CaseFields._languages(value)


class StatusCreate(SQLModel):
    """Open (reopen), dormant or closed, with the reason the status needs."""

    model_config = STRICT_BODY  # type: ignore[assignment]

    status: CaseStatus
    reason: str | None = Field(default=None, max_length=40)

    @model_validator(mode="after")
    def _reason(self) -> Self:
        allowed = {
            CaseStatus.CLOSED: CLOSE_REASONS,
            CaseStatus.DORMANT: DORMANT_REASONS,
            CaseStatus.OPEN: frozenset(),
        }[self.status]
        if allowed and self.reason not in allowed:
            raise ValueError(f"reason: one of {', '.join(sorted(allowed))}")
        if not allowed and self.reason is not None:
            raise ValueError("reason: an open case needs no reason")
        return self


class MemberCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    user_id: uuid.UUID


class CasePublic(CaseFields):
    id: uuid.UUID
    number: str
    name: str
    owner_id: uuid.UUID
    status: CaseStatus
    status_reason: str | None
    risk_level: RiskLevel | None
    reassess_by: datetime | None
    reassessment_overdue: bool
    team: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime
    access: str  # the basis the caller reads under: team, shelter, break_glass


class CaseListItem(SQLModel):
    id: uuid.UUID
    number: str
    name: str
    status: CaseStatus
    owner_id: uuid.UUID
    risk_level: RiskLevel | None
    reassess_by: datetime | None
    reassessment_overdue: bool
    updated_at: datetime


class CasePage(SQLModel):
    items: list[CaseListItem]
    next_cursor: str | None


class StatusChangePublic(SQLModel):
    status: CaseStatus
    reason: str | None
    changed_at: datetime
    changed_by: uuid.UUID


class LinkCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    kind: LinkKind
    target_id: uuid.UUID


class LinkPublic(LinkCreate):
    id: uuid.UUID
    linked_at: datetime
    linked_by: uuid.UUID


# --- contacts and services --------------------------------------------------------------------


class ContactCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    channel: ContactChannel
    occurred_at: AwareDatetime
    duration_minutes: int | None = Field(default=None, ge=0, le=600)
    call_id: uuid.UUID | None = None
    note: str | None = Field(default=None, min_length=1, max_length=4000)

    _note = field_validator("note")(_text)

    @model_validator(mode="after")
    def _call(self) -> Self:
        if (self.channel is ContactChannel.ROUTED_CALL) != (self.call_id is not None):
            raise ValueError("call_id: a routed call names its call, and only a routed call does")
        return self


class ContactPublic(SQLModel):
    id: uuid.UUID
    channel: ContactChannel
    occurred_at: datetime
    duration_minutes: int | None
    call_id: uuid.UUID | None
    counselor_id: uuid.UUID
    note: str | None


class ServiceCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    kind: ServiceKind
    given_at: AwareDatetime
    duration_minutes: int = Field(ge=1, le=1440)
    given_by: uuid.UUID | None = None  # the caller when not named
    escort_place: EscortPlace | None = None
    at_night: bool | None = None

    @model_validator(mode="after")
    def _escort(self) -> Self:
        escort = self.kind is ServiceKind.ESCORT
        if escort and (self.escort_place is None or self.at_night is None):
            raise ValueError("escort_place and at_night: an escort says where and whether at night")
        if not escort and (self.escort_place is not None or self.at_night is not None):
            raise ValueError("escort_place and at_night belong to an escort only")
        return self


class ServicePublic(SQLModel):
    id: uuid.UUID
    kind: ServiceKind
    given_at: datetime
    given_by: uuid.UUID
    duration_minutes: int
    escort_place: EscortPlace | None
    at_night: bool | None


# --- risk, plan, steps ------------------------------------------------------------------------


class AssessmentCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    answers: dict[str, Answer] = Field(max_length=200)
    judgement: RiskLevel | None = None
    judgement_reason: str | None = Field(default=None, min_length=3, max_length=2000)

    _reason = field_validator("judgement_reason")(_text)

    @model_validator(mode="after")
    def _judgement(self) -> Self:
        if (self.judgement is None) != (self.judgement_reason is None):
            raise ValueError("judgement_reason: a professional judgement says why, and only then")
        return self


class AssessmentPublic(SQLModel):
    id: uuid.UUID
    instrument: str
    instrument_version: int
    answers: dict[str, Answer]
    points: int
    critical_yes: list[str]
    computed_level: RiskLevel
    level: RiskLevel
    judgement_reason: str | None
    assessed_at: datetime
    assessed_by: uuid.UUID
    reassess_by: datetime


class SafeContact(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    name: str = Field(min_length=1, max_length=120)
    how: str = Field(min_length=1, max_length=200)  # a number, an address, "at work"
    note: str | None = Field(default=None, max_length=500)


class EscapePlan(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    bag: str | None = Field(default=None, max_length=2000)
    documents: str | None = Field(default=None, max_length=2000)
    money: str | None = Field(default=None, max_length=2000)
    where_to_go: str | None = Field(default=None, max_length=2000)


class PlanContent(SQLModel):
    """The Individual Safety Plan, whole; every revision carries all of it."""

    model_config = STRICT_BODY  # type: ignore[assignment]

    safe_contacts: list[SafeContact] = Field(default_factory=list, max_length=20)
    code_word: str | None = Field(default=None, max_length=80)
    safe_to_call: bool = False  # may the service call her back at all?
    safe_times: str | None = Field(default=None, max_length=1000)
    safe_ways: str | None = Field(default=None, max_length=1000)
    escape_plan: EscapePlan = Field(default_factory=EscapePlan)
    children_safety: str | None = Field(default=None, max_length=4000)
    work_safety: str | None = Field(default=None, max_length=4000)
    online_safety: str | None = Field(default=None, max_length=4000)
    her_decisions: str | None = Field(default=None, max_length=8000)  # in her words


class PlanRevisionPublic(SQLModel):
    revision: int
    author_id: uuid.UUID
    created_at: datetime
    plan: PlanContent


class FieldChange(SQLModel):
    field: str  # a dotted path: "escape_plan.where_to_go", "safe_contacts"
    before: object
    after: object


class PlanDiff(SQLModel):
    from_revision: int
    to_revision: int
    changes: list[FieldChange]


class StepCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    agency: Agency
    what: str = Field(min_length=1, max_length=2000)
    owner_id: uuid.UUID | None = None  # the caller when not named
    due_at: AwareDatetime

    _what = field_validator("what")(_text)


class StepUpdate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    status: StepStatus | None = None
    due_at: AwareDatetime | None = None
    owner_id: uuid.UUID | None = None


class StepPublic(SQLModel):
    id: uuid.UUID
    agency: Agency
    what: str
    owner_id: uuid.UUID
    due_at: datetime
    status: StepStatus
    overdue: bool


# --- sharing ----------------------------------------------------------------------------------


class ConsentCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    recipient_organisation_id: uuid.UUID
    purpose: str = Field(min_length=3, max_length=500)
    sections: list[Section] = Field(min_length=1, max_length=4)
    expires_at: AwareDatetime

    _purpose = field_validator("purpose")(_text)

    @field_validator("sections")
    @classmethod
    def _sections(cls, value: list[Section]) -> list[Section]:
        return sorted(set(value))


class ConsentPublic(SQLModel):
    id: uuid.UUID
    recipient_organisation_id: uuid.UUID
    purpose: str
    sections: list[Section]
    expires_at: datetime
    recorded_at: datetime
    recorded_by: uuid.UUID
    withdrawn_at: datetime | None
    live: bool


class SharedCase(SQLModel):
    """What a consent's recipient reads: only the sections it names (the others are null)."""

    id: uuid.UUID
    number: str
    sections: list[Section]
    purpose: str
    expires_at: datetime
    name: str | None = None
    birth_year: int | None = None
    age_band: AgeBand | None = None
    municipality: str | None = None
    languages: list[str] | None = None
    risk_level: RiskLevel | None = None
    risk_assessed_at: datetime | None = None
    plan: PlanContent | None = None
    steps: list[StepPublic] | None = None


class BreakGlassCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    case_number: str = Field(min_length=3, max_length=16)
    reason: str = Field(min_length=20, max_length=2000)

    _reason = field_validator("reason")(_text)


class SignOff(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    note: str = Field(min_length=3, max_length=2000)

    _note = field_validator("note")(_text)


class BreakGlassPublic(SQLModel):
    id: uuid.UUID
    case_id: uuid.UUID
    case_number: str
    user_id: uuid.UUID
    reason: str
    opened_at: datetime
    expires_at: datetime
    reviewed_at: datetime | None
    reviewed_by: uuid.UUID | None
    review_note: str | None


class ReadEvent(SQLModel):
    """One line of the "who saw this case" report."""

    at: datetime
    actor_type: str
    user_id: uuid.UUID | None
    action: str
    basis: str | None  # team, shelter, break_glass, consent (for a read)
    view: str | None  # what was read or refused: "GET /organisations/{org_id}/cases/{case_id}/plan"


class TaskPublic(SQLModel):
    id: uuid.UUID
    case_id: uuid.UUID
    case_number: str
    kind: str
    created_at: datetime
    due_at: datetime
    done_at: datetime | None


class WorkList(SQLModel):
    """What needs doing on the caller's cases, most urgent first."""

    reassessments_overdue: list[CaseListItem]
    reassessments_due_soon: list[CaseListItem]
    steps_overdue: list[StepPublic]
    tasks: list[TaskPublic]
