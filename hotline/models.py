"""Hotlines, duty phones, the duty rota, calls with their escalation rungs, callback tasks."""

import itertools
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import AwareDatetime, field_validator
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, enum_type
from core.models import STRICT_BODY, check_country_code, check_name, check_time_zone
from core.phones import to_e164

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_OFFICE_HOURS: dict[str, list[str]] = {day: ["08:00-16:00"] for day in WEEKDAYS[:5]}
DEFAULT_HOLIDAY_CATEGORIES = ["public", "orthodox"]


class PromptLanguage(StrEnum):
    ENGLISH = "en"
    MONTENEGRIN = "cnr"  # Montenegrin/Serbian, Latin script
    ALBANIAN = "sq"


class RungKind(StrEnum):
    OFFICE = "office"
    PRIMARY = "primary"
    BACKUP = "backup"
    SUPERVISORS = "supervisors"
    LAST_RESORT = "last_resort"


class CallMode(StrEnum):
    OFFICE = "office"
    DUTY = "duty"
    FALLBACK = "fallback"


class CallStatus(StrEnum):
    RINGING = "ringing"
    ACCEPTED = "accepted"
    VOICEMAIL = "voicemail"
    ENDED = "ended"  # the call is over: accepted_by tells whether a human took it


class CallerType(StrEnum):
    VICTIM = "victim"
    WITNESS = "witness"
    INSTITUTION = "institution"
    OTHER = "other"


class Urgency(StrEnum):
    ACUTE = "acute"
    HIGH = "high"
    ROUTINE = "routine"


