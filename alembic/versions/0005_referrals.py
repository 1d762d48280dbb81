"""referrals

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Montenegro's municipalities (as of the 2022 creation of Zeta), shipped as data: (name, folded
# name as referrals.service.fold makes it). Other countries' are added through the API.
MONTENEGRO = (
    ("Andrijevica", "andrijevica"),
    ("Bar", "bar"),
    ("Berane", "berane"),
    ("Bijelo Polje", "bijelo polje"),
    ("Budva", "budva"),
    ("Cetinje", "cetinje"),
    ("Danilovgrad", "danilovgrad"),
    ("Gusinje", "gusinje"),
    ("Herceg Novi", "herceg novi"),
    ("Kolašin", "kolasin"),
    ("Kotor", "kotor"),
    ("Mojkovac", "mojkovac"),
    ("Nikšić", "niksic"),
    ("Petnjica", "petnjica"),
    ("Plav", "plav"),
    ("Pljevlja", "pljevlja"),
    ("Plužine", "pluzine"),
    ("Podgorica", "podgorica"),
    ("Rožaje", "rozaje"),
    ("Šavnik", "savnik"),
    ("Tivat", "tivat"),
    ("Tuzi", "tuzi"),
    ("Ulcinj", "ulcinj"),
    ("Zeta", "zeta"),
    ("Žabljak", "zabljak"),
)


def upgrade() -> None:
    op.create_table(
        "municipality",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("country_code", sa.String(length=2), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("name_key", sa.String(length=80), nullable=False),
        sa.Column("csw_organisation_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["csw_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_municipality_csw_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_municipality")),
        sa.UniqueConstraint(
            "country_code", "name_key", name=op.f("uq_municipality_country_code_name_key")
        ),
    )
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_municipality_csw_organisation_id"), ["csw_organisation_id"], unique=False
        )

    op.create_table(
        "notification_contact",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organisation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "channel",
            sa.Enum(
                "sms",
                "email",
                "webhook",
                name="contact_channel",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("address", sa.String(length=2048), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("purposes", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret_key_id", sa.String(length=32), nullable=True),
        sa.Column("secret_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_notification_contact_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_contact")),
    )
    with op.batch_alter_table("notification_contact", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notification_contact_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "referral",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("from_organisation_id", sa.Uuid(), nullable=False),
        sa.Column("to_organisation_id", sa.Uuid(), nullable=True),
        sa.Column("municipality_id", sa.Uuid(), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "admission",
                "call",
                "case",
                name="referral_source",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "team",
            sa.Enum(
                "general",
                "child_protection",
                name="referral_team",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("stay_id", sa.Uuid(), nullable=True),
        sa.Column("call_id", sa.Uuid(), nullable=True),
        sa.Column("case_reference", sa.String(length=40), nullable=True),
        sa.Column("people", sa.Integer(), nullable=False),
        sa.Column("children", sa.Integer(), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "acknowledged",
                "information_requested",
                "decided",
                "withdrawn",
                name="referral_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("consent_scope", sa.JSON(), nullable=False),
        sa.Column("consent_recorded_by", sa.Uuid(), nullable=True),
        sa.Column("consent_recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "legal_basis",
            sa.Enum(
                "emergency_accommodation",
                "child_at_risk",
                "legal_obligation",
                name="referral_legal_basis",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("legal_note", sa.String(length=500), nullable=True),
        sa.Column("dossier_key_id", sa.String(length=32), nullable=False),
        sa.Column("dossier_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum(
                "longer_term_accommodation",
                "other_measure",
                "declined",
                name="referral_outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("decision_date", sa.Date(), nullable=True),
        sa.Column("decision_number", sa.String(length=60), nullable=True),
        sa.Column("decision_key_id", sa.String(length=32), nullable=True),
        sa.Column("decision_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["consent_recorded_by"],
            ["user_account.id"],
            name=op.f("fk_referral_consent_recorded_by_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["user_account.id"], name=op.f("fk_referral_created_by_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["from_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_referral_from_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["municipality_id"],
            ["municipality.id"],
            name=op.f("fk_referral_municipality_id_municipality"),
        ),
        sa.ForeignKeyConstraint(
            ["stay_id"], ["shelter_stay.id"], name=op.f("fk_referral_stay_id_shelter_stay")
        ),
        sa.ForeignKeyConstraint(
            ["to_organisation_id"],
            ["organisation.id"],
            name=op.f("fk_referral_to_organisation_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
        sa.UniqueConstraint("reference", name=op.f("uq_referral_reference")),
    )
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referral_from_organisation_id_created_at",
            ["from_organisation_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_referral_stay_id"), ["stay_id"], unique=False)
        batch_op.create_index(
            "ix_referral_to_organisation_id_status", ["to_organisation_id", "status"], unique=False
        )

    op.create_table(
        "referral_note",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column(
            "direction",
            sa.Enum(
                "question",
                "answer",
                name="referral_note_direction",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_referral_note_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_note")),
    )
    with op.batch_alter_table("referral_note", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_note_referral_id"), ["referral_id"], unique=False
        )

    op.create_table(
        "referral_reminder",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("referral_id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "created",
                "before_3_days",
                "before_1_day",
                "deadline",
                "overdue",
                "unaddressed",
                name="reminder_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "done",
                "cancelled",
                name="reminder_state",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["referral_id"], ["referral.id"], name=op.f("fk_referral_reminder_referral_id_referral")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_reminder")),
        sa.UniqueConstraint(
            "referral_id",
            "kind",
            "sequence",
            name=op.f("uq_referral_reminder_referral_id_kind_sequence"),
        ),
    )
    with op.batch_alter_table("referral_reminder", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referral_reminder_due",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        )
        batch_op.create_index(
            batch_op.f("ix_referral_reminder_referral_id"), ["referral_id"], unique=False
        )

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        # Existing rows are the hotline's SMS: they get a topic and alerts as they are added.
        batch_op.add_column(
            sa.Column("topic", sa.String(length=64), nullable=False, server_default="sms")
        )
        batch_op.add_column(sa.Column("subject", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("secret_key_id", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("secret_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("alert_on_dead", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("provider_status", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("dead_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column(
            "idempotency_key",
            existing_type=sa.VARCHAR(length=120),
            type_=sa.String(length=160),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "recipient",
            existing_type=sa.VARCHAR(length=320),
            type_=sa.String(length=2048),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "body", existing_type=sa.VARCHAR(length=1600), type_=sa.Text(), existing_nullable=False
        )
        batch_op.drop_index(batch_op.f("ix_outbox_message_organisation_id"))
        batch_op.create_index(
            "ix_outbox_message_organisation_id_created_at",
            ["organisation_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_message_provider_ref"), ["provider_ref"], unique=False
        )
        batch_op.drop_constraint(op.f("ck_outbox_message_outbox_channel"), type_="check")
        batch_op.create_check_constraint("outbox_channel", "channel IN ('sms', 'email', 'webhook')")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.alter_column("topic", server_default=None)
        batch_op.alter_column("alert_on_dead", server_default=None)

    with op.batch_alter_table("shelter_stay", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "csw_outcome",
                sa.Enum(
                    "longer_term_accommodation",
                    "other_measure",
                    "declined",
                    name="stay_csw_outcome",
                    native_enum=False,
                    create_constraint=True,
                    length=32,
                ),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("csw_decided_at", sa.DateTime(timezone=True), nullable=True))

    municipality = sa.table(
        "municipality",
        sa.column("id", sa.Uuid()),
        sa.column("country_code", sa.String()),
        sa.column("name", sa.String()),
        sa.column("name_key", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    created = datetime(2026, 12, 1, tzinfo=UTC)
    op.bulk_insert(
        municipality,
        [
            {
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"sigurna:municipality:ME:{key}"),
                "country_code": "ME",
                "name": name,
                "name_key": key,
                "created_at": created,
            }
            for name, key in MONTENEGRO
        ],
    )


def downgrade() -> None:
    op.execute("DELETE FROM outbox_message WHERE channel != 'sms'")
    with op.batch_alter_table("shelter_stay", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_shelter_stay_stay_csw_outcome"), type_="check")
        batch_op.drop_column("csw_decided_at")
        batch_op.drop_column("csw_outcome")

    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_provider_ref"))
        batch_op.drop_index("ix_outbox_message_organisation_id_created_at")
        batch_op.drop_constraint(op.f("ck_outbox_message_outbox_channel"), type_="check")
        batch_op.create_check_constraint("outbox_channel", "channel IN ('sms')")
        batch_op.create_index(
            batch_op.f("ix_outbox_message_organisation_id"), ["organisation_id"], unique=False
        )
        batch_op.alter_column(
            "body", existing_type=sa.Text(), type_=sa.VARCHAR(length=1600), existing_nullable=False
        )
        batch_op.alter_column(
            "recipient",
            existing_type=sa.String(length=2048),
            type_=sa.VARCHAR(length=320),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "idempotency_key",
            existing_type=sa.String(length=160),
            type_=sa.VARCHAR(length=120),
            existing_nullable=False,
        )
        batch_op.drop_column("dead_at")
        batch_op.drop_column("provider_status")
        batch_op.drop_column("alert_on_dead")
        batch_op.drop_column("secret_sealed")
        batch_op.drop_column("secret_key_id")
        batch_op.drop_column("subject")
        batch_op.drop_column("topic")

    with op.batch_alter_table("referral_reminder", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_reminder_referral_id"))
        batch_op.drop_index(
            "ix_referral_reminder_due",
            postgresql_where=sa.text("state = 'pending'"),
            sqlite_where=sa.text("state = 'pending'"),
        )

    op.drop_table("referral_reminder")
    with op.batch_alter_table("referral_note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_note_referral_id"))

    op.drop_table("referral_note")
    with op.batch_alter_table("referral", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_to_organisation_id_status")
        batch_op.drop_index(batch_op.f("ix_referral_stay_id"))
        batch_op.drop_index("ix_referral_from_organisation_id_created_at")

    op.drop_table("referral")
    with op.batch_alter_table("notification_contact", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notification_contact_organisation_id"))

    op.drop_table("notification_contact")
    with op.batch_alter_table("municipality", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_municipality_csw_organisation_id"))

    op.drop_table("municipality")
