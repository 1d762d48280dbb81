"""`sigurna referrals ...` commands: the operator's acts on the CSW directory."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import select

from core.audit import Actor
from core.clock import SystemClock
from core.config import get_settings
from core.db import create_db_engine, unit_of_work
from core.errors import AppError
from core.models import Organisation
from referrals import service

app = typer.Typer(help="Referrals and the CSW directory.", no_args_is_help=True)


@app.command("set-csw")
def set_csw(
    municipality: Annotated[str, typer.Option(help="The municipality's name, e.g. Nikšić.")],
    country: Annotated[str, typer.Option(help="Its country code.")] = "ME",
    csw: Annotated[
        str | None, typer.Option(help="The competent CSW's name or id; leave out to clear.")
    ] = None,
) -> None:
    """Make a CSW competent for a municipality (new referrals go there), or clear it."""
    engine = create_db_engine(get_settings())
    try:
        with unit_of_work(engine) as session:
            found = service.find_municipality(
                session, country_code=country.upper(), name=municipality
            )
            if found is None:
                typer.echo("error: no such municipality in the directory", err=True)
                raise typer.Exit(2)
            csw_id = None
            if csw is not None:
                organisation = session.exec(
                    select(Organisation).where(
                        (Organisation.name == csw) | (Organisation.id == _uuid(csw))
                    )
                ).first()
                if organisation is None:
                    typer.echo("error: no organisation with that name or id", err=True)
                    raise typer.Exit(2)
                csw_id = organisation.id
            try:
                service.set_competent_csw(
                    session,
                    now=SystemClock().now(),
                    municipality=found,
                    csw_organisation_id=csw_id,
                    actor=Actor.system("cli"),
                )
            except AppError as exc:
                typer.echo(f"error: {exc.message}", err=True)
                raise typer.Exit(2) from exc
            typer.echo(f"{found.name}: {'competent CSW set' if csw_id else 'no competent CSW'}")
    finally:
        engine.dispose()


def _uuid(text: str) -> object:
    import uuid

    try:
        return uuid.UUID(text)
    except ValueError:
        return None
