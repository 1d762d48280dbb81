"""The Alembic migrations, run on an empty database of their own: they build exactly the models'
schema, and every step goes down and up again."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from core.config import Settings
from core.db import (
    alembic_config,
    create_db_engine,
    current_revisions,
    downgrade,
    head_revisions,
    upgrade,
)
from core.domains import import_models
from tests.conftest import (
    drop_postgres_database,
    make_settings,
    private_postgres_url,
    recreate_postgres_database,
)

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Fresh:
    settings: Settings
    engine: Engine


@pytest.fixture
def fresh(backend: str, tmp_path: Path) -> Iterator[Fresh]:
    """An empty database, never the shared test database (which other tests keep at head)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.db'}"
    else:
        url = private_postgres_url("_migrations")
        recreate_postgres_database(url)
    settings = make_settings(url)
    engine = create_db_engine(settings)
    try:
        yield Fresh(settings, engine)
    finally:
        engine.dispose()
        if backend == "postgresql":
            drop_postgres_database(url)


def _user_tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def _model_tables() -> set[str]:
    import_models()
    return set(SQLModel.metadata.tables)


def _revisions_in_order(settings: Settings) -> list[tuple[str, str]]:
    """(revision, the revision below it or "base"), from the first migration to the head."""
    script = ScriptDirectory.from_config(alembic_config(settings))
    steps: list[tuple[str, str]] = []
    for revision in reversed(list(script.walk_revisions())):
        below = revision.down_revision
        assert below is None or isinstance(below, str), "the history has no merge points"
        steps.append((revision.revision, below or "base"))
    return steps


def test_the_migrated_schema_is_the_models_schema(fresh: Fresh) -> None:
    upgrade(fresh.settings, fresh.engine)
    import_models()
    with fresh.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], "models and migrations differ:\n" + "\n".join(map(repr, differences))


def test_a_new_database_is_at_base_and_an_upgraded_one_at_the_head(fresh: Fresh) -> None:
    with fresh.engine.connect() as connection:
        assert current_revisions(connection) == set()
    upgrade(fresh.settings, fresh.engine)
    with fresh.engine.connect() as connection:
        assert current_revisions(connection) == head_revisions(fresh.settings)
    assert len(head_revisions(fresh.settings)) == 1


def test_downgrade_to_base_and_upgrade_again(fresh: Fresh) -> None:
    upgrade(fresh.settings, fresh.engine)
    assert _user_tables(fresh.engine) == _model_tables()

    downgrade(fresh.settings, fresh.engine, "base")
    assert _user_tables(fresh.engine) == set()
    with fresh.engine.connect() as connection:
        assert current_revisions(connection) == set()

    upgrade(fresh.settings, fresh.engine)
    assert _user_tables(fresh.engine) == _model_tables()
    with fresh.engine.connect() as connection:
        assert current_revisions(connection) == head_revisions(fresh.settings)
        head = connection.execute(
            sa.text("SELECT id, last_event_id, last_hash FROM audit_head")
        ).all()
    assert [tuple(row) for row in head] == [(1, None, GENESIS_HASH)]


def test_every_revision_goes_down_one_step_and_up_again(fresh: Fresh) -> None:
    steps = _revisions_in_order(fresh.settings)
    assert steps[0][1] == "base"
    assert {steps[-1][0]} == head_revisions(fresh.settings)
    for revision, below in steps:
        upgrade(fresh.settings, fresh.engine, revision)
        tables = _user_tables(fresh.engine)
        downgrade(fresh.settings, fresh.engine, below)
        with fresh.engine.connect() as connection:
            assert current_revisions(connection) == (set() if below == "base" else {below})
        upgrade(fresh.settings, fresh.engine, revision)
        with fresh.engine.connect() as connection:
            assert current_revisions(connection) == {revision}
        assert _user_tables(fresh.engine) == tables, f"revision {revision} came back different"


@pytest.mark.postgresql_only
def test_the_append_only_guard_comes_and_goes_with_the_schema(backend: str, fresh: Fresh) -> None:
    triggers = sa.text(
        "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_event'::regclass"
        " AND NOT tgisinternal ORDER BY tgname"
    )
    function = sa.text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_event_append_only'")

    upgrade(fresh.settings, fresh.engine)
    with fresh.engine.connect() as connection:
        assert connection.execute(triggers).scalars().all() == [
            "audit_event_no_truncate",
            "audit_event_no_update_delete",
        ]
        assert connection.execute(function).scalar_one() == 1

    downgrade(fresh.settings, fresh.engine, "base")
    with fresh.engine.connect() as connection:
        assert connection.execute(function).scalar_one() == 0
