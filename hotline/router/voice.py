"""Twilio-facing voice routes. They never answer 5xx or an empty body: any failure, a slow or
absent database included, is answered with TwiML that dials the last known roster
(`hotline.answering`). Only requests Twilio signed get in (`hotline.deps.TwilioForm`)."""

from __future__ import annotations

from anyio import to_thread
from fastapi import FastAPI, Request, Response

from core.access import Signed
from core.routing import Router
from hotline import replay, service, twiml, wiring
from hotline.answering import (
    Position,
    answer,
    from_roster,
    guarded,
    journal,
    known_call,
    language,
    query_int,
    safe,
    within_budget,
    xml,
)
from hotline.deps import TwilioForm
from hotline.ladders import Ladder
from hotline.routing import DialRung, Rung, Voicemail, first_step, format_tags, next_step
from hotline.service import TERMINAL_STATUSES, plan_of

router = Router(prefix="/hotline/voice", tags=["twilio"], dependencies=[Signed])


class UnknownHotline(LookupError):
    """The dialled number is not a configured hotline."""


@router.post("")
async def voice(request: Request, params: TwilioForm) -> Response:
    """The number's Voice URL: office first in office hours, else the duty ladder."""
    app: FastAPI = request.app
    state = wiring.voice(app)

    async def decide() -> str:
        settings = app.state.settings
        now = app.state.clock.now()
        number = params.get("To", "")
        ladder = wiring.ladders(app).peek(number, now)
        if ladder is None:  # not cached, or stale: read the rota (in a thread, on budget)

            def load() -> Ladder | None:
                with app.state.unit_of_work() as session:
                    return wiring.ladders(app).get(
                        session, settings=settings, number=number, now=now
                    )

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
        plan = tuple(Rung.from_json(r) for r in await wiring.call_writer(app).record(row))
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

    return await answer(
        request,
        "voice",
        lambda: guarded(request, decide),
        lambda: from_roster(request, params, after=None),
    )


@router.post("/dial-result")
async def dial_result(request: Request, params: TwilioForm) -> Response:
    """The <Dial action>: done if a human accepted this rung, otherwise the next rung."""
    position = Position.of(request)
    dial_status = params.get("DialCallStatus")

    def climb_the_roster() -> str:  # past every number this call has rung
        return from_roster(request, params, after=position, dial_status=dial_status)

    if position.fallback:  # the call climbs the cached roster to its end
        return xml(climb_the_roster())
    app: FastAPI = request.app
    state = wiring.voice(app)

    def work() -> str:
        settings = app.state.settings
        now = app.state.clock.now()
        with app.state.unit_of_work() as session:
            call = known_call(request, session, params, create=False)
            if call is None:
                raise LookupError("no record of this call")
            hotline = service.hotline_by_number(session, params.get("To", ""))
            prompts = str(hotline.language) if hotline else language(request, params)
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
                    language=prompts,
                    tried=format_tags(position.tried | state.tags(step.rung.numbers)),
                )
            if isinstance(step, Voicemail):
                service.voicemail_offered(session, call=call)
                return twiml.voicemail(prompts, base_url=base)
            return twiml.finished()

    return await answer(
        request, "dial_result", lambda: within_budget(request, work), climb_the_roster
    )


@router.post("/screen")
async def screen(request: Request, params: TwilioForm) -> Response:
    """Played to the counselor's phone when it picks up: press 1 to accept."""
    query: dict[str, object] = {
        "rung": query_int(request, "rung"),
        "lang": request.query_params.get("lang", "en"),
    }
    if request.query_params.get("fallback") == "1":
        query["fallback"] = 1
    base = str(request.app.state.settings.public_base_url)
    return xml(safe(request, lambda: twiml.screen(str(query["lang"]), base_url=base, query=query)))


@router.post("/screen-result")
async def screen_result(request: Request, params: TwilioForm) -> Response:
    """1 bridges the counselor to the caller; anything else hangs up this leg only."""
    if params.get("Digits") != "1":
        return xml(twiml.screen_declined(request.query_params.get("lang", "en")))
    position = Position.of(request)
    parent = params.get("ParentCallSid", "")
    app: FastAPI = request.app
    wiring.voice(app).remember_acceptance(parent, position.rung)
    # On this leg, To is the counselor's phone and From the hotline (the caller ID we set).
    event = replay.accepted(
        sid=parent,
        to=params.get("From", ""),
        at=app.state.clock.now(),
        step=position.rung,
        number=params.get("To"),
    )

    def journalled() -> str:  # the acceptance kept in the journal, for the replay to record
        journal(request, event)
        return twiml.screen_accepted()

    if position.fallback:  # the call's rungs are in the journal: so is its acceptance
        return xml(journalled())

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
    return await answer(request, "screen_result", lambda: within_budget(request, work), journalled)


@router.post("/voicemail")
async def voicemail(request: Request, params: TwilioForm) -> Response:
    """The <Record action>: keep the message's reference and thank the caller."""
    app: FastAPI = request.app
    seconds_text = params.get("RecordingDuration", "")
    seconds = int(seconds_text) if seconds_text.isdigit() else None

    def work() -> str:
        with app.state.unit_of_work() as session:
            call = known_call(request, session, params, create=True)
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

    def journalled() -> str:
        journal(
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
        return twiml.voicemail_done(language(request, params))

    return await answer(request, "voicemail", lambda: within_budget(request, work), journalled)


@router.post("/status")
async def status(request: Request, params: TwilioForm) -> Response:
    """Call status callbacks: late or repeated ones never move a call backwards; a call that
    ended with nobody accepting gets its callback task (and one is made for a call first heard
    of here)."""
    app: FastAPI = request.app
    call_status = params.get("CallStatus", "")
    ended = call_status in TERMINAL_STATUSES

    def work() -> str:
        now = app.state.clock.now()
        with app.state.unit_of_work() as session:
            call = known_call(request, session, params, create=ended)
            if call is not None:
                service.status_changed(
                    session, now=now, settings=app.state.settings, call=call, status=call_status
                )
        return twiml.finished()

    def journalled() -> str:  # only an ending matters to the replay: it opens the callback task
        if ended:
            journal(
                request,
                replay.status(
                    sid=params.get("CallSid", ""),
                    to=params.get("To", ""),
                    at=app.state.clock.now(),
                    call_status=call_status,
                ),
            )
        return twiml.finished()

    return await answer(request, "status", lambda: within_budget(request, work), journalled)
