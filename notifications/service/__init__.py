"""The outbox: enqueue in the caller's transaction; deliver with claims, retries and backoff.

Delivery is at least once, recorded exactly once: a message is claimed (a lease, under
`FOR UPDATE SKIP LOCKED` on PostgreSQL) in one transaction, sent outside any transaction, and
its result recorded in another. A process killed between sending and recording leaves the lease
to expire; the message is sent again under the same idempotency key with the same body, and the
first result recorded is the one kept.

Every domain may queue messages here (`enqueue_sms`, `enqueue_many`, `messages_for`,
`alert_messages`): the outbox is shared. The sections are `enqueueing`, `delivery` and `contacts`.
"""

from __future__ import annotations

from notifications.service.contacts import (
    SECRET_CONTEXT,
    check_address,
    check_webhook_url,
    create_contact,
    delete_contact,
    get_contact,
    list_contacts,
    new_signing_secret,
    rotate_secret,
    update_contact,
)
from notifications.service.delivery import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    CLAIM_FOR,
    DEAD_LETTER_TOPIC,
    MAX_ATTEMPTS,
    SECRET_TOPICS,
    backoff,
    batch_size,
    deliver_due,
    list_messages,
    public_view,
    retry_message,
    sms_status,
)
from notifications.service.enqueueing import (
    NewMessage,
    Recipient,
    alert_messages,
    alert_recipients,
    contact_recipients,
    contacts_for,
    enqueue,
    enqueue_many,
    enqueue_sms,
    messages_for,
)

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "CLAIM_FOR",
    "DEAD_LETTER_TOPIC",
    "MAX_ATTEMPTS",
    "SECRET_CONTEXT",
    "SECRET_TOPICS",
    "NewMessage",
    "Recipient",
    "alert_messages",
    "alert_recipients",
    "backoff",
    "batch_size",
    "check_address",
    "check_webhook_url",
    "contact_recipients",
    "contacts_for",
    "create_contact",
    "delete_contact",
    "deliver_due",
    "enqueue",
    "enqueue_many",
    "enqueue_sms",
    "get_contact",
    "list_contacts",
    "list_messages",
    "messages_for",
    "new_signing_secret",
    "public_view",
    "retry_message",
    "rotate_secret",
    "sms_status",
    "update_contact",
]
