"""Contacts: where an organisation receives notifications (e-mail, SMS, signed webhooks), and
for what; a webhook's signing secret is sealed at rest and shown once."""

from __future__ import annotations

import secrets
import uuid
from base64 import b64encode
from datetime import datetime
from ipaddress import ip_address
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from sqlmodel import Session, col, select

from core import audit
from core.audit import Actor
from core.config import Settings
from core.crypto import FieldCipher
from core.errors import Conflict, InvalidInput
from core.phones import to_e164
from core.scoped import get_owned
from notifications.errors import (
    CONTACT_NOT_FOUND,
    CREDENTIALS_IN_URL,
    NO_NULLS,
    NOT_A_WEBHOOK,
    NOT_AN_EMAIL,
    NOT_HTTPS,
    NOT_PUBLIC,
)
from notifications.models import Channel, ContactCreate, ContactUpdate, NotificationContact

SECRET_CONTEXT = "notifications.webhook_secret"  # noqa: S105 (a label, not a secret)


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
            raise InvalidInput(NOT_AN_EMAIL) from exc
    return check_webhook_url(value, allow_private=settings.webhook_allow_private_hosts)


def check_webhook_url(value: str, *, allow_private: bool) -> str:
    """An https URL to a public host (http and private hosts only where settings allow)."""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(NOT_HTTPS)
    if parts.username or parts.password:
        raise InvalidInput(CREDENTIALS_IN_URL)
    if allow_private:
        return value
    if parts.scheme != "https":
        raise InvalidInput(NOT_HTTPS)
    host = parts.hostname.lower()
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise InvalidInput(NOT_PUBLIC)
    try:
        literal = ip_address(host)
    except ValueError:
        return value
    if not literal.is_global:
        raise InvalidInput(NOT_PUBLIC)
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
    return get_owned(
        session,
        NotificationContact,
        contact_id,
        organisation_id=organisation_id,
        message=CONTACT_NOT_FOUND,
    )


def _audit(
    session: Session, now: datetime, actor: Actor, action: str, contact: NotificationContact
) -> None:
    audit.record(
        session, now, actor, action, "notification_contact", contact.id, contact.organisation_id
    )


def _saved(
    session: Session, now: datetime, actor: Actor, action: str, contact: NotificationContact
) -> NotificationContact:
    """Store a new or changed contact (updated now) and audit it."""
    contact.updated_at = now
    session.add(contact)
    session.flush()
    _audit(session, now, actor, action, contact)
    return contact


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
    secret_key_id, secret_sealed = cipher.seal_optional(secret, context=SECRET_CONTEXT)
    contact = NotificationContact(
        organisation_id=organisation_id,
        channel=data.channel,
        address=address,
        label=data.label.strip(),
        purposes=list(data.purposes),
        enabled=data.enabled,
        secret_key_id=secret_key_id,
        secret_sealed=secret_sealed,
        created_at=now,
        updated_at=now,
    )
    return _saved(session, now, actor, "notifications.contact_added", contact), secret


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
        raise InvalidInput(NO_NULLS)
    for name, value in changes.items():
        setattr(contact, name, value)
    return _saved(session, now, actor, "notifications.contact_changed", contact)


def delete_contact(
    session: Session, *, now: datetime, contact: NotificationContact, actor: Actor
) -> None:
    _audit(session, now, actor, "notifications.contact_removed", contact)
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
        raise Conflict(NOT_A_WEBHOOK)
    secret = new_signing_secret()
    contact.secret_key_id, contact.secret_sealed = cipher.seal_pair(secret, context=SECRET_CONTEXT)
    _saved(session, now, actor, "notifications.secret_rotated", contact)
    return secret
