"""The `sigurna` command, run as an operator would, each test on a scratch SQLite database."""

from __future__ import annotations

import re
import stat
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner, Result

from core.app import create_app
from core.audit import AuditEvent
from core.cli import app as cli
from core.clock import SystemClock
from core.config import get_settings
from core.db import create_db_engine, current_revisions, head_revisions
from core.models import ApiToken, Organisation, OrganisationKind, Role, User, UserRole
from tests.conftest import TEST_ENCRYPTION_KEYS, TEST_SECRET, TWILIO_AUTH_TOKEN, make_settings

runner = CliRunner()
VERSIONS = Path(__file__).resolve().parents[2] / "alembic" / "versions"
ACCOUNT_LINE = re.compile(r"^  (\S+@\S+\.example\.org)\s+(\S+)\s+(\S+)$", re.M)
ONE_TIME = re.compile(r"^one-time password \(shown once\): (\S+)$", re.M)
SECRET = re.compile(r"^secret \(shown once\): (sgn_\S+)$", re.M)


@pytest.fixture
def scratch(cli_url: str) -> Iterator[Engine]:
    """An engine of the test's own on the scratch database, to look at what the CLI did."""
    engine = create_db_engine(make_settings(cli_url))
    yield engine
    engine.dispose()


def run(*args: str) -> Result:
    return runner.invoke(cli, list(args))


def demo(cli_url: str) -> dict[str, str]:
    """Migrate and load the demo data; the printed e-mail addresses and their passwords."""
    assert run("db", "upgrade").exit_code == 0
    result = run("demo", "load")
    assert result.exit_code == 0, result.output
    return {email: password for email, _, password in ACCOUNT_LINE.findall(result.stdout)}


def login_status(cli_url: str, email: str, password: str) -> int:
    app = create_app(make_settings(cli_url))
    with TestClient(app, base_url="https://testserver") as client:
        return client.post("/auth/login", json={"email": email, "password": password}).status_code


def user_count(scratch: Engine) -> int:
    with Session(scratch) as session:
        return session.exec(select(func.count()).select_from(User)).one()


# --- db and demo ---------------------------------------------------------------------------------


def test_db_upgrade_brings_the_database_to_the_head(cli_url: str, scratch: Engine) -> None:
    heads = head_revisions(make_settings(cli_url))
    # One line of history: the newest revision file is the only head.
    newest = max(path.stem.split("_", 1)[0] for path in VERSIONS.glob("[0-9]*_*.py"))
    assert heads == {newest}
    head = newest
    with scratch.connect() as connection:
        assert current_revisions(connection) == set()
    result = run("db", "upgrade")
    assert result.exit_code == 0
    assert result.stdout == f"database at {head}\n"
    with scratch.connect() as connection:
        assert current_revisions(connection) == {head}
    # Running it again changes nothing.
    again = run("db", "upgrade")
    assert (again.exit_code, again.stdout) == (0, f"database at {head}\n")


