"""Referrals' periodic work: the deadline sweep, every minute."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from referrals import service

log = logging.getLogger("sigurna.referrals")


def sweep(app: FastAPI) -> int:
    """Turn the reminders that are due into outbox messages."""
    return service.sweep(
        app.state.unit_of_work,
        now=app.state.clock.now(),
        base_url=str(app.state.settings.public_base_url).rstrip("/"),
    )


def sweep_safely(app: FastAPI) -> None:
    try:
        handled = sweep(app)
    except Exception as exc:  # nothing is lost: the rows stay pending for the next run
        log.warning("referral sweep failed", extra={"error_type": type(exc).__name__})
        return
    if handled:
        log.info("referral reminders swept", extra={"count": handled})


def schedule(app: FastAPI, scheduler: Any) -> None:
    """Sweep due reminders every minute (shared work: the web process or `sigurna scheduler`)."""
    scheduler.add_job(
        sweep_safely,
        "interval",
        args=[app],
        seconds=app.state.settings.sweep_interval_seconds,
        id="referrals.sweep",
    )
