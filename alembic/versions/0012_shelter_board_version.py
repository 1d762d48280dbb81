"""shelters: each shelter's board version

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03

`shelter.board_version`: a number that every flush changing what the shelter's bed board or the
network's free beds are read from (the shelter, its rooms, beds, occupancies, stays and their
people, its organisation's name) draws anew, in that flush's transaction
(`shelters.models.free_beds`). A process keeps a board, or the network's answer, while the
versions it was read at stand (`shelters.service.board_cache`).

Existing shelters start at 0. Downgrade drops the column.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shelter", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("board_version", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    # Not in a batch: SQLite drops a column in place (a batch would rebuild a table that others
    # reference).
    op.drop_column("shelter", "board_version")
