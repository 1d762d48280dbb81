"""Periodic work shared by the domains' `jobs` modules: a job that works through due rows, run
every few seconds by the scheduler (the web process's, or `sigurna scheduler`'s).

A run that fails loses nothing: the rows it did not finish stay pending for the next run, so a
failure is logged (its type only, never its message, which can carry a row's data) and the job
is left to run again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

Job = Callable[[FastAPI], int]


def run_safely(app: FastAPI, job: Job, what: str, log: logging.Logger) -> None:
    """Run `job(app)`; log how many rows it handled, or that it failed."""
    try:
        handled = job(app)
    except Exception as exc:  # nothing is lost: the rows stay pending for the next run
        log.warning(f"{what} failed", extra={"error_type": type(exc).__name__})
        return
    if handled:
        log.info(f"{what} done", extra={"count": handled})


def every(
    scheduler: Any,
    app: FastAPI,
    job: Job,
    *,
    seconds: float,
    job_id: str,
    what: str,
    log: logging.Logger,
) -> None:
    """Schedule `job(app)` every `seconds` under `job_id` (one instance at a time)."""
    scheduler.add_job(
        run_safely, "interval", args=[app, job, what, log], seconds=seconds, id=job_id
    )


def sweeper(sweep: Callable[..., int]) -> Job:
    """The job that runs a domain's deadline sweep, `sweep(unit_of_work, now=, base_url=)`, on
    the app's unit of work, clock and public address."""

    def job(app: FastAPI) -> int:
        return sweep(
            app.state.unit_of_work,
            now=app.state.clock.now(),
            base_url=str(app.state.settings.public_base_url).rstrip("/"),
        )

    return job


def sweep_every_minute(
    scheduler: Any, app: FastAPI, sweep: Callable[..., int], *, name: str, log: logging.Logger
) -> None:
    """Schedule a domain's deadline sweep (`sweeper(sweep)`) every `sweep_interval_seconds`
    (a minute by default) as the job `<name>.sweep`."""
    every(
        scheduler,
        app,
        sweeper(sweep),
        seconds=app.state.settings.sweep_interval_seconds,
        job_id=f"{name}.sweep",
        what=f"{name} deadline sweep",
        log=log,
    )
