"""Periodic hotline work: keep the fallback roster fresh."""

from __future__ import annotations

import logging

from fastapi import FastAPI

log = logging.getLogger("sigurna.hotline.jobs")


def refresh_roster(app: FastAPI) -> int:
    """Recompute the cached duty ladders from the database (memory and file)."""
    with app.state.unit_of_work() as session:
        count: int = app.state.voice.roster.refresh(
            session, settings=app.state.settings, now=app.state.clock.now()
        )
    return count


def refresh_roster_safely(app: FastAPI) -> None:
    try:
        refresh_roster(app)
    except Exception as exc:  # the last good roster stays in memory and on disk
        log.warning("roster refresh failed", extra={"error_type": type(exc).__name__})
