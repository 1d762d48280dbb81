"""In-transaction events: a publisher says what happened; subscribers react in its transaction.

`core` (and any domain) publishes a plain dataclass; a domain subscribes a handler to that
dataclass's type when the application is configured. Handlers run synchronously, in order of
subscription, with the publisher's session: what they write commits or rolls back with the
publisher's change. Publishing an event nobody subscribed to does nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import Session

E = TypeVar("E")
Handler = Callable[[Session, Any], None]

_handlers: dict[type, list[Handler]] = {}


def subscribe(event_type: type[E], handler: Callable[[Session, E], None]) -> None:
    """Run `handler` for every `event_type` published (once, however often subscribed)."""
    found = _handlers.setdefault(event_type, [])
    if handler not in found:
        found.append(handler)


def publish(session: Session, event: object) -> None:
    for handler in _handlers.get(type(event), ()):
        handler(session, event)


# --- core's own events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountUnderAttack:
    """Failed logins to one account from many tries reached an alert level, or locked it."""

    user_id: uuid.UUID
    organisation_id: uuid.UUID
    at: datetime
    failures: int
    window_started_at: datetime
    locked_until: datetime | None
