"""`sigurna referrals set-csw`: the operator's way to change a municipality's competent CSW."""

from __future__ import annotations

from sqlmodel import Session, select
from typer.testing import CliRunner

from core.cli import app as cli
from core.db import create_db_engine
from core.models import Organisation
from referrals.models import Municipality
from tests.conftest import make_settings

runner = CliRunner()


def _competent(cli_url: str, name: str) -> str | None:
    engine = create_db_engine(make_settings(cli_url))
    try:
        with Session(engine) as session:
            row = session.exec(
                select(Organisation.name)
                .join(Municipality, Municipality.csw_organisation_id == Organisation.id)  # type: ignore[arg-type]
                .where(Municipality.name == name)
            ).first()
            return row
    finally:
        engine.dispose()


def test_the_operator_sets_and_clears_a_municipalitys_csw(cli_url: str) -> None:
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    made = runner.invoke(
        cli, ["org", "create", "--name", "CSW Test", "--kind", "csw", "--country", "ME"]
    )
    assert made.exit_code == 0, made.output
    runner.invoke(cli, ["org", "create", "--name", "NGO Test", "--kind", "ngo", "--country", "ME"])
    result = runner.invoke(
        cli, ["referrals", "set-csw", "--municipality", "niksic", "--csw", "CSW Test"]
    )
    assert (result.exit_code, result.stdout) == (0, "Nikšić: competent CSW set\n")
    assert _competent(cli_url, "Nikšić") == "CSW Test"
    refused = runner.invoke(
        cli, ["referrals", "set-csw", "--municipality", "Nikšić", "--csw", "NGO Test"]
    )
    assert refused.exit_code == 2
    assert "must be a Center for Social Work" in refused.output
    assert _competent(cli_url, "Nikšić") == "CSW Test"
    unknown = runner.invoke(cli, ["referrals", "set-csw", "--municipality", "Atlantis"])
    assert (unknown.exit_code, unknown.output) == (
        2,
        "error: no such municipality in the directory\n",
    )
    cleared = runner.invoke(cli, ["referrals", "set-csw", "--municipality", "Nikšić"])
    assert (cleared.exit_code, cleared.stdout) == (0, "Nikšić: no competent CSW\n")
    assert _competent(cli_url, "Nikšić") is None
