"""Enqueue messages in the caller's transaction; deliver them with claims, retries and backoff."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session, col, select, update

from core.db import UnitOfWork
from notifications.channels import DeliveryError, SmsChannel
from notifications.models import Channel, DeliveryState, OutboxMessage

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=30)
CLAIM_FOR = timedelta(minutes=2)


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 30 min."""
    return min(BACKOFF_BASE * (1 << max(0, attempts - 1)), BACKOFF_CAP)


def enqueue_sms(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID | None,
    to: str,
    sender: str | None,
    body: str,
    idempotency_key: str,
) -> OutboxMessage:
    """Add an SMS to the outbox in the current transaction; the same key is enqueued once."""
    existing = session.exec(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    ).first()
    if existing is not None:
        return existing
    message = OutboxMessage(
        organisation_id=organisation_id,
        idempotency_key=idempotency_key,
        channel=Channel.SMS,
        recipient=to,
        sender=sender,
        body=body,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(message)
    session.flush()
    return message


def _claim(session: Session, *, now: datetime, limit: int) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.state == DeliveryState.PENDING,
            col(OutboxMessage.next_attempt_at) <= now,
            (col(OutboxMessage.claimed_until).is_(None))
            | (col(OutboxMessage.claimed_until) <= now),
        )
        .order_by(col(OutboxMessage.next_attempt_at))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = list(session.exec(query).all())
    for row in rows:
        row.claimed_until = now + CLAIM_FOR
        session.add(row)
    session.flush()
    return rows


def deliver_due(
    unit_of_work: UnitOfWork,
    *,
    now: datetime,
    sms: SmsChannel,
    limit: int = 100,
) -> int:
    """Claim due messages in one transaction, send them, record each result in its own."""
    with unit_of_work() as session:
        claimed = [
            (m.id, m.recipient, m.sender or "", m.body, m.idempotency_key)
            for m in _claim(session, now=now, limit=limit)
        ]
    sent = 0
    for message_id, to, sender, body, key in claimed:
        try:
            result = sms.send(to=to, sender=sender, body=body, idempotency_key=key)
        except DeliveryError as exc:
            with unit_of_work() as session:
                _failed(session, message_id=message_id, now=now, error=exc)
            continue
        with unit_of_work() as session:
            session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == message_id)
                .values(
                    state=DeliveryState.SENT,
                    sent_at=now,
                    provider_ref=result.provider_ref,
                    attempts=OutboxMessage.attempts + 1,
                    claimed_until=None,
                    last_error=None,
                )
            )
        sent += 1
    return sent


def _failed(
    session: Session, *, message_id: uuid.UUID, now: datetime, error: DeliveryError
) -> None:
    message = session.get(OutboxMessage, message_id)
    if message is None:
        return
    message.attempts += 1
    message.claimed_until = None
    message.last_error = error.reason
    if not error.retry or message.attempts >= MAX_ATTEMPTS:
        message.state = DeliveryState.DEAD
    else:
        message.next_attempt_at = now + backoff(message.attempts)
    session.add(message)