class Position(StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"


class OverrideKind(StrEnum):
    COVER = "cover"
    SWAP = "swap"


class SafeToCallBack(StrEnum):
    UNKNOWN = "unknown"
    YES = "yes"
    NO = "no"


class TaskStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class CallbackOutcome(StrEnum):
    REACHED = "reached"
    NO_ANSWER = "no_answer"
    NOT_SAFE = "not_safe"
    WRONG_NUMBER = "wrong_number"
    OTHER = "other"


# --- what tables share ----------------------------------------------------------------------


class _Row(SQLModel):
    """Every hotline table's key: a random UUID."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)


class _OfOrganisation(_Row):
    """A row that belongs to one organisation (another organisation's reads as absent)."""

    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)


class _HotlineSetting(_Row):
    """Part of a hotline's configuration (a closure, a shift): deleted with the hotline, and kept
    with who created it and when."""

    hotline_id: uuid.UUID = Field(foreign_key="hotline.id", ondelete="CASCADE")
    created_by_user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


# --- hotlines ------------------------------------------------------------------------------


def check_e164(value: str) -> str:
    return to_e164(value)


def check_office_hours(value: dict[str, list[str]]) -> dict[str, list[str]]:
    """{"mon": ["08:00-16:00"], ...}: known days, HH:MM-HH:MM ranges that do not overlap."""
    clean: dict[str, list[str]] = {}
    for day, ranges in value.items():
        if day not in WEEKDAYS:
            raise ValueError(f"office_hours: unknown day {day[:8]!r}; use mon..sun")
        spans: list[tuple[int, int]] = []
        for text in ranges:
            start, _, end = text.partition("-")
            try:
                begin, finish = _minutes(start), _minutes(end)
            except ValueError:
                raise ValueError(
                    "office_hours: write ranges as HH:MM-HH:MM, e.g. 08:00-16:00"
                ) from None
            if finish <= begin:
                raise ValueError("office_hours: a range must end after it starts")
            spans.append((begin, finish))
        spans.sort()
        if any(b[0] < a[1] for a, b in itertools.pairwise(spans)):
            raise ValueError(f"office_hours: ranges overlap on {day}")
        clean[day] = [f"{b // 60:02d}:{b % 60:02d}-{e // 60:02d}:{e % 60:02d}" for b, e in spans]
    return clean


def _minutes(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    if len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError("bad time")
    value = int(hours) * 60 + int(minutes)
    if int(hours) > 24 or int(minutes) > 59 or value > 24 * 60:
        raise ValueError("bad time")
    return value


class HotlineBase(SQLModel):
    name: str = Field(min_length=2, max_length=120)
    twilio_number: str = Field(max_length=16)
    time_zone: str = Field(max_length=64)
    holiday_country: str = Field(max_length=2)
    holiday_categories: list[str] = Field(
        default_factory=lambda: list(DEFAULT_HOLIDAY_CATEGORIES), sa_type=sa.JSON
    )
    office_hours: dict[str, list[str]] = Field(
        default_factory=lambda: dict(DEFAULT_OFFICE_HOURS), sa_type=sa.JSON
    )
    office_numbers: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    on_call_24h: bool = False
    last_resort_number: str | None = Field(default=None, max_length=16)
    language: PromptLanguage = Field(
        default=PromptLanguage.MONTENEGRIN, sa_type=enum_type(PromptLanguage, "prompt_language")
    )
    office_ring_seconds: int = Field(default=20, ge=5, le=60)
    primary_ring_seconds: int = Field(default=20, ge=5, le=60)
    backup_ring_seconds: int = Field(default=20, ge=5, le=60)
    supervisors_ring_seconds: int = Field(default=25, ge=5, le=60)
    last_resort_ring_seconds: int = Field(default=25, ge=5, le=60)


class Hotline(HotlineBase, _OfOrganisation, table=True):
    __tablename__ = "hotline"

    twilio_number: str = Field(max_length=16, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class _HotlineChecks(SQLModel):
    @field_validator("name", check_fields=False)
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value)

    @field_validator("twilio_number", "last_resort_number", check_fields=False)
    @classmethod
    def _number(cls, value: str | None) -> str | None:
        return None if value is None else to_e164(value)

    @field_validator("office_numbers", check_fields=False)
    @classmethod
    def _numbers(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        numbers = [to_e164(v) for v in value]
        if len(set(numbers)) != len(numbers):
            raise ValueError("lists a number twice")
        return numbers

    @field_validator("time_zone", check_fields=False)
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_time_zone(value)

    @field_validator("holiday_country", check_fields=False)
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return None if value is None else check_country_code(value)

    @field_validator("office_hours", check_fields=False)
    @classmethod
    def _hours(cls, value: dict[str, list[str]] | None) -> dict[str, list[str]] | None:
        return None if value is None else check_office_hours(value)

    @field_validator("holiday_categories", check_fields=False)
    @classmethod
    def _categories(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        allowed = {"public", "orthodox", "catholic", "islamic", "hebrew", "workday"}
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise ValueError(f"unknown categories; use {', '.join(sorted(allowed))}")
        return sorted(set(value))


class HotlineCreate(_HotlineChecks, HotlineBase):
    model_config = STRICT_BODY  # type: ignore[assignment]

    time_zone: str | None = Field(default=None, max_length=64)  # type: ignore[assignment]
    holiday_country: str | None = Field(default=None, max_length=2)  # type: ignore[assignment]


class HotlineUpdate(_HotlineChecks):
    model_config = STRICT_BODY  # type: ignore[assignment]

    name: str | None = Field(default=None, min_length=2, max_length=120)
    twilio_number: str | None = Field(default=None, max_length=32)
    time_zone: str | None = Field(default=None, max_length=64)
    holiday_country: str | None = Field(default=None, max_length=2)
    holiday_categories: list[str] | None = None
    office_hours: dict[str, list[str]] | None = None
    office_numbers: list[str] | None = Field(default=None, max_length=10)
    on_call_24h: bool | None = None
    last_resort_number: str | None = Field(default=None, max_length=32)
    language: PromptLanguage | None = None
    office_ring_seconds: int | None = Field(default=None, ge=5, le=60)
    primary_ring_seconds: int | None = Field(default=None, ge=5, le=60)
    backup_ring_seconds: int | None = Field(default=None, ge=5, le=60)
    supervisors_ring_seconds: int | None = Field(default=None, ge=5, le=60)
    last_resort_ring_seconds: int | None = Field(default=None, ge=5, le=60)


class HotlinePublic(HotlineBase):
    id: uuid.UUID
    organisation_id: uuid.UUID
    created_at: datetime
    updated_at: datetime


class HotlineClosure(_HotlineSetting, table=True):
    """A day the office is closed beyond public holidays: calls go to the duty ladder."""

    __tablename__ = "hotline_closure"
    __table_args__ = (sa.UniqueConstraint("hotline_id", "day"),)

    day: date
    reason: str = Field(max_length=200)


class ClosureCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    day: date
    reason: str = Field(min_length=2, max_length=200)


class ClosurePublic(SQLModel):
    id: uuid.UUID
    day: date
    reason: str


# --- duty phones and rota --------------------------------------------------------------------


class DutyPhone(_OfOrganisation, table=True):
    """A counselor's mobile that the ladder may ring, once its owner proved they hold it."""

    __tablename__ = "duty_phone"

    user_id: uuid.UUID = Field(foreign_key="user_account.id", unique=True)
    number: str = Field(max_length=16)
    verified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    code_hash: str | None = Field(default=None, max_length=64)
    code_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    code_attempts: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)


class DutyPhoneSet(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    number: str = Field(max_length=32)

    @field_validator("number")
    @classmethod
    def _mobile(cls, value: str) -> str:
        return to_e164(value, mobile_only=True)


class DutyPhoneVerify(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    code: str = Field(min_length=6, max_length=6, regex=r"^[0-9]{6}$")


class DutyPhonePublic(SQLModel):
    user_id: uuid.UUID
    display_name: str
    number: str
    verified: bool


class Shift(_HotlineSetting, table=True):
    """A stretch of duty on one hotline, with a primary and (ideally) a backup."""

    __tablename__ = "duty_shift"
    __table_args__ = (
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.Index("ix_duty_shift_hotline_id_starts_at", "hotline_id", "starts_at"),
    )

    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    primary_user_id: uuid.UUID = Field(foreign_key="user_account.id")
    backup_user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")


class ShiftCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    primary_user_id: uuid.UUID
    backup_user_id: uuid.UUID | None = None


class ShiftOverride(_Row, table=True):
    """Someone else takes a position for part or all of a shift (cover), or two swap."""

    __tablename__ = "duty_shift_override"
    __table_args__ = (sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    shift_id: uuid.UUID = Field(foreign_key="duty_shift.id", index=True, ondelete="CASCADE")
    position: Position = Field(sa_type=enum_type(Position, "duty_position"))
    user_id: uuid.UUID = Field(foreign_key="user_account.id")
    starts_at: datetime = Field(sa_type=UTCDateTime)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    kind: OverrideKind = Field(sa_type=enum_type(OverrideKind, "override_kind"))
    swap_group: uuid.UUID | None = None
    reason: str = Field(max_length=300)
    made_by_user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)


class OverrideCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    position: Position
    user_id: uuid.UUID
    starts_at: AwareDatetime | None = None  # the shift's start when absent
    ends_at: AwareDatetime | None = None  # the shift's end when absent
    reason: str = Field(min_length=3, max_length=300)


class SwapCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    other_shift_id: uuid.UUID
    position: Position = Position.PRIMARY
    reason: str = Field(min_length=3, max_length=300)


class CalendarFeed(_OfOrganisation, table=True):
    """A private, revocable token URL for a counselor's or a hotline's iCalendar feed."""

    __tablename__ = "duty_calendar_feed"

    hotline_id: uuid.UUID | None = Field(default=None, foreign_key="hotline.id", ondelete="CASCADE")
    user_id: uuid.UUID | None = Field(
        default=None, foreign_key="user_account.id", ondelete="CASCADE"
    )
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --- calls -----------------------------------------------------------------------------------


class Call(_Row, table=True):
    """One inbound SOS call. The caller's number is sealed; lists show only its last two digits."""

    __tablename__ = "hotline_call"
    __table_args__ = (
        sa.Index("ix_hotline_call_hotline_id_started_at", "hotline_id", "started_at"),
    )

    hotline_id: uuid.UUID = Field(foreign_key="hotline.id")
    call_sid: str = Field(max_length=64, unique=True)
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    mode: CallMode = Field(sa_type=enum_type(CallMode, "call_mode"))
    status: CallStatus = Field(sa_type=enum_type(CallStatus, "call_status"))
    # The decision made on the first request, so that every later callback follows it.
    plan: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    accepted_by_user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    accepted_rung: int | None = None
    twilio_status: str | None = Field(default=None, max_length=20)
    caller_key_id: str | None = Field(default=None, max_length=32)
    caller_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    caller_hash: str | None = Field(default=None, max_length=64, index=True)
    caller_last2: str | None = Field(default=None, max_length=2)
    caller_type: CallerType | None = Field(
        default=None, sa_type=enum_type(CallerType, "caller_type")
    )
    urgency: Urgency | None = Field(default=None, sa_type=enum_type(Urgency, "urgency"))
    recording_sid: str | None = Field(default=None, max_length=64)
    recording_key_id: str | None = Field(default=None, max_length=32)
    recording_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    recording_seconds: int | None = None
    personal_data_purged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CallRung(_Row, table=True):
    """One step of a call's escalation ladder and how it ended."""

    __tablename__ = "hotline_call_rung"
    __table_args__ = (sa.UniqueConstraint("call_id", "index"),)

    call_id: uuid.UUID = Field(foreign_key="hotline_call.id", ondelete="CASCADE")
    index: int
    kind: RungKind = Field(sa_type=enum_type(RungKind, "rung_kind"))
    started_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    dial_status: str | None = Field(default=None, max_length=20)
    accepted_by_user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")


class CallbackTask(_OfOrganisation, table=True):
    """A call nobody accepted: someone must call back, if and when it is safe."""

    __tablename__ = "hotline_callback_task"
    __table_args__ = (sa.Index("ix_hotline_callback_task_status_due_at", "status", "due_at"),)

    hotline_id: uuid.UUID = Field(foreign_key="hotline.id")
    call_id: uuid.UUID = Field(foreign_key="hotline_call.id", unique=True)
    short_ref: str = Field(max_length=12, unique=True)
    due_at: datetime = Field(sa_type=UTCDateTime)
    assigned_user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    safe_to_call_back: SafeToCallBack = Field(
        default=SafeToCallBack.UNKNOWN, sa_type=enum_type(SafeToCallBack, "safe_to_call_back")
    )
    status: TaskStatus = Field(
        default=TaskStatus.OPEN, sa_type=enum_type(TaskStatus, "task_status")
    )
    outcome: CallbackOutcome | None = Field(
        default=None, sa_type=enum_type(CallbackOutcome, "callback_outcome")
    )
    created_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by_user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")


class CallUpdate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    caller_type: CallerType | None = None
    urgency: Urgency | None = None


class Reason(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    reason: str = Field(min_length=5, max_length=300)


class TaskUpdate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    safe_to_call_back: SafeToCallBack | None = None
    assigned_user_id: uuid.UUID | None = None


class TaskClose(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    outcome: CallbackOutcome | None = None
