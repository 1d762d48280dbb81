"""The database is down or slow while calls come in: every answer is TwiML that dials a human."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from core.app import create_app
from core.clock import FrozenClock
from core.models import Role
from hotline import jobs
from hotline.voice_state import Breaker
from tests.conftest import World, act_as, make_settings
from tests.hotline.conftest import (
    BACKUP_PHONE,
    HOTLINE_NUMBER,
    LAST_RESORT,
    PRIMARY_PHONE,
    SUPERVISOR_PHONE,
    Line,
    action_query,
    call_params,
    tags,
    twilio,
)

EVENING = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
SETTINGS_LAST_RESORT = "+442079460198"


def _broken_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        folder = tmp_path / "not-a-database"
        folder.mkdir()
        return f"sqlite:///{folder}"  # a directory: SQLite cannot open it
    return "postgresql+psycopg://nobody@127.0.0.1:9/gone"  # nothing listens on port 9


def _broken_app(backend: str, tmp_path: Path, roster: Path) -> FastAPI:
    settings = make_settings(
        _broken_url(backend, tmp_path),
        roster_cache_path=str(roster),
        hotline_last_resort_numbers=[SETTINGS_LAST_RESORT],
        db_connect_timeout_seconds=1,
    )
    return create_app(settings, clock=FrozenClock(EVENING))


def _dials(xml: str) -> list[str]:
    return re.findall(r"<Number[^>]*>([^<]+)</Number>", xml)


def test_database_down_the_cached_roster_is_climbed_to_the_end(
    app: FastAPI, line: Line, clock: FrozenClock, backend: str, tmp_path: Path
) -> None:
    clock.set(EVENING)
    roster = Path(app.state.settings.roster_cache_path)
    assert jobs.refresh_roster(app) == 1  # the last good roster, written to disk

    broken = _broken_app(backend, tmp_path, roster)
    with TestClient(broken, base_url="https://testserver") as client:
        first = twilio(client, "/hotline/voice", call_params())
        assert first.status_code == 200
        assert first.headers["content-type"].startswith("application/xml")
        assert _dials(first.text) == [PRIMARY_PHONE]
        assert "fallback=1" in first.text
        dialled = [_dials(first.text)]
        answer = first.text
        for rung in range(4):
            query = action_query(answer)
            rung_so_far = [n for numbers in dialled for n in numbers]
            assert query == f"rung={rung}&lang=cnr&tried={tags(*rung_so_far)}&fallback=1"
            response = twilio(
                client,
                "/hotline/voice/dial-result",
                call_params(DialCallStatus="no-answer", CallStatus="in-progress"),
                query=query,
            )
            assert response.status_code == 200
            answer = response.text
            dialled.append(_dials(answer))
        assert dialled == [
            [PRIMARY_PHONE],
            [BACKUP_PHONE],
            [SUPERVISOR_PHONE],
            [LAST_RESORT],
            [SETTINGS_LAST_RESORT],
        ]
        # Someone accepts on the last rung: the call is theirs, the ladder ends.
        leg = {
            "CallSid": "CA" + "7" * 32,
            "ParentCallSid": "CA" + "1" * 32,
            "To": SETTINGS_LAST_RESORT,
            "From": HOTLINE_NUMBER,
        }
        accepted = twilio(
            client,
            "/hotline/voice/screen-result",
            {**leg, "Digits": "1"},
            query="rung=4&lang=cnr&fallback=1",
        )
        assert accepted.status_code == 200
        assert accepted.text.endswith("<Response />")
        done = twilio(
            client,
            "/hotline/voice/dial-result",
            call_params(DialCallStatus="completed", CallStatus="in-progress"),
            query="rung=4&lang=cnr&fallback=1",
        )
        assert done.text.endswith("<Response />")
        # Bookkeeping callbacks are answered too, never with a 5xx.
        for path in ("/hotline/voice/status", "/hotline/voice/voicemail"):
            response = twilio(client, path, call_params(CallStatus="completed"))
            assert response.status_code == 200
            assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?><Response')
        assert client.app.state.voice.counters["fallback_voice"] == 1  # type: ignore[attr-defined]


def test_database_down_and_no_roster_yet_rings_the_settings_numbers(
    backend: str, tmp_path: Path
) -> None:
    broken = _broken_app(backend, tmp_path, tmp_path / "never-written.json")
    with TestClient(broken, base_url="https://testserver") as client:
        response = twilio(client, "/hotline/voice", call_params())
    assert response.status_code == 200
    assert _dials(response.text) == [SETTINGS_LAST_RESORT]


def test_a_mid_call_database_failure_starts_the_cached_ladder(
    app: FastAPI, line: Line, clock: FrozenClock, backend: str, tmp_path: Path
) -> None:
    clock.set(EVENING)
    roster = Path(app.state.settings.roster_cache_path)
    jobs.refresh_roster(app)
    broken = _broken_app(backend, tmp_path, roster)
    with TestClient(broken, base_url="https://testserver") as client:
        response = twilio(
            client,
            "/hotline/voice/dial-result",
            call_params(DialCallStatus="no-answer", CallStatus="in-progress"),
            query="rung=1&lang=cnr",
        )
    assert response.status_code == 200
    assert _dials(response.text) == [PRIMARY_PHONE]


def test_a_slow_database_is_given_up_on_after_the_budget(
    app: FastAPI, line: Line, clock: FrozenClock, db: Session
) -> None:
    clock.set(EVENING)
    jobs.refresh_roster(app)
    app.state.settings = app.state.settings.model_copy(update={"voice_db_budget_ms": 200})
    real = app.state.unit_of_work

    @contextmanager
    def slow() -> Iterator[Session]:
        time.sleep(1.0)
        with real() as session:
            yield session

    app.state.unit_of_work = slow
    with TestClient(app, base_url="https://testserver") as client:
        response = twilio(client, "/hotline/voice", call_params())
        time.sleep(1.2)  # let the abandoned worker finish before the test's transaction ends
    assert response.status_code == 200
    assert _dials(response.text) == [PRIMARY_PHONE]
    assert "fallback=1" in response.text


@pytest.mark.parametrize(
    "path", ["/hotline/voice", "/hotline/voice/dial-result", "/hotline/voice/screen"]
)
def test_garbage_from_twilio_still_gets_twiml(client: TestClient, line: Line, path: str) -> None:
    params = {"CallSid": "", "To": "", "From": "", "DialCallStatus": "\u0000weird"}
    response = twilio(client, path, params, query="rung=banana")
    assert response.status_code == 200
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?><Response')


def test_even_a_broken_roster_leaves_the_settings_numbers(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = _broken_app(backend, tmp_path, tmp_path / "never-written.json")

    def explode(number: str) -> tuple[()]:
        raise RuntimeError("roster corrupted")

    monkeypatch.setattr(broken.state.voice.roster, "fallback_plan", explode)
    with TestClient(broken, base_url="https://testserver") as client:
        response = twilio(client, "/hotline/voice", call_params())
    assert response.status_code == 200
    assert _dials(response.text) == [SETTINGS_LAST_RESORT]
    assert "<Record" in response.text


def test_the_breaker_opens_after_three_failures_and_lets_one_probe_through() -> None:
    now = [100.0]
    breaker = Breaker(threshold=3, cooldown=5.0, monotonic=lambda: now[0])
    for _ in range(3):
        assert breaker.allow()
        breaker.failed()
    assert not breaker.allow()
    now[0] += 4.9
    assert not breaker.allow()
    now[0] += 0.1
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one at a time
    breaker.failed()
    assert not breaker.allow()
    now[0] += 5.0
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.allow()
    assert breaker.allow()


def test_a_failing_database_is_not_waited_for_again_and_again(
    app: FastAPI, line: Line, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    jobs.refresh_roster(app)
    attempts = []

    @contextmanager
    def down() -> Iterator[Session]:
        attempts.append(1)
        raise OSError("connection refused")
        yield  # pragma: no cover

    app.state.unit_of_work = down
    app.state.ladders.clear()
    with TestClient(app, base_url="https://testserver") as client:
        answers = [
            twilio(client, "/hotline/voice", call_params(f"CA{index:032d}")) for index in range(6)
        ]
    assert all(_dials(a.text) == [PRIMARY_PHONE] for a in answers)
    assert len(attempts) == 3  # then answered from the roster without trying


def test_a_new_line_and_its_first_shift_are_in_the_fallback_roster_at_once(
    app: FastAPI, client: TestClient, line: Line, world: World, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    number = "+442079460177"
    roster = app.state.voice.roster
    jobs.refresh_roster(app)
    assert [r.numbers for r in roster.fallback_plan(number)] == []
    admin = world.user(line.organisation, Role.ADMIN)
    base = f"/organisations/{line.organisation.id}/hotlines"
    created = act_as(client, world.login_cookie(admin)).post(
        base,
        json={"name": "Second line", "twilio_number": number, "last_resort_number": LAST_RESORT},
    )
    assert created.status_code == 201, created.text
    # No timer has run: the change itself rebuilt the roster.
    assert [r.numbers for r in roster.fallback_plan(number)] == [
        (SUPERVISOR_PHONE,),
        (LAST_RESORT,),
    ]
    shift = act_as(client, world.login_cookie(line.supervisor)).post(
        f"{base}/{created.json()['id']}/shifts",
        json={
            "starts_at": (EVENING - timedelta(hours=1)).isoformat(),
            "ends_at": (EVENING + timedelta(hours=8)).isoformat(),
            "primary_user_id": str(line.backup.id),
        },
    )
    assert shift.status_code == 201, shift.text
    assert [r.numbers for r in roster.fallback_plan(number)] == [
        (BACKUP_PHONE,),
        (SUPERVISOR_PHONE,),
        (LAST_RESORT,),
    ]
