"""The outbox: enqueue in the caller's transaction; deliver with claims, retries and backoff.

Delivery is at least once, recorded exactly once: a message is claimed (a lease, under
`FOR UPDATE SKIP LOCKED` on PostgreSQL) in one transaction, sent outside any transaction, and
its result recorded in another. A process killed between sending and recording leaves the lease
to expire; the message is sent again under the same idempotency key with the same body, and the
first result recorded is the one kept.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from base64 import b64encode
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select, update

from core import audit
from core.audit import Actor
from core.config import Settings
from core.crypto import CryptoError, FieldCipher, Sealed
from core.db import UnitOfWork
from core.errors import Conflict, InvalidInput, NotFound
from core.models import Role, User, UserRole
from core.phones import to_e164
from notifications.channels import DeliveryError, Outgoing, Sent, Transports
from notifications.models import (
    Channel,
    ContactCreate,
    ContactUpdate,
    DeliveryState,
    NotificationContact,
    OutboxMessage,
    OutboxPublic,
    Purpose,
)

log = logging.getLogger("sigurna.notifications")

MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=30)
CLAIM_FOR = timedelta(minutes=2)
SECRET_CONTEXT = "notifications.webhook_secret"  # noqa: S105 (a label, not a secret)
DEAD_LETTER_TOPIC = "notifications.dead_letter"


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at 30 min."""
    return min(BACKOFF_BASE * (1 << max(0, attempts - 1)), BACKOFF_CAP)


# --- enqueueing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewMessage:
    """A message to add to the outbox; its key makes adding it twice add it once."""

    idempotency_key: str
    channel: Channel
    recipient: str
    body: str
    topic: str
    organisation_id: uuid.UUID | None
    subject: str | None = None
    sender: str | None = None
    secret_key_id: str | None = None
    secret_sealed: bytes | None = None
    alert_on_dead: bool = True


