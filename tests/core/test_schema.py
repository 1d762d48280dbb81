"""The migrations are the schema: they match the models, and they go down and up again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from core.config import Settings
from core.db import create_db_engine, current_revisions, downgrade, head_revisions, upgrade
from core.domains import import_models
from tests.conftest import (
    drop_postgres_database,
    make_settings,
    private_postgres_url,
    recreate_postgres_database,
)


@pytest.fixture
def fresh(backend: str, tmp_path: Path) -> Iterator[tuple[Settings, Engine]]:
    """An empty database of its own (the shared test database stays at head)."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        url = private_postgres_url("_schema")
        recreate_postgres_database(url)
    settings = make_settings(url)
    engine = create_db_engine(settings)
    try:
        yield settings, engine
    finally:
        engine.dispose()
        if backend != "sqlite":
            drop_postgres_database(url)


def _tables(engine: Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names()) - {"alembic_version"}


def test_models_and_migrations_agree(fresh: tuple[Settings, Engine]) -> None:
    settings, engine = fresh
    upgrade(settings, engine)
    import_models()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], f"models and migrations differ: {differences}"


def test_downgrade_to_base_and_upgrade_again(fresh: tuple[Settings, Engine]) -> None:
    settings, engine = fresh
    upgrade(settings, engine)
    import_models()
    assert _tables(engine) == set(SQLModel.metadata.tables)
    with engine.connect() as connection:
        assert current_revisions(connection) == head_revisions(settings)

    downgrade(settings, engine, "base")
    assert _tables(engine) == set()

    upgrade(settings, engine)
    assert _tables(engine) == set(SQLModel.metadata.tables)
    with engine.connect() as connection:
        head = connection.execute(sa.text("SELECT id, last_hash FROM audit_head")).all()
    assert [tuple(row) for row in head] == [(1, "0" * 64)]
