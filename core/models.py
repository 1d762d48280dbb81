"""Organisations, staff accounts, login sessions and API tokens."""

import uuid
import zoneinfo
from datetime import datetime
from enum import StrEnum
from functools import lru_cache

import holidays
import sqlalchemy as sa
from pydantic import AwareDatetime, ConfigDict, EmailStr, field_validator
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, enum_type


class OrganisationKind(StrEnum):
    NGO = "ngo"
    CSW = "csw"
    PARTNER = "partner"


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    COUNSELOR = "counselor"
    SHELTER_STAFF = "shelter_staff"
    CSW_OFFICER = "csw_officer"


# Which roles an organisation of each kind can give its people.
ROLES_BY_KIND: dict[OrganisationKind, frozenset[Role]] = {
    OrganisationKind.NGO: frozenset(
        {Role.ADMIN, Role.SUPERVISOR, Role.COUNSELOR, Role.SHELTER_STAFF}
    ),
    OrganisationKind.CSW: frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CSW_OFFICER}),
    OrganisationKind.PARTNER: frozenset({Role.ADMIN, Role.SUPERVISOR}),
}

# Machine clients act for a case system, never as account administrators.
TOKEN_ROLES = frozenset(Role) - {Role.ADMIN}


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    return frozenset(holidays.list_supported_countries())


def check_time_zone(value: str) -> str:
    """An IANA zone name such as Europe/Podgorica."""
    if value not in zoneinfo.available_timezones():
        raise ValueError("must be an IANA time zone such as Europe/Podgorica")
    return value


def check_country_code(value: str) -> str:
    """An ISO 3166 alpha-2 code with a public-holiday calendar (ME, RS, BA, MK, AL, XK, ...)."""
    code = value.strip().upper()
    if code not in _supported_countries():
        raise ValueError("must be a two-letter country code with a holiday calendar, e.g. ME")
    return code


# Request bodies refuse unknown fields: a misspelt field is an error, not silently ignored.
STRICT_BODY = ConfigDict(extra="forbid")


def check_name(value: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise ValueError("must not be blank")
    return name


# --- organisations -------------------------------------------------------------------------


class OrganisationBase(SQLModel):
    name: str = Field(min_length=2, max_length=200)
    kind: OrganisationKind = Field(sa_type=enum_type(OrganisationKind, "organisation_kind"))
    country_code: str = Field(min_length=2, max_length=2)
    time_zone: str = Field(default="Europe/Podgorica", max_length=64)


class Organisation(OrganisationBase, table=True):
    __tablename__ = "organisation"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


class OrganisationCreate(OrganisationBase):
    model_config = STRICT_BODY  # type: ignore[assignment]

    _name = field_validator("name")(check_name)
    _zone = field_validator("time_zone")(check_time_zone)
    _country = field_validator("country_code", mode="before")(check_country_code)


class OrganisationUpdate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    name: str | None = Field(default=None, min_length=2, max_length=200)
    country_code: str | None = Field(default=None, min_length=2, max_length=2)
    time_zone: str | None = Field(default=None, max_length=64)

    _name = field_validator("name")(check_name)
    _zone = field_validator("time_zone")(check_time_zone)
    _country = field_validator("country_code", mode="before")(check_country_code)


class OrganisationPublic(OrganisationBase):
    id: uuid.UUID


# --- users ---------------------------------------------------------------------------------


class UserBase(SQLModel):
    display_name: str = Field(min_length=1, max_length=120)
    is_volunteer: bool = False


class User(UserBase, table=True):
    __tablename__ = "user_account"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=255)
    must_change_password: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
    password_changed_at: datetime = Field(sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The console's language for this person (console.i18n codes); None: the browser's.
    locale: str | None = Field(default=None, max_length=16)


class UserRole(SQLModel, table=True):
    __tablename__ = "user_role"

    user_id: uuid.UUID = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    role: Role = Field(sa_type=enum_type(Role, "role"), primary_key=True)


class UserCreate(UserBase):
    model_config = STRICT_BODY  # type: ignore[assignment]

    email: EmailStr
    roles: list[Role] = Field(min_length=1, max_length=len(Role))
    password: str | None = Field(
        default=None,
        max_length=256,
        description="Leave empty to have a one-time password generated and returned once.",
    )

    _name = field_validator("display_name")(check_name)


class UserUpdate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    display_name: str | None = Field(default=None, min_length=1, max_length=120)
    is_volunteer: bool | None = None
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=len(Role))

    _name = field_validator("display_name")(check_name)


class UserPublic(UserBase):
    id: uuid.UUID
    organisation_id: uuid.UUID
    email: str
    roles: list[Role]
    must_change_password: bool
    disabled: bool
    locked: bool
    created_at: datetime


class UserCreated(UserPublic):
    one_time_password: str | None = Field(
        default=None, description="Shown once when the service generated the password."
    )


class LoginThrottle(SQLModel, table=True):
    """Failed logins from one source (to one account, or to any): how many in the current
    window, and until when that source must wait before its next try."""

    __tablename__ = "login_throttle"

    key: str = Field(primary_key=True, max_length=120)
    failures: int = 0
    window_started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    blocked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LoginFailure(SQLModel, table=True):
    """One failed password check, kept while it can count towards a lockout."""

    __tablename__ = "login_failure"
    __table_args__ = (sa.Index("ix_login_failure_user_id_at", "user_id", "at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime)


# --- login sessions ------------------------------------------------------------------------


class AuthSession(SQLModel, table=True):
    """A server-side login session; the browser holds only the random token."""

    __tablename__ = "auth_session"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    user_id: uuid.UUID = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_reason: str | None = Field(default=None, max_length=40)
    # When this session passed its second factor after the password (None: not yet).
    second_factor_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    second_factor_failures: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class SecondFactor(SQLModel, table=True):
    """A user's TOTP second factor: the secret (sealed), when it was confirmed, the last time
    step accepted (a code is never accepted twice) and the digests of the unused recovery codes."""

    __tablename__ = "user_second_factor"

    user_id: uuid.UUID = Field(foreign_key="user_account.id", primary_key=True, ondelete="CASCADE")
    secret_key_id: str = Field(max_length=32)
    secret_sealed: bytes = Field(sa_type=sa.LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_step: int | None = Field(default=None, sa_type=sa.BigInteger)
    recovery_digests: list[str] = Field(default_factory=list, sa_type=sa.JSON)


# --- API tokens ----------------------------------------------------------------------------


class ApiTokenBase(SQLModel):
    name: str = Field(min_length=2, max_length=120)
    role: Role = Field(sa_type=enum_type(Role, "role"))
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(ApiTokenBase, table=True):
    __tablename__ = "api_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    created_by_user_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiTokenCreate(ApiTokenBase):
    model_config = STRICT_BODY  # type: ignore[assignment]

    expires_at: AwareDatetime | None = None

    _name = field_validator("name")(check_name)


class ApiTokenPublic(ApiTokenBase):
    id: uuid.UUID
    organisation_id: uuid.UUID
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiTokenCreated(ApiTokenPublic):
    token: str = Field(description="Shown once; only its hash is stored.")


# --- login ---------------------------------------------------------------------------------


class LoginRequest(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class PasswordChange(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class Me(SQLModel):
    user: UserPublic | None
    organisation: OrganisationPublic
    roles: list[Role]
    via: str
    session_expires_at: datetime | None
