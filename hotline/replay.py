"""What the voice journal holds, and how it is applied to the database.

The webhooks build events with the functions below; `apply_events` turns one call's events into
its row, rungs, acceptance, voicemail and status through the services every webhook uses, and
`replay` applies a whole journal. Both are idempotent by CallSid.
"""

from __future__ import annotations

import base64
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from core.config import Settings
from core.crypto import FieldCipher
from core.db import UnitOfWork
from hotline import service
from hotline.journal import Event, VoiceJournal, read_events
from hotline.models import Call
from hotline.routing import Rung
from hotline.service import CALLER_CONTEXT, RECORDING_CONTEXT

log = logging.getLogger("sigurna.hotline.journal")

VERSION = 1


# --- events ----------------------------------------------------------------------------------


def _event(kind: str, *, sid: str, to: str, at: datetime, **fields: Any) -> Event:
    return {"v": VERSION, "e": kind, "sid": sid, "to": to, "at": at.isoformat(), **fields}


def _sealed(cipher: FieldCipher, text: str | None, context: str) -> dict[str, str] | None:
    if not text:
        return None
    key_id, blob = cipher.seal_pair(text, context=context)
    return {"k": key_id, "b": base64.b64encode(blob).decode()}


def _opened(cipher: FieldCipher, data: Any, context: str) -> str | None:
    if not isinstance(data, dict):
        return None
    return cipher.open_pair(str(data["k"]), base64.b64decode(data["b"]), context=context)


def dialled(
    *,
    sid: str,
    to: str,
    at: datetime,
    step: int,
    rung: Rung,
    cipher: FieldCipher,
    caller: str | None = None,
) -> Event:
    """A rung dialled from the cached roster (the first one carries the caller, sealed)."""
    return _event(
        "dialled",
        sid=sid,
        to=to,
        at=at,
        step=step,
        rung=rung.to_json(),
        caller=_sealed(cipher, caller, CALLER_CONTEXT),
    )


def rung_ended(*, sid: str, to: str, at: datetime, step: int, dial_status: str | None) -> Event:
    return _event("ended", sid=sid, to=to, at=at, step=step, dial_status=dial_status)


def voicemail_offered(*, sid: str, to: str, at: datetime) -> Event:
    return _event("voicemail_offered", sid=sid, to=to, at=at)


def accepted(*, sid: str, to: str, at: datetime, step: int, number: str | None) -> Event:
    return _event("accepted", sid=sid, to=to, at=at, step=step, number=number)


def recording(
    *,
    sid: str,
    to: str,
    at: datetime,
    cipher: FieldCipher,
    recording_sid: str | None,
    recording_url: str | None,
    seconds: int | None,
) -> Event:
    return _event(
        "recording",
        sid=sid,
        to=to,
        at=at,
        recording_sid=recording_sid,
        url=_sealed(cipher, recording_url, RECORDING_CONTEXT),
        seconds=seconds,
    )


def status(*, sid: str, to: str, at: datetime, call_status: str) -> Event:
    return _event("status", sid=sid, to=to, at=at, status=call_status)


# --- applying --------------------------------------------------------------------------------


def _instant(event: Event) -> datetime:
    at = datetime.fromisoformat(str(event["at"]))
    if at.tzinfo is None:
        raise ValueError("journal instants carry their offset")
    return at.astimezone(UTC)


def _call_for(session: Session, event: Event, *, cipher: FieldCipher, at: datetime) -> Call | None:
    call = service.call_by_sid(session, str(event["sid"]), lock=True)
    if call is not None:
        return call
    hotline = service.hotline_by_number(session, str(event["to"]))
    if hotline is None:
        return None
    return service.record_unseen_call(
        session,
        cipher=cipher,
        hotline=hotline,
        call_sid=str(event["sid"]),
        caller_number=_opened(cipher, event.get("caller"), CALLER_CONTEXT),
        started_at=at,
    )


def _apply(
    session: Session,
    event: Event,
    *,
    call: Call,
    at: datetime,
    cipher: FieldCipher,
    settings: Settings,
) -> None:
    kind = event["e"]
    if kind == "dialled":
        rung = Rung.from_json(event["rung"])
        service.rung_dialled(session, now=at, call=call, index=int(event["step"]), rung=rung)
    elif kind == "ended":
        service.rung_ended(
            session, now=at, call=call, index=int(event["step"]), dial_status=event["dial_status"]
        )
    elif kind == "voicemail_offered":
        service.voicemail_offered(session, call=call)
    elif kind == "accepted":
        number = event.get("number")
        service.accept(
            session, now=at, call=call, index=int(event["step"]), number=str(number or "") or None
        )
    elif kind == "recording":
        seconds = event.get("seconds")
        service.record_voicemail(
            session,
            call=call,
            cipher=cipher,
            recording_sid=event.get("recording_sid"),
            recording_url=_opened(cipher, event.get("url"), RECORDING_CONTEXT),
            seconds=int(seconds) if seconds is not None else None,
        )
    elif kind == "status":
        service.status_changed(
            session, now=at, settings=settings, call=call, status=str(event["status"])
        )
    else:
        raise ValueError("unknown journal event")


def apply_events(
    session: Session, *, events: list[Event], cipher: FieldCipher, settings: Settings
) -> Call | None:
    """Apply one call's events in order; None when its number is no hotline of ours."""
    call: Call | None = None
    for event in events:
        at = _instant(event)
        if call is None:
            call = _call_for(session, event, cipher=cipher, at=at)
            if call is None:
                return None
        _apply(session, event, call=call, at=at, cipher=cipher, settings=settings)
    return call


# Malformed events (a hand-edited or foreign file): the call is skipped, the replay goes on.
_MALFORMED = (KeyError, ValueError, TypeError)
_replaying = threading.Lock()


def replay(
    journal: VoiceJournal,
    unit_of_work: UnitOfWork,
    *,
    cipher: FieldCipher,
    settings: Settings,
) -> int:
    """Apply every waiting journal file, one transaction per call; returns the calls applied.

    A database failure stops the replay and leaves the file for the next one (nothing is lost,
    and what was applied is not applied twice).
    """
    applied = 0
    with _replaying:
        for path in journal.take():
            by_call: dict[str, list[Event]] = {}
            for event in read_events(path):
                by_call.setdefault(str(event["sid"]), []).append(event)
            for events in by_call.values():
                try:
                    with unit_of_work() as session:
                        apply_events(session, events=events, cipher=cipher, settings=settings)
                except _MALFORMED as exc:
                    log.error(
                        "voice journal call skipped", extra={"error_type": type(exc).__name__}
                    )
                    continue
                applied += 1
            journal.discard(path)
    if applied:
        log.warning("voice journal replayed", extra={"count": applied})
    return applied
