"""Cases: one client's record at the counselling service, its team, its links, contacts and
services given, and the history of its status.

Everything that names or describes her is sealed (`<field>_key_id` + `<field>_sealed`, opened only
for those the gate in `safety_plans.deps` lets in). What stays in clear is what the statistics
count: year of birth or age band, municipality, languages, violence types, services by kind.
"""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, enum_type


class CaseStatus(StrEnum):
    OPEN = "open"
    DORMANT = "dormant"
    CLOSED = "closed"


class ViolenceType(StrEnum):
    PHYSICAL = "physical"
    PSYCHOLOGICAL = "psychological"
    SEXUAL = "sexual"
    ECONOMIC = "economic"
    CYBER = "cyber"
    STALKING = "stalking"
    NEGLECT = "neglect"
    TRAFFICKING = "trafficking"
    PEER = "peer"
    LABOUR = "labour"  # labour exploitation and mobbing


class AgeBand(StrEnum):
    UNDER_18 = "under_18"
    FROM_18_TO_25 = "18_25"
    FROM_26_TO_35 = "26_35"
    FROM_36_TO_50 = "36_50"
    FROM_51_TO_65 = "51_65"
    OVER_65 = "over_65"


class SafetyCase(SQLModel, table=True):
    """One client's case."""

    __tablename__ = "safety_case"
    __table_args__ = (
        sa.UniqueConstraint("organisation_id", "number"),
        sa.Index("ix_safety_case_organisation_id_status", "organisation_id", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id")
    number: str = Field(max_length=16)  # human, e.g. "K-2026-00042"; says nothing about her
    owner_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    status: CaseStatus = Field(sa_type=enum_type(CaseStatus, "safety_case_status"))
    status_reason: str | None = Field(default=None, max_length=40)
    name_key_id: str = Field(max_length=32)
    name_sealed: bytes = Field(sa_type=sa.LargeBinary)
    birth_year: int | None = None
    age_band: AgeBand | None = Field(
        default=None, sa_type=enum_type(AgeBand, "safety_case_age_band")
    )
    municipality: str | None = Field(default=None, max_length=80)
    languages: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    children_involved: bool = False
    violence_types: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    do_not_disclose: bool = False
    # Risk, as the latest assessment left it, and when the next one is due.
    risk_level: str | None = Field(default=None, max_length=16)
    reassess_by: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    created_by: uuid.UUID = Field(foreign_key="user_account.id")
    updated_at: datetime = Field(sa_type=UTCDateTime)


class CaseMember(SQLModel, table=True):
    """A member of a case's team (the owner is one too). The case's `updated_at` is kept here as
    well (`case_updated_at`, moved with it in the same transaction), so that a counselor's case
    list is one index range: her rows, most recently changed first, fifty at a time."""

    __tablename__ = "safety_case_member"
    __table_args__ = (
        # Read backwards for "most recently changed first".
        sa.Index(
            "ix_safety_case_member_user_id_case_updated_at", "user_id", "case_updated_at", "case_id"
        ),
    )

    case_id: uuid.UUID = Field(foreign_key="safety_case.id", primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", primary_key=True, index=True)
    case_updated_at: datetime = Field(sa_type=UTCDateTime)
    added_at: datetime = Field(sa_type=UTCDateTime)
    added_by: uuid.UUID = Field(foreign_key="user_account.id")


class StatusChange(SQLModel, table=True):
    """Every change of a case's status, kept: reopening a closed case keeps why it was closed."""

    __tablename__ = "safety_case_status_change"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="safety_case.id", index=True)
    status: CaseStatus = Field(sa_type=enum_type(CaseStatus, "safety_case_status"))
    reason: str | None = Field(default=None, max_length=40)
    changed_at: datetime = Field(sa_type=UTCDateTime)
    changed_by: uuid.UUID = Field(foreign_key="user_account.id")


class LinkKind(StrEnum):
    CALL = "call"
    CALLBACK_TASK = "callback_task"
    STAY = "stay"
    REFERRAL = "referral"


class CaseLink(SQLModel, table=True):
    """A call, callback task, stay or referral that belongs to the case (each to one case)."""

    __tablename__ = "safety_case_link"
    __table_args__ = (sa.UniqueConstraint("kind", "target_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="safety_case.id", index=True)
    kind: LinkKind = Field(sa_type=enum_type(LinkKind, "safety_case_link_kind"))
    target_id: uuid.UUID
    linked_at: datetime = Field(sa_type=UTCDateTime)
    linked_by: uuid.UUID = Field(foreign_key="user_account.id")


class ContactChannel(StrEnum):
    OFFICE_CALL = "office_call"  # a call on the office line (never through Twilio)
    ROUTED_CALL = "routed_call"  # a call Twilio routed (linked by its call id)
    WALK_IN = "walk_in"
    EMAIL = "email"
    MESSAGE = "message"
    ESCORT = "escort"


class CaseContact(SQLModel, table=True):
    """A contact with her, whatever its channel; the note is sealed."""

    __tablename__ = "safety_case_contact"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="safety_case.id", index=True)
    channel: ContactChannel = Field(sa_type=enum_type(ContactChannel, "safety_contact_channel"))
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    duration_minutes: int | None = None
    call_id: uuid.UUID | None = Field(default=None, foreign_key="hotline_call.id")
    counselor_id: uuid.UUID = Field(foreign_key="user_account.id")
    note_key_id: str | None = Field(default=None, max_length=32)
    note_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class ServiceKind(StrEnum):
    INFORMATION = "information"
    LEGAL_COUNSELLING = "legal_counselling"
    APPLICATION_TO_CSW = "application_to_csw"
    APPLICATION_TO_POLICE = "application_to_police"
    PSYCHOLOGICAL_PHONE = "psychological_phone"
    PSYCHOLOGICAL_IN_PERSON = "psychological_in_person"
    SELF_HELP_GROUP = "self_help_group"
    SHELTER_MEDIATION = "shelter_mediation"
    ESCORT = "escort"  # by a confidant, to court, police or CSW


class EscortPlace(StrEnum):
    COURT = "court"
    POLICE = "police"
    CSW = "csw"


class CaseService(SQLModel, table=True):
    """A service given to her: countable by kind, who, when and how long."""

    __tablename__ = "safety_case_service"
    __table_args__ = (sa.Index("ix_safety_case_service_kind_given_at", "kind", "given_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="safety_case.id", index=True)
    kind: ServiceKind = Field(sa_type=enum_type(ServiceKind, "safety_service_kind"))
    given_at: datetime = Field(sa_type=UTCDateTime)
    given_by: uuid.UUID = Field(foreign_key="user_account.id")
    duration_minutes: int
    escort_place: EscortPlace | None = Field(
        default=None, sa_type=enum_type(EscortPlace, "safety_escort_place")
    )
    at_night: bool | None = None
    recorded_at: datetime = Field(sa_type=UTCDateTime)
