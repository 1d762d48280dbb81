"""`sigurna hotline ...` commands."""

from __future__ import annotations

import typer

from core.config import get_settings
from hotline import twiml

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
