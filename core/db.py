"""Database engine, column types, the unit of work and the migration runner."""

from __future__ import annotations

import enum
import functools
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from psycopg.pq import TransactionStatus
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, SQLModel

from alembic import command
from core.config import Settings

log = logging.getLogger("sigurna.db")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware instant, stored in UTC; naive datetimes are refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime refused: store instants with a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        # SQLite keeps no offset; everything written through this type was UTC.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_type(enum_cls: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum column: VARCHAR with a CHECK constraint, values stored as written."""
    return sa.Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


# Execution option for connections that only read: on SQLite they do not queue behind writers.
READ_ONLY = "sigurna_read_only"


def _sqlite_path(url: sa.URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def create_db_engine(settings: Settings, **overrides: Any) -> Engine:
    """An engine for the configured database, with its safety settings."""
    url = sa.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": settings.sqlite_busy_timeout_ms / 1000,
            },
            **overrides,
        )
        _configure_sqlite(engine, settings)
        return engine
    options = (
        f"-c statement_timeout={settings.db_statement_timeout_ms}"
        f" -c lock_timeout={settings.db_lock_timeout_ms}"
        f" -c idle_in_transaction_session_timeout={settings.db_statement_timeout_ms * 6}"
        " -c timezone=UTC"
    )
    params: dict[str, Any] = {
        "connect_args": {
            "connect_timeout": settings.db_connect_timeout_seconds,
            "options": options,
            "application_name": "sigurna",
        },
        "pool_pre_ping": True,
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_pool_size // 2,
        "pool_timeout": settings.db_connect_timeout_seconds,
    }
    params.update(overrides)
    return sa.create_engine(url, **params)


def _configure_sqlite(engine: Engine, settings: Settings) -> None:
    # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; we issue BEGIN
    # ourselves, IMMEDIATE, so that two writers queue on the busy timeout instead of one failing
    # with "database is locked" when it upgrades a read to a write (what Django 5.1 does too).
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


# --- requests that read -------------------------------------------------------------------------

# The methods whose requests take the read engine (`read_engine`) on PostgreSQL.
READ_METHODS = frozenset({"GET", "HEAD"})

_PLAIN_SELECT = re.compile(
    r"\s*SELECT\b(?!.*\bFOR\s+(?:UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b)",
    re.IGNORECASE | re.DOTALL,
)


@functools.lru_cache(maxsize=4096)
def _plain_select(statement: str) -> bool:
    """A SELECT that takes no row lock (the statements of a read, cached: they repeat)."""
    return _PLAIN_SELECT.match(statement) is not None


def read_engine(engine: Engine) -> Engine | None:
    """The engine of the requests that read (GET, HEAD) on PostgreSQL, or None on SQLite.

    Its connections are in autocommit: a request that only reads sends its SELECTs without a
    BEGIN before them or a COMMIT after (two round trips fewer, on every page and answer). The
    first statement that is not a plain SELECT (an audit event of the read, a session's idle
    timer, a row lock, a savepoint) opens a transaction first, so what such a request writes is
    written as in any unit of work: all of it when it succeeds (the session's commit commits
    it), none when it fails (a failed request rolls it back). On SQLite the unit of work's
    BEGIN IMMEDIATE is how writers queue, so reads keep it there.
    """
    if engine.dialect.name != "postgresql":
        return None
    reader = engine.execution_options(isolation_level="AUTOCOMMIT")
    sa.event.listen(reader, "before_cursor_execute", _begin_before_writing)
    return reader


def _begin_before_writing(
    _connection: Connection,
    cursor: Any,
    statement: str,
    _parameters: Any,
    _context: Any,
    _executemany: bool,
) -> None:
    if _plain_select(statement):
        return
    if cursor.connection.info.transaction_status == TransactionStatus.IDLE:
        cursor.execute("BEGIN")


# How jobs and webhooks open a transaction: `with unit_of_work() as session: ...`.
UnitOfWork = Callable[[], AbstractContextManager[Session]]


@contextmanager
def unit_of_work(engine: Engine) -> Iterator[Session]:
    """One transaction: commit when the block succeeds, roll back when it raises (except for an
    error that says it `keeps_writes`: an audited refusal, whose audit event must stay)."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException as exc:
            if keeps_writes(exc):
                session.commit()
            else:
                session.rollback()
            raise


def keeps_writes(exc: BaseException) -> bool:
    """Whether an error is one whose unit of work commits anyway (see `core.refusal`)."""
    return bool(getattr(exc, "keeps_writes", False))


# --- migrations -------------------------------------------------------------------------------


def alembic_config(settings: Settings, connection: Connection | None = None) -> AlembicConfig:
    """An Alembic configuration for the project's migrations, on a URL or an open connection."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(settings.migrations_dir))
    config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(settings: Settings, engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    with engine.begin() as connection:
        command.upgrade(alembic_config(settings, connection), revision)


def downgrade(settings: Settings, engine: Engine, revision: str) -> None:
    """Revert migrations down to `revision`."""
    with engine.begin() as connection:
        command.downgrade(alembic_config(settings, connection), revision)


def head_revisions(settings: Settings) -> set[str]:
    """The revisions the code expects."""
    return set(ScriptDirectory.from_config(alembic_config(settings)).get_heads())


def current_revisions(connection: Connection) -> set[str]:
    """The revisions the database is at."""
    return set(MigrationContext.configure(connection).get_current_heads())


# --- due rows ---------------------------------------------------------------------------------


def claim(session: Session, query: Any) -> list[Any]:
    """The rows of `query` for this transaction alone: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
    that two sweeps never take the same row (SQLite's `BEGIN IMMEDIATE` already serialises)."""
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query).all())


def settle(session: Session, model: Any, outcomes: dict[Any, list[Any]], *, now: datetime) -> None:
    """Set `state` (and `done_at`) of the claimed rows, by outcome: {state: [ids]}."""
    for state, ids in outcomes.items():
        if ids:
            session.exec(
                sa.update(model)
                .where(model.id.in_(ids))
                .values(state=state, done_at=now)
                .execution_options(synchronize_session=False)
            )
