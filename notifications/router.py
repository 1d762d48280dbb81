"""Notifications have no routes yet; delivery runs as a background job."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, FastAPI

from notifications.channels import TwilioSms
from notifications.service import deliver_due

log = logging.getLogger("sigurna.notifications")

router = APIRouter()


def configure(app: FastAPI) -> None:
    """The SMS channel chosen at start-up (tests replace it with a fake HTTP client)."""
    app.state.sms = TwilioSms(app.state.settings)


def schedule(app: FastAPI, scheduler: Any) -> None:
    """Deliver due outbox messages every 15 seconds."""
    scheduler.add_job(
        deliver_safely, "interval", args=[app], seconds=15, id="notifications.deliver"
    )


def deliver_safely(app: FastAPI) -> None:
    try:
        deliver_due(app.state.unit_of_work, now=app.state.clock.now(), sms=app.state.sms)
    except Exception as exc:  # the next run picks up where this one stopped
        log.warning("outbox delivery failed", extra={"error_type": type(exc).__name__})
