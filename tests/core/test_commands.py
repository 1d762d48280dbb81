"""The `sigurna` command on a scratch SQLite database, as an operator would use it."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from core.app import create_app
from core.cli import app as cli
from core.config import get_settings
from tests.conftest import make_settings

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SIGURNA_DATABASE_URL", url)
    monkeypatch.setenv("SIGURNA_MODE", "development")
    monkeypatch.setenv("SIGURNA_HOTLINE_LAST_RESORT_NUMBERS", "+442079460198")
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.output


def test_upgrade_demo_and_login(database: str) -> None:
    assert _run("db", "upgrade") == (0, "database at 0003\n")
    code, output = _run("demo", "load")
    assert code == 0
    accounts = re.findall(r"^\s+(\S+@\S+example\.org)\s+(\S+)\s+(\S{20})$", output, re.M)
    assert len(accounts) == 13
    assert {role for _, role, _ in accounts} == {
        "admin",
        "supervisor",
        "counselor",
        "shelter_staff",
        "csw_officer",
    }
    again = _run("demo", "load")
    assert again == (0, "Demo data is already loaded (its passwords were printed when it was).\n")
    email, _, password = accounts[0]
    with TestClient(create_app(make_settings(database)), base_url="https://testserver") as client:
        assert (
            client.post("/auth/login", json={"email": email, "password": password}).status_code
            == 200
        )


def test_accounts_tokens_and_the_audit_chain(database: str) -> None:
    _run("db", "upgrade")
    _run("demo", "load")
    code, output = _run(
        "user",
        "create",
        "--org",
        "Demo SOS Line North",
        "--email",
        "new.person@example.org",
        "--name",
        "New Person",
        "--role",
        "counselor",
    )
    assert code == 0
    assert re.search(r"one-time password \(shown once\): \S{20}", output)
    assert (
        _run(
            "user",
            "create",
            "--org",
            "Nowhere",
            "--email",
            "x@example.org",
            "--name",
            "X",
            "--role",
            "counselor",
        )[0]
        == 2
    )
    assert (
        _run(
            "user",
            "create",
            "--org",
            "Demo SOS Line North",
            "--email",
            "not-an-email",
            "--name",
            "X",
            "--role",
            "counselor",
        )[0]
        == 2
    )

    code, output = _run(
        "token",
        "create",
        "--org",
        "Demo Centre for Social Work",
        "--role",
        "csw_officer",
        "--name",
        "case system",
    )
    assert code == 0
    assert re.search(r"secret \(shown once\): sgn_\S+", output)
    code, output = _run(
        "token",
        "create",
        "--org",
        "Demo Centre for Social Work",
        "--role",
        "admin",
        "--name",
        "case system",
    )
    assert code == 2
    assert "cannot be given the admin role" in output

    assert _run("user", "disable", "--email", "counselor@sos-north.example.org")[0] == 0
    code, output = _run("audit", "verify")
    assert code == 0
    assert output.startswith("audit chain intact:")

    path = database.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE audit_event SET reason = 'rewritten' WHERE id = 3")
    code, output = _run("audit", "verify")
    assert code == 1
    assert "BROKEN at event 3: content does not match its hash (edited)" in output


def test_fallback_twiml_for_twilio(database: str) -> None:
    code, output = _run("hotline", "fallback-twiml", "--caller-id", "+442079460100")
    assert code == 0
    assert output.strip() == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Dial answerOnBridge="true"'
        ' callerId="+442079460100" timeout="25"><Number>+442079460198</Number></Dial>'
        '<Say language="en-GB" voice="Polly.Amy">Nobody can answer right now. Please leave a'
        ' message after the tone, or call again.</Say><Record maxLength="120" playBeep="true"'
        ' timeout="10" /></Response>'
    )
