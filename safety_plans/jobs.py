"""Cases' periodic work: the deadline sweep (reassessments, overdue steps), every minute
(shared work: the web process or `sigurna scheduler`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from core import periodic
from safety_plans.service import sweep as deadlines

log = logging.getLogger("sigurna.safety_plans")

# Turn the rows that are due into reminders in the outbox (also run by hand in tests).
sweep = periodic.sweeper(deadlines.sweep)


def schedule(app: FastAPI, scheduler: Any) -> None:
    periodic.sweep_every_minute(scheduler, app, deadlines.sweep, name="safety_plans", log=log)
