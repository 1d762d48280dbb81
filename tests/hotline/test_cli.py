"""`sigurna hotline ...` as a newcomer uses it: verifying a demo duty phone without Twilio."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from core.app import create_app
from core.cli import app as cli
from core.config import get_settings
from tests.conftest import TEST_ENCRYPTION_KEYS, TEST_SECRET, TWILIO_AUTH_TOKEN, make_settings

runner = CliRunner()
ACCOUNT_LINE = re.compile(r"^  (\S+@\S+\.example\.org)\s+(\S+)\s+(\S+)$", re.M)


@pytest.fixture
def url(tmp_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in list(os.environ):
        if name.upper().startswith("SIGURNA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SIGURNA_DATABASE_URL", tmp_sqlite_url)
    monkeypatch.setenv("SIGURNA_MODE", "development")
    monkeypatch.setenv("SIGURNA_ROSTER_CACHE_PATH", str(tmp_path / "roster-cache.json"))
    monkeypatch.setenv("SIGURNA_VOICE_JOURNAL_PATH", str(tmp_path / "journal.jsonl"))
    get_settings.cache_clear()
    yield tmp_sqlite_url
    get_settings.cache_clear()


def test_a_demo_counselor_verifies_her_duty_phone_with_the_printed_code(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    loaded = runner.invoke(cli, ["demo", "load"])
    email, password = next(
        (e, p) for e, role, p in ACCOUNT_LINE.findall(loaded.stdout) if role == "counselor"
    )
    nothing = runner.invoke(cli, ["hotline", "duty-phone-code", email])
    assert nothing.exit_code == 2
    assert "no code is pending" in nothing.output
    app = create_app(make_settings(url))
    with TestClient(app, base_url="https://testserver") as client:
        assert (
            client.post("/auth/login", json={"email": email, "password": password}).status_code
            == 200
        )
        me = client.get("/auth/me").json()
        org = me["organisation"]["id"]
        sent = client.put(f"/organisations/{org}/duty-phones/me", json={"number": "+61491570155"})
        assert sent.status_code == 200, sent.text
        printed = runner.invoke(cli, ["hotline", "duty-phone-code", email.upper()])
        assert printed.exit_code == 0, printed.output
        code = printed.stdout.strip()
        assert re.fullmatch(r"\d{6}", code)
        verified = client.post(f"/organisations/{org}/duty-phones/me/verify", json={"code": code})
        assert verified.status_code == 200, verified.text
        assert verified.json()["verified"] is True
    # Outside development the command refuses: a code proves who holds the phone.
    monkeypatch.setenv("SIGURNA_MODE", "test")
    monkeypatch.setenv("SIGURNA_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIGURNA_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    monkeypatch.setenv("SIGURNA_TWILIO_AUTH_TOKEN", TWILIO_AUTH_TOKEN)
    get_settings.cache_clear()
    refused = runner.invoke(cli, ["hotline", "duty-phone-code", email])
    assert refused.exit_code == 2
    assert "development mode only" in refused.output


def test_the_doctor_says_when_no_status_callback_arrives(url: str) -> None:
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    healthy = runner.invoke(cli, ["hotline", "doctor"])
    assert (healthy.exit_code, healthy.stdout) == (
        0,
        "ok: status callbacks arrive for the calls answered\n",
    )
