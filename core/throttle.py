"""Failed logins, throttled by where they come from.

An abuser who knows a shelter worker's e-mail must not be able to keep her out of the system: a
lockout that any source can trigger is a weapon. So failures are counted per source (the client
address, see `source_of`), for one account and for all accounts, and a source that keeps failing
waits longer and longer before its next try (progressive delays); other sources are not
affected. The account itself is locked only by failures from many sources together, at a level
far above what one source can reach under its own delays (see `most_from_one_source`).

Keys never hold an e-mail address: an account is named by a keyed digest of it, so unknown and
known accounts are throttled alike and the table says nothing about who exists.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import ip_address, ip_network

from sqlmodel import Session, col, delete, select

from core.config import Settings
from core.models import LoginThrottle

# --- pure decisions ----------------------------------------------------------------------------


def delay_after(failures: int, *, free: int, cap: timedelta) -> timedelta | None:
    """How long a source waits after its `failures`-th failure in the window: nothing for the
    first `free`, then 1 s, 2 s, 4 s, ... at most `cap`."""
    if failures <= free:
        return None
    return min(timedelta(seconds=1 << min(failures - free - 1, 40)), cap)


def most_from_one_source(*, free: int, cap: timedelta, window: timedelta) -> int:
    """The most failures one source can make against one account within one window, waiting
    out every delay (the account-wide limit must stay far above it)."""
    failures, spent = free, timedelta(0)
    while True:
        wait = delay_after(failures, free=free, cap=cap) or timedelta(0)
        if spent + wait >= window:
            return failures
        spent += wait
        failures += 1


@dataclass(frozen=True)
class Limits:
    free_per_account: int
    free_per_source: int
    cap: timedelta
    window: timedelta

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            free_per_account=settings.login_source_free_failures,
            free_per_source=settings.login_source_wide_free_failures,
            cap=timedelta(seconds=settings.login_source_max_delay_seconds),
            window=timedelta(minutes=settings.login_failure_window_minutes),
        )


def source_of(peer: str | None, forwarded_for: str | None, trusted: list[str]) -> str:
    """The client's address: the connecting peer, unless the peer is a trusted proxy; then the
    nearest address in X-Forwarded-For that is not itself a trusted proxy."""
    networks = [ip_network(n, strict=False) for n in trusted]

    def is_trusted(text: str) -> bool:
        try:
            address = ip_address(text)
        except ValueError:
            return False
        return any(address in network for network in networks)

    source = peer or "unknown"
    if not forwarded_for or not is_trusted(source):
        return source
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        try:
            ip_address(hop)
        except ValueError:
            return source  # a malformed chain: believe only the proxy we saw
        source = hop
        if not is_trusted(hop):
            break
    return source


def account_key(secret: str, email: str) -> str:
    return hmac.new(secret.encode(), email.strip().lower().encode(), hashlib.sha256).hexdigest()[
        :32
    ]


def keys(*, account: str, source: str) -> tuple[str, str]:
    """The throttle keys of a try: this source on this account, and this source on any."""
    return f"a:{account}:s:{source}"[:120], f"s:{source}"[:120]


# --- the table ---------------------------------------------------------------------------------


def blocked_until(session: Session, *, now: datetime, try_keys: tuple[str, str]) -> datetime | None:
    """Until when this try must wait, if it must."""
    found = session.exec(
        select(LoginThrottle.blocked_until).where(
            col(LoginThrottle.key).in_(try_keys), col(LoginThrottle.blocked_until) > now
        )
    ).all()
    return max((b for b in found if b is not None), default=None)


def record_failure(
    session: Session, *, now: datetime, limits: Limits, try_keys: tuple[str, str]
) -> int:
    """Count a failure against both keys; returns this source's failures on the account."""
    counted = 0
    for key, free in zip(try_keys, (limits.free_per_account, limits.free_per_source), strict=True):
        row = session.exec(
            select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
        ).first()
        if row is None:
            row = LoginThrottle(key=key, failures=0, window_started_at=now)
        elif row.window_started_at <= now - limits.window:
            row.failures, row.window_started_at = 0, now
        row.failures += 1
        wait = delay_after(row.failures, free=free, cap=limits.cap)
        row.blocked_until = now + wait if wait is not None else None
        session.add(row)
        counted = counted or row.failures
    session.flush()
    sweep(session, now=now, window=limits.window)
    return counted


def forget(session: Session, *, try_keys: tuple[str, str]) -> None:
    """A success clears this source's count on the account (not its count on other accounts)."""
    session.exec(delete(LoginThrottle).where(col(LoginThrottle.key) == try_keys[0]))


def forget_account(session: Session, *, account: str) -> None:
    """An unlock clears every source's count on the account (the account key is hex)."""
    session.exec(delete(LoginThrottle).where(col(LoginThrottle.key).startswith(f"a:{account}:")))


def sweep(session: Session, *, now: datetime, window: timedelta) -> None:
    """Rows whose window and wait are both over say nothing any more."""
    session.exec(
        delete(LoginThrottle).where(
            col(LoginThrottle.window_started_at) <= now - window,
            (col(LoginThrottle.blocked_until).is_(None))
            | (col(LoginThrottle.blocked_until) <= now),
        )
    )
