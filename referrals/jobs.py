"""Referrals' periodic work: the deadline sweep, every minute (shared work: the web process
or `sigurna scheduler`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from core import periodic
from referrals import service

log = logging.getLogger("sigurna.referrals")

# Turn the rows that are due into reminders in the outbox (also run by hand in tests).
sweep = periodic.sweeper(service.sweep)


def schedule(app: FastAPI, scheduler: Any) -> None:
    periodic.sweep_every_minute(scheduler, app, service.sweep, name="referrals", log=log)
