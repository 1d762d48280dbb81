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


def upgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("locale")
