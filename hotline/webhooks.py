"""Twilio-facing voice routes. They never answer 5xx or an empty body: any failure, a slow or
absent database included, is answered with TwiML that dials the last known roster."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

import anyio
import sqlalchemy as sa
from anyio import to_thread
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import Session

from core.access import Signed
from core.errors import error_body
from core.twilio import signed_form
from hotline import replay, service, twiml
from hotline.call_writer import CallWriter, WriterBusy
from hotline.journal import Event, VoiceJournal
from hotline.ladders import Ladder, LadderCache
from hotline.models import Call
from hotline.roster import RosterCache
from hotline.routing import (
    DialRung,
    Rung,
    Voicemail,
    fallback_step,
    first_step,
    format_tags,
    next_step,
    parse_tags,
    tag_key,
)
from hotline.service import TERMINAL_STATUSES, plan_of
from hotline.voice_state import VoiceState

log = logging.getLogger("sigurna.hotline.voice")
router = APIRouter(prefix="/hotline/voice", tags=["twilio"], dependencies=[Signed])
XML = "application/xml"


class UnknownHotline(LookupError):
    """The dialled number is not a configured hotline."""


def _state(app: FastAPI) -> VoiceState:
    state: VoiceState = app.state.voice
    return state


def _xml(body: str) -> Response:
    return Response(body, media_type=XML)


def _forbidden() -> Response:
    return JSONResponse(
        error_body("forbidden", "The request signature is missing or wrong."), status_code=403
    )


async def _verified(request: Request) -> dict[str, str] | None:
    """The form parameters if Twilio signed this request, else None (logged without the body)."""
    state = _state(request.app)
    params = await signed_form(request)
    if params is None:
        count = state.count("rejected_signature")
        log.warning(
            "twilio request refused: missing or wrong signature",
            extra={"route": request.url.path, "count": count},
        )
    return params


def _query_int(request: Request, name: str) -> int:
    try:
        return int(request.query_params.get(name, "-1"))
    except ValueError:
        return -1


def _language(request: Request, params: dict[str, str]) -> str:
    language = request.query_params.get("lang")
    if language:
        return language
    return _state(request.app).roster.language(params.get("To", ""))


class DatabaseSkipped(RuntimeError):
    """The database failed moments ago: this request does not wait for it again."""


# What says the database is failing (as opposed to a request it cannot serve).
_DATABASE_FAILURES = (TimeoutError, OSError, sa.exc.DBAPIError, sa.exc.TimeoutError, WriterBusy)


async def _guarded(request: Request, attempt: Callable[[], Awaitable[str]]) -> str:
    """Run database work within the budget, unless the breaker says the database is down."""
    state = _state(request.app)
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


async def _within_budget(request: Request, work: Callable[[], str]) -> str:
    """Run database work in a thread, giving up after the budget (the thread is abandoned).

    Voice work has threads of its own, so a hung database cannot starve the rest of the
    service, and the rest of the service cannot starve a call.
    """

    async def in_thread() -> str:
        result: str = await to_thread.run_sync(
            work, abandon_on_cancel=True, limiter=_state(request.app).limiter
        )
        return result

    return await _guarded(request, in_thread)


def _degraded(request: Request, where: str, exc: BaseException) -> None:
    count = _state(request.app).count(f"fallback_{where}")
    log.error(
        "voice webhook answered from the cached roster",
        extra={"route": request.url.path, "error_type": type(exc).__name__, "count": count},
    )


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
            rung=_query_int(request, "rung"),
            tried=parse_tags(request.query_params.get("tried")),
            fallback=request.query_params.get("fallback") == "1",
        )


def _journal(request: Request, *events: Event) -> None:
    """Write what this answer did before it is returned; a journal that cannot be written is
    logged, never a reason to leave a caller without an answer."""
    state = _state(request.app)
    try:
        state.journal.append(*events)
    except OSError as exc:
        count = state.count("journal_not_written")
        log.critical(
            "voice journal not written: this call may need recording by hand",
            extra={"error_type": type(exc).__name__, "count": count},
        )


# --- fallback: no database ---------------------------------------------------------------------


def _from_roster(
    request: Request,
    params: dict[str, str],
    *,
    after: Position | None,
    dial_status: str | None = None,
) -> str:
    """Answer from the cached roster, continuing after `after` (None: a new call), skipping every
    number the call has rung, and journal what was done."""
    state = _state(request.app)
    settings = request.app.state.settings
    now = request.app.state.clock.now()
    sid, to = params.get("CallSid", ""), params.get("To", "")
    events: list[Event] = []
    if after is not None:
        events.append(
            replay.rung_ended(sid=sid, to=to, at=now, step=after.rung, dial_status=dial_status)
        )
        if params.get("CallStatus") in TERMINAL_STATUSES:
            _journal(request, *events)
            return twiml.finished()  # the caller hung up; nothing more will be heard
    tried = after.tried if after is not None else frozenset()
    step = fallback_step(
        state.roster.fallback_plan(to),
        after_step=after.rung if after is not None else -1,
        accepted=after is not None and _accepted_in_stall(state, sid, after.rung),
        rung_before=lambda number: state.tag(number) in tried,
    )
    language = _language(request, params)
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
        _journal(request, *events)
        return twiml.dial(
            step.rung,
            index=step.index,
            base_url=base,
            caller_id=to or step.rung.numbers[0],
            language=language,
            tried=format_tags(tried | state.tags(step.rung.numbers)),
            fallback=True,
        )
    if isinstance(step, Voicemail):
        events.append(replay.voicemail_offered(sid=sid, to=to, at=now))
    _journal(request, *events)
    if isinstance(step, Voicemail):
        return twiml.voicemail(language, base_url=base)
    return twiml.finished()


def _accepted_in_stall(state: VoiceState, sid: str, rung: int) -> bool:
    """A press of 1 on this rung seen by this process, or journalled by another one."""
    if state.accepted_rung(sid) == rung:
        return True
    return any(
        e.get("e") == "accepted" and e.get("step") == rung for e in state.journal.events_for(sid)
    )


def _known_call(
    request: Request, session: Session, params: dict[str, str], *, create: bool
) -> Call | None:
    """The call a callback is about, with whatever the journal still holds of it applied first
    (so an acceptance journalled in a stall is known before a callback task is considered).

    With `create`, a call first heard of now (answered in a stall whose journal is lost, or by
    Twilio's Fallback URL) gets its row from what the callback says.
    """
    app: FastAPI = request.app
    sid = params.get("CallSid", "")
    events = _state(app).journal.events_for(sid)
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


# --- the routes ------------------------------------------------------------------------------


@router.post("")
async def voice(request: Request) -> Response:
    """The number's Voice URL: office first in office hours, else the duty ladder."""
    params = await _verified(request)
    if params is None:
        return _forbidden()
    app: FastAPI = request.app
    state = _state(app)

    async def decide() -> str:
        settings = app.state.settings
        now = app.state.clock.now()
        number = params.get("To", "")
        ladder = app.state.ladders.peek(number, now)
        if ladder is None:  # not cached, or stale: read the rota (in a thread, on budget)

            def load() -> Ladder | None:
                with app.state.unit_of_work() as session:
                    found: Ladder | None = app.state.ladders.get(
                        session, settings=settings, number=number, now=now
                    )
                    return found

            ladder = await to_thread.run_sync(load, abandon_on_cancel=True, limiter=state.limiter)
        if ladder is None:
            raise UnknownHotline
        row = service.new_call_row(
            now=now,
            cipher=app.state.cipher,
            hotline_id=ladder.hotline_id,
            mode=ladder.mode,
            plan=ladder.plan,
            call_sid=params.get("CallSid", ""),
            caller_number=params.get("From") or None,
        )
        plan = tuple(Rung.from_json(r) for r in await app.state.call_writer.record(row))
        step = first_step(plan)
        base = str(settings.public_base_url)
        if isinstance(step, DialRung):
            return twiml.dial(
                step.rung,
                index=step.index,
                base_url=base,
                caller_id=ladder.twilio_number,
                language=ladder.language,
                tried=format_tags(state.tags(step.rung.numbers)),
            )
        # The ladder is empty (nobody on duty, no last resort): the caller can leave a message.
        return twiml.voicemail(ladder.language, base_url=base)

    try:
        return _xml(await _guarded(request, decide))
    except Exception as exc:
        _degraded(request, "voice", exc)
        return _xml(_safe(request, lambda: _from_roster(request, params, after=None)))


@router.post("/dial-result")
async def dial_result(request: Request) -> Response:
    """The <Dial action>: done if a human accepted this rung, otherwise the next rung."""
    params = await _verified(request)
    if params is None:
        return _forbidden()
    position = Position.of(request)
    dial_status = params.get("DialCallStatus")
    if position.fallback:  # the call climbs the cached roster to its end
        return _xml(
            _safe(
                request,
                lambda: _from_roster(request, params, after=position, dial_status=dial_status),
            )
        )
    app: FastAPI = request.app
    state = _state(app)

    def work() -> str:
        settings = app.state.settings
        now = app.state.clock.now()
        with app.state.unit_of_work() as session:
            call = _known_call(request, session, params, create=False)
            if call is None:
                raise LookupError("no record of this call")
            hotline = service.hotline_by_number(session, params.get("To", ""))
            language = str(hotline.language) if hotline else _language(request, params)
            rung = position.rung
            if state.accepted_rung(call.call_sid) == rung:  # pressed 1 while the database was away
                service.accept(session, now=now, call=call, index=rung, number=None)
            service.rung_ended(session, now=now, call=call, index=rung, dial_status=dial_status)
            if params.get("CallStatus") in TERMINAL_STATUSES:
                return twiml.finished()  # the caller hung up; nothing more will be heard
            step = next_step(
                plan_of(call),
                after_rung=rung,
                accepted=call.accepted_rung == rung,
                rung_before=lambda number: state.tag(number) in position.tried,
            )
            base = str(settings.public_base_url)
            if isinstance(step, DialRung):
                service.rung_started(session, now=now, call=call, index=step.index)
                return twiml.dial(
                    step.rung,
                    index=step.index,
                    base_url=base,
                    caller_id=params.get("To") or step.rung.numbers[0],
                    language=language,
                    tried=format_tags(position.tried | state.tags(step.rung.numbers)),
                )
            if isinstance(step, Voicemail):
                service.voicemail_offered(session, call=call)
                return twiml.voicemail(language, base_url=base)
            return twiml.finished()

    try:
        return _xml(await _within_budget(request, work))
    except Exception as exc:
        _degraded(request, "dial_result", exc)
        # Climb on from the cached roster, past every number this call has rung.
        return _xml(
            _safe(
                request,
                lambda: _from_roster(request, params, after=position, dial_status=dial_status),
            )
        )


@router.post("/screen")
async def screen(request: Request) -> Response:
    """Played to the counselor's phone when it picks up: press 1 to accept."""
    params = await _verified(request)
    if params is None:
        return _forbidden()
    query: dict[str, object] = {
        "rung": _query_int(request, "rung"),
        "lang": request.query_params.get("lang", "en"),
    }
    if request.query_params.get("fallback") == "1":
        query["fallback"] = 1
    base = str(request.app.state.settings.public_base_url)
    return _xml(
        _safe(request, lambda: twiml.screen(str(query["lang"]), base_url=base, query=query))
    )


@router.post("/screen-result")
async def screen_result(request: Request) -> Response:
    """1 bridges the counselor to the caller; anything else hangs up this leg only."""
    params = await _verified(request)
    if params is None:
        return _forbidden()
    language = request.query_params.get("lang", "en")
    if params.get("Digits") != "1":
        return _xml(twiml.screen_declined(language))
    position = Position.of(request)
    parent = params.get("ParentCallSid", "")
    app: FastAPI = request.app
    _state(app).remember_acceptance(parent, position.rung)
    # On this leg, To is the counselor's phone and From the hotline (the caller ID we set).
    event = replay.accepted(
        sid=parent,
        to=params.get("From", ""),
        at=app.state.clock.now(),
        step=position.rung,
        number=params.get("To"),
    )
    if position.fallback:  # the call's rungs are in the journal: so is its acceptance
        _journal(request, event)
        return _xml(twiml.screen_accepted())

    def work() -> str:
        now = app.state.clock.now()
        with app.state.unit_of_work() as session:
            call = service.call_by_sid(session, parent, lock=True)
            if call is not None:
                service.accept(
                    session, now=now, call=call, index=position.rung, number=params.get("To")
                )
        return twiml.screen_accepted()

    # A human said yes: bridge whatever happens to the bookkeeping.
    try:
        await _within_budget(request, work)
    except Exception as exc:
        _degraded(request, "screen_result", exc)
        _journal(request, event)
    return _xml(twiml.screen_accepted())


@router.post("/voicemail")
async def voicemail(request: Request) -> Response:
    """The <Record action>: keep the message's reference and thank the caller."""
    params = await _verified(request)
    if params is None:
        return _forbidden()
    app: FastAPI = request.app
    seconds_text = params.get("RecordingDuration", "")
    seconds = int(seconds_text) if seconds_text.isdigit() else None

    def work() -> str:
        with app.state.unit_of_work() as session:
            call = _known_call(request, session, params, create=True)
            hotline = service.hotline_by_number(session, params.get("To", ""))
            if call is not None:
                service.record_voicemail(
                    session,
                    call=call,
                    cipher=app.state.cipher,
                    recording_sid=params.get("RecordingSid"),
                    recording_url=params.get("RecordingUrl"),
                    seconds=seconds,
                )
            return twiml.voicemail_done(str(hotline.language) if hotline else "en")

    try:
        return _xml(await _within_budget(request, work))
    except Exception as exc:
        _degraded(request, "voicemail", exc)
        _journal(
            request,
            replay.recording(
                sid=params.get("CallSid", ""),
                to=params.get("To", ""),
                at=app.state.clock.now(),
                cipher=app.state.cipher,
                recording_sid=params.get("RecordingSid"),
                recording_url=params.get("RecordingUrl"),
                seconds=seconds,
            ),
        )
        return _xml(twiml.voicemail_done(_language(request, params)))


@router.post("/status")
async def status(request: Request) -> Response:
    """Call status callbacks: late or repeated ones never move a call backwards; a call that
    ended with nobody accepting gets its callback task (and one is made for a call first heard
    of here)."""
    params = await _verified(request)
    if params is None:
        return _forbidden()
    app: FastAPI = request.app
    call_status = params.get("CallStatus", "")
    ended = call_status in TERMINAL_STATUSES

    def work() -> str:
        now = app.state.clock.now()
        with app.state.unit_of_work() as session:
            call = _known_call(request, session, params, create=ended)
            if call is not None:
                service.status_changed(
                    session, now=now, settings=app.state.settings, call=call, status=call_status
                )
        return twiml.finished()

    try:
        return _xml(await _within_budget(request, work))
    except Exception as exc:
        _degraded(request, "status", exc)
        if ended:
            _journal(
                request,
                replay.status(
                    sid=params.get("CallSid", ""),
                    to=params.get("To", ""),
                    at=app.state.clock.now(),
                    call_status=call_status,
                ),
            )
        return _xml(twiml.finished())


def _safe(request: Request, render: Callable[[], str]) -> str:
    """Render, or at worst ring the settings' last-resort numbers: never an empty answer."""
    try:
        return render()
    except Exception as exc:
        log.critical("voice fallback rendering failed", extra={"error_type": type(exc).__name__})
        numbers = _state(request.app).roster.last_resort
        return twiml.static_fallback(numbers, caller_id=None, language="en")


def install(app: FastAPI, *, roster: RosterCache) -> None:
    """Give the app the state the voice routes need."""
    settings = app.state.settings
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    app.state.voice = VoiceState(
        roster,
        VoiceJournal(settings.voice_journal_path),
        threads=settings.voice_db_threads,
        tag_key=tag_key(secret),
    )
    app.state.ladders = LadderCache()
    app.state.call_writer = CallWriter(lambda: app.state.unit_of_work())
