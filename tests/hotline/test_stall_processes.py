"""Real stalls, end to end through the signed voice webhooks.

SQLite: another process holds the writer lock. PostgreSQL: the service reaches the server
through a proxy that stops forwarding (the server itself is shared by the suite, so it is not
paused with SIGSTOP; to the service, a proxy holding every byte is the same hang). And a real
web process killed with SIGKILL in a stall: its journal is replayed by the next one.
"""

from __future__ import annotations

import gc
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx2
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from core.app import create_app
from core.clock import FrozenClock, SystemClock
from core.db import READ_ONLY, create_db_engine, upgrade
from hotline import jobs
from hotline.models import Call, CallbackTask, CallRung
from notifications.models import OutboxMessage
from tests.conftest import (
    TEST_ENCRYPTION_KEYS,
    TEST_SECRET,
    TWILIO_AUTH_TOKEN,
    World,
    drop_postgres_database,
    make_settings,
    private_postgres_url,
    recreate_postgres_database,
)
from tests.hotline.conftest import (
    BACKUP_PHONE,
    CALLER,
    HOTLINE_NUMBER,
    LAST_RESORT,
    PRIMARY_PHONE,
    SUPERVISOR_PHONE,
    make_line,
    sign,
    twilio,
)
from tests.hotline.twilio_sim import Post, run_call

EVENING = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
LADDER = [PRIMARY_PHONE, BACKUP_PHONE, SUPERVISOR_PHONE, LAST_RESORT]
BUDGET_MS = 400


# --- stalls -----------------------------------------------------------------------------------


class Stall:
    def begin(self) -> None:
        raise NotImplementedError

    def end(self) -> None:
        raise NotImplementedError


