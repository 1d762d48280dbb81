"""Every sealed column in the database, and key rotation: re-sealing them under the active key.

A sealed field is a pair of columns, `<field>_key_id` + `<field>_sealed` (or `key_id` + `sealed`
for a table that seals a whole document), sealed with a constant context (`core.crypto`). Each
domain registers its pairs, with their contexts, in its `wiring.wire()`:

    sealed.register(
        sealed.pair("shelter", "address", service.ADDRESS_CONTEXT),
        sealed.document("shelter_reason", service.REASON_CONTEXT),
    )

and `tests/core/test_keys_rotate.py` fails when a `*_sealed` column of the schema is not
registered, so that a new one cannot be left behind under an old key.

`rotate` (`sigurna keys rotate`) re-seals, column by column, every row whose key id is not the
active one, in batches of one transaction each (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so that
the service keeps running). A row is updated only after it was opened, so a run stopped at any
point leaves every row readable, and the next run carries on where it stopped: what was re-sealed
is under the active key and no longer selected. A row that cannot be opened (its key is not
configured, or it does not authenticate) is counted as failed and left as it is; the batches walk
the primary key forward, so it is read once per pass, never again and again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from core.crypto import CryptoError, FieldCipher, Sealed
from core.db import UnitOfWork

DEFAULT_BATCH = 500
# A pass walks the whole column once; another follows only when rows were left behind (locked by
# a writer, or written meanwhile under an older key) and the pass made progress.
MAX_PASSES = 5


@dataclass(frozen=True, order=True)
class SealedColumn:
    """One sealed field: its table, its two columns and the context it is sealed with."""

    table: str
    sealed_column: str
    key_id_column: str
    context: str = field(compare=False)

    @property
    def name(self) -> str:
        return f"{self.table}.{self.sealed_column}"


def pair(table: str, field_name: str, context: str) -> SealedColumn:
    """The `<field>_key_id` + `<field>_sealed` pair of `table`."""
    return SealedColumn(table, f"{field_name}_sealed", f"{field_name}_key_id", context)


def document(table: str, context: str) -> SealedColumn:
    """The `key_id` + `sealed` pair of a table that seals a whole document."""
    return SealedColumn(table, "sealed", "key_id", context)


_registry: dict[tuple[str, str], SealedColumn] = {}


def register(*columns: SealedColumn) -> None:
    """Declare sealed columns; registering the same column again changes nothing."""
    for column in columns:
        key = (column.table, column.sealed_column)
        known = _registry.get(key)
        if known is not None and (known.key_id_column, known.context) != (
            column.key_id_column,
            column.context,
        ):
            raise ValueError(f"{column.name} is already registered with another key or context")
        _registry[key] = column


def registered() -> tuple[SealedColumn, ...]:
    """Every registered column, by table and column name."""
    return tuple(sorted(_registry.values()))


def is_sealed_column(name: str) -> bool:
    return name == "sealed" or name.endswith("_sealed")


def unregistered(metadata: sa.MetaData | None = None) -> list[str]:
    """The sealed columns of the schema (`sealed`, `*_sealed`) that no domain registered."""
    tables = (metadata or SQLModel.metadata).tables.values()
    return sorted(
        f"{table.name}.{column.name}"
        for table in tables
        for column in table.columns
        if is_sealed_column(column.name) and (table.name, column.name) not in _registry
    )


def not_in_schema(metadata: sa.MetaData | None = None) -> list[str]:
    """The registered columns that the schema does not have (a table or column renamed)."""
    tables = (metadata or SQLModel.metadata).tables
    return [
        column.name
        for column in registered()
        if column.table not in tables
        or {column.sealed_column, column.key_id_column} - set(tables[column.table].columns.keys())
    ]


def _table(column: SealedColumn) -> sa.Table:
    table = SQLModel.metadata.tables.get(column.table)
    if table is None or {column.sealed_column, column.key_id_column} - set(table.columns.keys()):
        raise LookupError(f"{column.name} is registered but is not in the schema")
    return table


# --- what the database holds ---------------------------------------------------------------------


def status(session: Session) -> list[tuple[SealedColumn, dict[str | None, int]]]:
    """For each registered column, how many rows are under each key id (None: no value)."""
    found: list[tuple[SealedColumn, dict[str | None, int]]] = []
    connection = session.connection()
    for column in registered():
        key_id = _table(column).c[column.key_id_column]
        rows = connection.execute(
            sa.select(key_id, sa.func.count()).group_by(key_id).order_by(key_id)
        ).all()
        found.append((column, {row[0]: row[1] for row in rows}))
    return found


# --- rotation ------------------------------------------------------------------------------------


@dataclass
class ColumnRotation:
    """What a rotation did to one column."""

    column: SealedColumn
    current: int = 0  # rows already under the active key when the run began
    resealed: int = 0
    failed: int = 0  # rows that could not be opened, left as they were
    pending: int = 0  # rows still under an older key at the end (locked, or written meanwhile)
    failed_ids: list[Any] = field(default_factory=list)  # their primary keys


@dataclass
class Rotation:
    """What a rotation did, column by column."""

    key_id: str  # the active key, that everything was re-sealed under
    columns: list[ColumnRotation] = field(default_factory=list)

    @property
    def current(self) -> int:
        return sum(c.current for c in self.columns)

    @property
    def resealed(self) -> int:
        return sum(c.resealed for c in self.columns)

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.columns)

    @property
    def pending(self) -> int:
        return sum(c.pending for c in self.columns)

    def totals(self) -> dict[str, int]:
        return {
            "current": self.current,
            "resealed": self.resealed,
            "failed": self.failed,
            "pending": self.pending,
        }


Progress = Callable[[ColumnRotation], None]


def rotate(
    unit_of_work: UnitOfWork,
    cipher: FieldCipher,
    *,
    batch: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    columns: Sequence[SealedColumn] | None = None,
) -> Rotation:
    """Re-seal every registered column (or only `columns`) under the cipher's active key, `batch`
    rows a transaction; `progress` is told after each batch is committed. Safe to stop and run
    again at any point."""
    if batch < 1:
        raise ValueError("the batch must hold at least one row")
    rotation = Rotation(cipher.active_key_id)
    for column in registered() if columns is None else columns:
        rotation.columns.append(_rotate_column(unit_of_work, cipher, column, batch, progress))
    return rotation


class _Column:
    """The statements of one column's rotation."""

    def __init__(self, column: SealedColumn, active: str) -> None:
        self.spec = column
        self.table = _table(column)
        self.key_id = self.table.c[column.key_id_column]
        self.sealed = self.table.c[column.sealed_column]
        self.primary_key = list(self.table.primary_key.columns)
        if not self.primary_key:
            raise LookupError(f"{column.name} is in a table without a primary key")
        self.active = active
        self.older = sa.and_(self.key_id.is_not(None), self.key_id != active)
        names = [f"pk_{n}" for n in range(len(self.primary_key))]
        self.update = (
            sa.update(self.table)
            .where(*(c == sa.bindparam(n) for c, n in zip(self.primary_key, names, strict=True)))
            .where(self.key_id == sa.bindparam("old_key_id"))
            .values({self.key_id: sa.bindparam("new_key_id"), self.sealed: sa.bindparam("blob")})
        )

    def count(self, session: Session, condition: sa.ColumnElement[bool]) -> int:
        query = sa.select(sa.func.count()).select_from(self.table).where(condition)
        return int(session.connection().execute(query).scalar_one())

    def claim(self, session: Session, after: tuple[Any, ...] | None, batch: int) -> list[Any]:
        """The next `batch` rows under an older key, past `after`, locked for this transaction
        (rows another transaction holds are skipped, not waited for, on PostgreSQL)."""
        query = sa.select(*self.primary_key, self.key_id, self.sealed).where(self.older)
        if after is not None:
            query = query.where(_after(self.primary_key, after))
        query = query.order_by(*self.primary_key).limit(batch)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=self.table)
        return list(session.connection().execute(query).all())

    def reseal(
        self, cipher: FieldCipher, rows: Sequence[Any]
    ) -> tuple[list[dict[str, Any]], list[Any]]:
        """The updates for the rows that open, and the primary keys of those that do not."""
        updates: list[dict[str, Any]] = []
        failed: list[Any] = []
        width = len(self.primary_key)
        for row in rows:
            key = tuple(row[:width])
            old_key_id, blob = row[width], row[width + 1]
            try:
                if blob is None:
                    raise CryptoError("a key id without a sealed value")
                fresh = cipher.reseal(Sealed(old_key_id, blob), context=self.spec.context)
            except CryptoError:
                failed.append(key[0] if width == 1 else key)
                continue
            values = {f"pk_{n}": value for n, value in enumerate(key)}
            values.update(old_key_id=old_key_id, new_key_id=fresh.key_id, blob=fresh.blob)
            updates.append(values)
        return updates, failed

    def write(self, session: Session, updates: list[dict[str, Any]]) -> None:
        """Store the re-sealed values (an executemany: pipelined by psycopg on PostgreSQL; an
        UPDATE from unnested arrays measured no faster, the server's own work dominates)."""
        session.connection().execute(self.update, updates)


