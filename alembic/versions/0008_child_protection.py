"""referrals: the child-protection referral's team, deadline and reminders

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

A CSW's child-protection team (`child_protection_member`): only its members read the identity
of a child referred as at risk. An admission's child-protection referral made before this
revision had no deadline: it gets its admission's (the general referral's for the same stay),
and an open one gets the reminder ladder (3 days and 1 day before, at the deadline, the first
overdue day). Reminders already due are left to the sweep, which on catching up sends only the
latest of each referral's and schedules the next overdue day ahead. The wall clock is not read.

Downgrade drops the team; the deadlines and reminders stay (the code before this revision
sweeps and shows them like any other referral's, and upgrading again adds nothing twice).
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = ("open", "acknowledged", "information_requested")
# (kind, sequence, local days from the deadline): the ladder of referrals.service._schedule.
LADDER = (("before_3_days", 0, -3), ("before_1_day", 0, -1), ("deadline", 0, 0), ("overdue", 1, 1))

referral = sa.table(
    "referral",
    sa.column("id", sa.Uuid()),
    sa.column("from_organisation_id", sa.Uuid()),
    sa.column("to_organisation_id", sa.Uuid()),
    sa.column("source", sa.String()),
    sa.column("team", sa.String()),
    sa.column("stay_id", sa.Uuid()),
    sa.column("deadline", sa.DateTime(timezone=True)),
    sa.column("status", sa.String()),
)
reminder = sa.table(
    "referral_reminder",
    sa.column("id", sa.Uuid()),
    sa.column("referral_id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("sequence", sa.Integer()),
    sa.column("due_at", sa.DateTime(timezone=True)),
    sa.column("state", sa.String()),
    sa.column("done_at", sa.DateTime(timezone=True)),
)
organisation = sa.table("organisation", sa.column("id", sa.Uuid()), sa.column("time_zone"))


def _utc(value: datetime) -> datetime:
    # SQLite keeps no offset: everything the service wrote there is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _local_days(instant: datetime, days: int, zone: str) -> datetime:
    """shelters.time.add_local_days: the same local clock time `days` calendar days later."""
    tz = ZoneInfo(zone)
    local = instant.astimezone(tz)
    target = datetime.combine(local.date() + timedelta(days=days), local.timetz().replace(fold=0))
    return target.replace(tzinfo=tz).astimezone(UTC)


def _backfill() -> None:
    connection = op.get_bind()
    general = dict(
        connection.execute(
            sa.select(referral.c.stay_id, referral.c.deadline).where(
                referral.c.source == "admission",
                referral.c.team == "general",
                referral.c.stay_id.is_not(None),
                referral.c.deadline.is_not(None),
            )
        ).all()
    )
    zones = dict(connection.execute(sa.select(organisation.c.id, organisation.c.time_zone)).all())
    children = connection.execute(
        sa.select(referral).where(
            referral.c.source == "admission",
            referral.c.team == "child_protection",
            referral.c.stay_id.is_not(None),
            referral.c.deadline.is_(None),
        )
    ).all()
    rows: list[dict[str, Any]] = []
    for child in children:
        if child.stay_id not in general:
            continue
        deadline = _utc(general[child.stay_id])
        connection.execute(
            referral.update().where(referral.c.id == child.id).values(deadline=deadline)
        )
        if child.status not in OPEN:
            continue
        zone = zones[child.to_organisation_id or child.from_organisation_id]
        rows += [
            {
                "id": uuid.uuid4(),
                "referral_id": child.id,
                "kind": kind,
                "sequence": sequence,
                "due_at": _local_days(deadline, days, zone),
                "state": "pending",
                "done_at": None,
            }
            for kind, sequence, days in LADDER
        ]
    if rows:
        op.bulk_insert(reminder, rows)


def upgrade() -> None:
    op.create_table(
        "child_protection_member",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_child_protection_member_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_child_protection_member_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_child_protection_member")),
    )
    with op.batch_alter_table("child_protection_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_child_protection_member_organisation_id"),
            ["organisation_id"],
            unique=False,
        )
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("child_protection_member", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_child_protection_member_organisation_id"))
    op.drop_table("child_protection_member")
