"""Delivery: claim due messages (a lease, under `FOR UPDATE SKIP LOCKED` on PostgreSQL), send
them outside any transaction, record each result in another; retries with backoff, dead letters
and their alerts, Twilio's SMS status callbacks, and what supervisors see of it all."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlmodel import Session, col, select, update

from core import audit
from core.audit import Actor
from core.crypto import CryptoError, FieldCipher
from core.db import UnitOfWork
from core.errors import Conflict
from core.scoped import get_owned
from notifications.channels import DeliveryError, Outgoing, Sent, Transports
from notifications.errors import MESSAGE_NOT_FOUND, NOT_DEAD
from notifications.models import Channel, DeliveryState, OutboxMessage, OutboxPublic
from notifications.service.contacts import SECRET_CONTEXT
from notifications.service.enqueueing import alert_messages, enqueue_many

log = logging.getLogger("sigurna.notifications")

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=30)
CLAIM_FOR = timedelta(minutes=2)
DEAD_LETTER_TOPIC = "notifications.dead_letter"


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 30 min."""
    return min(BACKOFF_BASE * (1 << max(0, attempts - 1)), BACKOFF_CAP)


def batch_size(*, claim_for: timedelta, workers: int, slowest_send: float, cap: int = 100) -> int:
    """How many messages one run may claim so that it sends them all before its claim lapses
    (otherwise another process would take the unsent ones and send them a second time)."""
    rounds = int(claim_for.total_seconds() * 0.8 // max(slowest_send, 0.001))
    return max(1, min(cap, workers * max(1, rounds)))


def _claim(
    session: Session, *, now: datetime, limit: int, claim_for: timedelta
) -> list[OutboxMessage]:
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
    if rows:
        session.exec(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_([row.id for row in rows]))
            .values(claimed_until=now + claim_for)
        )
    return rows


def _outgoing(cipher: FieldCipher, message: OutboxMessage) -> Outgoing | DeliveryError:
    secret = None
    if message.secret_key_id and message.secret_sealed:
        try:
            secret = cipher.open_pair(
                message.secret_key_id, message.secret_sealed, context=SECRET_CONTEXT
            )
        except CryptoError:
            return DeliveryError("the signing secret cannot be opened", retry=False)
    return Outgoing(
        idempotency_key=message.idempotency_key,
        recipient=message.recipient,
        body=message.body,
        sender=message.sender,
        subject=message.subject,
        secret=secret,
    )


def _attempt(transports: Transports, channel: Channel, message: Outgoing) -> Sent | DeliveryError:
    transport = transports.get(channel)
    if transport is None:
        return DeliveryError(f"no transport for {channel}", retry=False)
    try:
        return transport.send(message)
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # a transport's bug must not stop the others
        return DeliveryError(f"unexpected {type(exc).__name__}")


def deliver_due(
    unit_of_work: UnitOfWork,
    *,
    now: datetime,
    transports: Transports,
    cipher: FieldCipher,
    limit: int = 100,
    workers: int = 1,
    claim_for: timedelta = CLAIM_FOR,
    clock: Callable[[], datetime] | None = None,
) -> int:
    """Claim due messages, send them (on `workers` threads), record each result; how many sent.

    The database is used on the calling thread only; the threads only talk to providers.
    `clock` (default: `now` throughout) times each result as it comes in.
    """
    with unit_of_work() as session:
        claimed = [
            (m.id, m.channel, _outgoing(cipher, m))
            for m in _claim(session, now=now, limit=limit, claim_for=claim_for)
        ]
    if not claimed:
        return 0
    sent = 0

    def record(message_id: uuid.UUID, result: Sent | DeliveryError) -> None:
        nonlocal sent
        at = clock() if clock is not None else now
        with unit_of_work() as session:
            if isinstance(result, DeliveryError):
                _failed(session, message_id=message_id, now=at, error=result)
            elif _sent(session, message_id=message_id, now=at, result=result):
                sent += 1

    ready = [(i, c, m) for i, c, m in claimed if isinstance(m, Outgoing)]
    for message_id, _, broken in claimed:
        if isinstance(broken, DeliveryError):
            record(message_id, broken)
    # A message not yet sent when most of the claim has gone is left to the claim's lapse (and
    # the next run): sent now, it could meet a second sender that took it meanwhile.
    stop_at = time.monotonic() + claim_for.total_seconds() * 0.8

    def attempt(channel: Channel, outgoing: Outgoing) -> Sent | DeliveryError | None:
        if time.monotonic() > stop_at:
            return None
        return _attempt(transports, channel, outgoing)

    if workers <= 1 or len(ready) <= 1:
        for message_id, channel, outgoing in ready:
            result = attempt(channel, outgoing)
            if result is not None:
                record(message_id, result)
        return sent
    with ThreadPoolExecutor(max_workers=min(workers, len(ready))) as pool:
        futures = {
            pool.submit(attempt, channel, outgoing): message_id
            for message_id, channel, outgoing in ready
        }
        # Recorded as each completes: a provider's reference (and its status callbacks) should
        # find the message as soon as possible.
        for future in as_completed(futures):
            result = future.result()
            if result is not None:
                record(futures[future], result)
    return sent


