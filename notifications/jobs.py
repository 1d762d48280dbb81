"""Periodic notifications work: deliver what the outbox holds, and the hook that schedules it."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from core import periodic
from notifications.service import batch_size, deliver_due
from notifications.wiring import transports

log = logging.getLogger("sigurna.notifications")


def schedule(app: FastAPI, scheduler: Any) -> None:
    """Deliver due outbox messages every few seconds (15 by default)."""
    periodic.every(
        scheduler,
        app,
        deliver,
        seconds=app.state.settings.delivery_interval_seconds,
        job_id="notifications.deliver",
        what="outbox delivery",
        log=log,
    )


def deliver(app: FastAPI, *, batches: int = 20) -> int:
    """Deliver what is due, batch after batch, until nothing is due or the cap is reached."""
    settings = app.state.settings
    claim_for = timedelta(seconds=settings.delivery_claim_seconds)
    slowest = max(
        settings.webhook_connect_timeout_seconds + settings.webhook_timeout_seconds,
        settings.smtp_timeout_seconds,
        settings.twilio_timeout_seconds,
    )
    limit = batch_size(claim_for=claim_for, workers=settings.delivery_workers, slowest_send=slowest)
    total = 0
    for _ in range(batches):
        sent = deliver_due(
            app.state.unit_of_work,
            now=app.state.clock.now(),
            transports=transports(app),
            cipher=app.state.cipher,
            limit=limit,
            workers=settings.delivery_workers,
            claim_for=claim_for,
            clock=app.state.clock.now,
        )
        total += sent
        if sent == 0:
            break
    return total
