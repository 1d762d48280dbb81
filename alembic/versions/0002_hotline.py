"""hotline

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "hotline",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("holiday_country", sa.String(length=2), nullable=False),
        sa.Column("holiday_categories", sa.JSON(), nullable=False),
        sa.Column("office_hours", sa.JSON(), nullable=False),
        sa.Column("office_numbers", sa.JSON(), nullable=False),
        sa.Column("on_call_24h", sa.Boolean(), nullable=False),
        sa.Column("last_resort_number", sa.String(length=16), nullable=True),
        sa.Column(
            "language",
            sa.Enum(
                "en",
                "cnr",
                "sq",
                name="prompt_language",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("office_ring_seconds", sa.Integer(), nullable=False),
        sa.Column("primary_ring_seconds", sa.Integer(), nullable=False),
        sa.Column("backup_ring_seconds", sa.Integer(), nullable=False),
        sa.Column("supervisors_ring_seconds", sa.Integer(), nullable=False),
        sa.Column("last_resort_ring_seconds", sa.Integer(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("twilio_number", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_hotline_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline")),
        sa.UniqueConstraint("twilio_number", name=op.f("uq_hotline_twilio_number")),
    )
    with op.batch_alter_table("hotline", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hotline_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "duty_calendar_feed",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("hotline_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["hotline_id"],
            ["hotline.id"],
            name=op.f("fk_duty_calendar_feed_hotline_id_hotline"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_duty_calendar_feed_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_duty_calendar_feed_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_calendar_feed")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_duty_calendar_feed_token_hash")),
    )
    with op.batch_alter_table("duty_calendar_feed", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_duty_calendar_feed_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "duty_phone",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_duty_phone_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_duty_phone_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_phone")),
        sa.UniqueConstraint("user_id", name=op.f("uq_duty_phone_user_id")),
    )
    with op.batch_alter_table("duty_phone", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_duty_phone_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "duty_shift",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("hotline_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("primary_user_id", sa.Uuid(), nullable=False),
        sa.Column("backup_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_duty_shift_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["backup_user_id"],
            ["user_account.id"],
            name=op.f("fk_duty_shift_backup_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_duty_shift_created_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["hotline_id"],
            ["hotline.id"],
            name=op.f("fk_duty_shift_hotline_id_hotline"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["primary_user_id"],
            ["user_account.id"],
            name=op.f("fk_duty_shift_primary_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_shift")),
    )
    with op.batch_alter_table("duty_shift", schema=None) as batch_op:
        batch_op.create_index(
            "ix_duty_shift_hotline_id_starts_at", ["hotline_id", "starts_at"], unique=False
        )

    op.create_table(
        "hotline_call",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("hotline_id", sa.Uuid(), nullable=False),
        sa.Column("call_sid", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "mode",
            sa.Enum(
                "office",
                "duty",
                "fallback",
                name="call_mode",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "ringing",
                "accepted",
                "voicemail",
                "ended",
                name="call_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("accepted_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("accepted_rung", sa.Integer(), nullable=True),
        sa.Column("twilio_status", sa.String(length=20), nullable=True),
        sa.Column("caller_key_id", sa.String(length=32), nullable=True),
        sa.Column("caller_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("caller_hash", sa.String(length=64), nullable=True),
        sa.Column("caller_last2", sa.String(length=2), nullable=True),
        sa.Column(
            "caller_type",
            sa.Enum(
                "victim",
                "witness",
                "institution",
                "other",
                name="caller_type",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column(
            "urgency",
            sa.Enum(
                "acute",
                "high",
                "routine",
                name="urgency",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("recording_sid", sa.String(length=64), nullable=True),
        sa.Column("recording_key_id", sa.String(length=32), nullable=True),
        sa.Column("recording_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("recording_seconds", sa.Integer(), nullable=True),
        sa.Column("personal_data_purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["accepted_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_hotline_call_accepted_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["hotline_id"], ["hotline.id"], name=op.f("fk_hotline_call_hotline_id_hotline")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_call")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_hotline_call_call_sid")),
    )
    with op.batch_alter_table("hotline_call", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hotline_call_caller_hash"), ["caller_hash"], unique=False
        )
        batch_op.create_index(
            "ix_hotline_call_hotline_id_started_at", ["hotline_id", "started_at"], unique=False
        )

    op.create_table(
        "hotline_closure",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("hotline_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_hotline_closure_created_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["hotline_id"],
            ["hotline.id"],
            name=op.f("fk_hotline_closure_hotline_id_hotline"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_closure")),
        sa.UniqueConstraint("hotline_id", "day", name=op.f("uq_hotline_closure_hotline_id_day")),
    )
    op.create_table(
        "duty_shift_override",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("shift_id", sa.Uuid(), nullable=False),
        sa.Column(
            "position",
            sa.Enum(
                "primary",
                "backup",
                name="duty_position",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "cover",
                "swap",
                name="override_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("swap_group", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("made_by_user_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_duty_shift_override_ends_after_start")
        ),
        sa.ForeignKeyConstraint(
            ["made_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_duty_shift_override_made_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["shift_id"],
            ["duty_shift.id"],
            name=op.f("fk_duty_shift_override_shift_id_duty_shift"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_duty_shift_override_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_shift_override")),
    )
    with op.batch_alter_table("duty_shift_override", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_duty_shift_override_shift_id"), ["shift_id"], unique=False
        )

    op.create_table(
        "hotline_call_rung",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "office",
                "primary",
                "backup",
                "supervisors",
                "last_resort",
                name="rung_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dial_status", sa.String(length=20), nullable=True),
        sa.Column("accepted_by_user_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["accepted_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_hotline_call_rung_accepted_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["hotline_call.id"],
            name=op.f("fk_hotline_call_rung_call_id_hotline_call"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_call_rung")),
        sa.UniqueConstraint("call_id", "index", name=op.f("uq_hotline_call_rung_call_id_index")),
    )
    op.create_table(
        "hotline_callback_task",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("hotline_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.Uuid(), nullable=False),
        sa.Column("short_ref", sa.String(length=12), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_user_id", sa.Uuid(), nullable=True),
        sa.Column(
            "safe_to_call_back",
            sa.Enum(
                "unknown",
                "yes",
                "no",
                name="safe_to_call_back",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "closed",
                name="task_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "outcome",
            sa.Enum(
                "reached",
                "no_answer",
                "not_safe",
                "wrong_number",
                "other",
                name="callback_outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_user_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assigned_user_id"],
            ["user_account.id"],
            name=op.f("fk_hotline_callback_task_assigned_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["hotline_call.id"],
            name=op.f("fk_hotline_callback_task_call_id_hotline_call"),
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_hotline_callback_task_closed_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["hotline_id"], ["hotline.id"], name=op.f("fk_hotline_callback_task_hotline_id_hotline")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_hotline_callback_task_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hotline_callback_task")),
        sa.UniqueConstraint("call_id", name=op.f("uq_hotline_callback_task_call_id")),
        sa.UniqueConstraint("short_ref", name=op.f("uq_hotline_callback_task_short_ref")),
    )
    with op.batch_alter_table("hotline_callback_task", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_hotline_callback_task_organisation_id"),
            ["organisation_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_hotline_callback_task_status_due_at", ["status", "due_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("hotline_callback_task", schema=None) as batch_op:
        batch_op.drop_index("ix_hotline_callback_task_status_due_at")
        batch_op.drop_index(batch_op.f("ix_hotline_callback_task_organisation_id"))

    op.drop_table("hotline_callback_task")
    op.drop_table("hotline_call_rung")
    with op.batch_alter_table("duty_shift_override", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duty_shift_override_shift_id"))

    op.drop_table("duty_shift_override")
    op.drop_table("hotline_closure")
    with op.batch_alter_table("hotline_call", schema=None) as batch_op:
        batch_op.drop_index("ix_hotline_call_hotline_id_started_at")
        batch_op.drop_index(batch_op.f("ix_hotline_call_caller_hash"))

    op.drop_table("hotline_call")
    with op.batch_alter_table("duty_shift", schema=None) as batch_op:
        batch_op.drop_index("ix_duty_shift_hotline_id_starts_at")

    op.drop_table("duty_shift")
    with op.batch_alter_table("duty_phone", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duty_phone_organisation_id"))

    op.drop_table("duty_phone")
    with op.batch_alter_table("duty_calendar_feed", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_duty_calendar_feed_organisation_id"))

    op.drop_table("duty_calendar_feed")
    with op.batch_alter_table("hotline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hotline_organisation_id"))

    op.drop_table("hotline")
