"""Security notices: an account under attack is told to its owner and its organisation's admins.

Subscribed to `core.events.AccountUnderAttack` in `notifications.wiring.wire()`; the e-mails
join the outbox in the login's transaction, once per account, window and kind (alert or lock).
They name no address and no source: only that failed logins were blocked, when, and what to do.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from core.events import AccountUnderAttack
from core.models import Role, User, UserRole
from notifications.models import Channel
from notifications.service import Recipient, enqueue_many, messages_for

TOPIC = "auth.account_under_attack"


def _recipients(session: Session, event: AccountUnderAttack) -> list[Recipient]:
    owner = session.get(User, event.user_id)
    admins = session.exec(
        select(User.id, User.email)
        .join(UserRole, col(UserRole.user_id) == col(User.id))
        .where(
            User.organisation_id == event.organisation_id,
            UserRole.role == Role.ADMIN,
            col(User.disabled_at).is_(None),
        )
        .order_by(col(User.email))
    ).all()
    found = [Recipient(f"u{owner.id.hex}", Channel.EMAIL, owner.email)] if owner else []
    found += [
        Recipient(f"u{user_id.hex}", Channel.EMAIL, email)
        for user_id, email in admins
        if user_id != event.user_id
    ]
    return found


def account_under_attack(session: Session, event: AccountUnderAttack) -> None:
    kind = "locked" if event.locked_until is not None else "alert"
    if event.locked_until is not None:
        text = (
            f"Sigurna: {event.failures} failed logins to one of your organisation's accounts"
            f" within minutes locked it until {event.locked_until:%Y-%m-%d %H:%M} UTC. If this"
            " was not its owner, someone may be trying to get in: an administrator can unlock it"
            " (Users -> Unlock) once it is safe."
        )
    else:
        text = (
            f"Sigurna: {event.failures} failed logins to one of your organisation's accounts"
            " within minutes. Each address that keeps failing is made to wait longer; the"
            " account's owner can still log in from her own device. If this was not her, tell"
            " your administrator."
        )
    enqueue_many(
        session,
        now=event.at,
        messages=messages_for(
            _recipients(session, event),
            key=f"{TOPIC}:{event.user_id}:{event.window_started_at.isoformat()}:{kind}",
            topic=TOPIC,
            organisation_id=event.organisation_id,
            subject="Sigurna: failed logins blocked",
            text=text,
            payload="",
            alert_on_dead=False,
        ),
    )
