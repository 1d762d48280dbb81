"""The hotline's HTTP surface: Twilio's webhooks and the staff API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from hotline import api, calls_api, jobs, webhooks
from hotline.recordings import TwilioRecordings
from hotline.roster import make_cache

router = APIRouter()
router.include_router(webhooks.router)
router.include_router(api.router)
router.include_router(calls_api.router)


def configure(app: FastAPI) -> None:
    """Voice state: the roster cache (loaded from its file), the journal, the call writer."""
    settings = app.state.settings
    # Without a token every Twilio request is refused: the check is never switched off.
    webhooks.install(app, roster=make_cache(settings))
    app.state.recordings = TwilioRecordings(settings)


def schedule_in_process(app: FastAPI, scheduler: Any) -> None:
    """Keep this process's fallback roster fresh (now, then every minute), and record what was
    answered without the database (now, at start-up, then every few seconds while any waits)."""
    jobs.replay_journal_safely(app)
    jobs.refresh_roster_safely(app)
    jobs.check_status_callbacks(app)
    settings = app.state.settings
    scheduler.add_job(
        jobs.refresh_roster_safely,
        "interval",
        args=[app],
        seconds=settings.roster_refresh_seconds,
        id="hotline.roster",
    )
    scheduler.add_job(
        jobs.replay_journal_safely,
        "interval",
        args=[app],
        seconds=settings.voice_journal_replay_seconds,
        id="hotline.journal",
    )


def schedule(app: FastAPI, scheduler: Any) -> None:
    """Purge callers' data hourly (shared work: the web process or `sigurna scheduler`)."""
    scheduler.add_job(jobs.purge_safely, "interval", args=[app], hours=1, id="hotline.purge")


def on_shutdown(app: FastAPI) -> None:
    """Write the calls already handed over, then stop the writer thread."""
    app.state.call_writer.close()
