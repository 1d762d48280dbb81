"""What referrals tell people, and whom: the wording of every message (the reference, the
deadline and where to log in, never anything personal) and the contacts it goes to."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from notifications import service as outbox
from notifications.models import Purpose
from referrals.models import Referral, ReminderKind, Team
from referrals.service.directory import zone_of


def _local(instant: datetime | None, zone: str) -> str:
    if instant is None:
        return "none"
    return instant.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M") + f" ({zone})"


_LINES = {
    ReminderKind.CREATED: "New referral {ref}. Decision due by {deadline}.",
    ReminderKind.BEFORE_3_DAYS: "Reminder: referral {ref} needs a decision by {deadline}.",
    ReminderKind.BEFORE_1_DAY: "Reminder: referral {ref} needs a decision by {deadline}.",
    ReminderKind.DEADLINE: "Deadline now: referral {ref} needed a decision by {deadline}.",
    ReminderKind.OVERDUE: "OVERDUE (day {day}): referral {ref} needed a decision by {deadline}.",
    ReminderKind.UNADDRESSED: (
        "Referral {ref} has no competent CSW in the directory: address it now. "
        "Decision due by {deadline}."
    ),
}
_KINDS = frozenset(k.value for k in ReminderKind)
_EVENTS = {
    "information_requested": "Referral {ref}: the recipient asks for information.",
    "answered": "Referral {ref}: the sender answered your request for information.",
    "decided": "Referral {ref}: the recipient recorded its decision.",
}


@dataclass(frozen=True)
class Wording:
    subject: str
    text: str
    payload: str


def wording(
    *, kind: str, reference: str, deadline: datetime | None, zone: str, base_url: str, day: int = 0
) -> Wording:
    """A message that says only the reference, the deadline and where to log in."""
    template = _LINES[ReminderKind(kind)] if kind in _KINDS else _EVENTS[kind]
    line = template.format(ref=reference, deadline=_local(deadline, zone), day=day)
    login = f"{base_url}/"
    if kind == ReminderKind.CREATED and deadline is None:
        line = f"New referral {reference}."
    payload = json.dumps(
        {
            "type": f"referral.{kind}",
            "referral": reference,
            "deadline": deadline.isoformat() if deadline else None,
            "overdue_day": day or None,
            "login": login,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return Wording(
        subject=f"Sigurna: referral {reference}",
        text=f"Sigurna: {line} Log in to see it: {login}",
        payload=payload,
    )


class Recipients:
    """The contacts of the organisations a batch of referrals involves, looked up once."""

    def __init__(self, session: Session, organisation_ids: Iterable[uuid.UUID]) -> None:
        ids = list(set(organisation_ids))
        self._session = session
        self._by_purpose = {
            purpose: outbox.contacts_for(session, organisation_ids=ids, purpose=purpose)
            for purpose in Purpose
        }
        self._alerts: dict[uuid.UUID, list[outbox.Recipient]] = {}

    def of(self, organisation_id: uuid.UUID, team: Team) -> list[outbox.Recipient]:
        """A recipient's contacts for a referral: its child-protection team for children (its
        referral desk when it has none), its referral desk otherwise."""
        by_purpose = self._by_purpose
        contacts: list[Any] = []
        if team is Team.CHILD_PROTECTION:
            contacts = by_purpose[Purpose.CHILD_PROTECTION].get(organisation_id, [])
        if not contacts:
            contacts = by_purpose[Purpose.REFERRALS].get(organisation_id, [])
        return outbox.contact_recipients(contacts)

    def heads(self, organisation_id: uuid.UUID) -> list[outbox.Recipient]:
        return outbox.contact_recipients(
            self._by_purpose[Purpose.ESCALATION].get(organisation_id, [])
        )

    def alerts(self, organisation_id: uuid.UUID) -> list[outbox.Recipient]:
        """The sender's supervisors and escalation contacts."""
        if organisation_id not in self._alerts:
            self._alerts[organisation_id] = outbox.alert_recipients(
                self._session, organisation_id=organisation_id
            )
        return self._alerts[organisation_id]


def _words(
    session: Session, referral: Referral, organisation_id: uuid.UUID, event: str, base_url: str
) -> Wording:
    """An event's message in the time zone of the organisation it goes to."""
    return wording(
        kind=event,
        reference=referral.reference,
        deadline=referral.deadline,
        zone=zone_of(session, organisation_id, "UTC"),
        base_url=base_url,
    )


def notify_recipient(
    session: Session, *, now: datetime, referral: Referral, event: str, key: str, base_url: str
) -> None:
    """Tell the recipient's contacts (its child-protection team's for children) of an event."""
    to = referral.to_organisation_id
    if to is None:
        return
    words = _words(session, referral, to, event, base_url)
    outbox.enqueue_many(
        session,
        now=now,
        messages=outbox.messages_for(
            Recipients(session, [to]).of(to, referral.team),
            key=f"referral:{referral.id}:{key}",
            topic=f"referral.{event}",
            organisation_id=referral.from_organisation_id,
            subject=words.subject,
            text=words.text,
            payload=words.payload,
        ),
    )


def notify_sender(
    session: Session, *, now: datetime, referral: Referral, event: str, key: str, base_url: str
) -> None:
    """Tell the sender's supervisors and escalation contacts of an event."""
    words = _words(session, referral, referral.from_organisation_id, event, base_url)
    outbox.enqueue_many(
        session,
        now=now,
        messages=outbox.alert_messages(
            session,
            organisation_id=referral.from_organisation_id,
            key=f"referral:{referral.id}:{key}",
            topic=f"referral.{event}",
            subject=words.subject,
            text=words.text,
            payload=words.payload,
        ),
    )
