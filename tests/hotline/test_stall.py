"""The database stalls in the middle of a call: nothing is lost and no number is rung twice.

Twilio is simulated from the outside (tests/hotline/twilio_sim.py): every request is signed and
follows the URLs of the answer before it. A stall here is a database that fails at once; the
same paths under a real writer lock and a real hung server are in test_stall_processes.py.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, col, func, select

from core.clock import FrozenClock
from hotline import jobs, replay
from hotline.models import Call, CallbackTask, CallRung, CallStatus
from hotline.service import reveal_caller, reveal_recording, status_callback_problem
from hotline.voice_state import Breaker
from notifications.models import OutboxMessage
from tests.hotline.conftest import (
    BACKUP_PHONE,
    CALLER,
    HOTLINE_NUMBER,
    LAST_RESORT,
    PRIMARY_PHONE,
    SUPERVISOR_PHONE,
    Line,
    action_query,
    tags,
    twilio,
)
from tests.hotline.twilio_sim import Answer, Outcome, Phone, Post, run_call

EVENING = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
XML = '<?xml version="1.0" encoding="UTF-8"?>'


class Switch:
    """The app's database, which a test can stall: while on, every transaction fails at once."""

    def __init__(self, app: FastAPI) -> None:
        self.real = app.state.unit_of_work
        self.on = False
        app.state.unit_of_work = self
        # The breaker would stop trying for 5 s after three failures: here each request says.
        app.state.voice.breaker = Breaker(threshold=10**9)

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        if self.on:
            raise OSError("database stalled")
        with self.real() as session:
            yield session


@pytest.fixture
def switch(app: FastAPI, line: Line, clock: FrozenClock) -> Iterator[Switch]:
    """An evening on the test line, its roster cached, its database ready to stall."""
    clock.set(EVENING)
    jobs.refresh_roster(app)
    stall = Switch(app)
    yield stall
    app.state.unit_of_work = stall.real


def poster(client: TestClient, switch: Switch, stalled: Callable[[int, str], bool]) -> Post:
    """Posts as Twilio; before request `i` to `path`, the database stalls if `stalled(i, path)`."""
    counter = itertools.count()

    def post(path: str, query: str, params: dict[str, str]) -> tuple[str, float]:
        switch.on = stalled(next(counter), path)
        try:
            response = twilio(client, path, params, query=query)
        finally:
            switch.on = False
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/xml")
        return response.text, 0.0

    return post


def dial_xml(rung: int, number: str, timeout: int, tried: str, *, fallback: bool) -> str:
    query = f"rung={rung}&amp;lang=cnr&amp;tried={tried}" + ("&amp;fallback=1" if fallback else "")
    return (
        f'{XML}<Response><Dial action="https://sigurna.example.org/hotline/voice/dial-result?'
        f'{query}" answerOnBridge="true" callerId="{HOTLINE_NUMBER}" method="POST"'
        f' timeout="{timeout}"><Number method="POST" url="https://sigurna.example.org/hotline/'
        f'voice/screen?{query}">{number}</Number></Dial></Response>'
    )


def _rungs(db: Session, call: Call) -> list[tuple[int, str, str | None]]:
    rows = db.exec(
        select(CallRung).where(CallRung.call_id == call.id).order_by(col(CallRung.index))
    ).all()
    return [(r.index, str(r.kind), r.dial_status) for r in rows]


def _missed_call_texts(db: Session, task: CallbackTask) -> list[str]:
    rows = db.exec(
        select(OutboxMessage.recipient).where(
            col(OutboxMessage.idempotency_key).startswith(f"missed-call:{task.id}:")
        )
    ).all()
    return sorted(rows)


def _calls(db: Session, sid: str) -> list[Call]:
    return list(db.exec(select(Call).where(Call.call_sid == sid)).all())


def _tasks(db: Session, call: Call) -> list[CallbackTask]:
    return list(db.exec(select(CallbackTask).where(CallbackTask.call_id == call.id)).all())


def _call(post: Post, sid: str, phones: dict[str, Answer] | None = None) -> Outcome:
    return run_call(post, sid=sid, hotline=HOTLINE_NUMBER, caller=CALLER, phones=phones or {})


