"""The demo accounts' second factor: `make run` leaves a newcomer a minute from reading a case.

Each test runs `sigurna` as an operator would, on a scratch SQLite database in development mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner, Result

from core.app import create_app
from core.audit import AuditEvent
from core.cli import app as cli
from core.clock import FrozenClock
from core.config import get_settings
from core.db import create_db_engine
from core.demo import NO_SECOND_FACTOR, NOT_A_DEMO_ACCOUNT
from core.models import SecondFactor, User
from safety_plans.models import (
    AssistanceStep,
    CaseLink,
    Consent,
    PlanRevision,
    RiskAssessment,
    SafetyCase,
)
from tests.conftest import TEST_ENCRYPTION_KEYS, TEST_SECRET, TWILIO_AUTH_TOKEN, make_settings

runner = CliRunner()
ACCOUNT_LINE = re.compile(r"^  (\S+@\S+\.example\.org)\s+(\S+)\s+(\S+)$", re.M)
SECRET_LINE = re.compile(r"^    (\S+@\S+\.example\.org)\s+([A-Z2-7]{32})$", re.M)
URI_LINE = re.compile(r"^      (otpauth://totp/\S+)$", re.M)
ENROLLED = {
    f"{local}@{domain}.example.org"
    for domain in ("sos-north", "shelter-south")
    for local in ("supervisor", "counselor", "volunteer", "shelter")
} | {"supervisor@csw.example.org", "officer@csw.example.org"}
HINT = [
    "Second factor (TOTP), needed for cases: these accounts have it set up. Add a secret (or",
    "its otpauth:// URI, as a QR code) to an authenticator app, or print the current code:",
    "  .venv/bin/sigurna demo code <e-mail>",
    "  .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('<secret>').now())\"",
    "Then log in (POST /auth/login) and send the code (POST /auth/mfa/verify).",
]
AT = datetime(2026, 3, 2, 9, 0, 7, tzinfo=UTC)


@pytest.fixture
def scratch(cli_url: str) -> Iterator[Engine]:
    engine = create_db_engine(make_settings(cli_url))
    yield engine
    engine.dispose()


def run(*args: str) -> Result:
    return runner.invoke(cli, list(args))


def load(cli_url: str) -> Result:
    assert run("db", "upgrade").exit_code == 0
    result = run("demo", "load")
    assert result.exit_code == 0, result.output
    return result


def test_demo_accounts_that_read_cases_come_enrolled_and_their_secrets_are_kept(
    cli_url: str, scratch: Engine, tmp_path: Path
) -> None:
    loaded = load(cli_url)
    secrets = dict(SECRET_LINE.findall(loaded.stdout))
    assert set(secrets) == ENROLLED  # never an administrator: she reads no cases
    assert len(set(secrets.values())) == 10
    uris = URI_LINE.findall(loaded.stdout)
    assert uris == [
        pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name="Sigurna")
        for email, secret in SECRET_LINE.findall(loaded.stdout)
    ]
    lines = loaded.stdout.splitlines()
    start = lines.index(HINT[0])
    assert lines[start : start + len(HINT)] == HINT
    # The credentials file (owner-only) has the secrets next to the passwords.
    kept = (tmp_path / "demo-credentials.txt").read_text().splitlines()
    assert kept[0] == "# Sigurna demo accounts (fictional). Development only."
    assert kept[1:] == lines[1 : len(kept)]
    assert kept[-1] == f"      {uris[-1]}"
    assert len(ACCOUNT_LINE.findall("\n".join(kept))) == 13

    with Session(scratch) as session:
        factors = session.exec(
            select(User.email, SecondFactor.confirmed_at, SecondFactor.recovery_digests).join(
                SecondFactor, col(SecondFactor.user_id) == col(User.id)
            )
        ).all()
        assert {email for email, _, _ in factors} == ENROLLED
        assert all(confirmed is not None and len(d) == 10 for _, confirmed, d in factors)
        sealed = session.exec(select(SecondFactor.secret_sealed)).all()
        assert not any(s.encode() in blob for s in secrets.values() for blob in sealed)
        enrolments = session.exec(
            select(AuditEvent.reason).where(AuditEvent.action == "auth.second_factor_enrolled")
        ).all()
        assert enrolments == ["demo account"] * 10


def test_demo_code_prints_the_current_code_of_a_demo_account(
    cli_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = dict(SECRET_LINE.findall(load(cli_url).stdout))
    monkeypatch.setattr("core.cli.SystemClock", lambda: FrozenClock(AT))
    for email in ("counselor@sos-north.example.org", "officer@csw.example.org"):
        printed = run("demo", "code", email.upper())
        assert (printed.exit_code, printed.stdout) == (
            0,
            pyotp.TOTP(secrets[email]).at(AT) + "\n",
        )


def test_demo_code_refuses_accounts_without_a_demo_second_factor(
    cli_url: str, scratch: Engine
) -> None:
    load(cli_url)
    made = run(
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
    assert made.exit_code == 0
    assert (
        run("org", "create", "--name", "Real NGO", "--kind", "ngo", "--country", "ME").exit_code
        == 0
    )
    other = run(
        "user",
        "create",
        "--org",
        "Real NGO",
        "--email",
        "someone@real-ngo.example.org",
        "--name",
        "Someone",
        "--role",
        "counselor",
    )
    assert other.exit_code == 0
    for email, message in (
        ("admin@sos-north.example.org", NO_SECOND_FACTOR),
        ("new.person@example.org", NO_SECOND_FACTOR),
        ("someone@real-ngo.example.org", NOT_A_DEMO_ACCOUNT),
        ("nobody@example.org", NOT_A_DEMO_ACCOUNT),
    ):
        refused = run("demo", "code", email)
        assert (refused.exit_code, refused.stdout, refused.stderr) == (2, "", f"error: {message}\n")


def test_demo_code_and_enrolment_are_for_development_only(
    cli_url: str, scratch: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGURNA_MODE", "test")
    monkeypatch.setenv("SIGURNA_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIGURNA_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    monkeypatch.setenv("SIGURNA_TWILIO_AUTH_TOKEN", TWILIO_AUTH_TOKEN)
    get_settings.cache_clear()
    loaded = load(cli_url)
    assert "Second factor" not in loaded.stdout
    assert SECRET_LINE.findall(loaded.stdout) == []
    with Session(scratch) as session:
        assert session.exec(select(func.count()).select_from(SecondFactor)).one() == 0
    refused = run("demo", "code", "counselor@sos-north.example.org")
    assert (refused.exit_code, refused.stdout, refused.stderr) == (
        2,
        "",
        "error: demo codes are for development only (SIGURNA_MODE=development)\n",
    )


def test_a_newcomer_reads_the_demo_cases_within_a_minute(cli_url: str) -> None:
    """Password and `sigurna demo code`, and the demo cases are there to read."""
    accounts = {e: p for e, _, p in ACCOUNT_LINE.findall(load(cli_url).stdout)}
    settings = get_settings().model_copy(update={"background_jobs": False})
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        email = "counselor@sos-north.example.org"
        me = client.post("/auth/login", json={"email": email, "password": accounts[email]})
        assert me.status_code == 200
        org = me.json()["organisation"]["id"]
        assert client.get(f"/organisations/{org}/cases").status_code == 403
        code = run("demo", "code", email).stdout.strip()
        verified = client.post("/auth/mfa/verify", json={"code": code})
        assert verified.status_code == 200, verified.text
        page = client.get(f"/organisations/{org}/cases")
        assert page.status_code == 200
        assert sorted(c["name"] for c in page.json()["items"]) == ["Demo Client A", "Demo Client B"]
        [client_a] = [c for c in page.json()["items"] if c["name"] == "Demo Client A"]
        assert client_a["risk_level"] == "medium"
        case_url = f"/organisations/{org}/cases/{client_a['id']}"
        assert [r["revision"] for r in client.get(case_url + "/plan/revisions").json()] == [1, 2]

        # The demo CSW's officer reads what Demo Client A agreed to share.
        client.cookies.clear()
        officer = "officer@csw.example.org"
        assert (
            client.post(
                "/auth/login", json={"email": officer, "password": accounts[officer]}
            ).status_code
            == 200
        )
        code = run("demo", "code", officer).stdout.strip()
        assert client.post("/auth/mfa/verify", json={"code": code}).status_code == 200
        shared = client.get(f"/shared-cases/{client_a['id']}")
        assert shared.status_code == 200, shared.text
        assert shared.json()["sections"] == ["assistance_plan", "risk", "safety_plan"]
        assert shared.json()["name"] is None
        assert shared.json()["plan"]["safe_to_call"] is True


def test_the_demo_cases_are_made_through_the_services(cli_url: str, scratch: Engine) -> None:
    load(cli_url)
    with Session(scratch) as session:

        def count(table: type) -> int:
            return int(session.exec(select(func.count()).select_from(table)).one())

        assert count(SafetyCase) == 4
        assert count(RiskAssessment) == 1
        assert count(PlanRevision) == 2
        assert count(AssistanceStep) == 2
        assert count(Consent) == 1
        assert count(CaseLink) == 1
        statuses = sorted(str(s) for s in session.exec(select(SafetyCase.status)).all())
        assert statuses == ["dormant", "open", "open", "open"]
        assert (
            session.exec(
                select(func.count()).select_from(SafetyCase).where(col(SafetyCase.do_not_disclose))
            ).one()
            == 1
        )
        actions = session.exec(
            select(AuditEvent.action).where(col(AuditEvent.action).startswith("case."))
        ).all()
        assert sorted(set(actions)) == [
            "case.consent_recorded",
            "case.created",
            "case.dormant",
            "case.linked",
            "case.plan_revised",
            "case.risk_assessed",
            "case.step_added",
        ]
