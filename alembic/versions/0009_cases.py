"""cases and safety plans; the second factor of a login

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03

The `safety_plans` domain's tables: cases with their team, status history, links, contacts and
services; risk assessments, safety-plan revisions (append-only), assistance steps, deadline rows
and supervisors' tasks; consents and break-glass openings. Every free-text and contact field is
sealed (`*_key_id` + `*_sealed`). Core gains `user_second_factor` (TOTP, sealed secret, recovery
code digests) and, on `auth_session`, when the session passed its second factor; and an index on
the audit chain by subject, for the "who saw this case" report.

A referral made from a case points at it (`referral.case_id`).

Downgrade drops all of it (the cases are lost: downgrade only a database without any).
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "safety_case",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "dormant",
                "closed",
                name="safety_case_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.String(length=40), nullable=True),
        sa.Column("name_key_id", sa.String(length=32), nullable=False),
        sa.Column("name_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column(
            "age_band",
            sa.Enum(
                "under_18",
                "18_25",
                "26_35",
                "36_50",
                "51_65",
                "over_65",
                name="safety_case_age_band",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("municipality", sa.String(length=80), nullable=True),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("children_involved", sa.Boolean(), nullable=False),
        sa.Column("violence_types", sa.JSON(), nullable=False),
        sa.Column("do_not_disclose", sa.Boolean(), nullable=False),
        sa.Column("risk_level", sa.String(length=16), nullable=True),
        sa.Column("reassess_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_safety_case_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_safety_case_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["user_account.id"], name=op.f("fk_safety_case_owner_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_case")),
        sa.UniqueConstraint(
            "organisation_id", "number", name=op.f("uq_safety_case_organisation_id_number")
        ),
    )
    with op.batch_alter_table("safety_case", schema=None) as batch_op:
        batch_op.create_index(
            "ix_safety_case_organisation_id_status", ["organisation_id", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_safety_case_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "user_second_factor",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("secret_key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("recovery_digests", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_second_factor_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_second_factor")),
    )
    op.create_table(
        "safety_assistance_step",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "agency",
            sa.Enum(
                "police",
                "csw",
                "health",
                "court",
                "school",
                "ngo",
                name="safety_agency",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("what_key_id", sa.String(length=32), nullable=False),
        sa.Column("what_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "in_progress",
                "done",
                "cancelled",
                name="safety_step_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["safety_case.id"],
            name=op.f("fk_safety_assistance_step_case_id_safety_case"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_safety_assistance_step_owner_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_assistance_step")),
    )
    with op.batch_alter_table("safety_assistance_step", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_safety_assistance_step_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "safety_break_glass",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("reason_key_id", sa.String(length=32), nullable=False),
        sa.Column("reason_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("review_key_id", sa.String(length=32), nullable=True),
        sa.Column("review_sealed", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["safety_case.id"], name=op.f("fk_safety_break_glass_case_id_safety_case")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_safety_break_glass_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["user_account.id"],
            name=op.f("fk_safety_break_glass_reviewed_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_safety_break_glass_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_break_glass")),
    )
    with op.batch_alter_table("safety_break_glass", schema=None) as batch_op:
        batch_op.create_index(
            "ix_safety_break_glass_organisation_reviewed",
            ["organisation_id", "reviewed_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_safety_break_glass_user_case", ["user_id", "case_id"], unique=False
        )

    op.create_table(
        "safety_case_contact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "office_call",
                "routed_call",
                "walk_in",
                "email",
                "message",
                "escort",
                name="safety_contact_channel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("counselor_id", sa.Uuid(), nullable=False),
        sa.Column("note_key_id", sa.String(length=32), nullable=True),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"],
            ["hotline_call.id"],
            name=op.f("fk_safety_case_contact_call_id_hotline_call"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["safety_case.id"], name=op.f("fk_safety_case_contact_case_id_safety_case")
        ),
        sa.ForeignKeyConstraint(
            ["counselor_id"],
            ["user_account.id"],
            name=op.f("fk_safety_case_contact_counselor_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_case_contact")),
    )
    with op.batch_alter_table("safety_case_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_safety_case_contact_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "safety_case_link",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "call",
                "callback_task",
                "stay",
                "referral",
                name="safety_case_link_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_by", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["safety_case.id"], name=op.f("fk_safety_case_link_case_id_safety_case")
        ),
        sa.ForeignKeyConstraint(
            ["linked_by"],
            ["user_account.id"],
            name=op.f("fk_safety_case_link_linked_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_case_link")),
        sa.UniqueConstraint("kind", "target_id", name=op.f("uq_safety_case_link_kind_target_id")),
    )
    with op.batch_alter_table("safety_case_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_case_link_case_id"), ["case_id"], unique=False)

    op.create_table(
        "safety_case_member",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("case_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["added_by"],
            ["user_account.id"],
            name=op.f("fk_safety_case_member_added_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["safety_case.id"], name=op.f("fk_safety_case_member_case_id_safety_case")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_safety_case_member_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("case_id", "user_id", name=op.f("pk_safety_case_member")),
    )
    with op.batch_alter_table("safety_case_member", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_safety_case_member_user_id"), ["user_id"], unique=False
        )
        batch_op.create_index(
            "ix_safety_case_member_user_id_case_updated_at",
            ["user_id", "case_updated_at", "case_id"],
            unique=False,
        )

    op.create_table(
        "safety_case_service",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "information",
                "legal_counselling",
                "application_to_csw",
                "application_to_police",
                "psychological_phone",
                "psychological_in_person",
                "self_help_group",
                "shelter_mediation",
                "escort",
                name="safety_service_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("given_by", sa.Uuid(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column(
            "escort_place",
            sa.Enum(
                "court",
                "police",
                "csw",
                name="safety_escort_place",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("at_night", sa.Boolean(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["safety_case.id"], name=op.f("fk_safety_case_service_case_id_safety_case")
        ),
        sa.ForeignKeyConstraint(
            ["given_by"],
            ["user_account.id"],
            name=op.f("fk_safety_case_service_given_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_case_service")),
    )
    with op.batch_alter_table("safety_case_service", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_safety_case_service_case_id"), ["case_id"], unique=False
        )
        batch_op.create_index(
            "ix_safety_case_service_kind_given_at", ["kind", "given_at"], unique=False
        )

    op.create_table(
        "safety_case_status_change",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "dormant",
                "closed",
                name="safety_case_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["safety_case.id"],
            name=op.f("fk_safety_case_status_change_case_id_safety_case"),
        ),
        sa.ForeignKeyConstraint(
            ["changed_by"],
            ["user_account.id"],
            name=op.f("fk_safety_case_status_change_changed_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_case_status_change")),
    )
    with op.batch_alter_table("safety_case_status_change", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_safety_case_status_change_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "safety_case_task",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "case_conference",
                name="safety_task_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["safety_case.id"], name=op.f("fk_safety_case_task_case_id_safety_case")
        ),
        sa.ForeignKeyConstraint(
            ["done_by"], ["user_account.id"], name=op.f("fk_safety_case_task_done_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_safety_case_task_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_case_task")),
    )
    with op.batch_alter_table("safety_case_task", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_case_task_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_safety_case_task_organisation_id_done_at",
            ["organisation_id", "done_at"],
            unique=False,
        )

    op.create_table(
        "safety_consent",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("recipient_id", sa.Uuid(), nullable=False),
        sa.Column("purpose_key_id", sa.String(length=32), nullable=False),
        sa.Column("purpose_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("sections", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["safety_case.id"], name=op.f("fk_safety_consent_case_id_safety_case")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["organisation.id"],
            name=op.f("fk_safety_consent_recipient_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["user_account.id"],
            name=op.f("fk_safety_consent_recorded_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["withdrawn_by"],
            ["user_account.id"],
            name=op.f("fk_safety_consent_withdrawn_by_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_consent")),
    )
    with op.batch_alter_table("safety_consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_consent_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_safety_consent_recipient_case", ["recipient_id", "case_id"], unique=False
        )

    op.create_table(
        "safety_deadline",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "reassess_soon",
                "reassess_overdue",
                "step_overdue",
                name="safety_deadline_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "done",
                "cancelled",
                name="safety_deadline_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["safety_case.id"], name=op.f("fk_safety_deadline_case_id_safety_case")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_deadline")),
    )
    with op.batch_alter_table("safety_deadline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_safety_deadline_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_safety_deadline_state_due_at", ["state", "due_at"], unique=False)

    op.create_table(
        "safety_plan_revision",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user_account.id"],
            name=op.f("fk_safety_plan_revision_author_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["safety_case.id"],
            name=op.f("fk_safety_plan_revision_case_id_safety_case"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_plan_revision")),
        sa.UniqueConstraint(
            "case_id", "revision", name=op.f("uq_safety_plan_revision_case_id_revision")
        ),
    )
    op.create_table(
        "safety_risk_assessment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("instrument", sa.String(length=40), nullable=False),
        sa.Column("instrument_version", sa.Integer(), nullable=False),
        sa.Column("computed_level", sa.String(length=16), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assessed_by", sa.Uuid(), nullable=False),
        sa.Column("reassess_by", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessed_by"],
            ["user_account.id"],
            name=op.f("fk_safety_risk_assessment_assessed_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["safety_case.id"],
            name=op.f("fk_safety_risk_assessment_case_id_safety_case"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_safety_risk_assessment")),
    )
    with op.batch_alter_table("safety_risk_assessment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_safety_risk_assessment_case_id"), ["case_id"], unique=False
        )

    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("second_factor_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("second_factor_failures", sa.Integer(), nullable=False, server_default="0")
        )

    op.add_column("referral", sa.Column("case_id", sa.Uuid(), nullable=True))
    op.create_index("ix_referral_case_id", "referral", ["case_id"], unique=False)

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_event_subject", ["subject_type", "subject_id", "id"], unique=False
        )


def downgrade() -> None:
    op.drop_index("ix_referral_case_id", table_name="referral")
    op.drop_column("referral", "case_id")

    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_subject")

    op.drop_column("auth_session", "second_factor_failures")
    op.drop_column("auth_session", "second_factor_at")

    with op.batch_alter_table("safety_risk_assessment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_risk_assessment_case_id"))

    op.drop_table("safety_risk_assessment")
    op.drop_table("safety_plan_revision")
    with op.batch_alter_table("safety_deadline", schema=None) as batch_op:
        batch_op.drop_index("ix_safety_deadline_state_due_at")
        batch_op.drop_index(batch_op.f("ix_safety_deadline_case_id"))

    op.drop_table("safety_deadline")
    with op.batch_alter_table("safety_consent", schema=None) as batch_op:
        batch_op.drop_index("ix_safety_consent_recipient_case")
        batch_op.drop_index(batch_op.f("ix_safety_consent_case_id"))

    op.drop_table("safety_consent")
    with op.batch_alter_table("safety_case_task", schema=None) as batch_op:
        batch_op.drop_index("ix_safety_case_task_organisation_id_done_at")
        batch_op.drop_index(batch_op.f("ix_safety_case_task_case_id"))

    op.drop_table("safety_case_task")
    with op.batch_alter_table("safety_case_status_change", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_case_status_change_case_id"))

    op.drop_table("safety_case_status_change")
    with op.batch_alter_table("safety_case_service", schema=None) as batch_op:
        batch_op.drop_index("ix_safety_case_service_kind_given_at")
        batch_op.drop_index(batch_op.f("ix_safety_case_service_case_id"))

    op.drop_table("safety_case_service")
    with op.batch_alter_table("safety_case_member", schema=None) as batch_op:
        batch_op.drop_index("ix_safety_case_member_user_id_case_updated_at")
        batch_op.drop_index(batch_op.f("ix_safety_case_member_user_id"))

    op.drop_table("safety_case_member")
    with op.batch_alter_table("safety_case_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_case_link_case_id"))

    op.drop_table("safety_case_link")
    with op.batch_alter_table("safety_case_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_case_contact_case_id"))

    op.drop_table("safety_case_contact")
    with op.batch_alter_table("safety_break_glass", schema=None) as batch_op:
        batch_op.drop_index("ix_safety_break_glass_user_case")
        batch_op.drop_index("ix_safety_break_glass_organisation_reviewed")

    op.drop_table("safety_break_glass")
    with op.batch_alter_table("safety_assistance_step", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_assistance_step_case_id"))

    op.drop_table("safety_assistance_step")
    op.drop_table("user_second_factor")
    with op.batch_alter_table("safety_case", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_safety_case_owner_id"))
        batch_op.drop_index("ix_safety_case_organisation_id_status")

    op.drop_table("safety_case")