def test_demo_load_prints_its_accounts_once(cli_url: str, scratch: Engine, tmp_path: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    first = run("demo", "load")
    assert first.exit_code == 0
    lines = first.stdout.splitlines()
    saved = tmp_path / "demo-credentials.txt"
    assert lines[0] == (
        f"Demo accounts (fictional; passwords also in {saved}, readable by you only):"
    )
    # In development the passwords are kept where a newcomer finds them again, for her only.
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    # ... with the case readers' second-factor secrets (tests/core/test_demo_second_factor.py).
    kept = saved.read_text().splitlines()
    assert kept[0] == "# Sigurna demo accounts (fictional). Development only."
    assert kept[1:] == lines[1 : len(kept)]
    assert kept[1:14] == [line for line in lines if line.startswith("  ") and "@" in line][:13]
    accounts = ACCOUNT_LINE.findall(first.stdout)
    assert len(accounts) == 13
    assert len({email for email, _, _ in accounts}) == 13
    assert len({password for _, _, password in accounts}) == 13
    assert all(len(password) == 20 for _, _, password in accounts)
    assert {role for _, role, _ in accounts} == {
        "admin",
        "supervisor",
        "counselor",
        "shelter_staff",
        "csw_officer",
    }
    assert ("officer@csw.example.org", "csw_officer") in {(e, r) for e, r, _ in accounts}

    with Session(scratch) as session:
        kinds = sorted(o.kind for o in session.exec(select(Organisation)).all())
        assert kinds == [OrganisationKind.CSW, OrganisationKind.NGO, OrganisationKind.NGO]
        assert session.exec(select(func.count()).select_from(User)).one() == 13

    second = run("demo", "load")
    assert second.exit_code == 0
    assert second.stdout == (
        "Demo data is already loaded (its passwords were printed when it was).\n"
    )
    assert all(password not in second.output for _, _, password in accounts)
    assert user_count(scratch) == 13


def test_the_demo_passwords_are_shown_once_outside_development(
    cli_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIGURNA_MODE", "test")
    monkeypatch.setenv("SIGURNA_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("SIGURNA_ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    monkeypatch.setenv("SIGURNA_TWILIO_AUTH_TOKEN", TWILIO_AUTH_TOKEN)
    get_settings.cache_clear()
    assert run("db", "upgrade").exit_code == 0
    loaded = run("demo", "load")
    assert loaded.stdout.splitlines()[0] == (
        "Demo accounts (fictional; passwords are shown this once only):"
    )
    assert not (tmp_path / "demo-credentials.txt").exists()


def test_an_operator_unlocks_an_account_and_resets_a_password(
    cli_url: str, scratch: Engine
) -> None:
    accounts = demo(cli_url)
    email = "admin@sos-north.example.org"
    with Session(scratch) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        user.locked_until = SystemClock().now() + timedelta(minutes=15)
        user_id = user.id
        session.add(user)
        session.commit()
    assert login_status(cli_url, email, accounts[email]) == 401
    unlocked = run("user", "unlock", "--email", email.upper())
    assert (unlocked.exit_code, unlocked.stdout) == (0, f"user {user_id} unlocked\n")
    assert login_status(cli_url, email, accounts[email]) == 200
    reset = run("user", "reset-password", "--email", email)
    assert reset.exit_code == 0
    new_password = ONE_TIME.search(reset.stdout)
    assert new_password is not None
    assert login_status(cli_url, email, accounts[email]) == 401
    assert login_status(cli_url, email, new_password.group(1)) == 200
    missing = run("user", "unlock", "--email", "nobody@example.org")
    assert missing.exit_code == 2
    assert "no account with that e-mail address" in missing.output


def test_the_printed_demo_passwords_log_in(cli_url: str) -> None:
    accounts = demo(cli_url)
    assert len(accounts) == 13
    for email in ("admin@sos-north.example.org", "officer@csw.example.org"):
        assert login_status(cli_url, email, accounts[email]) == 200
    assert (
        login_status(cli_url, "officer@csw.example.org", accounts["admin@csw.example.org"]) == 401
    )


# --- accounts ------------------------------------------------------------------------------------


def test_user_create_prints_a_one_time_password_to_change_at_first_login(
    cli_url: str, scratch: Engine
) -> None:
    demo(cli_url)
    result = run(
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
    assert result.exit_code == 0, result.output
    match = ONE_TIME.search(result.stdout)
    assert match is not None
    password = match.group(1)
    assert len(password) == 20

    with Session(scratch) as session:
        user = session.exec(select(User).where(User.email == "new.person@example.org")).one()
        organisation = session.get(Organisation, user.organisation_id)
        roles = session.exec(select(UserRole.role).where(UserRole.user_id == user.id)).all()
    assert result.stdout.splitlines()[0] == f"user {user.id}"
    assert user.must_change_password is True
    assert user.display_name == "New Person"
    assert organisation is not None
    assert organisation.name == "Demo SOS Line North"
    assert list(roles) == [Role.COUNSELOR]
    assert login_status(cli_url, "new.person@example.org", password) == 200


def test_user_create_refuses_a_bad_email_and_creates_nothing(cli_url: str, scratch: Engine) -> None:
    demo(cli_url)
    result = run(
        "user",
        "create",
        "--org",
        "Demo SOS Line North",
        "--email",
        "not-an-email",
        "--name",
        "New Person",
        "--role",
        "counselor",
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert "value is not a valid email address" in result.stderr
    assert user_count(scratch) == 13


def test_user_create_refuses_an_unknown_organisation(cli_url: str, scratch: Engine) -> None:
    demo(cli_url)
    result = run(
        "user",
        "create",
        "--org",
        "Nowhere",
        "--email",
        "someone@example.org",
        "--name",
        "Someone",
        "--role",
        "counselor",
    )
    assert result.exit_code == 2
    assert result.stderr == "error: no organisation with that id or name: 'Nowhere'\n"
    assert result.stdout == ""
    assert user_count(scratch) == 13


def test_user_disable_records_an_audit_event(cli_url: str, scratch: Engine) -> None:
    accounts = demo(cli_url)
    email = "counselor@sos-north.example.org"
    assert login_status(cli_url, email, accounts[email]) == 200

    result = run("user", "disable", "--email", email)
    assert result.exit_code == 0, result.output

    with Session(scratch) as session:
        user = session.exec(select(User).where(User.email == email)).one()
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "user.disabled")).all()
    assert result.stdout == f"user {user.id} disabled\n"
    assert user.disabled_at is not None
    assert [(e.subject_type, e.subject_id, e.actor_type) for e in events] == [
        ("user", str(user.id), "cli")
    ]
    assert events[0].organisation_id == user.organisation_id
    assert login_status(cli_url, email, accounts[email]) == 401


def test_user_disable_of_an_unknown_email_exits_2(cli_url: str) -> None:
    demo(cli_url)
    result = run("user", "disable", "--email", "nobody@example.org")
    assert result.exit_code == 2
    assert result.stderr == "error: no account with that e-mail address\n"


# --- API tokens ----------------------------------------------------------------------------------


def test_token_create_prints_a_secret_that_works_as_a_bearer_token(
    cli_url: str, scratch: Engine
) -> None:
    demo(cli_url)
    result = run(
        "token",
        "create",
        "--org",
        "Demo Centre for Social Work",
        "--role",
        "csw_officer",
        "--name",
        "case system",
    )
    assert result.exit_code == 0, result.output
    match = SECRET.search(result.stdout)
    assert match is not None
    secret = match.group(1)
    token_line = result.stdout.splitlines()[0]
    assert token_line.startswith("token ")
    token_id = uuid.UUID(token_line.removeprefix("token "))

    with Session(scratch) as session:
        token = session.get(ApiToken, token_id)
        assert token is not None
        assert token.role is Role.CSW_OFFICER
        assert token.name == "case system"
        # Only a digest is stored.
        assert secret not in token.token_hash

    with TestClient(create_app(make_settings(cli_url)), base_url="https://testserver") as client:
        me = client.get("/auth/me", headers={"Authorization": f"Bearer {secret}"})
        assert me.status_code == 200
        body = me.json()
        assert body["via"] == "token"
        assert body["user"] is None
        assert body["roles"] == ["csw_officer"]
        assert body["organisation"]["name"] == "Demo Centre for Social Work"
        wrong = client.get("/auth/me", headers={"Authorization": f"Bearer {secret}x"})
        assert wrong.status_code == 401


def test_tokens_cannot_be_admin(cli_url: str, scratch: Engine) -> None:
    demo(cli_url)
    result = run(
        "token",
        "create",
        "--org",
        "Demo Centre for Social Work",
        "--role",
        "admin",
        "--name",
        "case system",
    )
    assert result.exit_code == 2
    assert result.stderr == "error: role: API tokens cannot be given the admin role.\n"
    assert "secret" not in result.stdout
    with Session(scratch) as session:
        assert session.exec(select(func.count()).select_from(ApiToken)).one() == 0


# --- organisations -------------------------------------------------------------------------------


def test_org_create_registers_an_organisation(cli_url: str, scratch: Engine) -> None:
    assert run("db", "upgrade").exit_code == 0
    result = run("org", "create", "--name", "Partner Org", "--kind", "partner", "--country", "rs")
    assert result.exit_code == 0, result.output
    with Session(scratch) as session:
        organisation = session.exec(
            select(Organisation).where(Organisation.name == "Partner Org")
        ).one()
    assert result.stdout == f"organisation {organisation.id}\n"
    assert organisation.kind is OrganisationKind.PARTNER
    assert organisation.country_code == "RS"
    assert organisation.time_zone == "Europe/Podgorica"


def test_org_create_refuses_an_unknown_country(cli_url: str, scratch: Engine) -> None:
    assert run("db", "upgrade").exit_code == 0
    result = run("org", "create", "--name", "X Org", "--kind", "ngo", "--country", "ZZ")
    assert result.exit_code == 2
    assert result.stdout == ""
    with Session(scratch) as session:
        assert (
            session.exec(select(Organisation).where(col(Organisation.name) == "X Org")).all() == []
        )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("org", "create", "--name", "X Org", "--kind", "ngo", "--country", "ZZ"),
            "must be a two-letter country code with a holiday calendar, e.g. ME",
        ),
        (
            (
                "token",
                "create",
                "--org",
                "Demo Centre for Social Work",
                "--role",
                "csw_officer",
                "--name",
                "x",
            ),
            "name: ",
        ),
    ],
    ids=["unknown-country", "too-short-token-name"],
)
def test_refusals_of_invalid_options_say_what_is_wrong(
    cli_url: str, args: tuple[str, ...], expected: str
) -> None:
    """The operator is told which option is wrong and why, not only where pydantic documents
    the error type."""
    demo(cli_url)
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert expected in result.stderr
    assert "errors.pydantic.dev" not in result.stderr
