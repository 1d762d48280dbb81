"""Real uvicorn on PostgreSQL, load from another process: signed /hotline/voice vs /healthz.

Then the same with the database stopped (connections refused) and hung (a listener that never
answers): every voice answer must still dial a human.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from bench.support import (
    ENCRYPTION_KEYS,
    SECRET_KEY,
    TWILIO_TOKEN,
    bench_settings,
    fresh_postgres,
)
from core.clock import SystemClock
from core.db import create_db_engine, unit_of_work, upgrade
from core.models import Organisation, OrganisationKind, Role, User, UserRole
from hotline.models import DutyPhone, Hotline, Shift

HOTLINE = "+442079460100"
TOKEN = TWILIO_TOKEN
BASE = "https://bench.example.org"
CONCURRENCY = 50
SECONDS = 8.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(database_url: str, roster: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "SIGURNA_MODE": "test",
            "SIGURNA_SECRET_KEY": SECRET_KEY,
            "SIGURNA_ENCRYPTION_KEYS": ENCRYPTION_KEYS,
            "SIGURNA_TWILIO_AUTH_TOKEN": TOKEN,
            "SIGURNA_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "SIGURNA_DATABASE_URL": database_url,
            "SIGURNA_PUBLIC_BASE_URL": BASE,
            "SIGURNA_ROSTER_CACHE_PATH": str(roster),
            "SIGURNA_HOTLINE_LAST_RESORT_NUMBERS": "+442079460198",
            "SIGURNA_LOG_LEVEL": "WARNING",
            "SIGURNA_DB_CONNECT_TIMEOUT_SECONDS": "2",
        }
    )
    return env


def _seed(url: str) -> None:
    settings = bench_settings(url)
    engine = create_db_engine(settings)
    upgrade(settings, engine)
    now = SystemClock().now()
    with unit_of_work(engine) as session:
        org = Organisation(
            name="Bench NGO",
            kind=OrganisationKind.NGO,
            country_code="ME",
            time_zone="Europe/Podgorica",
            created_at=now,
        )
        session.add(org)
        session.flush()
        people = []
        for index, role in enumerate(
            [Role.COUNSELOR, Role.COUNSELOR, Role.SUPERVISOR, Role.SUPERVISOR]
        ):
            user = User(
                organisation_id=org.id,
                email=f"p{index}@example.org",
                display_name=f"P{index}",
                password_hash="x",
                created_at=now,
                password_changed_at=now,
            )
            session.add(user)
            session.flush()
            session.add(UserRole(user_id=user.id, role=role))
            session.add(
                DutyPhone(
                    organisation_id=org.id,
                    user_id=user.id,
                    number=f"+6149157001{index + 1}",
                    verified_at=now,
                    created_at=now,
                )
            )
            people.append(user)
        hotline = Hotline(
            organisation_id=org.id,
            name="Bench line",
            twilio_number=HOTLINE,
            time_zone="Europe/Podgorica",
            holiday_country="ME",
            on_call_24h=True,
            last_resort_number="+442079460199",
            created_at=now,
            updated_at=now,
        )
        session.add(hotline)
        session.flush()
        session.add(
            Shift(
                hotline_id=hotline.id,
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(days=1),
                primary_user_id=people[0].id,
                backup_user_id=people[1].id,
                created_at=now,
            )
        )
    engine.dispose()


def _start_server(env: dict[str, str], workers: int = 1) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [
            sys.executable,
            "-m",
            "uvicorn",
            "core.app:build_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ],
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return process, port
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("server did not start")


def _peak_rss_mb(pid: int) -> float:
    """Peak resident memory of a process and its children (uvicorn's workers), in MB."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def _load(port: int, target: str, seconds: float) -> dict[str, object]:
    """Run bench/loadgen.py in another process and read its JSON summary."""
    out = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-m",
            "bench.loadgen",
            str(port),
            target,
            str(seconds),
            str(CONCURRENCY),
            BASE,
            TOKEN,
            HOTLINE,
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def _line(label: str, r: dict[str, object]) -> str:
    return (
        f"{label:<34} {r['requests']:>6} req  {r['rps']:>8.1f} req/s  p50={r['p50']:7.1f} ms  "
        f"p95={r['p95']:7.1f} ms  p99={r['p99']:7.1f} ms  errors={r['errors']}  "
        f"dials_a_human={r['dials']}/{r['requests']}"
    )


def _blackhole() -> tuple[socket.socket, int]:
    """A listener that accepts connections and never says a word (a hung database)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(512)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            held.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    return listener, int(listener.getsockname()[1])


def run() -> None:
    url = fresh_postgres("sigurna_bench_voice")
    if url is None:
        print("postgresql: no server answers; set SIGURNA_BENCH_DATABASE_URL to run this benchmark")
        return
    _seed(url)
    with tempfile.TemporaryDirectory() as folder:
        roster = Path(folder) / "roster.json"
        server, port = _start_server(_env(url, roster))
        try:
            _load(port, "healthz", 2.0)  # warm-up
            health = _load(port, "healthz", SECONDS)
            voice = _load(port, "voice", SECONDS)
            peak = _peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(10)
        print(f"database up (PostgreSQL), {CONCURRENCY} concurrent clients, {SECONDS:.0f} s each:")
        print(_line("  GET /healthz", health))
        print(_line("  POST /hotline/voice (signed)", voice))
        ratio = float(voice["rps"]) / float(health["rps"])  # type: ignore[arg-type]
        print(f"  voice/healthz throughput ratio: {ratio:.0%} (target >= 30%)")
        print(f"  voice p99: {voice['p99']:.1f} ms (target < 100 ms)")
        print(f"  server peak memory (VmHWM): {peak:.0f} MB (target < 250 MB)")

        for label, database in (
            ("stopped (refused)", "postgresql+psycopg://postgres@127.0.0.1:9/gone"),
        ):
            server, port = _start_server(_env(database, roster))
            try:
                down = _load(port, "voice", SECONDS)
            finally:
                server.terminate()
                server.wait(10)
            print(f"database {label}:")
            print(_line("  POST /hotline/voice (signed)", down))
            print(f"  voice p99: {down['p99']:.1f} ms (target < 1500 ms)")
        listener, hung_port = _blackhole()
        try:
            server, port = _start_server(
                _env(f"postgresql+psycopg://postgres@127.0.0.1:{hung_port}/hung", roster)
            )
            try:
                hung = _load(port, "voice", SECONDS)
            finally:
                server.terminate()
                server.wait(10)
        finally:
            listener.close()
        print("database hung (accepts, never answers):")
        print(_line("  POST /hotline/voice (signed)", hung))
        print(f"  voice p99: {hung['p99']:.1f} ms (target < 1500 ms)")