def enqueue_many(session: Session, *, now: datetime, messages: Sequence[NewMessage]) -> int:
    """Add messages in the current transaction; keys already present are skipped. How many new."""
    if not messages:
        return 0
    rows = [
        {
            "id": uuid.uuid4(),
            "organisation_id": m.organisation_id,
            "idempotency_key": m.idempotency_key,
            "topic": m.topic,
            "channel": m.channel,
            "recipient": m.recipient,
            "sender": m.sender,
            "subject": m.subject,
            "body": m.body,
            "secret_key_id": m.secret_key_id,
            "secret_sealed": m.secret_sealed,
            "alert_on_dead": m.alert_on_dead,
            "state": DeliveryState.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for m in messages
    ]
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(OutboxMessage)
    # render_nulls: rows of every channel share one shape, so the insert stays one batch (the
    # default leaves out NULL keys and splits it by shape; no outbox column has a server default).
    statement = insert.on_conflict_do_nothing(index_elements=["idempotency_key"]).execution_options(
        render_nulls=True
    )
    session.execute(statement, rows)
    return _count_new(session, rows)


def _count_new(session: Session, rows: list[dict[str, Any]]) -> int:
    # executemany reports no reliable row count for skipped conflicts: count the ids we made.
    ids = [row["id"] for row in rows]
    found = session.exec(
        select(sa.func.count()).select_from(OutboxMessage).where(col(OutboxMessage.id).in_(ids))
    ).one()
    return int(found)


def enqueue(session: Session, *, now: datetime, message: NewMessage) -> OutboxMessage:
    """Add one message (or find the one already added under its key)."""
    enqueue_many(session, now=now, messages=[message])
    return session.exec(
        select(OutboxMessage).where(OutboxMessage.idempotency_key == message.idempotency_key)
    ).one()


def enqueue_sms(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID | None,
    to: str,
    sender: str | None,
    body: str,
    idempotency_key: str,
    topic: str = "sms",
) -> OutboxMessage:
    """Add an SMS to the outbox in the current transaction; the same key is enqueued once."""
    return enqueue(
        session,
        now=now,
        message=NewMessage(
            idempotency_key=idempotency_key,
            channel=Channel.SMS,
            recipient=to,
            sender=sender,
            body=body,
            topic=topic,
            organisation_id=organisation_id,
        ),
    )


@dataclass(frozen=True)
class Recipient:
    """Someone a message goes to: a contact, or a supervisor's account e-mail."""

    ref: str  # stable and short, for idempotency keys: the contact's id, or "u" + the user's
    channel: Channel
    address: str
    secret_key_id: str | None = None
    secret_sealed: bytes | None = None


def contact_recipients(contacts: Iterable[NotificationContact]) -> list[Recipient]:
    return [
        Recipient(str(c.id), c.channel, c.address, c.secret_key_id, c.secret_sealed)
        for c in contacts
    ]


def messages_for(
    recipients: Iterable[Recipient],
    *,
    key: str,
    topic: str,
    organisation_id: uuid.UUID | None,
    subject: str,
    text: str,
    payload: str,
    alert_on_dead: bool = True,
) -> list[NewMessage]:
    """One message per recipient: `text` by SMS and e-mail, the JSON `payload` to webhooks."""
    return [
        NewMessage(
            idempotency_key=f"{key}:{r.ref}",
            channel=r.channel,
            recipient=r.address,
            body=payload if r.channel is Channel.WEBHOOK else text,
            subject=subject if r.channel is Channel.EMAIL else None,
            topic=topic,
            organisation_id=organisation_id,
            secret_key_id=r.secret_key_id,
            secret_sealed=r.secret_sealed,
            alert_on_dead=alert_on_dead,
        )
        for r in recipients
    ]


def contacts_for(
    session: Session, *, organisation_ids: Iterable[uuid.UUID], purpose: Purpose
) -> dict[uuid.UUID, list[NotificationContact]]:
    """The enabled contacts of each organisation for a purpose."""
    ids = list(set(organisation_ids))
    found: dict[uuid.UUID, list[NotificationContact]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = session.exec(
        select(NotificationContact)
        .where(col(NotificationContact.organisation_id).in_(ids), col(NotificationContact.enabled))
        .order_by(col(NotificationContact.created_at), col(NotificationContact.id))
    ).all()
    for row in rows:
        if purpose in row.purposes:
            found[row.organisation_id].append(row)
    return found


def alert_recipients(session: Session, *, organisation_id: uuid.UUID) -> list[Recipient]:
    """Who hears an organisation's alerts: its escalation contacts and its active supervisors."""
    contacts = contacts_for(session, organisation_ids=[organisation_id], purpose=Purpose.ESCALATION)
    found = contact_recipients(contacts[organisation_id])
    addresses = {r.address for r in found}
    supervisors = session.exec(
        select(User.id, User.email)
        .join(UserRole, col(UserRole.user_id) == col(User.id))
        .where(
            User.organisation_id == organisation_id,
            UserRole.role == Role.SUPERVISOR,
            col(User.disabled_at).is_(None),
        )
        .order_by(col(User.email))
    ).all()
    found += [
        Recipient(f"u{user_id.hex}", Channel.EMAIL, email)
        for user_id, email in supervisors
        if email not in addresses
    ]
    return found


def alert_messages(
    session: Session,
    *,
    organisation_id: uuid.UUID,
    key: str,
    topic: str,
    subject: str,
    text: str,
    payload: str,
) -> list[NewMessage]:
    """An alert for an organisation. Alerts that fail are not alerted about again: no loops."""
    return messages_for(
        alert_recipients(session, organisation_id=organisation_id),
        key=key,
        topic=topic,
        organisation_id=organisation_id,
        subject=subject,
        text=text,
        payload=payload,
        alert_on_dead=False,
    )


# --- delivery --------------------------------------------------------------------------------


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
            secret = cipher.open(
                Sealed(message.secret_key_id, message.secret_sealed), context=SECRET_CONTEXT
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
    message = _locked(session, message_id)
    if message is None or message.organisation_id != organisation_id:
        raise NotFound("No such notification.")
    if message.state is not DeliveryState.DEAD:
        raise Conflict("Only a dead-lettered notification can be retried.")
    message.state = DeliveryState.PENDING
    message.attempts = 0
    message.next_attempt_at = now
    message.dead_at = None
    session.add(message)
    audit.record(
        session,
        now=now,
        actor=actor,
        action="notifications.retried",
        subject_type="outbox_message",
        subject_id=message.id,
        organisation_id=organisation_id,
    )
    session.flush()
    return message


# --- contacts --------------------------------------------------------------------------------


def new_signing_secret() -> str:
    """A Standard Webhooks secret: "whsec_" and 32 random bytes in base64."""
    return "whsec_" + b64encode(secrets.token_bytes(32)).decode()


def check_address(channel: Channel, raw: str, *, settings: Settings) -> str:
    """The address in its canonical form, or InvalidInput saying what is wrong."""
    value = raw.strip()
    if channel is Channel.SMS:
        try:
            return to_e164(value)
        except ValueError as exc:
            raise InvalidInput(f"address: {exc}") from exc
    if channel is Channel.EMAIL:
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise InvalidInput("address: is not a valid e-mail address") from exc
    return check_webhook_url(value, allow_private=settings.webhook_allow_private_hosts)


def check_webhook_url(value: str, *, allow_private: bool) -> str:
    """An https URL to a public host (http and private hosts only where settings allow)."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("address: a webhook must be an https:// URL")
    if parts.username or parts.password:
        raise InvalidInput("address: a webhook URL must not carry credentials")
    if allow_private:
        return value
    if parts.scheme != "https":
        raise InvalidInput("address: a webhook must be an https:// URL")
    host = parts.hostname.lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise InvalidInput("address: a webhook must point to a public host")
    try:
        literal = ip_address(host)
    except ValueError:
        return value
    if not literal.is_global:
        raise InvalidInput("address: a webhook must point to a public host")
    return value


def list_contacts(session: Session, *, organisation_id: uuid.UUID) -> list[NotificationContact]:
    return list(
        session.exec(
            select(NotificationContact)
            .where(NotificationContact.organisation_id == organisation_id)
            .order_by(col(NotificationContact.created_at), col(NotificationContact.id))
        ).all()
    )


def get_contact(
    session: Session, *, organisation_id: uuid.UUID, contact_id: uuid.UUID
) -> NotificationContact:
    contact = session.get(NotificationContact, contact_id)
    if contact is None or contact.organisation_id != organisation_id:
        raise NotFound("No such contact.")
    return contact


def _contact_audit(
    session: Session, *, now: datetime, actor: Actor, action: str, contact: NotificationContact
) -> None:
    audit.record(
        session,
        now=now,
        actor=actor,
        action=action,
        subject_type="notification_contact",
        subject_id=contact.id,
        organisation_id=contact.organisation_id,
    )


def create_contact(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    data: ContactCreate,
    settings: Settings,
    cipher: FieldCipher,
    actor: Actor,
) -> tuple[NotificationContact, str | None]:
    """Add a contact; a webhook gets a new signing secret, returned this once."""
    address = check_address(data.channel, data.address, settings=settings)
    secret = new_signing_secret() if data.channel is Channel.WEBHOOK else None
    sealed = cipher.seal(secret, context=SECRET_CONTEXT) if secret else None
    contact = NotificationContact(
        organisation_id=organisation_id,
        channel=data.channel,
        address=address,
        label=data.label.strip(),
        purposes=list(data.purposes),
        enabled=data.enabled,
        secret_key_id=sealed.key_id if sealed else None,
        secret_sealed=sealed.blob if sealed else None,
        created_at=now,
        updated_at=now,
    )
    session.add(contact)
    session.flush()
    _contact_audit(
        session, now=now, actor=actor, action="notifications.contact_added", contact=contact
    )
    return contact, secret


def update_contact(
    session: Session,
    *,
    now: datetime,
    contact: NotificationContact,
    data: ContactUpdate,
    actor: Actor,
) -> NotificationContact:
    changes = data.model_dump(exclude_unset=True)
    if any(value is None for value in changes.values()):
        raise InvalidInput("Leave a field out to keep it; it cannot be set to null.")
    for name, value in changes.items():
        setattr(contact, name, value)
    contact.updated_at = now
    session.add(contact)
    session.flush()
    _contact_audit(
        session, now=now, actor=actor, action="notifications.contact_changed", contact=contact
    )
    return contact


def delete_contact(
    session: Session, *, now: datetime, contact: NotificationContact, actor: Actor
) -> None:
    _contact_audit(
        session, now=now, actor=actor, action="notifications.contact_removed", contact=contact
    )
    session.delete(contact)
    session.flush()


def rotate_secret(
    session: Session,
    *,
    now: datetime,
    contact: NotificationContact,
    cipher: FieldCipher,
    actor: Actor,
) -> str:
    """A new signing secret for a webhook (messages already queued keep the old one)."""
    if contact.channel is not Channel.WEBHOOK:
        raise Conflict("Only a webhook contact has a signing secret.")
    secret = new_signing_secret()
    sealed = cipher.seal(secret, context=SECRET_CONTEXT)
    contact.secret_key_id, contact.secret_sealed = sealed.key_id, sealed.blob
    contact.updated_at = now
    session.add(contact)
    session.flush()
    _contact_audit(
        session, now=now, actor=actor, action="notifications.secret_rotated", contact=contact
    )
    return secret
