"""`sigurna referrals set-csw`: the operator's way to change a municipality's competent CSW."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from core.cli import app as cli
from core.config import get_settings
from core.db import create_db_engine
from core.models import Organisation
from referrals.models import Municipality
from tests.conftest import make_settings

runner = CliRunner()


@pytest.fixture
def url(tmp_sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in list(os.environ):
        if name.upper().startswith("SIGURNA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SIGURNA_DATABASE_URL", tmp_sqlite_url)
    monkeypatch.setenv("SIGURNA_MODE", "development")
    monkeypatch.setenv("SIGURNA_ROSTER_CACHE_PATH", str(tmp_path / "roster-cache.json"))
    get_settings.cache_clear()
    yield tmp_sqlite_url
    get_settings.cache_clear()


def _competent(url: str, name: str) -> str | None:
    engine = create_db_engine(make_settings(url))
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


def test_the_operator_sets_and_clears_a_municipalitys_csw(url: str) -> None:
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
    assert _competent(url, "Nikšić") == "CSW Test"
    refused = runner.invoke(
        cli, ["referrals", "set-csw", "--municipality", "Nikšić", "--csw", "NGO Test"]
    )
    assert refused.exit_code == 2
    assert "must be a Center for Social Work" in refused.output
    assert _competent(url, "Nikšić") == "CSW Test"
    unknown = runner.invoke(cli, ["referrals", "set-csw", "--municipality", "Atlantis"])
    assert (unknown.exit_code, unknown.output) == (
        2,
        "error: no such municipality in the directory\n",
    )
    cleared = runner.invoke(cli, ["referrals", "set-csw", "--municipality", "Nikšić"])
    assert (cleared.exit_code, cleared.stdout) == (0, "Nikšić: no competent CSW\n")
    assert _competent(url, "Nikšić") is None
