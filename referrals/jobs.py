"""The deadline sweep as a periodic job."""

from __future__ import annotations

import logging

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