def _sent(session: Session, *, message_id: uuid.UUID, now: datetime, result: Sent) -> bool:
    """Record a delivery; a message already recorded (a repeat after a crash) stays as it was."""
    done = session.exec(
        update(OutboxMessage)
        .where(
            col(OutboxMessage.id) == message_id,
            col(OutboxMessage.state) == DeliveryState.PENDING,
        )
        .values(
            state=DeliveryState.SENT,
            sent_at=now,
            provider_ref=result.provider_ref,
            attempts=OutboxMessage.attempts + 1,
            claimed_until=None,
            last_error=None,
        )
    )
    return bool(done.rowcount)


def _locked(session: Session, message_id: uuid.UUID) -> OutboxMessage | None:
    return session.exec(
        select(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _failed(
    session: Session, *, message_id: uuid.UUID, now: datetime, error: DeliveryError
) -> None:
    message = _locked(session, message_id)
    if message is None or message.state is not DeliveryState.PENDING:
        return
    message.attempts += 1
    message.claimed_until = None
    message.last_error = error.reason
    if not error.retry or message.attempts >= MAX_ATTEMPTS:
        _dead(session, message, now=now)
    else:
        message.next_attempt_at = now + backoff(message.attempts)
    session.add(message)
    session.flush()


def _dead(session: Session, message: OutboxMessage, *, now: datetime) -> None:
    """Give up on a message, and tell its organisation's supervisors (unless it is an alert)."""
    message.state = DeliveryState.DEAD
    message.dead_at = now
    log.error(
        "notification dead-lettered",
        extra={
            "subject_type": "outbox_message",
            "subject_id": str(message.id),
            "event": message.topic,
        },
    )
    if not message.alert_on_dead or message.organisation_id is None:
        return
    text = (
        f"Sigurna: a {message.channel} notification ({message.topic}) could not be delivered "
        f"after {message.attempts} attempt(s). Delivery status: log in to Sigurna, Notifications "
        f"(message {message.id})."
    )
    payload = '{"type":"notification.dead_lettered","message_id":"' + str(message.id) + '"}'
    enqueue_many(
        session,
        now=now,
        messages=alert_messages(
            session,
            organisation_id=message.organisation_id,
            key=f"dead:{message.id}",
            topic=DEAD_LETTER_TOPIC,
            subject="Sigurna: a notification could not be delivered",
            text=text,
            payload=payload,
        ),
    )


# Twilio's final statuses that mean the SMS did not arrive.
_SMS_FAILED = frozenset({"failed", "undelivered"})
_SMS_ORDER = {"accepted": 0, "queued": 1, "sending": 2, "sent": 3, "delivered": 4, "read": 5}


def sms_status(
    session: Session, *, now: datetime, message_sid: str, status: str, error_code: str | None
) -> bool:
    """Apply a Twilio status callback; a failed SMS goes back to the queue. False: unknown sid."""
    message = session.exec(
        select(OutboxMessage).where(OutboxMessage.provider_ref == message_sid).with_for_update()
    ).first()
    if message is None:
        return False
    status = status.lower()[:32]
    if status in _SMS_FAILED:
        if message.state is DeliveryState.SENT:
            message.provider_status = status
            message.last_error = f"twilio {status} {error_code or ''}".strip()[:200]
            message.provider_ref = None  # callbacks about this attempt change nothing more
            message.sent_at = None
            if message.attempts >= MAX_ATTEMPTS:
                _dead(session, message, now=now)
            else:
                message.state = DeliveryState.PENDING
                message.next_attempt_at = now + backoff(message.attempts)
    elif _SMS_ORDER.get(status, -1) > _SMS_ORDER.get(message.provider_status or "", -1):
        message.provider_status = status  # out-of-order callbacks never move it backwards
    session.add(message)
    session.flush()
    return True


def list_messages(
    session: Session,
    *,
    organisation_id: uuid.UUID,
    state: DeliveryState | None,
    limit: int,
) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.organisation_id == organisation_id)
    if state is not None:
        query = query.where(OutboxMessage.state == state)
    query = query.order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id)).limit(limit)
    return list(session.exec(query).all())


# Messages whose body is a secret of its recipient (a verification code): never shown.
SECRET_TOPICS = frozenset({"hotline.duty_phone_code"})


def public_view(message: OutboxMessage) -> OutboxPublic:
    """A message as its sender's supervisors see it: enough to tell which contact failed, not
    another organisation's webhook URL (a credential of sorts) or a phone number in full."""
    recipient = message.recipient
    if message.channel is Channel.WEBHOOK:
        parts = urlsplit(recipient)
        recipient = f"{parts.scheme}://{parts.hostname}/…"
    elif message.channel is Channel.SMS:
        recipient = "…" + recipient[-3:]
    body = "(not shown)" if message.topic in SECRET_TOPICS else message.body
    return OutboxPublic.model_validate(message, from_attributes=True).model_copy(
        update={"recipient": recipient, "body": body}
    )


def retry_message(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    message_id: uuid.UUID,
    actor: Actor,
) -> OutboxMessage:
    """Put a dead message back in the queue, for a fresh series of attempts."""
    message = get_owned(
        session,
        OutboxMessage,
        message_id,
        organisation_id=organisation_id,
        lock=True,
        message=MESSAGE_NOT_FOUND,
    )
    if message.state is not DeliveryState.DEAD:
        raise Conflict(NOT_DEAD)
    message.state = DeliveryState.PENDING
    message.attempts = 0
    message.next_attempt_at = now
    message.dead_at = None
    session.add(message)
    audit.record(
        session, now, actor, "notifications.retried", "outbox_message", message.id, organisation_id
    )
    session.flush()
    return message
