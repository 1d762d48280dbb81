"""Enqueueing: messages join the outbox in the caller's transaction, once per idempotency key;
who hears an organisation's alerts, and one message per recipient."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from core.models import Role, User, UserRole
from notifications.models import (
    Channel,
    DeliveryState,
    NotificationContact,
    OutboxMessage,
    Purpose,
)


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
