"""A real server for the browser tests: its own database, migrated and loaded with demo data by
the `sigurna` command, seeded through the app's services, then served by uvicorn on a free port.

In CI, or whenever the tests' PostgreSQL server answers, the database is a private PostgreSQL
database of this run; otherwise a SQLite file in a temporary folder.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyotp
import pytest

from core.clock import SystemClock
from core.config import get_settings
from tests.conftest import (
    _server_answers,
    drop_postgres_database,
    in_ci,
    postgres_url,
    private_postgres_url,
    recreate_postgres_database,
)

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
STARTUP_SECONDS = 90
TOTP_STEP = 30

# `sigurna demo load` writes "  <email> <roles> <password>" per account, then the second
# factor's secrets as "    <email> <secret>".
_PASSWORD_LINE = re.compile(r"^  (\S+@\S+)\s+(\S+)\s+(\S+)$")
_SECRET_LINE = re.compile(r"^    (\S+@\S+)\s+([A-Z2-7]{16,})$")


@dataclass
class Account:
    email: str
    roles: tuple[str, ...]
    password: str
    totp_secret: str | None = None


@dataclass
class Accounts:
    """The demo accounts, and the TOTP steps this run has spent (a step is accepted once)."""

    by_email: dict[str, Account]
    used_steps: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, email: str) -> Account:
        return self.by_email[email]

    def code(self, email: str) -> str:
        """A TOTP code the server will accept now: the current step, or the next one when the
        current was spent (the server accepts one step either side); when both were spent,
        wait for the clock to move on."""
        secret = self.by_email[email].totp_secret
        assert secret is not None, f"{email} has no second factor"
        while True:
            seconds = SystemClock().now().timestamp()
            current = int(seconds) // TOTP_STEP
            last = self.used_steps.get(email)
            step = current if last is None or last < current else last + 1
            if step <= current + 1:
                break
            time.sleep(TOTP_STEP - seconds % TOTP_STEP + 0.2)
        self.used_steps[email] = step
        return str(pyotp.TOTP(secret).at(step * TOTP_STEP))


def read_accounts(path: Path) -> Accounts:
    accounts: dict[str, Account] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if found := _PASSWORD_LINE.match(line):
            email, roles, password = found.groups()
            accounts[email] = Account(email, tuple(roles.split(",")), password)
        elif (found := _SECRET_LINE.match(line)) and found[1] in accounts:
            accounts[found[1]].totp_secret = found[2]
    return Accounts(accounts)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def uses_postgres() -> bool:
    """PostgreSQL in CI (where it must answer) or whenever the tests' server answers."""
    return in_ci() or _server_answers(postgres_url())


@contextmanager
def database(folder: Path) -> Iterator[str]:
    """A database of this run's own, empty; dropped afterwards (PostgreSQL)."""
    if not uses_postgres():
        yield f"sqlite:///{folder / 'browser.db'}"
        return
    url = private_postgres_url("_browser")
    recreate_postgres_database(url)
    try:
        yield url
    finally:
        drop_postgres_database(url)


def server_environment(database_url: str, folder: Path, port: int) -> dict[str, str]:
    """The server's and the commands' environment: only settings of their own."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("SIGURNA_")}
    env.update(
        SIGURNA_MODE="development",
        SIGURNA_DATABASE_URL=database_url,
        SIGURNA_PUBLIC_BASE_URL=f"http://{HOST}:{port}",
        SIGURNA_HOST=HOST,
        SIGURNA_PORT=str(port),
        SIGURNA_BACKGROUND_JOBS="false",
        SIGURNA_EMBEDDED_SCHEDULER="false",
        SIGURNA_LOG_LEVEL="WARNING",
        SIGURNA_ROSTER_CACHE_PATH=str(folder / "roster-cache.json"),
        SIGURNA_VOICE_JOURNAL_PATH=str(folder / "voice-journal.jsonl"),
        SIGURNA_DEMO_CREDENTIALS_PATH=str(folder / "demo-credentials.txt"),
    )
    return env


def run_command(env: dict[str, str], *args: str) -> str:
    """Run `sigurna ARGS`; its output, or the test fails with what it printed."""
    done = subprocess.run(  # noqa: S603 (our own command, our own arguments)
        [str(BIN / "sigurna"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"sigurna {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


@contextmanager
def environment(env: dict[str, str]) -> Iterator[None]:
    """This process with the server's SIGURNA_* settings (for seeding through the services)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.upper().startswith("SIGURNA_"):
                patch.delenv(name)
        for name, value in env.items():
            if name.startswith("SIGURNA_"):
                patch.setenv(name, value)
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own server)
            return int(response.status) == 200
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def serve(env: dict[str, str], port: int, log: Path) -> Iterator[str]:
    """uvicorn with the app's factory on `port`; the base URL while it runs."""
    base = f"http://{HOST}:{port}"
    command = [
        str(BIN / "python"),
        "-m",
        "uvicorn",
        "--factory",
        "core.app:build_app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(  # noqa: S603 (our own command, our own arguments)
            command, env=env, cwd=ROOT, stdout=output, stderr=output
        )
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while not _answers(base + "/healthz"):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the server did not start:\n{log.read_text(encoding='utf-8')}")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
