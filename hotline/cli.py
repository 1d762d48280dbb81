"""`sigurna hotline ...` commands."""

from __future__ import annotations

from functools import partial
from typing import Annotated

import typer

from core.clock import SystemClock
from core.config import get_settings
from core.crypto import cipher_from_settings
from core.db import create_db_engine, unit_of_work
from hotline import replay, service, twiml
from hotline.journal import VoiceJournal

app = typer.Typer(help="The SOS hotline.", no_args_is_help=True)


@app.command("fallback-twiml")
def fallback_twiml(
    language: str = typer.Option("en", help="Prompt language: en, cnr or sq."),
    caller_id: str | None = typer.Option(None, help="The hotline number, shown to counselors."),
) -> None:
    """Print static TwiML for Twilio's Fallback URL (a TwiML Bin): ring the last-resort numbers."""
    settings = get_settings()
    if not settings.hotline_last_resort_numbers:
        typer.echo("error: set SIGURNA_HOTLINE_LAST_RESORT_NUMBERS first", err=True)
        raise typer.Exit(2)
    typer.echo(
        twiml.static_fallback(
            settings.hotline_last_resort_numbers, caller_id=caller_id, language=language
        )
    )


@app.command("duty-phone-code")
def duty_phone_code(
    email: Annotated[str, typer.Argument(help="The counselor's or supervisor's e-mail.")],
) -> None:
    """Development only: print the verification code last sent to someone's duty phone (without
    Twilio credentials the text is never delivered, so this is how to verify a demo phone)."""
    settings = get_settings()
    if not settings.is_development:
        typer.echo("error: codes are printed in development mode only", err=True)
        raise typer.Exit(2)
    engine = create_db_engine(settings)
    try:
        with unit_of_work(engine) as session:
            code = service.pending_duty_phone_code(session, email=email.strip().lower())
    finally:
        engine.dispose()
    if code is None:
        typer.echo("error: no code is pending for that account (set a duty phone first)", err=True)
        raise typer.Exit(2)
    typer.echo(code)


@app.command("doctor")
def doctor() -> None:
    """Check what the hotline needs from Twilio's side: are status callbacks arriving?"""
    settings = get_settings()
    engine = create_db_engine(settings)
    try:
        with unit_of_work(engine) as session:
            problem = service.status_callback_problem(session, now=SystemClock().now())
    finally:
        engine.dispose()
    if problem is not None:
        typer.echo(f"warning: {problem}")
        raise typer.Exit(1)
    typer.echo("ok: status callbacks arrive for the calls answered")


@app.command("replay-journal")
def replay_journal() -> None:
    """Record now what the voice webhooks answered without the database (the web process does
    this by itself at start-up and every few seconds)."""
    settings = get_settings()
    engine = create_db_engine(settings)
    try:
        calls = replay.replay(
            VoiceJournal(settings.voice_journal_path),
            partial(unit_of_work, engine),
            cipher=cipher_from_settings(settings),
            settings=settings,
        )
    finally:
        engine.dispose()
    typer.echo(f"{calls} call(s) recorded from the journal")
