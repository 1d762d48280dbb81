"""The referrals domain's routes and its periodic sweep."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from referrals import api, jobs, team_api

router = APIRouter()
router.include_router(api.router)
router.include_router(team_api.router)


def schedule(app: FastAPI, scheduler: Any) -> None:
    """Sweep due reminders every minute (shared work: the web process or `sigurna scheduler`)."""
    scheduler.add_job(
        jobs.sweep_safely,
        "interval",
        args=[app],
        seconds=app.state.settings.sweep_interval_seconds,
        id="referrals.sweep",
    )
