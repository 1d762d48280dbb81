"""Time to an accepting human: 1 000 simulated calls through the real voice webhooks.

Each person rung accepts with probability 0.8 after 3-15 s, else rings out (the rung's timeout).
Twilio is simulated from outside (signed requests following each answer, tests/hotline/
twilio_sim.py) against the app in process on an embedded SQLite file. A call's time is the
ringing it waited through plus every webhook answer as measured. Then the same with the database
stalled in 20% of calls, from a random request of the call to its end: a stalled request is
charged the whole voice budget (SIGURNA_VOICE_DB_BUDGET_MS, 1 s) on top of its measured time, as
if the database hung rather than failed (the breaker, which answers at once after three
failures, is kept out so that this is the worst case).
"""

from __future__ import annotations

import logging
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session

from core.app import create_app
from core.clock import FrozenClock
from core.db import create_db_engine, upgrade
from hotline import jobs
from hotline.voice_state import Breaker
from tests.conftest import World, make_settings
from tests.hotline.conftest import (
    BACKUP_PHONE,
    CALLER,
    HOTLINE_NUMBER,
    LAST_RESORT,
    PRIMARY_PHONE,
    SUPERVISOR_PHONE,
    make_line,
    twilio,
)
from tests.hotline.twilio_sim import Answer, Outcome, Phone, run_call

CALLS = 1_000
EVENING = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
PEOPLE = (PRIMARY_PHONE, BACKUP_PHONE, SUPERVISOR_PHONE, LAST_RESORT)
STALLED_SHARE = 0.2
SEED = 20261202


class Stall:
    def __init__(self, real: object) -> None:
        self.real = real
        self.on = False

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        if self.on:
            raise TimeoutError("database stalled")
        with self.real() as session:  # type: ignore[operator]
            yield session


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _one_call(
    client: TestClient,
    stall: Stall,
    budget: float,
    rngs: tuple[random.Random, random.Random],
    *,
    sid: str,
    share: float,
) -> Outcome:
    rng, stall_rng = rngs  # the same phones in both runs; stalls drawn apart
    phones = {
        n: Answer(Phone.ACCEPTS, rng.uniform(3, 15))
        if rng.random() < 0.8
        else Answer(Phone.RINGS_OUT)
        for n in PEOPLE
    }
    stalled = stall_rng.random() < share
    stalled_from = stall_rng.randrange(0, 6) if stalled else None
    requests = iter(range(100))

    def post(path: str, query: str, params: dict[str, str]) -> tuple[str, float]:
        hangs = stalled_from is not None and next(requests) >= stalled_from
        stall.on = hangs
        started = time.perf_counter()
        text = twilio(client, path, params, query=query).text
        took = time.perf_counter() - started
        stall.on = False
        # The screening prompt reads no database: a stall costs it nothing.
        return text, took + (budget if hangs and path != "/hotline/voice/screen" else 0.0)

    return run_call(post, sid=sid, hotline=HOTLINE_NUMBER, caller=CALLER, phones=phones)


def _simulate(
    client: TestClient, stall: Stall, budget: float, *, share: float, first_sid: int
) -> dict[str, float]:
    rngs = (random.Random(SEED), random.Random(SEED + 1))
    times: list[float] = []
    voicemails = fallback_answers = 0
    for index in range(CALLS):
        sid = f"CA{first_sid + index:032d}"
        outcome = _one_call(client, stall, budget, rngs, sid=sid, share=share)
        fallback_answers += sum("fallback=1" in a for a in outcome.answers)
        if outcome.accepted_by is None:
            voicemails += 1
        else:
            times.append(outcome.seconds)
    return {
        "median": statistics.median(times),
        "p90": _percentile(times, 0.9),
        "reached": len(times),
        "voicemail": voicemails,
        "fallback_answers": fallback_answers,
    }


def run() -> None:
    folder = Path(tempfile.mkdtemp(prefix="sigurna-bench-ladder-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    settings = make_settings(
        url,
        roster_cache_path=str(folder / "roster.json"),
        voice_journal_path=str(folder / "journal.jsonl"),
    )
    engine = create_db_engine(settings)
    upgrade(settings, engine)
    clock = FrozenClock(EVENING)
    with Session(engine, expire_on_commit=False) as session:
        make_line(
            World(session, clock, "unused"),
            shift_from=EVENING - timedelta(days=1),
            shift_until=EVENING + timedelta(days=1),
        )
        session.commit()
    app = create_app(settings, engine=engine, clock=clock)
    stall = Stall(app.state.unit_of_work)
    app.state.unit_of_work = stall
    app.state.voice.breaker = Breaker(threshold=10**9)
    budget = settings.voice_db_budget_ms / 1000
    logging.disable(logging.ERROR)  # every stalled answer logs an error: not a figure
    with TestClient(app, base_url="https://sigurna.example.org") as client:
        jobs.refresh_roster(app)
        print(f"{CALLS} calls; each person rung accepts with p=0.8 after 3-15 s, else rings out")
        scenarios = (("database up", 0.0), ("stall in 20% of calls", STALLED_SHARE))
        for number, (label, share) in enumerate(scenarios):
            r = _simulate(client, stall, budget, share=share, first_sid=number * CALLS)
            print(
                f"  {label}: time to an accepting human median {r['median']:.1f} s,"
                f" p90 {r['p90']:.1f} s; {r['reached']:.0f} reached a human,"
                f" {r['voicemail']:.0f} voicemail;"
                f" {r['fallback_answers']:.0f} answers from the roster"
            )
        jobs.replay_journal(app)
    logging.disable(logging.NOTSET)
    engine.dispose()