def test_a_stall_as_the_backup_rings_out_climbs_on_to_the_supervisors(
    app: FastAPI, client: TestClient, switch: Switch, line: Line, db: Session, clock: FrozenClock
) -> None:
    # 0 voice, 1 primary rang out, 2 backup rang out (stalled from here), 3 supervisors rang
    # out, 4 last resort rang out, 5 the message; 6 the status callback, the database back.
    outcome = _call(poster(client, switch, lambda i, _: 2 <= i <= 5), "CA" + "1" * 32)
    assert outcome.dialled == [PRIMARY_PHONE, BACKUP_PHONE, SUPERVISOR_PHONE, LAST_RESORT]
    assert outcome.answers[2] == dial_xml(
        2, SUPERVISOR_PHONE, 25, tags(PRIMARY_PHONE, BACKUP_PHONE, SUPERVISOR_PHONE), fallback=True
    )
    assert outcome.voicemail
    assert outcome.accepted_by is None
    # The status callback found the database back: it applied the journal, then the status.
    call = _calls(db, "CA" + "1" * 32)[0]
    assert _rungs(db, call) == [
        (0, "primary", "no-answer"),
        (1, "backup", "no-answer"),
        (2, "supervisors", "no-answer"),
        (3, "last_resort", "no-answer"),
    ]
    assert call.status is CallStatus.ENDED
    assert call.recording_seconds == 31
    assert (
        reveal_recording(app.state.cipher, call)
        == "https://api.twilio.com/recordings/RE" + "1" * 32
    )
    (task,) = _tasks(db, call)
    assert _missed_call_texts(db, task) == sorted([PRIMARY_PHONE, BACKUP_PHONE])
    # The scheduled replay finds the same events: nothing is written twice.
    jobs.replay_journal(app)
    assert not app.state.voice.journal.pending()
    assert len(_calls(db, "CA" + "1" * 32)) == 1
    assert len(_tasks(db, call)) == 1
    assert len(_missed_call_texts(db, task)) == 2


def test_a_call_missed_entirely_in_a_stall_is_recorded_once_the_database_is_back(
    app: FastAPI, client: TestClient, switch: Switch, line: Line, db: Session, clock: FrozenClock
) -> None:
    sid = "CA" + "2" * 32
    outcome = _call(poster(client, switch, lambda i, _: True), sid)
    assert outcome.dialled == [PRIMARY_PHONE, BACKUP_PHONE, SUPERVISOR_PHONE, LAST_RESORT]
    assert outcome.answers[0] == dial_xml(0, PRIMARY_PHONE, 20, tags(PRIMARY_PHONE), fallback=True)
    assert outcome.voicemail
    assert _calls(db, sid) == []  # nothing reached the database: all of it is in the journal
    assert app.state.voice.journal.pending()
    # What the scheduler runs every few seconds, once the database answers again.
    jobs.replay_journal_safely(app)
    (call,) = _calls(db, sid)
    assert reveal_caller(app.state.cipher, call) == CALLER
    assert call.started_at == EVENING
    assert call.status is CallStatus.ENDED
    assert call.twilio_status == "completed"
    assert call.recording_sid == "RE" + "2" * 32
    assert _rungs(db, call) == [
        (0, "primary", "no-answer"),
        (1, "backup", "no-answer"),
        (2, "supervisors", "no-answer"),
        (3, "last_resort", "no-answer"),
    ]
    (task,) = _tasks(db, call)
    assert task.assigned_user_id == line.primary.id
    assert _missed_call_texts(db, task) == sorted([PRIMARY_PHONE, BACKUP_PHONE])
    assert not app.state.voice.journal.pending()
    # Twilio repeats the status callback: still one task, one text each.
    twilio(
        client,
        "/hotline/voice/status",
        {"CallSid": sid, "To": HOTLINE_NUMBER, "CallStatus": "completed"},
    )
    assert len(_tasks(db, call)) == 1
    assert len(_missed_call_texts(db, task)) == 2


def test_an_acceptance_journalled_in_a_stall_is_known_before_the_status_callback(
    app: FastAPI, client: TestClient, switch: Switch, line: Line, db: Session, clock: FrozenClock
) -> None:
    sid = "CA" + "3" * 32
    backup_accepts = {BACKUP_PHONE: Answer(Phone.ACCEPTS, 4.0)}
    # Stalled until the backup has pressed 1; back for the end of the dial and the status.
    post = poster(client, switch, lambda i, path: path != "/hotline/voice/status" and i <= 3)
    outcome = _call(post, sid, backup_accepts)
    assert outcome.accepted_by == BACKUP_PHONE
    (call,) = _calls(db, sid)
    assert call.accepted_by_user_id == line.backup.id
    assert call.accepted_rung == 1
    assert _tasks(db, call) == []
    assert db.exec(select(func.count()).select_from(OutboxMessage)).one() == 0


def test_a_press_of_1_in_a_stall_ends_the_ladder_when_the_database_is_back(
    app: FastAPI, client: TestClient, switch: Switch, line: Line, db: Session, clock: FrozenClock
) -> None:
    sid = "CA" + "6" * 32
    primary_accepts = {PRIMARY_PHONE: Answer(Phone.ACCEPTS, 6.0)}
    # Only the press of 1 meets a stall: it is journalled, and the end of the dial knows it.
    post = poster(client, switch, lambda i, path: path == "/hotline/voice/screen-result")
    outcome = _call(post, sid, primary_accepts)
    assert outcome.accepted_by == PRIMARY_PHONE
    assert outcome.answers[3] == f"{XML}<Response />"
    (call,) = _calls(db, sid)
    assert call.accepted_rung == 0
    assert call.accepted_by_user_id == line.primary.id
    assert _rungs(db, call) == [(0, "primary", "completed")]
    assert _tasks(db, call) == []


