"""The `sigurna` command: serve, migrate, load demo data, manage accounts, verify the audit log."""

from __future__ import annotations

import functools
import os
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from sqlmodel import Session, select

from core import audit, domains, sealed, users
from core.audit import Actor
from core.clock import SystemClock
from core.config import ConfigurationError, Settings, get_settings
from core.crypto import cipher_from_settings
from core.db import create_db_engine, current_revisions, unit_of_work
from core.db import downgrade as db_downgrade
from core.db import upgrade as db_upgrade
from core.demo import DemoAccount, current_code, demo_loaded, load_demo
from core.errors import AppError, describe_validation_errors
from core.logs import configure_logging
from core.models import (
    ApiToken,
    ApiTokenCreate,
    Organisation,
    OrganisationCreate,
    OrganisationKind,
    Role,
    User,
    UserCreate,
)
from core.passwords import make_hasher

app = typer.Typer(
    help="Sigurna: crisis-hotline and emergency-accommodation dispatch.", no_args_is_help=True
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
org_app = typer.Typer(help="Organisations.", no_args_is_help=True)
user_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens for machine clients.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
keys_app = typer.Typer(help="The encryption keys of sealed fields.", no_args_is_help=True)
for sub, name in (
    (db_app, "db"),
    (demo_app, "demo"),
    (org_app, "org"),
    (user_app, "user"),
    (token_app, "token"),
    (audit_app, "audit"),
    (keys_app, "keys"),
):
    app.add_typer(sub, name=name)

for domain_name, domain_app in domains.cli_apps():
    app.add_typer(domain_app, name=domain_name)

CLI_ACTOR = Actor.system("cli")


def _out(text: str) -> None:
    typer.echo(text)


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _explain(exc: ValueError) -> str:
    """What is wrong with the options, in the words the API uses (never echoing the input)."""
    if isinstance(exc, ValidationError):
        return describe_validation_errors(list(exc.errors()))
    return "invalid option"


def _settings() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        _fail(str(exc))


@contextmanager
def _work() -> Iterator[tuple[Settings, Session]]:
    settings = _settings()
    engine = create_db_engine(settings)
    try:
        with unit_of_work(engine) as session:
            yield settings, session
    except AppError as exc:
        _fail(exc.message)
    finally:
        engine.dispose()


def _organisation(session: Session, ref: str) -> Organisation:
    try:
        found = session.get(Organisation, uuid.UUID(ref))
    except ValueError:
        found = session.exec(select(Organisation).where(Organisation.name == ref)).first()
    if found is None:
        _fail(f"no organisation with that id or name: {ref!r}")
    return found


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default: SIGURNA_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Default: SIGURNA_PORT.")] = None,
    workers: Annotated[int, typer.Option(min=1, max=32)] = 1,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    settings = _settings()
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    uvicorn.run(
        "core.app:build_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        server_header=False,
    )


@app.command()
def scheduler() -> None:
    """Run the shared periodic jobs (deadline sweeps, outbox delivery, retention) until stopped.

    Run one or more beside the web processes (with SIGURNA_EMBEDDED_SCHEDULER=false there):
    every job claims its rows, so two schedulers never send anything twice, and a scheduler that
    was down catches up on everything that fell due meanwhile.
    """
    import signal
    import threading

    from apscheduler.schedulers.blocking import BlockingScheduler

    from core.app import JOB_DEFAULTS, add_shared_jobs, create_app

    settings = _settings()
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    application = create_app(settings)
    jobs = BlockingScheduler(timezone="UTC", job_defaults=JOB_DEFAULTS)
    add_shared_jobs(application, jobs)
    # Catch up at once rather than one interval after start-up.
    for job in jobs.get_jobs():
        job.modify(next_run_time=application.state.clock.now())

    stopping = threading.Event()

    def stop(_signum: int, _frame: object) -> None:
        # Never wait inside the signal handler: the main thread it interrupted may hold a lock
        # (a log handler's) that the running jobs need to finish. A thread waits for them instead.
        if jobs.running and not stopping.is_set():  # a second signal changes nothing
            stopping.set()
            threading.Thread(
                target=jobs.shutdown, kwargs={"wait": True}, name="scheduler-stop"
            ).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _out("scheduler running; Ctrl-C stops it")
    try:
        jobs.start()
    finally:
        application.state.engine.dispose()


@db_app.command("upgrade")
def db_upgrade_command(revision: str = "head") -> None:
    """Apply migrations (the only way the schema is made)."""
    settings = _settings()
    engine = create_db_engine(settings)
    try:
        db_upgrade(settings, engine, revision)
        with engine.connect() as connection:
            _out(f"database at {', '.join(sorted(current_revisions(connection))) or 'base'}")
    finally:
        engine.dispose()


@db_app.command("downgrade")
def db_downgrade_command(revision: str) -> None:
    """Revert migrations down to REVISION ('base' empties the database)."""
    settings = _settings()
    engine = create_db_engine(settings)
    try:
        db_downgrade(settings, engine, revision)
    finally:
        engine.dispose()


@demo_app.command("load")
def demo_load() -> None:
    """Load fictional demo organisations and accounts once; print their passwords once."""
    with _work() as (settings, session):
        if demo_loaded(session):
            _out("Demo data is already loaded (its passwords were printed when it was).")
            return
        now = SystemClock().now()
        accounts = load_demo(session, now=now, settings=settings, hasher=make_hasher(settings))
        notes = [line for loader in domains.demo_loaders() for line in loader(session, now=now)]
    lines = [f"  {a.email:<42} {','.join(a.roles):<14} {a.password}" for a in accounts]
    lines += _second_factor_lines(accounts)
    if settings.is_development:
        path = _write_owner_only(settings.demo_credentials_path, lines)
        _out(f"Demo accounts (fictional; passwords also in {path}, readable by you only):")
    else:
        _out("Demo accounts (fictional; passwords are shown this once only):")
    for line in [*lines, *notes]:
        _out(line)


def _second_factor_lines(accounts: list[DemoAccount]) -> list[str]:
    """The second-factor secrets of the accounts that read cases (development only), and how to
    get a code from one."""
    enrolled = [a for a in accounts if a.totp_secret is not None]
    if not enrolled:
        return []
    lines = [
        "Second factor (TOTP), needed for cases: these accounts have it set up. Add a secret (or",
        "its otpauth:// URI, as a QR code) to an authenticator app, or print the current code:",
        "  .venv/bin/sigurna demo code <e-mail>",
        "  .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('<secret>').now())\"",
        "Then log in (POST /auth/login) and send the code (POST /auth/mfa/verify).",
    ]
    for account in enrolled:
        lines.append(f"    {account.email:<42} {account.totp_secret}")
        lines.append(f"      {account.totp_uri}")
    return lines


@demo_app.command("code")
def demo_code(
    email: Annotated[str, typer.Argument(help="A demo account's e-mail address.")],
) -> None:
    """Print a demo account's current second-factor code (development only)."""
    if not _settings().is_development:
        _fail("demo codes are for development only (SIGURNA_MODE=development)")
    with _work() as (settings, session):
        code = current_code(
            session, now=SystemClock().now(), email=email, cipher=cipher_from_settings(settings)
        )
    _out(code)


def _show_one_time(user_id: uuid.UUID, password: str | None) -> None:
    """An account and the one-time password it must change at first login (shown this once,
    after the change is committed)."""
    _out(f"user {user_id}")
    _out(f"one-time password (shown once): {password}")


def _write_owner_only(path: Path, lines: list[str]) -> Path:
    """Write a file only its owner can read (created 0600, never group- or world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("# Sigurna demo accounts (fictional). Development only.\n")
        handle.writelines(line + "\n" for line in lines)
    os.chmod(path, 0o600)
    return path


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Option()],
    kind: Annotated[OrganisationKind, typer.Option()],
    country: Annotated[str, typer.Option(help="Two-letter code, e.g. ME.")],
    time_zone: Annotated[str, typer.Option()] = "Europe/Podgorica",
) -> None:
    """Register an organisation."""
    try:
        data = OrganisationCreate(name=name, kind=kind, country_code=country, time_zone=time_zone)
    except ValueError as exc:
        _fail(_explain(exc))
    with _work() as (_, session):
        organisation = users.create_organisation(
            session, now=SystemClock().now(), data=data, actor=CLI_ACTOR
        )
        _out(f"organisation {organisation.id}")


@user_app.command("create")
def user_create(
    org: Annotated[str, typer.Option(help="Organisation id or exact name.")],
    email: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[list[Role], typer.Option(help="Repeat for several roles.")],
    volunteer: Annotated[bool, typer.Option()] = False,
) -> None:
    """Create an account with a one-time password, printed once, to change at first login."""
    try:
        data = UserCreate(email=email, display_name=name, roles=role, is_volunteer=volunteer)
    except ValueError as exc:
        _fail(_explain(exc))
    with _work() as (settings, session):
        user, password = users.create_user(
            session,
            now=SystemClock().now(),
            settings=settings,
            hasher=make_hasher(settings),
            organisation=_organisation(session, org),
            data=data,
            actor=CLI_ACTOR,
        )
    _show_one_time(user.id, password)


@user_app.command("disable")
def user_disable(
    email: Annotated[str, typer.Option()],
    reason: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Disable an account; its sessions end at once."""
    with _work() as (_, session):
        user = _account(session, email)
        users.set_disabled(
            session,
            now=SystemClock().now(),
            user=user,
            disabled=True,
            actor=CLI_ACTOR,
            reason=reason,
        )
        _out(f"user {user.id} disabled")


def _account(session: Session, email: str) -> User:
    user = session.exec(select(User).where(User.email == email.strip().lower())).first()
    if user is None:
        _fail("no account with that e-mail address")
    return user


@user_app.command("unlock")
def user_unlock(email: Annotated[str, typer.Option()]) -> None:
    """Lift an account's lock and every address's wait on it."""
    with _work() as (settings, session):
        user = _account(session, email)
        users.unlock(
            session, now=SystemClock().now(), settings=settings, user=user, actor=CLI_ACTOR
        )
        _out(f"user {user.id} unlocked")


@user_app.command("reset-password")
def user_reset_password(email: Annotated[str, typer.Option()]) -> None:
    """Give an account a one-time password, printed once, to change at next login."""
    with _work() as (settings, session):
        user = _account(session, email)
        password = users.reset_password(
            session,
            now=SystemClock().now(),
            hasher=make_hasher(settings),
            user=user,
            actor=CLI_ACTOR,
        )
    _show_one_time(user.id, password)


@token_app.command("create")
def token_create(
    org: Annotated[str, typer.Option(help="Organisation id or exact name.")],
    role: Annotated[Role, typer.Option()],
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'case system'.")],
) -> None:
    """Issue an API token; the secret is printed once."""
    try:
        data = ApiTokenCreate(name=name, role=role)
    except ValueError as exc:
        _fail(_explain(exc))
    with _work() as (_, session):
        token, secret = users.create_token(
            session,
            now=SystemClock().now(),
            organisation=_organisation(session, org),
            data=data,
            created_by=None,
            actor=CLI_ACTOR,
        )
        _out(f"token {token.id}")
        _out(f"secret (shown once): {secret}")


@token_app.command("revoke")
def token_revoke(token_id: uuid.UUID, reason: Annotated[str | None, typer.Option()] = None) -> None:
    """Revoke an API token at once."""
    with _work() as (_, session):
        token = session.get(ApiToken, token_id)
        if token is None:
            _fail("no such token")
        users.revoke_token(
            session,
            now=SystemClock().now(),
            organisation_id=token.organisation_id,
            token_id=token.id,
            actor=CLI_ACTOR,
            reason=reason,
        )
        _out(f"token {token.id} revoked")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain; exit 1 if any row was edited, deleted or reordered."""
    with _work() as (_, session):
        checked, problems = audit.verify(session)
    if problems:
        for problem in problems:
            typer.echo(f"BROKEN at event {problem.event_id}: {problem.problem}", err=True)
        typer.echo(f"audit chain BROKEN: {len(problems)} problem(s) in {checked} events", err=True)
        raise typer.Exit(1)
    _out(f"audit chain intact: {checked} events")


@keys_app.command("status")
def keys_status() -> None:
    """How many rows of each sealed column are under which key id."""
    settings = _settings()
    cipher = cipher_from_settings(settings)
    domains.import_models()
    with _work() as (_, session):
        found = sealed.status(session)
    for name in sealed.unregistered():
        typer.echo(f"warning: {name} is sealed but no domain registered it", err=True)
    configured = ", ".join(cipher.key_ids)
    _out(f"active key: {cipher.active_key_id} (configured: {configured})")
    width = max((len(column.name) for column, _ in found), default=0)
    for column, counts in found:
        _out(f"{column.name:<{width}}  {_key_counts(cipher.key_ids, counts)}")
    _out(f"{'total':<{width}}  {_key_counts(cipher.key_ids, sealed.key_counts(found))}")


def _key_counts(configured: tuple[str, ...], counts: Mapping[str | None, int]) -> str:
    """`k2 3, k1 1, none 4`: configured keys in their order, then unknown ones, then no value."""
    known = [key for key in configured if key in counts]
    unknown = sorted(key for key in counts if key is not None and key not in configured)
    parts = [f"{key} {counts[key]}" for key in known]
    parts += [f"{key} (not configured) {counts[key]}" for key in unknown]
    if None in counts:
        parts.append(f"none {counts[None]}")
    return ", ".join(parts) or "no rows"


@keys_app.command("rotate")
def keys_rotate(
    batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="Rows re-sealed in one transaction.")
    ] = sealed.DEFAULT_BATCH,
) -> None:
    """Re-seal every sealed field under the active (first) key of SIGURNA_ENCRYPTION_KEYS.

    Safe to stop and run again: it carries on where it stopped. Exit 1 if a row could not be
    opened (its key is not configured, or it was tampered with) or was left under an older key;
    keep the older keys configured until a run ends with 0 failed and 0 pending.
    """
    domains.import_models()
    missing = sealed.unregistered()
    if missing:
        _fail(f"sealed columns no domain registered (core.sealed): {', '.join(missing)}")
    settings = _settings()
    cipher = cipher_from_settings(settings)
    engine = create_db_engine(settings)
    try:
        rotation = sealed.rotate(functools.partial(unit_of_work, engine), cipher, batch=batch)
        if rotation.resealed:
            with unit_of_work(engine) as session:
                audit.record(
                    session,
                    SystemClock().now(),
                    CLI_ACTOR,
                    "keys.rotated",
                    "encryption_key",
                    cipher.active_key_id,
                    reason=f"{rotation.resealed} sealed values re-sealed",
                )
    finally:
        engine.dispose()
    _print_rotation(rotation)
    if rotation.failed or rotation.pending:
        raise typer.Exit(1)


def _print_rotation(rotation: sealed.Rotation) -> None:
    width = max([len(c.column.name) for c in rotation.columns] + [len("column")])
    _out(f"re-sealed under key {rotation.key_id}")
    _out(f"{'column':<{width}}  {'current':>9}  {'re-sealed':>9}  {'failed':>9}  {'pending':>9}")
    lines = [(c.column.name, c.current, c.resealed, c.failed, c.pending) for c in rotation.columns]
    totals = rotation.totals()
    lines.append(
        ("total", totals["current"], totals["resealed"], totals["failed"], totals["pending"])
    )
    for name, *counts in lines:
        _out(f"{name:<{width}}  " + "  ".join(f"{count:>9}" for count in counts))
    for column in rotation.columns:
        if column.failed:
            shown = ", ".join(str(key) for key in column.failed_ids[:10])
            more = f" and {column.failed - 10} more" if column.failed > 10 else ""
            typer.echo(f"could not open {column.column.name} of rows {shown}{more}", err=True)
    if rotation.pending:
        typer.echo(
            f"{rotation.pending} rows are still under an older key (busy): run it again",
            err=True,
        )


def main() -> None:
    """Entry point of the `sigurna` script."""
    domains.wire()  # a command may publish events (demo admissions make referrals)
    app(prog_name="sigurna")
    sys.exit(0)
