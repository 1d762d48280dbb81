"""The outbox: a message is committed with the change that caused it, then delivered by a job."""

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, enum_type


class Channel(StrEnum):
    SMS = "sms"


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENT = "sent"
    DEAD = "dead"  # gave up after the last attempt


class OutboxMessage(SQLModel, table=True):
    """One message to one recipient. Bodies never carry personal data or a shelter's location."""

    __tablename__ = "outbox_message"
    __table_args__ = (
        sa.Index("ix_outbox_message_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organisation_id: uuid.UUID | None = Field(
        default=None, foreign_key="organisation.id", index=True
    )
    idempotency_key: str = Field(max_length=120, unique=True)
    channel: Channel = Field(sa_type=enum_type(Channel, "outbox_channel"))
    recipient: str = Field(max_length=320)  # staff contact: an E.164 number for SMS
    sender: str | None = Field(default=None, max_length=32)
    body: str = Field(max_length=1600)
    state: DeliveryState = Field(
        default=DeliveryState.PENDING, sa_type=enum_type(DeliveryState, "delivery_state")
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=200)
    provider_ref: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
