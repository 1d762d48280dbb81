"""Periodic hotline work: keep the fallback roster fresh, replay the voice journal, delete
callers' data when due; and the hooks that schedule it (`schedule`, `schedule_in_process`)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlmodel import col, select

from core import audit
from core.audit import Actor
from core.db import UnitOfWork
from hotline import replay, service
from hotline.models import Call
from hotline.recordings import RecordingStore
from hotline.wiring import ladders, recordings, voice

log = logging.getLogger("sigurna.hotline.jobs")


def refresh_roster(app: FastAPI) -> int:
    """Recompute the cached duty ladders from the database (memory and file)."""
    with app.state.unit_of_work() as session:
        count: int = voice(app).roster.refresh(
            session, settings=app.state.settings, now=app.state.clock.now()
        )
    return count


def refresh_roster_safely(app: FastAPI) -> None:
    try:
        refresh_roster(app)
    except Exception as exc:  # the last good roster stays in memory and on disk
        log.warning("roster refresh failed", extra={"error_type": type(exc).__name__})


def roster_changed(app: FastAPI) -> None:
    """A hotline, closure, shift, override or duty phone changed: new calls and the fallback
    roster follow at once, not on the next timer."""
    ladders(app).clear()
    refresh_roster_safely(app)


def check_status_callbacks(app: FastAPI) -> None:
    """At start-up: warn when calls are answered but Twilio's status callbacks never arrive
    (without them a missed call gets no callback task)."""
    try:
        with app.state.unit_of_work() as session:
            problem = service.status_callback_problem(session, now=app.state.clock.now())
    except Exception as exc:
        log.warning("status callback check failed", extra={"error_type": type(exc).__name__})
        return
    if problem is not None:
        log.warning("hotline: " + problem)


def replay_journal(app: FastAPI) -> int:
    """Record what the voice webhooks answered without the database; returns the calls."""
    return replay.replay(
        voice(app).journal,
        app.state.unit_of_work,
        cipher=app.state.cipher,
        settings=app.state.settings,
    )


def replay_journal_safely(app: FastAPI) -> None:
    if not voice(app).journal.pending():
        return
    try:
        replay_journal(app)
    except Exception as exc:  # the database is still away: the journal waits for the next run
        log.warning("voice journal not replayed yet", extra={"error_type": type(exc).__name__})


def purge_caller_data(
    unit_of_work: UnitOfWork,
    *,
    now: datetime,
    retention_days: int,
    recordings: RecordingStore,
    batch: int = 200,
) -> int:
    """Delete callers' numbers and voicemails older than the retention period; returns how many.

    A call is marked purged only once Twilio has deleted its recording, so a failure is retried
    on the next run and nothing is left behind.
    """
    cutoff = now - timedelta(days=retention_days)
    with unit_of_work() as session:
        due = session.exec(
            select(Call.id, Call.recording_sid)
            .where(col(Call.started_at) < cutoff, col(Call.personal_data_purged_at).is_(None))
            .order_by(col(Call.started_at))
            .limit(batch)
        ).all()
    purged = 0
    for call_id, recording_sid in due:
        if recording_sid:
            try:
                recordings.delete(recording_sid)
            except Exception as exc:
                log.warning("recording not deleted yet", extra={"error_type": type(exc).__name__})
                continue
        with unit_of_work() as session:
            call = session.get(Call, call_id)
            if call is None or call.personal_data_purged_at is not None:
                continue
            call.caller_key_id = call.caller_sealed = call.caller_hash = call.caller_last2 = None
            call.recording_key_id = call.recording_sealed = call.recording_sid = None
            call.personal_data_purged_at = now
            session.add(call)
            purged += 1
    if purged:
        with unit_of_work() as session:
            audit.record(
                session,
                now,
                Actor.system("retention"),
                "hotline.caller_data_purged",
                "call",
                reason=f"{purged} call(s) older than {retention_days} days",
            )
    return purged


def purge_safely(app: FastAPI) -> None:
    try:
        purge_caller_data(
            app.state.unit_of_work,
            now=app.state.clock.now(),
            retention_days=app.state.settings.caller_retention_days,
            recordings=recordings(app),
        )
    except Exception as exc:
        log.warning("caller data purge failed", extra={"error_type": type(exc).__name__})


# --- the hooks core.domains runs ---------------------------------------------------------------


def schedule_in_process(app: FastAPI, scheduler: Any) -> None:
    """Keep this process's fallback roster fresh (now, then every minute), and record what was
    answered without the database (now, at start-up, then every few seconds while any waits)."""
    replay_journal_safely(app)
    refresh_roster_safely(app)
    check_status_callbacks(app)
    settings = app.state.settings
    for job, seconds, name in (
        (refresh_roster_safely, settings.roster_refresh_seconds, "hotline.roster"),
        (replay_journal_safely, settings.voice_journal_replay_seconds, "hotline.journal"),
    ):
        scheduler.add_job(job, "interval", args=[app], seconds=seconds, id=name)


def schedule(app: FastAPI, scheduler: Any) -> None:
    """Purge callers' data hourly (shared work: the web process or `sigurna scheduler`)."""
    scheduler.add_job(purge_safely, "interval", args=[app], hours=1, id="hotline.purge")
