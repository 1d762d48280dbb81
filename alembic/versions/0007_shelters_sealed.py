"""shelters: every free-text field sealed, perpetrator overrides, late admissions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

Every free-text field of the shelters is sealed like names and addresses (AES-GCM, key id +
blob, the table and column bound as associated data): a hold's note, a bed's out-of-service
reason, a stay's municipality, an extension's justification and decision note, an entry
approval's person, organisation and purpose (one sealed JSON). Existing rows are sealed here,
then the readable columns are dropped. Reasons given for transfers, discharges, lockdowns, bed
service changes and supervisors' overrides go to `shelter_reason` (sealed), which their audit
events name. The keyed hashes of names (`name_hash`) go: names are compared spelling by spelling
(`shelters.names`), not by hash.

The cipher is the one the service uses (`core.crypto.cipher_from_settings` of the settings), or
one a caller puts in the Alembic configuration's `attributes["cipher"]` (tests). It is built only
when there are rows to seal or open, so an empty database needs no keys.

On SQLite the migration overwrites freed space with zeros (`secure_delete`), so the readable
values do not linger in free pages; PostgreSQL keeps dead row versions until VACUUM, and backups
taken before keep what they kept (see the README).

SQLite cannot add NOT NULL to a table that other tables reference without rebuilding it, which
foreign keys (on, inside the migration's transaction) forbid: the new columns of `shelter_stay`
and `shelter_entry_approval` allow NULL in both databases (every row has them). Downgrade opens
every sealed value back into its readable column; there, on SQLite, those two tables' restored
columns are NOT NULL with an empty default. The reasons table is dropped: audit events written
meanwhile keep naming rows that no longer exist. Audit events written before this revision keep
the reasons they carried in plain text: the audit chain is append-only and hash-linked.
"""

import json
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from alembic import context, op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The associated data each field is sealed with: shelters.service's contexts.
BED_REASON = "shelter_bed.out_of_service_reason"
NOTE = "shelter_bed_occupancy.note"
MUNICIPALITY = "shelter_stay.municipality"
JUSTIFICATION = "shelter_stay_extension.justification"
DECISION_NOTE = "shelter_stay_extension.decision_note"
APPROVAL = "shelter_entry_approval.details"
PERPETRATOR = "shelter_perpetrator.name"

# (table, readable column, sealed column prefix, context, readable column's type, nullable)
FIELDS = (
    ("shelter_bed", "out_of_service_reason", "out_of_service_reason", BED_REASON, 200, True),
    ("shelter_bed_occupancy", "note", "note", NOTE, 200, True),
    ("shelter_stay", "municipality", "municipality", MUNICIPALITY, 80, False),
    ("shelter_stay_extension", "justification", "justification", JUSTIFICATION, 2000, False),
    ("shelter_stay_extension", "decision_note", "decision_note", DECISION_NOTE, 500, True),
)
APPROVAL_FIELDS = (("person_name", 120), ("organisation", 120), ("purpose", 500))


class _Keys:
    """The field cipher, built the first time a value must be sealed or opened."""

    def __init__(self) -> None:
        self._cipher: Any = None

    def get(self) -> Any:
        if self._cipher is None:
            given = context.config.attributes.get("cipher")
            if given is None:
                from core.config import get_settings
                from core.crypto import cipher_from_settings

                given = cipher_from_settings(get_settings())
            self._cipher = given
        return self._cipher

    def seal(self, value: str, purpose: str) -> tuple[str, bytes]:
        sealed = self.get().seal(value, context=purpose)
        return sealed.key_id, sealed.blob

    def open(self, key_id: str, blob: bytes, purpose: str) -> str:
        from core.crypto import Sealed

        opened: str = self.get().open(Sealed(key_id, bytes(blob)), context=purpose)
        return opened


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _zero_freed() -> Callable[[], None]:
    """SQLite: overwrite with zeros whatever the rewrite frees, so that no readable copy stays
    in free pages (some builds do it by default, others not). Returns the undo."""
    if not _sqlite():
        return lambda: None
    previous = op.get_bind().exec_driver_sql("PRAGMA secure_delete").scalar()
    op.execute("PRAGMA secure_delete=ON")
    return lambda: op.execute(f"PRAGMA secure_delete={int(previous or 0)}")


