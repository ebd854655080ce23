"""The Twilio channel: outbox columns on messages, delivery events, sender numbers with their
campaigns and health, opt-outs, alerts.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Self-contained on purpose: a migration must not import the models, which keep changing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _json() -> sa.types.TypeEngine[object]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
    )


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sender_numbers",
        sa.Column("id", _id(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("flow_id", sa.String(length=200), nullable=False),
        sa.Column("fallback_template_sid", sa.String(length=64), nullable=True),
        sa.Column("rate_limit", sa.Integer(), nullable=False),
        sa.Column("risk_level", sa.String(length=32), nullable=False),
        sa.Column("risk_reasons", _json(), nullable=True),
        sa.Column("paused_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.CheckConstraint(
            "risk_level IN ('ok', 'watch', 'critical')",
            name=op.f("ck_sender_numbers_risk_level"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sender_numbers")),
        sa.UniqueConstraint("address", name=op.f("uq_sender_numbers_address")),
    )
    op.create_table(
        "sender_number_campaigns",
        sa.Column("number_id", _id(), nullable=False),
        sa.Column("campaign_id", _id(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_sender_number_campaigns_campaign_id_campaigns"),
        ),
        sa.ForeignKeyConstraint(
            ["number_id"],
            ["sender_numbers.id"],
            name=op.f("fk_sender_number_campaigns_number_id_sender_numbers"),
        ),
        sa.PrimaryKeyConstraint(
            "number_id", "campaign_id", name=op.f("pk_sender_number_campaigns")
        ),
    )
    op.create_table(
        "opt_outs",
        sa.Column("id", _id(), nullable=False),
        sa.Column("contact_id", _id(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_opt_outs_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_outs")),
        sa.UniqueConstraint("contact_id", "number", name=op.f("uq_opt_outs_contact_id_number")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", _id(), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("chat_id", _id(), nullable=True),
        sa.Column("campaign_id", _id(), nullable=True),
        sa.Column("number", sa.String(length=64), nullable=True),
        sa.Column("details", _json(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("resolved_at", _utc(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_alerts_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"], name=op.f("fk_alerts_chat_id_chats")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("key", name=op.f("uq_alerts_key")),
    )
    op.create_index(op.f("ix_alerts_chat_id"), "alerts", ["chat_id"])
    op.create_table(
        "message_events",
        sa.Column("id", _id(), nullable=False),
        sa.Column("message_id", _id(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=16), nullable=True),
        sa.Column("raw", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_events_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_events")),
    )
    op.create_index(op.f("ix_message_events_message_id"), "message_events", ["message_id"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("raw", _json(), nullable=True))
        batch.add_column(sa.Column("template_sid", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("template_variables", _json(), nullable=True))
        batch.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("next_attempt_at", _utc(), nullable=True))
        batch.add_column(sa.Column("claimed_at", _utc(), nullable=True))
        batch.add_column(sa.Column("sent_at", _utc(), nullable=True))
        batch.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("hold_reason", sa.String(length=64), nullable=True))
    # Existing rows needed a value; new ones get it from the application.
    with op.batch_alter_table("messages") as batch:
        batch.alter_column("attempts", server_default=None)
    op.create_index(
        "ix_messages_outbox",
        "messages",
        ["next_attempt_at"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_outbox", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        for column in (
            "hold_reason",
            "failure_reason",
            "sent_at",
            "claimed_at",
            "next_attempt_at",
            "attempts",
            "template_variables",
            "template_sid",
            "raw",
        ):
            batch.drop_column(column)
    op.drop_table("message_events")
    op.drop_table("alerts")
    op.drop_table("opt_outs")
    op.drop_table("sender_number_campaigns")
    op.drop_table("sender_numbers")