class WriterLock(Stall):
    """Another process holds SQLite's writer lock (BEGIN IMMEDIATE) while stalled."""

    SCRIPT = (
        "import sqlite3,sys\n"
        "c=sqlite3.connect(sys.argv[1],isolation_level=None)\n"
        "for line in sys.stdin:\n"
        "    c.execute('BEGIN IMMEDIATE' if line.strip()=='lock' else 'ROLLBACK')\n"
        "    print('ok',flush=True)\n"
    )

    def __init__(self, path: str) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (our own interpreter)
            [sys.executable, "-c", self.SCRIPT, path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.held = False

    def _say(self, word: str) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "ok"

    def begin(self) -> None:
        if not self.held:
            self._say("lock")
            self.held = True

    def end(self) -> None:
        if self.held:
            self._say("unlock")
            self.held = False

    def close(self) -> None:
        self.end()
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class HangingProxy(Stall):
    """A TCP proxy to PostgreSQL that, while stalled, holds every byte in both directions."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        selector.register(a, selectors.EVENT_READ, b)
        selector.register(b, selectors.EVENT_READ, a)
        try:
            while not self.closed:
                for key, _ in selector.select(timeout=0.2):
                    self.flowing.wait()
                    data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def begin(self) -> None:
        self.flowing.clear()

    def end(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.closed = True
        self.flowing.set()
        self.listener.close()


# --- a database of the test's own, with a hotline and its rota --------------------------------


@dataclass
class RealDatabase:
    url: str  # as the service reaches it (through the proxy on PostgreSQL)
    engine: Engine  # direct, for setting up and checking
    stall: Stall


def _seed(engine: Engine, clock: FrozenClock, *, on_call_24h: bool = False) -> None:
    with Session(engine, expire_on_commit=False) as session:
        world = World(session, clock, "unused-hash")
        now = clock.now()
        line = make_line(
            world, shift_from=now - timedelta(days=1), shift_until=now + timedelta(days=1)
        )
        line.hotline.on_call_24h = on_call_24h
        session.add(line.hotline)
        session.commit()


@pytest.fixture
def real_db(backend: str, tmp_path: Path) -> Iterator[RealDatabase]:
    if backend == "sqlite":
        path = tmp_path / "stall.db"
        url = f"sqlite:///{path}"
        engine = create_db_engine(make_settings(url))
        upgrade(make_settings(url), engine)
        lock = WriterLock(str(path))
        try:
            yield RealDatabase(url, engine, lock)
        finally:
            lock.close()
            engine.dispose()
        return
    url = private_postgres_url("_stall")
    recreate_postgres_database(url)
    engine = create_db_engine(make_settings(url))
    parsed = sa.make_url(url)
    proxy = HangingProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
    proxied = parsed.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        upgrade(make_settings(url), engine)
        yield RealDatabase(proxied, engine, proxy)
    finally:
        proxy.close()
        engine.dispose()
        _collect_abandoned()
        drop_postgres_database(url)


def _collect_abandoned() -> None:
    """A stalled query's thread is abandoned by design (the call is answered from the cache);
    when it finishes, after the app has shut down and disposed of its pool, its connection
    returns to that pool, which nothing closes: it is closed when the garbage collector finds
    it, with psycopg's ResourceWarning. Collected here, once the proxy has cut every proxied
    socket, so that the warning cannot land on whichever test runs next in this process."""
    time.sleep(0.5)  # the proxy's pumps notice they are closed within 0.2 s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def _app(db: RealDatabase, tmp_path: Path, **overrides: object) -> FastAPI:
    settings = make_settings(
        db.url,
        voice_db_budget_ms=BUDGET_MS,
        roster_cache_path=str(tmp_path / "roster.json"),
        voice_journal_path=str(tmp_path / "journal.jsonl"),
        db_connect_timeout_seconds=2,
        **overrides,
    )
    return create_app(settings, clock=FrozenClock(EVENING))


def _poster(client: TestClient, stall: Stall, stalled: Callable[[int], bool]) -> Post:
    count = iter(range(10_000))

    def post(path: str, query: str, params: dict[str, str]) -> tuple[str, float]:
        if stalled(next(count)):
            stall.begin()
        else:
            stall.end()
        started = time.monotonic()
        response = twilio(client, path, params, query=query)
        assert response.status_code == 200
        return response.text, time.monotonic() - started

    return post


def _recorded(
    engine: Engine, sid: str
) -> tuple[list[Call], list[tuple[int, str, str | None]], int, int]:
    """The call rows of `sid`, its rungs, its callback tasks and its missed-call texts."""
    # A reader: on SQLite it does not queue behind the writer lock the test may hold.
    with Session(engine.execution_options(**{READ_ONLY: True})) as session:
        calls = list(session.exec(select(Call).where(Call.call_sid == sid)).all())
        if not calls:
            return [], [], 0, 0
        rungs = session.exec(
            select(CallRung).where(CallRung.call_id == calls[0].id).order_by(col(CallRung.index))
        ).all()
        tasks = session.exec(select(CallbackTask).where(CallbackTask.call_id == calls[0].id)).all()
        texts = 0
        for task in tasks:
            texts += len(
                session.exec(
                    select(OutboxMessage.id).where(
                        col(OutboxMessage.idempotency_key).startswith(f"missed-call:{task.id}:")
                    )
                ).all()
            )
        return calls, [(r.index, str(r.kind), r.dial_status) for r in rungs], len(tasks), texts


def _wait_for(check: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError("not recorded in time")


RANG_OUT = [
    (0, "primary", "no-answer"),
    (1, "backup", "no-answer"),
    (2, "supervisors", "no-answer"),
    (3, "last_resort", "no-answer"),
]


# --- the two stalls ---------------------------------------------------------------------------


def test_a_call_missed_in_a_real_stall_is_recorded_by_itself_once_the_database_is_back(
    real_db: RealDatabase, tmp_path: Path
) -> None:
    _seed(real_db.engine, FrozenClock(EVENING))
    # The web process's own jobs: the roster at start-up, the journal every second.
    app = _app(
        real_db,
        tmp_path,
        background_jobs=True,
        embedded_scheduler=False,
        voice_journal_replay_seconds=1,
    )
    sid = "CA" + uuid.uuid4().hex
    with TestClient(app, base_url="https://testserver") as client:
        post = _poster(client, real_db.stall, lambda i: True)  # stalled from the first ring
        outcome = run_call(post, sid=sid, hotline=HOTLINE_NUMBER, caller=CALLER, phones={})
        assert outcome.dialled == LADDER
        assert outcome.voicemail
        assert _recorded(real_db.engine, sid)[0] == []  # the database refused everything
        real_db.stall.end()
        # Nobody does anything: the process's replay job records the call.
        _wait_for(lambda: _recorded(real_db.engine, sid)[2] == 1)
    calls, rungs, tasks, texts = _recorded(real_db.engine, sid)
    assert len(calls) == 1
    assert rungs == RANG_OUT
    assert tasks == 1
    assert texts == 2
    assert calls[0].recording_sid == "RE" + sid[2:]


def test_a_real_stall_as_the_backup_rings_out_never_rings_the_primary_again(
    real_db: RealDatabase, tmp_path: Path
) -> None:
    _seed(real_db.engine, FrozenClock(EVENING))
    app = _app(real_db, tmp_path)
    sid = "CA" + uuid.uuid4().hex
    with TestClient(app, base_url="https://testserver") as client:
        jobs.refresh_roster(app)
        # 0 voice and 1 the primary's end: the database answers; 2 the backup's end to 5 the
        # message: stalled; 6 the status callback: back.
        post = _poster(client, real_db.stall, lambda i: 2 <= i <= 5)
        outcome = run_call(post, sid=sid, hotline=HOTLINE_NUMBER, caller=CALLER, phones={})
        assert outcome.dialled == LADDER
        assert "fallback=1" not in outcome.answers[1]
        assert "fallback=1" in outcome.answers[2]
        _wait_for(lambda: _recorded(real_db.engine, sid)[2] == 1)
    calls, rungs, tasks, texts = _recorded(real_db.engine, sid)
    assert len(calls) == 1
    assert rungs == RANG_OUT
    assert tasks == 1
    assert texts == 2


# --- SIGKILL in a stall -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(url: str, tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        {
            "SIGURNA_MODE": "test",
            "SIGURNA_SECRET_KEY": TEST_SECRET,
            "SIGURNA_ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
            "SIGURNA_TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
            "SIGURNA_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "SIGURNA_DATABASE_URL": url,
            "SIGURNA_PUBLIC_BASE_URL": "https://sigurna.example.org",
            "SIGURNA_ROSTER_CACHE_PATH": str(tmp_path / "roster.json"),
            "SIGURNA_VOICE_JOURNAL_PATH": str(tmp_path / "journal.jsonl"),
            "SIGURNA_VOICE_JOURNAL_REPLAY_SECONDS": "1",
            "SIGURNA_VOICE_DB_BUDGET_MS": str(BUDGET_MS),
            "SIGURNA_EMBEDDED_SCHEDULER": "false",
            "SIGURNA_LOG_LEVEL": "WARNING",
        }
    )
    process = subprocess.Popen(  # noqa: S603 (our own interpreter)
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "core.app:build_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx2.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("the web process did not start")


def _http_poster(port: int) -> Post:
    def post(path: str, query: str, params: dict[str, str]) -> tuple[str, float]:
        started = time.monotonic()
        response = httpx2.post(
            f"http://127.0.0.1:{port}{path}" + (f"?{query}" if query else ""),
            content=urlencode(params),
            headers={
                "X-Twilio-Signature": sign(path, params, query=query),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            timeout=10,
        )
        assert response.status_code == 200
        return response.text, time.monotonic() - started

    return post


def test_the_journal_of_a_web_process_killed_in_a_stall_is_replayed_by_the_next(
    real_db: RealDatabase, tmp_path: Path
) -> None:
    # A real clock in a real process: the line rings the duty ladder at any hour.
    _seed(real_db.engine, FrozenClock(SystemClock().now()), on_call_24h=True)
    port = _free_port()
    first = _serve(real_db.url, tmp_path, port)
    sid = "CA" + uuid.uuid4().hex
    try:
        real_db.stall.begin()
        outcome = run_call(
            _http_poster(port),
            sid=sid,
            hotline=HOTLINE_NUMBER,
            caller=CALLER,
            phones={},
            status_callback=False,
        )
        assert outcome.dialled == LADDER
        assert outcome.voicemail
        first.send_signal(signal.SIGKILL)  # mid-stall: nothing of this call is in the database
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    assert _recorded(real_db.engine, sid)[0] == []
    real_db.stall.end()
    second = _serve(real_db.url, tmp_path, port)
    try:
        # The next process replays the journal at start-up.
        _wait_for(lambda: len(_recorded(real_db.engine, sid)[1]) == 4)
        # Twilio's status callback for the call reaches the new process.
        _http_poster(port)(
            "/hotline/voice/status",
            "",
            {"CallSid": sid, "From": CALLER, "To": HOTLINE_NUMBER, "CallStatus": "completed"},
        )
    finally:
        second.terminate()
        second.wait(timeout=15)
    calls, rungs, tasks, texts = _recorded(real_db.engine, sid)
    assert len(calls) == 1
    assert rungs == RANG_OUT
    assert tasks == 1
    assert texts == 2
    assert not list(tmp_path.glob("journal.jsonl.*.replay"))
