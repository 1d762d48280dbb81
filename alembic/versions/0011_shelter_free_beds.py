"""shelters: each shelter keeps its free beds

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03

`shelter.beds_unoccupied` and `shelter.cots_unoccupied`: the shelter's beds in service (other
than cots) and cots in service that no open-ended occupancy holds. The network's free beds are
read from them instead of being counted over every bed and every open occupancy of the network at
each request; every flush that changes a shelter's beds or occupancies recounts that shelter
(`shelters.models.free_beds`). Holds, which end at a set time, are subtracted when read.

Existing shelters are counted here, with the same rule. Downgrade drops the two columns.
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

shelter = sa.table(
    "shelter",
    sa.column("id", sa.Uuid()),
    sa.column("beds_unoccupied", sa.Integer()),
    sa.column("cots_unoccupied", sa.Integer()),
)
bed = sa.table(
    "shelter_bed",
    sa.column("id", sa.Uuid()),
    sa.column("shelter_id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("out_of_service", sa.Boolean()),
)
occupancy = sa.table(
    "shelter_bed_occupancy",
    sa.column("bed_id", sa.Uuid()),
    sa.column("ends_at", sa.DateTime(timezone=True)),
)


def _unoccupied(cots: bool) -> sa.ScalarSelect[int]:
    """The shelter's beds (or cots) in service with no open-ended period."""
    open_ended = sa.exists().where(occupancy.c.bed_id == bed.c.id, occupancy.c.ends_at.is_(None))
    kind = bed.c.kind == "cot" if cots else bed.c.kind != "cot"
    return (
        sa.select(sa.func.count())
        .select_from(bed)
        .where(bed.c.shelter_id == shelter.c.id, kind, bed.c.out_of_service.is_(False), ~open_ended)
        .scalar_subquery()
    )


def upgrade() -> None:
    with op.batch_alter_table("shelter", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("beds_unoccupied", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("cots_unoccupied", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        shelter.update().values(
            beds_unoccupied=_unoccupied(cots=False), cots_unoccupied=_unoccupied(cots=True)
        )
    )


def downgrade() -> None:
    # Not in a batch: SQLite drops a column in place (a batch would rebuild a table that others
    # reference).
    op.drop_column("shelter", "cots_unoccupied")
    op.drop_column("shelter", "beds_unoccupied")
