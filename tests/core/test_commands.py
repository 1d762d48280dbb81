"""`sigurna audit verify` and `sigurna hotline fallback-twiml`; the rest is in test_cli.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.cli import app as cli
from core.config import get_settings

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


def test_audit_verify_finds_an_edited_event(database: str) -> None:
    _run("db", "upgrade")
    _run("demo", "load")
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
