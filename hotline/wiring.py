"""What the hotline plugs into the application: its voice state at start-up (and the typed
accessors every other module reads it with), the call writer stopped at shut-down, and the
question it answers for other domains (`core.events.CallOfOrganisation`)."""

from __future__ import annotations

from fastapi import FastAPI
from sqlmodel import Session

from core import events, sealed
from core.events import CallbackTaskOfOrganisation, CallOfOrganisation
from hotline import service
from hotline.call_writer import CallWriter
from hotline.journal import VoiceJournal
from hotline.ladders import LadderCache
from hotline.models import CallbackTask
from hotline.recordings import RecordingStore, TwilioRecordings
from hotline.roster import make_cache
from hotline.routing import tag_key
from hotline.voice_state import VoiceState


def configure(app: FastAPI) -> None:
    """Voice state: the roster cache (loaded from its file), the journal, the ladder cache, the
    call writer; and the recordings at Twilio (deleted when callers' data is purged)."""
    settings = app.state.settings
    secret = settings.secret_key.get_secret_value() if settings.secret_key else ""
    app.state.voice = VoiceState(
        make_cache(settings),
        VoiceJournal(settings.voice_journal_path),
        threads=settings.voice_db_threads,
        tag_key=tag_key(secret),
    )
    app.state.ladders = LadderCache()
    app.state.call_writer = CallWriter(lambda: app.state.unit_of_work())
    app.state.recordings = TwilioRecordings(settings)


def on_shutdown(app: FastAPI) -> None:
    """Write the calls already handed over, then stop the writer thread."""
    call_writer(app).close()


def wire() -> None:
    """Answer other domains' question: is this call one of the organisation's?"""
    events.answer_with(CallOfOrganisation, service.call_of_organisation)
    events.answer_with(CallbackTaskOfOrganisation, _task_of_organisation)
    sealed.register(
        sealed.pair("hotline_call", "caller", service.CALLER_CONTEXT),
        sealed.pair("hotline_call", "recording", service.RECORDING_CONTEXT),
    )


# --- the typed runtime: what `configure` hung on app.state ------------------------------------


def voice(app: FastAPI) -> VoiceState:
    """The voice routes' process state: roster cache, journal, breaker, counters."""
    state: VoiceState = app.state.voice
    return state


def ladders(app: FastAPI) -> LadderCache:
    """This process's cache of each hotline's current ladder."""
    cache: LadderCache = app.state.ladders
    return cache


def call_writer(app: FastAPI) -> CallWriter:
    """The group-commit writer of new calls."""
    writer: CallWriter = app.state.call_writer
    return writer


def recordings(app: FastAPI) -> RecordingStore:
    """Voicemail recordings held by Twilio (tests replace them)."""
    store: RecordingStore = app.state.recordings
    return store


def _task_of_organisation(session: Session, question: CallbackTaskOfOrganisation) -> bool:
    task = session.get(CallbackTask, question.target_id)
    return task is not None and task.organisation_id == question.organisation_id
