"""The outbox and the contacts it delivers to.

A message is committed with the change that caused it, then delivered by a job. Bodies never
carry personal data or a shelter's location: an opaque reference, a deadline, where to log in.
"""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from pydantic import field_validator
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, enum_type
from core.models import STRICT_BODY


class Channel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENT = "sent"
    DEAD = "dead"  # gave up after the last attempt (or a refusal that will not change)


class OutboxMessage(SQLModel, table=True):
    """One message to one recipient, delivered at least once under one idempotency key."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        sa.Index("ix_outbox_message_state_next_attempt_at", "state", "next_attempt_at"),
        sa.Index("ix_outbox_message_organisation_id_created_at", "organisation_id", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    # The organisation on whose behalf it is sent: its supervisors see how delivery went.
    organisation_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id")
    idempotency_key: str = Field(max_length=160, unique=True)
    topic: str = Field(default="message", max_length=64)
    channel: Channel = Field(sa_type=enum_type(Channel, "outbox_channel"))
    # An E.164 number (SMS), an e-mail address or an https URL (webhook): staff and institutions'
    # contacts, never a victim's.
    recipient: str = Field(max_length=2048)
    sender: str | None = Field(default=None, max_length=32)
    subject: str | None = Field(default=None, max_length=200)
    body: str = Field(sa_type=sa.Text)
    # A webhook's signing secret, sealed; copied from its contact when the message is made.
    secret_key_id: str | None = Field(default=None, max_length=32)
    secret_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    # A dead message alerts its organisation's supervisors, unless it is such an alert itself.
    alert_on_dead: bool = True
    state: DeliveryState = Field(
        default=DeliveryState.PENDING, sa_type=enum_type(DeliveryState, "delivery_state")
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=200)
    provider_ref: str | None = Field(default=None, max_length=64, index=True)
    provider_status: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    dead_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutboxPublic(SQLModel):
    """What a supervisor sees of a message: where it went and how, never a secret."""

    id: uuid.UUID
    topic: str
    channel: Channel
    recipient: str
    subject: str | None
    body: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    provider_status: str | None
    created_at: datetime
    sent_at: datetime | None
    dead_at: datetime | None


# --- contacts ------------------------------------------------------------------------------


class Purpose(StrEnum):
    REFERRALS = "referrals"  # referrals and their reminders (a CSW's intake desk)
    CHILD_PROTECTION = "child_protection"  # referrals of children (a CSW's child-protection team)
    ESCALATION = "escalation"  # overdue decisions and failed deliveries (the head, the duty desk)


class NotificationContact(SQLModel, table=True):
    """Where an organisation wants its notifications: e-mail, SMS or a signed webhook."""

    __tablename__ = "notification_contact"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    channel: Channel = Field(sa_type=enum_type(Channel, "contact_channel"))
    address: str = Field(max_length=2048)
    label: str = Field(max_length=80)
    purposes: list[Purpose] = Field(default_factory=list, sa_type=sa.JSON)
    enabled: bool = True
    secret_key_id: str | None = Field(default=None, max_length=32)
    secret_sealed: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


def _unique_purposes(value: list[Purpose] | None) -> list[Purpose] | None:
    if value is None:
        return None
    if not value:
        raise ValueError("name at least one purpose: referrals, child_protection, escalation")
    return sorted(set(value))


class ContactCreate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    channel: Channel
    address: str = Field(min_length=3, max_length=2048)
    label: str = Field(min_length=1, max_length=80)
    purposes: list[Purpose] = Field(min_length=1, max_length=3)
    enabled: bool = True

    _purposes = field_validator("purposes")(_unique_purposes)


class ContactUpdate(SQLModel):
    model_config = STRICT_BODY  # type: ignore[assignment]

    label: str | None = Field(default=None, min_length=1, max_length=80)
    purposes: list[Purpose] | None = Field(default=None, min_length=1, max_length=3)
    enabled: bool | None = None

    _purposes = field_validator("purposes")(_unique_purposes)


class ContactPublic(SQLModel):
    id: uuid.UUID
    channel: Channel
    address: str
    label: str
    purposes: list[Purpose]
    enabled: bool
    created_at: datetime
    updated_at: datetime


class ContactCreated(ContactPublic):
    # A webhook's signing secret, shown this once (Standard Webhooks: "whsec_" + base64).
    signing_secret: str | None = None
