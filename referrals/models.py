"""The CSW directory, referrals, their information requests and their reminder rows.

A referral tells an institution (the competent Center for Social Work, or a partner service)
that a person needs it, and carries no more than the client consented to share or the law
obliges. The personal part (the dossier) is sealed; notifications carry only the opaque
reference and the deadline. Reminders are rows swept by an idempotent job, never timers.
"""

import uuid
from datetime import date, datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import AwareDatetime, field_validator, model_validator
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, enum_type
from core.models import STRICT_BODY, check_country_code, check_name

# --- directory -------------------------------------------------------------------------------


class Municipality(SQLModel, table=True):
    """A municipality of residence and the CSW competent for it."""

    __tablename__ = "municipality"
    __table_args__ = (sa.UniqueConstraint("country_code", "name_key"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    country_code: str = Field(max_length=2)
    name: str = Field(max_length=80)
    # The name folded (case, accents, spacing) so that "Niksic" finds "Nikšić".
    name_key: str = Field(max_length=80)
    csw_organisation_id: uuid.UUID | None = Field(
        default=None, foreign_key="organisation.id", index=True
    )
    created_at: datetime = Field(sa_type=UTCDateTime)


class MunicipalityCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    country_code: str = Field(min_length=2, max_length=2)
    name: str = Field(min_length=2, max_length=80)

    _country = field_validator("country_code", mode="before")(check_country_code)
    _name = field_validator("name")(check_name)


class MunicipalityPublic(SQLModel):
    id: uuid.UUID
    country_code: str
    name: str
    csw_organisation_id: uuid.UUID | None
    csw_name: str | None


# --- referrals -------------------------------------------------------------------------------


class Source(StrEnum):
    ADMISSION = "admission"  # an emergency admission (created with the stay)
    CALL = "call"  # a hotline call
    CASE = "case"  # a counselling case


class Team(StrEnum):
    GENERAL = "general"
    CHILD_PROTECTION = "child_protection"


class ReferralStatus(StrEnum):
    OPEN = "open"  # sent, nobody has looked yet
    ACKNOWLEDGED = "acknowledged"
    INFORMATION_REQUESTED = "information_requested"
    DECIDED = "decided"
    WITHDRAWN = "withdrawn"


OPEN_STATUSES = frozenset(
    {ReferralStatus.OPEN, ReferralStatus.ACKNOWLEDGED, ReferralStatus.INFORMATION_REQUESTED}
)


class ConsentScope(StrEnum):
    """What the client agreed may be shared with the recipient."""

    IDENTITY = "identity"  # the client's name, sex and age
    CHILDREN = "children"  # the children's names, sexes and ages
    CIRCUMSTANCES = "circumstances"  # the staff's summary of what happened and what is needed


class LegalBasis(StrEnum):
    """Why a referral goes out without (or beyond) the client's consent."""

    EMERGENCY_ACCOMMODATION = "emergency_accommodation"  # the CSW decides on every admission
    CHILD_AT_RISK = "child_at_risk"  # a child victim must be reported to child protection
    LEGAL_OBLIGATION = "legal_obligation"  # another duty the law sets (stated in the note)


class Outcome(StrEnum):
    LONGER_TERM_ACCOMMODATION = "longer_term_accommodation"
    OTHER_MEASURE = "other_measure"
    DECLINED = "declined"


class Referral(SQLModel, table=True):
    __tablename__ = "referral"
    __table_args__ = (
        sa.Index("ix_referral_to_organisation_id_status", "to_organisation_id", "status"),
        sa.Index(
            "ix_referral_from_organisation_id_created_at", "from_organisation_id", "created_at"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # Opaque: says nothing about anyone or anywhere; the only handle notifications carry.
    reference: str = Field(max_length=16, unique=True)
    from_organisation_id: uuid.UUID = Field(foreign_key="organisation.id")
    # None while no competent CSW is known: the sender's supervisors are alerted to address it.
    to_organisation_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id")
    municipality_id: uuid.UUID | None = Field(default=None, foreign_key="municipality.id")
    source: Source = Field(sa_type=enum_type(Source, "referral_source"))
    team: Team = Field(default=Team.GENERAL, sa_type=enum_type(Team, "referral_team"))
    stay_id: uuid.UUID | None = Field(default=None, foreign_key="shelter_stay.id", index=True)
    call_id: uuid.UUID | None = Field(default=None)
    # A referral from a case points at the case (checked when made, like call_id: another
    # domain's row, so no foreign key); its number is kept as the human reference.
    case_id: uuid.UUID | None = Field(default=None, index=True)
    case_reference: str | None = Field(default=None, max_length=40)
    people: int = 1
    children: int = 0
    deadline: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: ReferralStatus = Field(
        default=ReferralStatus.OPEN, sa_type=enum_type(ReferralStatus, "referral_status")
    )
    # Consent to share: given or not, its scope, who recorded it and when.
    consent_scope: list[ConsentScope] = Field(default_factory=list, sa_type=sa.JSON)
    consent_recorded_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    consent_recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    legal_basis: LegalBasis | None = Field(
        default=None, sa_type=enum_type(LegalBasis, "referral_legal_basis")
    )
    legal_note: str | None = Field(default=None, max_length=500)
    # The personal part, sealed: {"client": {...}, "children": [...], "circumstances": "..."}.
    dossier_key_id: str = Field(max_length=32)
    dossier_sealed: bytes = Field(sa_type=sa.LargeBinary)
    created_by: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: Outcome | None = Field(default=None, sa_type=enum_type(Outcome, "referral_outcome"))
    decision_date: date | None = None
    decision_number: str | None = Field(default=None, max_length=60)
    decision_key_id: str | None = Field(default=None, max_length=32)
    decision_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)  # where, note
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=64)  # "user:<id>" or "api_token:<id>"
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ChildProtectionMember(SQLModel, table=True):
    """One of a CSW's officers or supervisors on its child-protection team.

    A child at risk is referred by law to that team, not to the whole centre: only its members
    read the children's identity; everyone else at the centre sees the referral without names.
    """

    __tablename__ = "child_protection_member"

    user_id: uuid.UUID = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    added_by: str = Field(max_length=64)  # "user:<id>", or "demo" for the demo data
    created_at: datetime = Field(sa_type=UTCDateTime)


class ReminderKind(StrEnum):
    CREATED = "created"  # the referral itself reaches the recipient
    BEFORE_3_DAYS = "before_3_days"
    BEFORE_1_DAY = "before_1_day"
    DEADLINE = "deadline"
    OVERDUE = "overdue"  # daily while no decision; each one also alerts both sides' heads
    UNADDRESSED = "unaddressed"  # no competent CSW known: the sender's supervisors must act


class ReminderState(StrEnum):
    PENDING = "pending"
    DONE = "done"  # its messages are in the outbox
    CANCELLED = "cancelled"  # a decision or a withdrawal came first


class ReferralReminder(SQLModel, table=True):
    __tablename__ = "referral_reminder"
    __table_args__ = (
        sa.UniqueConstraint("referral_id", "kind", "sequence"),
        # The sweep reads only pending rows that are due: a partial index keeps it from scanning.
        sa.Index(
            "ix_referral_reminder_due",
            "due_at",
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    referral_id: uuid.UUID = Field(foreign_key="referral.id", index=True)
    kind: ReminderKind = Field(sa_type=enum_type(ReminderKind, "reminder_kind"))
    sequence: int = 0  # the day of an overdue reminder (1, 2, ...)
    due_at: datetime = Field(sa_type=UTCDateTime)
    state: ReminderState = Field(
        default=ReminderState.PENDING, sa_type=enum_type(ReminderState, "reminder_state")
    )
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Direction(StrEnum):
    QUESTION = "question"  # the recipient asks the sender for information
    ANSWER = "answer"  # the sender answers


class ReferralNote(SQLModel, table=True):
    """An information request or its answer; the text is sealed."""

    __tablename__ = "referral_note"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    referral_id: uuid.UUID = Field(foreign_key="referral.id", index=True)
    direction: Direction = Field(sa_type=enum_type(Direction, "referral_note_direction"))
    key_id: str = Field(max_length=32)
    sealed: bytes = Field(sa_type=sa.LargeBinary)
    author: str = Field(max_length=64)  # "user:<id>" or "api_token:<id>"
    created_at: datetime = Field(sa_type=UTCDateTime)


def _text(value: str | None) -> str | None:
    """Free text, trimmed; blank text is no text."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        raise ValueError("must not be blank")
    return text


# --- request bodies --------------------------------------------------------------------------


class PersonSex(StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"


class PersonFacts(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    name: str = Field(min_length=1, max_length=120)
    sex: PersonSex
    age: int = Field(ge=0, le=120)

    _name = field_validator("name")(check_name)


class ConsentSet(SQLModel):
    """The client's consent as she gave it: what may be shared (empty: nothing beyond the law)."""

    model_config = STRICT_BODY  # type: ignore[assignment]

    scope: list[ConsentScope] = Field(max_length=3)
    circumstances: str | None = Field(default=None, min_length=3, max_length=4000)

    _circumstances = field_validator("circumstances")(_text)

    @field_validator("scope")
    @classmethod
    def _unique(cls, value: list[ConsentScope]) -> list[ConsentScope]:
        return sorted(set(value))


class ReferralCreate(SQLModel):
    """A referral from a hotline call or a counselling case."""

    model_config = STRICT_BODY  # type: ignore[assignment]

    source: Source
    call_id: uuid.UUID | None = None
    # The case the referral is made from (one whose team the caller is on).
    case_id: uuid.UUID | None = None
    # Either an institution (a CSW, a partner service, a partner shelter) or a municipality,
    # whose competent CSW receives it.
    to_organisation_id: uuid.UUID | None = None
    municipality_id: uuid.UUID | None = None
    team: Team = Team.GENERAL
    client: PersonFacts | None = None
    children: list[PersonFacts] = Field(default_factory=list, max_length=12)
    consent: ConsentSet | None = None
    legal_basis: LegalBasis | None = None
    legal_note: str | None = Field(default=None, min_length=3, max_length=500)
    respond_by: AwareDatetime | None = None

    _note = field_validator("legal_note")(_text)

    @model_validator(mode="after")
    def _consistent(self) -> "ReferralCreate":
        if self.source is Source.ADMISSION:
            raise ValueError("source: admissions make their referral themselves; use call or case")
        if self.source is Source.CALL and self.call_id is None:
            raise ValueError("call_id: a referral from a call names the call")
        if self.source is Source.CASE and self.case_id is None:
            raise ValueError("case_id: a referral from a case names the case")
        if (self.to_organisation_id is None) == (self.municipality_id is None):
            raise ValueError("name either to_organisation_id or municipality_id")
        if self.consent is None and self.legal_basis is None:
            raise ValueError(
                "record the client's consent (consent.scope), or the legal basis for referring "
                "without it (legal_basis)"
            )
        if self.legal_basis is LegalBasis.LEGAL_OBLIGATION and not self.legal_note:
            raise ValueError("legal_note: say which obligation of the law applies")
        if self.legal_basis is LegalBasis.EMERGENCY_ACCOMMODATION:
            raise ValueError("legal_basis: emergency accommodation is an admission's own basis")
        return self


class NoteCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    text: str = Field(min_length=3, max_length=4000)

    _clean = field_validator("text")(_text)


class DecisionCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    outcome: Outcome
    decision_date: date
    decision_number: str = Field(min_length=1, max_length=60)
    # Longer-term accommodation: where (a facility or a service, never shown to other parties).
    placement: str | None = Field(default=None, min_length=2, max_length=300)
    # When the emergency stay should end under this decision (it may end or extend the stay).
    stay_until: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=2000)

    _texts = field_validator("decision_number", "placement", "note")(_text)

    @model_validator(mode="after")
    def _placement(self) -> "DecisionCreate":
        if self.outcome is Outcome.LONGER_TERM_ACCOMMODATION and not self.placement:
            raise ValueError("placement: longer-term accommodation says where")
        return self


class Readdress(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    to_organisation_id: uuid.UUID


class Withdraw(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    reason: str = Field(min_length=3, max_length=500)

    _reason = field_validator("reason")(_text)


# --- answers ---------------------------------------------------------------------------------


class NotePublic(SQLModel):
    id: uuid.UUID
    direction: Direction
    text: str
    author: str
    created_at: datetime


class ReminderPublic(SQLModel):
    kind: ReminderKind
    sequence: int
    due_at: datetime
    state: ReminderState


class DecisionPublic(SQLModel):
    outcome: Outcome
    decision_date: date
    decision_number: str | None
    placement: str | None
    note: str | None
    decided_at: datetime


class ReferralPublic(SQLModel):
    """A referral as its sender sees it."""

    id: uuid.UUID
    reference: str
    source: Source
    team: Team
    to_organisation_id: uuid.UUID | None
    to_organisation_name: str | None
    municipality: str | None
    stay_id: uuid.UUID | None
    call_id: uuid.UUID | None
    case_reference: str | None
    people: int
    children: int
    deadline: datetime | None
    status: ReferralStatus
    consent_scope: list[ConsentScope]
    consent_recorded_at: datetime | None
    legal_basis: LegalBasis | None
    legal_note: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    decision: DecisionPublic | None
    withdrawn_at: datetime | None
    notes: list[NotePublic]
    reminders: list[ReminderPublic]


class SharedPerson(SQLModel):
    name: str
    sex: PersonSex
    age: int


class IncomingReferral(SQLModel):
    """A referral as its recipient sees it: the personal part only as far as consent (or the
    law, for a child at risk) allows; never a shelter or its location."""

    id: uuid.UUID
    reference: str
    source: Source
    team: Team
    from_organisation_id: uuid.UUID
    from_organisation_name: str
    municipality: str | None
    people: int
    children: int
    deadline: datetime | None
    status: ReferralStatus
    consent_scope: list[ConsentScope]
    legal_basis: LegalBasis | None
    legal_note: str | None
    created_at: datetime
    acknowledged_at: datetime | None
    client: SharedPerson | None = None
    shared_children: list[SharedPerson] | None = None
    # A child at risk: the children's ages, youngest first, for every reader at the centre;
    # their names and sexes (`shared_children`) only for its child-protection team.
    children_ages: list[int] | None = None
    names_withheld: bool = False
    circumstances: str | None = None
    decision: DecisionPublic | None = None
    notes: list[NotePublic] = Field(default_factory=list)


class IncomingSummary(SQLModel):
    """A line of the recipient's list: nothing personal."""

    id: uuid.UUID
    reference: str
    team: Team
    from_organisation_name: str
    municipality: str | None
    people: int
    children: int
    deadline: datetime | None
    status: ReferralStatus
    created_at: datetime


class TeamMember(SQLModel):
    """A member of a CSW's child-protection team."""

    user_id: uuid.UUID
    display_name: str
    since: datetime
