"""How the voice routes answer whatever the database does.

Database work runs within a budget (`voice_db_budget_ms`) behind a circuit breaker; when it
fails, is slow or is skipped, the route answers from the cached roster instead (`answer`): the
call climbs on past every number it has rung, and what was answered without the database is
journalled (fsynced) before the answer is returned, for the replay job to record later.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import anyio
import sqlalchemy as sa
from anyio import to_thread
from fastapi import FastAPI, Request, Response
from sqlmodel import Session

from hotline import replay, service, twiml
from hotline.call_writer import WriterBusy
from hotline.journal import Event
from hotline.models import Call
from hotline.routing import DialRung, Voicemail, fallback_step, format_tags, parse_tags
from hotline.service import TERMINAL_STATUSES
from hotline.voice_state import VoiceState
from hotline.wiring import voice

log = logging.getLogger("sigurna.hotline.voice")
XML = "application/xml"


def xml(body: str) -> Response:
    return Response(body, media_type=XML)


def query_int(request: Request, name: str) -> int:
    try:
        return int(request.query_params.get(name, "-1"))
    except ValueError:
        return -1


def language(request: Request, params: dict[str, str]) -> str:
    """The prompts' language: as the action URL says, else the hotline's (from the roster)."""
    found = request.query_params.get("lang")
    if found:
        return found
    return voice(request.app).roster.language(params.get("To", ""))


# --- the database, on budget -------------------------------------------------------------------


class DatabaseSkipped(RuntimeError):
    """The database failed moments ago: this request does not wait for it again."""


# What says the database is failing (as opposed to a request it cannot serve).
_DATABASE_FAILURES = (TimeoutError, OSError, sa.exc.DBAPIError, sa.exc.TimeoutError, WriterBusy)


async def guarded(request: Request, attempt: Callable[[], Awaitable[str]]) -> str:
    """Run database work within the budget, unless the breaker says the database is down."""
    state = voice(request.app)
    if not state.breaker.allow():
        raise DatabaseSkipped
    try:
        with anyio.fail_after(request.app.state.settings.voice_db_budget_ms / 1000):
            result = await attempt()
    except _DATABASE_FAILURES:
        state.breaker.failed()
        raise
    except Exception:
        state.breaker.done()
        raise
    state.breaker.succeeded()
    return result


async def within_budget(request: Request, work: Callable[[], str]) -> str:
    """Run database work in a thread, giving up after the budget (the thread is abandoned).

    Voice work has threads of its own, so a hung database cannot starve the rest of the
    service, and the rest of the service cannot starve a call.
    """

    async def in_thread() -> str:
        result: str = await to_thread.run_sync(
            work, abandon_on_cancel=True, limiter=voice(request.app).limiter
        )
        return result

    return await guarded(request, in_thread)


async def answer(
    request: Request,
    where: str,
    attempt: Callable[[], Awaitable[str]],
    fallback: Callable[[], str],
) -> Response:
    """The TwiML `attempt` gives (database work, on budget); if anything goes wrong, logged and
    counted as `fallback_<where>`, the TwiML `fallback` gives. Never a 5xx, never empty."""
    try:
        return xml(await attempt())
    except Exception as exc:
        count = voice(request.app).count(f"fallback_{where}")
        log.error(
            "voice webhook answered from the cached roster",
            extra={"route": request.url.path, "error_type": type(exc).__name__, "count": count},
        )
        return xml(fallback())


# --- the call's position, as the signed action URL carries it --------------------------------


@dataclass(frozen=True)
class Position:
    """Where a call is on its ladder: the rung that just ended and every number rung so far."""

    rung: int
    tried: frozenset[str]
    fallback: bool

    @classmethod
    def of(cls, request: Request) -> Position:
        return cls(
            rung=query_int(request, "rung"),
            tried=parse_tags(request.query_params.get("tried")),
            fallback=request.query_params.get("fallback") == "1",
        )


def journal(request: Request, *events: Event) -> None:
    """Write what this answer did before it is returned; a journal that cannot be written is
    logged, never a reason to leave a caller without an answer."""
    state = voice(request.app)
    try:
        state.journal.append(*events)
    except OSError as exc:
        count = state.count("journal_not_written")
        log.critical(
            "voice journal not written: this call may need recording by hand",
            extra={"error_type": type(exc).__name__, "count": count},
        )


# --- fallback: no database ---------------------------------------------------------------------


def from_roster(
    request: Request,
    params: dict[str, str],
    *,
    after: Position | None,
    dial_status: str | None = None,
) -> str:
    """Answer from the cached roster, continuing after `after` (None: a new call), skipping every
    number the call has rung, and journal what was done; at worst (the roster itself fails), ring
    the settings' last-resort numbers."""
    return safe(
        request, lambda: _from_roster(request, params, after=after, dial_status=dial_status)
    )