def _rewrite(
    table: str, read: Sequence[str], write: Callable[[sa.Row[Any]], dict[str, Any] | None]
) -> None:
    """Rewrite each row of `table` from its `read` columns (by primary key `id`)."""
    connection = op.get_bind()
    columns = sa.table(table, sa.column("id", sa.Uuid()), *(sa.column(c) for c in read))
    for row in connection.execute(sa.select(*columns.c)).all():
        values = write(row)
        if values:
            target = sa.table(table, sa.column("id", sa.Uuid()), *(sa.column(c) for c in values))
            connection.execute(target.update().where(target.c.id == row.id).values(**values))


def _add_sealed(table: str, prefix: str) -> None:
    """Add `<prefix>_key_id` and `<prefix>_sealed`, nullable until they are filled."""
    op.add_column(table, sa.Column(f"{prefix}_key_id", sa.String(length=32), nullable=True))
    op.add_column(table, sa.Column(f"{prefix}_sealed", sa.LargeBinary(), nullable=True))


def _require(table: str, columns: Sequence[tuple[str, sa.types.TypeEngine[Any]]]) -> None:
    """Make filled columns NOT NULL (SQLite: by rebuilding the table, referenced by none)."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name, type_ in columns:
            batch_op.alter_column(name, existing_type=type_, nullable=False)


def _seal_field(keys: _Keys, table: str, column: str, prefix: str, purpose: str) -> None:
    def write(row: sa.Row[Any]) -> dict[str, Any] | None:
        value = getattr(row, column)
        if value is None:
            return None
        key_id, blob = keys.seal(value, purpose)
        return {f"{prefix}_key_id": key_id, f"{prefix}_sealed": blob}

    _rewrite(table, [column], write)


def _seal_approvals(keys: _Keys) -> None:
    def write(row: sa.Row[Any]) -> dict[str, Any]:
        details = {name: getattr(row, name) for name, _ in APPROVAL_FIELDS}
        key_id, blob = keys.seal(json.dumps(details), APPROVAL)
        return {"details_key_id": key_id, "details_sealed": blob}

    _rewrite("shelter_entry_approval", [name for name, _ in APPROVAL_FIELDS], write)


def _create_reasons() -> None:
    op.create_table(
        "shelter_reason",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("shelter_id", sa.Uuid(), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["user_account.id"],
            name=op.f("fk_shelter_reason_recorded_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["shelter_id"], ["shelter.id"], name=op.f("fk_shelter_reason_shelter_id_shelter")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shelter_reason")),
    )
    with op.batch_alter_table("shelter_reason", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shelter_reason_shelter_id_subject_id", ["shelter_id", "subject_id"], unique=False
        )


def upgrade() -> None:
    keys = _Keys()
    restore = _zero_freed()
    _create_reasons()
    for table, column, prefix, purpose, *_ in FIELDS:
        _add_sealed(table, prefix)
        _seal_field(keys, table, column, prefix, purpose)
    _add_sealed("shelter_entry_approval", "details")
    _seal_approvals(keys)
    justification = (
        ("justification_key_id", sa.String(length=32)),
        ("justification_sealed", sa.LargeBinary()),
    )
    _require("shelter_stay_extension", justification)
    # Plain DROP COLUMN (SQLite 3.35+ too): none of these is indexed or constrained, and the
    # tables keep their triggers (the beds' overlap guard) and the rows that reference them.
    for table, column, *_ in FIELDS:
        op.drop_column(table, column)
    for name, _ in APPROVAL_FIELDS:
        op.drop_column("shelter_entry_approval", name)
    op.drop_column("shelter_entry_approval", "name_hash")
    with op.batch_alter_table("shelter_perpetrator", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shelter_perpetrator_name_hash"))
    op.drop_column("shelter_perpetrator", "name_hash")
    restore()


# --- downgrade -------------------------------------------------------------------------------


def _legacy_name(name: str) -> str:
    """How revision 0004's code normalised a name before hashing it (case, accents, spacing and
    word order removed)."""
    text = name.casefold().replace("đ", "dj").replace("ß", "ss")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    words = "".join(c if c.isalnum() else " " for c in text).split()
    return " ".join(sorted(words))


def _legacy_hash(keys: _Keys, name: str) -> str:
    digest: str = keys.get().keyed_hash(_legacy_name(name), purpose="person-name")
    return digest


def _add_readable(table: str, column: str, length: int, nullable: bool) -> None:
    """A readable column back; NOT NULL ones on SQLite with an empty default (see above)."""
    if not nullable and _sqlite() and table in {"shelter_stay", "shelter_entry_approval"}:
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR({length}) NOT NULL DEFAULT ''")
        return
    op.add_column(table, sa.Column(column, sa.String(length=length), nullable=True))


def _open_field(keys: _Keys, table: str, column: str, prefix: str, purpose: str) -> None:
    def write(row: sa.Row[Any]) -> dict[str, Any] | None:
        key_id, blob = getattr(row, f"{prefix}_key_id"), getattr(row, f"{prefix}_sealed")
        if key_id is None or blob is None:
            return None
        return {column: keys.open(key_id, blob, purpose)}

    _rewrite(table, [f"{prefix}_key_id", f"{prefix}_sealed"], write)


def _open_approvals(keys: _Keys) -> None:
    def write(row: sa.Row[Any]) -> dict[str, Any]:
        details = json.loads(keys.open(row.details_key_id, row.details_sealed, APPROVAL))
        return {**details, "name_hash": _legacy_hash(keys, details["person_name"])}

    _rewrite("shelter_entry_approval", ["details_key_id", "details_sealed"], write)


def _hash_perpetrators(keys: _Keys) -> None:
    def write(row: sa.Row[Any]) -> dict[str, Any]:
        name = keys.open(row.name_key_id, row.name_sealed, PERPETRATOR)
        return {"name_hash": _legacy_hash(keys, name)}

    _rewrite("shelter_perpetrator", ["name_key_id", "name_sealed"], write)


def downgrade() -> None:
    keys = _Keys()
    op.add_column("shelter_perpetrator", sa.Column("name_hash", sa.String(64), nullable=True))
    _hash_perpetrators(keys)
    with op.batch_alter_table("shelter_perpetrator", schema=None) as batch_op:
        batch_op.alter_column("name_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(
            batch_op.f("ix_shelter_perpetrator_name_hash"), ["name_hash"], unique=False
        )
    for name, length in (("person_name", 120), ("name_hash", 64), *APPROVAL_FIELDS[1:]):
        _add_readable("shelter_entry_approval", name, length, False)
    _open_approvals(keys)
    for table, column, prefix, purpose, length, nullable in FIELDS:
        _add_readable(table, column, length, nullable)
        _open_field(keys, table, column, prefix, purpose)
    if not _sqlite():
        for name, length in (("person_name", 120), ("name_hash", 64), *APPROVAL_FIELDS[1:]):
            op.alter_column(
                "shelter_entry_approval", name, existing_type=sa.String(length), nullable=False
            )
        op.alter_column("shelter_stay", "municipality", existing_type=sa.String(80), nullable=False)
    _require("shelter_stay_extension", [("justification", sa.String(length=2000))])
    for table, _, prefix, *_ in FIELDS:
        op.drop_column(table, f"{prefix}_key_id")
        op.drop_column(table, f"{prefix}_sealed")
    op.drop_column("shelter_entry_approval", "details_key_id")
    op.drop_column("shelter_entry_approval", "details_sealed")
    with op.batch_alter_table("shelter_reason", schema=None) as batch_op:
        batch_op.drop_index("ix_shelter_reason_shelter_id_subject_id")
    op.drop_table("shelter_reason")
