"""console: each account's language

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

`user_account.locale`: the console language a person chose (`en`, `sr_Latn`, `sr_Cyrl`, `sq`);
empty until she chooses, when the browser's preference applies. Downgrade drops the column.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE on both databases (SQLite 3.35+ drops a column in place): a batch copy of
# user_account would have to drop and recreate a table other tables point at.
def upgrade() -> None:
    op.add_column("user_account", sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    op.drop_column("user_account", "locale")