def _from_roster(
    request: Request,
    params: dict[str, str],
    *,
    after: Position | None,
    dial_status: str | None,
) -> str:
    state = voice(request.app)
    settings = request.app.state.settings
    now = request.app.state.clock.now()
    sid, to = params.get("CallSid", ""), params.get("To", "")
    events: list[Event] = []
    if after is not None:
        events.append(
            replay.rung_ended(sid=sid, to=to, at=now, step=after.rung, dial_status=dial_status)
        )
        if params.get("CallStatus") in TERMINAL_STATUSES:
            journal(request, *events)
            return twiml.finished()  # the caller hung up; nothing more will be heard
    tried = after.tried if after is not None else frozenset()
    step = fallback_step(
        state.roster.fallback_plan(to),
        after_step=after.rung if after is not None else -1,
        accepted=after is not None and _accepted_in_stall(state, sid, after.rung),
        rung_before=lambda number: state.tag(number) in tried,
    )
    prompts = language(request, params)
    base = str(settings.public_base_url)
    if isinstance(step, DialRung):
        events.append(
            replay.dialled(
                sid=sid,
                to=to,
                at=now,
                step=step.index,
                rung=step.rung,
                cipher=request.app.state.cipher,
                caller=params.get("From") if after is None else None,
            )
        )
        journal(request, *events)
        return twiml.dial(
            step.rung,
            index=step.index,
            base_url=base,
            caller_id=to or step.rung.numbers[0],
            language=prompts,
            tried=format_tags(tried | state.tags(step.rung.numbers)),
            fallback=True,
        )
    if isinstance(step, Voicemail):
        events.append(replay.voicemail_offered(sid=sid, to=to, at=now))
    journal(request, *events)
    if isinstance(step, Voicemail):
        return twiml.voicemail(prompts, base_url=base)
    return twiml.finished()


def _accepted_in_stall(state: VoiceState, sid: str, rung: int) -> bool:
    """A press of 1 on this rung seen by this process, or journalled by another one."""
    if state.accepted_rung(sid) == rung:
        return True
    return any(
        e.get("e") == "accepted" and e.get("step") == rung for e in state.journal.events_for(sid)
    )


def safe(request: Request, render: Callable[[], str]) -> str:
    """Render, or at worst ring the settings' last-resort numbers: never an empty answer."""
    try:
        return render()
    except Exception as exc:
        log.critical("voice fallback rendering failed", extra={"error_type": type(exc).__name__})
        numbers = voice(request.app).roster.last_resort
        return twiml.static_fallback(numbers, caller_id=None, language="en")


# --- what the journal still holds, applied first -----------------------------------------------


def known_call(
    request: Request, session: Session, params: dict[str, str], *, create: bool
) -> Call | None:
    """The call a callback is about, with whatever the journal still holds of it applied first
    (so an acceptance journalled in a stall is known before a callback task is considered).

    With `create`, a call first heard of now (answered in a stall whose journal is lost, or by
    Twilio's Fallback URL) gets its row from what the callback says.
    """
    app: FastAPI = request.app
    sid = params.get("CallSid", "")
    events = voice(app).journal.events_for(sid)
    call = (
        replay.apply_events(
            session, events=events, cipher=app.state.cipher, settings=app.state.settings
        )
        if events
        else None
    )
    call = call or service.call_by_sid(session, sid, lock=True)
    if call is not None or not create or not sid:
        return call
    hotline = service.hotline_by_number(session, params.get("To", ""))
    if hotline is None:
        return None
    duration = params.get("CallDuration", "")
    now = app.state.clock.now()
    return service.record_unseen_call(
        session,
        cipher=app.state.cipher,
        hotline=hotline,
        call_sid=sid,
        caller_number=params.get("From") or None,
        started_at=now - timedelta(seconds=int(duration) if duration.isdigit() else 0),
    )