def test_a_status_callback_for_a_call_never_recorded_still_makes_its_callback_task(
    app: FastAPI, client: TestClient, line: Line, db: Session, clock: FrozenClock
) -> None:
    # Answered by Twilio's Fallback URL, or in a stall whose journal was lost with its disk.
    clock.set(EVENING)
    sid = "CA" + "4" * 32
    params = {"CallSid": sid, "From": CALLER, "To": HOTLINE_NUMBER, "CallDuration": "95"}
    response = twilio(client, "/hotline/voice/status", {**params, "CallStatus": "completed"})
    assert response.text == f"{XML}<Response />"
    (call,) = _calls(db, sid)
    assert call.started_at == EVENING - timedelta(seconds=95)
    assert reveal_caller(app.state.cipher, call) == CALLER
    (task,) = _tasks(db, call)
    assert _missed_call_texts(db, task) == sorted([PRIMARY_PHONE, BACKUP_PHONE])
    # A status callback for a number that is no hotline of ours records nothing.
    twilio(
        client,
        "/hotline/voice/status",
        {**params, "CallSid": "CA" + "5" * 32, "To": "+442079460999", "CallStatus": "completed"},
    )
    assert _calls(db, "CA" + "5" * 32) == []


# --- any stall, anywhere -----------------------------------------------------------------------

_sids = itertools.count(1)
PEOPLE = (PRIMARY_PHONE, BACKUP_PHONE, SUPERVISOR_PHONE, LAST_RESORT)
answers = st.builds(
    Answer,
    st.sampled_from(list(Phone)),
    st.floats(min_value=1.0, max_value=30.0, allow_nan=False),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    phones=st.fixed_dictionaries(dict.fromkeys(PEOPLE, answers)),
    stalls=st.lists(st.booleans(), min_size=16, max_size=16),
)
def test_whatever_stalls_no_number_is_rung_twice_and_no_missed_call_is_lost(
    app: FastAPI,
    client: TestClient,
    switch: Switch,
    line: Line,
    db: Session,
    clock: FrozenClock,
    phones: dict[str, Answer],
    stalls: list[bool],
) -> None:
    sid = f"CA{next(_sids):032d}"
    outcome = _call(poster(client, switch, lambda i, _: stalls[i % len(stalls)]), sid)
    assert len(outcome.dialled) == len(set(outcome.dialled)), "a number was rung twice"
    assert outcome.accepted_by is not None or outcome.voicemail, "the caller was left alone"
    jobs.replay_journal(app)  # the database is back
    (call,) = _calls(db, sid)
    tasks = _tasks(db, call)
    if outcome.accepted_by is not None:
        assert call.accepted_rung is not None
        assert tasks == []
    else:
        assert call.accepted_rung is None
        assert len(tasks) == 1
        assert _missed_call_texts(db, tasks[0]) == sorted([PRIMARY_PHONE, BACKUP_PHONE])


def test_calls_without_any_status_callback_are_reported(
    app: FastAPI, client: TestClient, line: Line, db: Session, clock: FrozenClock
) -> None:
    clock.set(EVENING)
    twilio(
        client, "/hotline/voice", {"CallSid": "CA" + "7" * 32, "From": CALLER, "To": HOTLINE_NUMBER}
    )
    assert status_callback_problem(db, now=clock.now()) is None  # too recent to tell
    clock.advance(timedelta(minutes=11))
    assert status_callback_problem(db, now=clock.now()) == (
        "calls were answered but no status callback arrived for the latest of them: set the"
        " number's Status Callback URL to /hotline/voice/status, or missed calls get no"
        " callback task"
    )
    twilio(
        client,
        "/hotline/voice/status",
        {"CallSid": "CA" + "7" * 32, "To": HOTLINE_NUMBER, "CallStatus": "completed"},
    )
    assert status_callback_problem(db, now=clock.now()) is None


def test_a_press_of_1_journalled_by_another_process_ends_the_ladder(
    app: FastAPI, client: TestClient, switch: Switch, line: Line, db: Session, clock: FrozenClock
) -> None:
    sid = "CA" + "8" * 32
    post = poster(client, switch, lambda i, path: True)
    first, _ = post("/hotline/voice", "", {"CallSid": sid, "From": CALLER, "To": HOTLINE_NUMBER})
    # Another web process took the press of 1: only the shared journal knows.
    app.state.voice.journal.append(
        replay.accepted(sid=sid, to=HOTLINE_NUMBER, at=EVENING, step=0, number=PRIMARY_PHONE)
    )
    ended, _ = post(
        "/hotline/voice/dial-result",
        action_query(first),
        {
            "CallSid": sid,
            "To": HOTLINE_NUMBER,
            "DialCallStatus": "completed",
            "CallStatus": "in-progress",
        },
    )
    assert ended == f"{XML}<Response />"
