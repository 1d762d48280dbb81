"""The deadline sweep: due reminders turned into outbox messages.

Reminders are rows made with the referral. The sweep writes outbox rows in the transaction that
marks the reminders done: a sweep that dies leaves its rows pending for the next one, and two
sweeps never take the same row.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from core.db import UnitOfWork, claim, settle
from core.localtime import add_local_days
from core.models import Organisation
from core.scoped import by_id
from notifications import service as outbox
from referrals.models import (
    OPEN_STATUSES,
    Referral,
    ReferralReminder,
    ReminderKind,
    ReminderState,
)
from referrals.service.messages import Recipients, Wording, wording

log = logging.getLogger("sigurna.referrals")

# Reminders about the deadline: when a scheduler catches up after a long stop and several of a
# referral's are due at once, only the latest goes out (a stale "3 days before" would only
# confuse); a reminder late by less than STALE_AFTER still goes out as it is.
STALE_AFTER = timedelta(hours=1)
_DEADLINE_KINDS = frozenset(
    {
        ReminderKind.BEFORE_3_DAYS,
        ReminderKind.BEFORE_1_DAY,
        ReminderKind.DEADLINE,
        ReminderKind.OVERDUE,
    }
)


def sweep(
    unit_of_work: UnitOfWork,
    *,
    now: datetime,
    base_url: str,
    batch: int = 500,
    max_batches: int = 100,
) -> int:
    """Turn every due reminder into outbox messages; how many reminders were handled.

    Each batch is one transaction: reminders claimed (`FOR UPDATE SKIP LOCKED` on PostgreSQL;
    SQLite's `BEGIN IMMEDIATE` makes the claim exclusive), their messages written, the reminders
    marked done and the next overdue day scheduled. A crash loses nothing (the batch is undone
    and swept again) and sends nothing twice (the outbox's keys are unique). A batch that fails
    is swept again one reminder at a time, so that one bad row cannot hold up the others.
    """
    total = 0
    for _ in range(max_batches):
        try:
            with unit_of_work() as session:
                handled = sweep_batch(session, now=now, base_url=base_url, limit=batch)
        except Exception as exc:
            log.error("referral sweep batch failed", extra={"error_type": type(exc).__name__})
            handled = _sweep_one_by_one(unit_of_work, now=now, base_url=base_url, limit=batch)
        total += handled
        if handled < batch:
            break
    return total


def _due(now: datetime) -> Any:
    return select(ReferralReminder).where(
        ReferralReminder.state == ReminderState.PENDING, col(ReferralReminder.due_at) <= now
    )


def _sweep_one_by_one(unit_of_work: UnitOfWork, *, now: datetime, base_url: str, limit: int) -> int:
    with unit_of_work() as session:
        due = session.exec(_due(now).order_by(col(ReferralReminder.due_at)).limit(limit))
        ids = [reminder.id for reminder in due.all()]
    handled = 0
    for reminder_id in ids:
        try:
            with unit_of_work() as session:
                handled += sweep_batch(
                    session, now=now, base_url=base_url, limit=1, only=reminder_id
                )
        except Exception as exc:  # left pending: retried on the next run, and logged each time
            log.error(
                "referral reminder could not be swept",
                extra={
                    "error_type": type(exc).__name__,
                    "subject_type": "referral_reminder",
                    "subject_id": str(reminder_id),
                },
            )
    return handled


def sweep_batch(
    session: Session,
    *,
    now: datetime,
    base_url: str,
    limit: int,
    only: uuid.UUID | None = None,
) -> int:
    query = _due(now).order_by(col(ReferralReminder.due_at)).limit(limit)
    if only is not None:
        query = query.where(ReferralReminder.id == only)
    reminders: list[ReferralReminder] = claim(session, query)
    if not reminders:
        return 0
    referrals = by_id(session, Referral, (m.referral_id for m in reminders))
    organisations = by_id(
        session,
        Organisation,
        [r.to_organisation_id for r in referrals.values()]
        + [r.from_organisation_id for r in referrals.values()],
    )
    recipients = Recipients(
        session, [r.to_organisation_id for r in referrals.values() if r.to_organisation_id]
    )
    latest: dict[uuid.UUID, ReferralReminder] = {}
    for reminder in reminders:
        if reminder.kind in _DEADLINE_KINDS:
            latest[reminder.referral_id] = reminder  # ordered by due_at: the last one wins
    messages: list[outbox.NewMessage] = []
    done: list[uuid.UUID] = []
    cancelled: list[uuid.UUID] = []
    following: list[ReferralReminder] = []
    for reminder in reminders:
        referral = referrals[reminder.referral_id]
        if referral.status not in OPEN_STATUSES:
            cancelled.append(reminder.id)
            continue
        done.append(reminder.id)
        sender = organisations[referral.from_organisation_id]
        to = organisations.get(referral.to_organisation_id) if referral.to_organisation_id else None
        zone = to.time_zone if to is not None else sender.time_zone
        if reminder.kind is ReminderKind.OVERDUE:
            following.append(_next_overdue(referral, reminder, now=now, zone=zone))
        superseded = reminder.kind in _DEADLINE_KINDS and latest[referral.id] is not reminder
        if superseded and reminder.due_at < now - STALE_AFTER:
            continue  # long overdue, and a later reminder of this referral goes out now
        messages += _messages(reminder, referral, to, sender, recipients, zone, base_url)
    outbox.enqueue_many(session, now=now, messages=messages)
    settle(
        session,
        ReferralReminder,
        {ReminderState.DONE: done, ReminderState.CANCELLED: cancelled},
        now=now,
    )
    session.add_all(following)
    session.flush()
    return len(reminders)


def _next_overdue(
    referral: Referral, reminder: ReferralReminder, *, now: datetime, zone: str
) -> ReferralReminder:
    """The next overdue day still ahead (a scheduler that was down skips the days it missed)."""
    deadline = referral.deadline or now
    day = reminder.sequence + 1
    while add_local_days(deadline, day, zone) <= now:
        day += 1
    return ReferralReminder(
        referral_id=referral.id,
        kind=ReminderKind.OVERDUE,
        sequence=day,
        due_at=add_local_days(deadline, day, zone),
    )


def _messages(
    reminder: ReferralReminder,
    referral: Referral,
    to: Organisation | None,
    sender: Organisation,
    recipients: Recipients,
    zone: str,
    base_url: str,
) -> list[outbox.NewMessage]:
    """What one reminder sends: to the recipient's contacts (its head too when overdue), and to
    the sender's supervisors when overdue, unaddressed, or when the recipient has no contact."""
    words = wording(
        kind=reminder.kind,
        reference=referral.reference,
        deadline=referral.deadline,
        zone=zone,
        base_url=base_url,
        day=reminder.sequence,
    )
    key = f"referral:{reminder.id}"
    topic = f"referral.{reminder.kind}"
    targets: list[outbox.Recipient] = []
    if to is not None and reminder.kind is not ReminderKind.UNADDRESSED:
        targets = recipients.of(to.id, referral.team)
        if targets and reminder.kind is ReminderKind.OVERDUE:
            known = {t.ref for t in targets}
            targets += [h for h in recipients.heads(to.id) if h.ref not in known]
    messages = outbox.messages_for(
        targets,
        key=key,
        topic=topic,
        organisation_id=referral.from_organisation_id,
        subject=words.subject,
        text=words.text,
        payload=words.payload,
    )
    unreachable = to is not None and reminder.kind is not ReminderKind.UNADDRESSED and not targets
    if unreachable:
        words = Wording(
            subject=words.subject,
            text=f"Sigurna: referral {referral.reference} could not be sent: its recipient "
            f"has no notification contact. Call them, and log in: {base_url}/",
            payload=words.payload,
        )
    if unreachable or reminder.kind in (ReminderKind.OVERDUE, ReminderKind.UNADDRESSED):
        messages += outbox.messages_for(
            recipients.alerts(sender.id),
            key=f"{key}:sender",
            topic=topic,
            organisation_id=sender.id,
            subject=words.subject,
            text=words.text,
            payload=words.payload,
            alert_on_dead=False,
        )
    return messages
