"""Calendar feeds: private iCalendar links to a hotline's rota or to one person's shifts; the
link is the credential, so only its hash is stored and a new one revokes the one before."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from icalendar import Calendar as ICalendar
from icalendar import Event
from sqlmodel import Session, col, select
from sqlmodel import update as sa_update

from core import audit
from core.audit import Actor
from core.errors import Forbidden
from core.models import User
from hotline.errors import FEED_REFUSED
from hotline.models import CalendarFeed, Hotline, Position, Shift
from hotline.service.hotlines import digest, list_hotlines
from hotline.service.rota import display_names, overrides_of, shifts_between, whole_shift_holders

FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=90)
FEED_PATH = "/hotline/calendar/{token}.ics"


def create_calendar_feed(
    session: Session,
    *,
    now: datetime,
    organisation_id: uuid.UUID,
    hotline_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    actor: Actor,
) -> str:
    """A new private feed for a hotline or a user; returns the token, which is stored hashed.

    There is one live link per hotline and per person: a new one revokes the ones before it, so
    a link that leaked is shut by making a new one.
    """
    if (hotline_id is None) == (user_id is None):
        raise ValueError("a feed is for a hotline or for a user")
    earlier = session.exec(
        sa_update(CalendarFeed)
        .where(
            col(CalendarFeed.organisation_id) == organisation_id,
            col(CalendarFeed.hotline_id) == hotline_id
            if hotline_id is not None
            else col(CalendarFeed.hotline_id).is_(None),
            col(CalendarFeed.user_id) == user_id
            if user_id is not None
            else col(CalendarFeed.user_id).is_(None),
            col(CalendarFeed.revoked_at).is_(None),
        )
        .values(revoked_at=now)
    ).rowcount
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        organisation_id=organisation_id,
        hotline_id=hotline_id,
        user_id=user_id,
        token_hash=digest(token),
        created_at=now,
    )
    session.add(feed)
    session.flush()
    audit.record(
        session,
        now,
        actor,
        "calendar_feed.created",
        "calendar_feed",
        feed.id,
        organisation_id,
        reason=("hotline feed" if hotline_id is not None else "personal feed")
        + (f"; {earlier} earlier link(s) revoked" if earlier else ""),
    )
    return token


def _event(uid: str, now: datetime, starts_at: datetime, ends_at: datetime, summary: str) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("dtstart", starts_at)
    event.add("dtend", ends_at)
    event.add("summary", summary)
    return event


def _shift_event(shift: Shift, now: datetime, summary: str) -> Event:
    return _event(f"shift-{shift.id}@sigurna", now, shift.starts_at, shift.ends_at, summary)


def calendar_feed(session: Session, *, now: datetime, token: str) -> bytes:
    """The iCalendar body of a feed; Forbidden for an unknown, revoked or orphaned token."""
    feed = session.exec(
        select(CalendarFeed).where(CalendarFeed.token_hash == digest(token))
    ).first()
    if feed is None or feed.revoked_at is not None:
        raise Forbidden(FEED_REFUSED)
    calendar = ICalendar()
    calendar.add("prodid", "-//Sigurna//Duty rota//EN")
    calendar.add("version", "2.0")
    if feed.hotline_id is not None:
        _add_hotline_rota(session, calendar, feed, now=now)
    else:
        _add_own_shifts(session, calendar, feed, now=now)
    result: bytes = calendar.to_ical()
    return result


def _add_hotline_rota(
    session: Session, calendar: ICalendar, feed: CalendarFeed, *, now: datetime
) -> None:
    """A hotline's feed: every shift, with who holds primary and backup for all of it."""
    hotline = session.get(Hotline, feed.hotline_id)
    if hotline is None or hotline.organisation_id != feed.organisation_id:
        raise Forbidden(FEED_REFUSED)
    calendar.add("x-wr-calname", f"Duty rota: {hotline.name}")
    shifts = shifts_between(session, [hotline.id], now - FEED_PAST, now + FEED_AHEAD)
    overrides = overrides_of(session, [s.id for s in shifts])
    holders = {s.id: whole_shift_holders(s, overrides) for s in shifts}
    names = display_names(session, (u for h in holders.values() for u in h.values()))
    for shift in shifts:
        held = holders[shift.id]
        primary, backup = held[Position.PRIMARY], held[Position.BACKUP]
        parts = [f"primary {names.get(primary, '?') if primary else 'nobody'}"]
        parts.append(f"backup {names[backup]}" if backup in names else "no backup")
        calendar.add_component(_shift_event(shift, now, "Duty: " + ", ".join(parts)))


def _add_own_shifts(
    session: Session, calendar: ICalendar, feed: CalendarFeed, *, now: datetime
) -> None:
    """A person's feed: the shifts she holds a position for in full, and her partial covers."""
    user = session.get(User, feed.user_id) if feed.user_id else None
    if user is None or user.organisation_id != feed.organisation_id or user.disabled_at:
        raise Forbidden(FEED_REFUSED)
    calendar.add("x-wr-calname", "My duty shifts")
    hotlines = {h.id: h for h in list_hotlines(session, organisation_id=user.organisation_id)}
    shifts = shifts_between(session, list(hotlines), now - FEED_PAST, now + FEED_AHEAD)
    overrides = overrides_of(session, [s.id for s in shifts])
    for shift in shifts:
        held = whole_shift_holders(shift, overrides)
        for position in (Position.PRIMARY, Position.BACKUP):
            if held[position] == user.id:
                summary = f"Duty: {position} on {hotlines[shift.hotline_id].name}"
                calendar.add_component(_shift_event(shift, now, summary))
                break
    by_id = {s.id: s for s in shifts}
    for override in overrides:
        shift = by_id[override.shift_id]
        partial = override.starts_at > shift.starts_at or override.ends_at < shift.ends_at
        if partial and override.user_id == user.id:
            calendar.add_component(
                _event(
                    f"cover-{override.id}@sigurna",
                    now,
                    override.starts_at,
                    override.ends_at,
                    f"Duty (cover): {override.position} on {hotlines[shift.hotline_id].name}",
                )
            )