def _after(primary_key: list[sa.Column[Any]], after: tuple[Any, ...]) -> sa.ColumnElement[bool]:
    condition: sa.ColumnElement[bool] = (
        primary_key[0] > after[0]
        if len(primary_key) == 1
        else sa.tuple_(*primary_key) > sa.tuple_(*after)
    )
    return condition


def _rotate_column(
    unit_of_work: UnitOfWork,
    cipher: FieldCipher,
    column: SealedColumn,
    batch: int,
    progress: Progress | None,
) -> ColumnRotation:
    statements = _Column(column, cipher.active_key_id)
    report = ColumnRotation(column)
    with unit_of_work() as session:
        report.current = statements.count(session, statements.key_id == cipher.active_key_id)
    failed: dict[Any, None] = {}  # in the order met, each once however many passes read it
    for _ in range(MAX_PASSES):
        before = report.resealed
        _one_pass(unit_of_work, cipher, statements, batch, report, failed, progress)
        with unit_of_work() as session:
            remaining = statements.count(session, statements.older)
        report.pending = max(remaining - len(failed), 0)
        if not report.pending or report.resealed == before:
            break
    return report


def _one_pass(
    unit_of_work: UnitOfWork,
    cipher: FieldCipher,
    statements: _Column,
    batch: int,
    report: ColumnRotation,
    failed: dict[Any, None],
    progress: Progress | None,
) -> None:
    """Walk the column once along its primary key, one transaction per batch."""
    width = len(statements.primary_key)
    after: tuple[Any, ...] | None = None
    while True:
        with unit_of_work() as session:
            rows = statements.claim(session, after, batch)
            updates, unreadable = statements.reseal(cipher, rows)
            if updates:
                statements.write(session, updates)
        if not rows:
            return
        report.resealed += len(updates)
        failed.update(dict.fromkeys(unreadable))
        report.failed = len(failed)
        report.failed_ids = list(failed)
        after = tuple(rows[-1][:width])
        if progress is not None:
            progress(report)
        if len(rows) < batch:
            return


def key_counts(found: list[tuple[SealedColumn, dict[str | None, int]]]) -> Counter[str | None]:
    """Rows under each key id, over every column of a `status`."""
    total: Counter[str | None] = Counter()
    for _, counts in found:
        total.update(counts)
    return total
