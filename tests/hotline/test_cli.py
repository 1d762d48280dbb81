"""`sigurna hotline ...` as a newcomer uses it: verifying a demo duty phone without Twilio."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from core.app import create_app
from core.cli import app as cli
from core.clock import SystemClock
from core.config import get_settings
from core.db import create_db_engine, unit_of_work
from hotline.models import Call, CallMode, CallStatus, Hotline
from tests.conftest import TEST_ENCRYPTION_KEYS, TEST_SECRET, TWILIO_AUTH_TOKEN, make_settings

runner = CliRunner()
ACCOUNT_LINE = re.compile(r"^  (\S+@\S+\.example\.org)\s+(\S+)\s+(\S+)$", re.M)


def test_a_demo_counselor_verifies_her_duty_phone_with_the_printed_code(
    cli_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    loaded = runner.invoke(cli, ["demo", "load"])
    email, password = next(
        (e, p) for e, role, p in ACCOUNT_LINE.findall(loaded.stdout) if role == "counselor"
    )
    nothing = runner.invoke(cli, ["hotline", "duty-phone-code", email])
    assert nothing.exit_code == 2
    assert "no code is pending" in nothing.output
    app = create_app(make_settings(cli_url))
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


def test_the_doctor_says_when_no_status_callback_arrives(cli_url: str) -> None:
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["demo", "load"]).exit_code == 0
    healthy = runner.invoke(cli, ["hotline", "doctor"])
    assert (healthy.exit_code, healthy.stdout) == (
        0,
        "ok: status callbacks arrive for the calls answered\n",
    )
    # A call answered half an hour ago (after the demo's last, reported call) that no status
    # callback ever reported.
    engine = create_db_engine(make_settings(cli_url))
    try:
        with unit_of_work(engine) as session:
            hotline = session.exec(select(Hotline)).first()
            assert hotline is not None
            session.add(
                Call(
                    hotline_id=hotline.id,
                    call_sid="CA" + "3" * 32,
                    started_at=SystemClock().now() - timedelta(minutes=30),
                    mode=CallMode.DUTY,
                    status=CallStatus.RINGING,
                )
            )
    finally:
        engine.dispose()
    warned = runner.invoke(cli, ["hotline", "doctor"])
    assert (warned.exit_code, warned.stdout) == (
        1,
        "warning: calls were answered but no status callback arrived for the latest of them:"
        " set the number's Status Callback URL to /hotline/voice/status, or missed calls get no"
        " callback task\n",
    )
