"""Initial schema: flow versions, campaigns, customers, contacts, chats, messages.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Self-contained on purpose: a migration must not import the models, which keep changing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
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


def _one_of(table: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{column}"))


def upgrade() -> None:
    op.create_table(
        "flow_versions",
        sa.Column("id", _id(), nullable=False),
        sa.Column("flow_id", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.CheckConstraint(
            "length(content_hash) = 64", name=op.f("ck_flow_versions_content_hash_sha256")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_versions")),
        sa.UniqueConstraint(
            "flow_id", "content_hash", name=op.f("uq_flow_versions_flow_id_content_hash")
        ),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", _id(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("alert_after_seconds", sa.Integer(), nullable=False),
        sa.Column("close_after_seconds", sa.Integer(), nullable=False),
        sa.Column("closing_message", sa.Text(), nullable=True),
        sa.Column("closing_template_sid", sa.String(length=64), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.CheckConstraint(
            "alert_after_seconds > 0", name=op.f("ck_campaigns_alert_after_positive")
        ),
        sa.CheckConstraint(
            "close_after_seconds > 0", name=op.f("ck_campaigns_close_after_positive")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("slug", name=op.f("uq_campaigns_slug")),
    )
    op.create_table(
        "customers",
        sa.Column("id", _id(), nullable=False),
        sa.Column("campaign_id", _id(), nullable=False),
        sa.Column("document", sa.String(length=64), nullable=False),
        sa.Column("document_type", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("extra", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_customers_campaign_id_campaigns")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint(
            "campaign_id", "document", name=op.f("uq_customers_campaign_id_document")
        ),
    )
    op.create_index(op.f("ix_customers_document"), "customers", ["document"])
    op.create_table(
        "contacts",
        sa.Column("id", _id(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("profile_name", sa.String(length=200), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        _one_of("contacts", "channel", ["whatsapp", "sms"]),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
        sa.UniqueConstraint("address", name=op.f("uq_contacts_address")),
    )
    op.create_table(
        "chats",
        sa.Column("id", _id(), nullable=False),
        sa.Column("contact_id", _id(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", _id(), nullable=True),
        sa.Column("customer_id", _id(), nullable=True),
        sa.Column("flow_id", sa.String(length=200), nullable=True),
        sa.Column("flow_hash", sa.String(length=64), nullable=True),
        sa.Column("bot_state", _json(), nullable=True),
        sa.Column("wait_deadline", _utc(), nullable=True),
        sa.Column("opened_at", _utc(), nullable=False),
        sa.Column("queued_at", _utc(), nullable=True),
        sa.Column("assigned_at", _utc(), nullable=True),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("last_customer_message_at", _utc(), nullable=True),
        _one_of("chats", "status", ["bot", "waiting_queue", "assigned", "closed"]),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_chats_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_chats_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_chats_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["flow_id", "flow_hash"],
            ["flow_versions.flow_id", "flow_versions.content_hash"],
            name=op.f("fk_chats_flow_id_flow_hash_flow_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chats")),
    )
    op.create_index(op.f("ix_chats_wait_deadline"), "chats", ["wait_deadline"])
    op.create_index(
        op.f("uq_chats_open_contact_number"),
        "chats",
        ["contact_id", "number"],
        unique=True,
        sqlite_where=sa.text("status != 'closed'"),
        postgresql_where=sa.text("status != 'closed'"),
    )
    op.create_table(
        "messages",
        sa.Column("id", _id(), nullable=False),
        sa.Column("chat_id", _id(), nullable=False),
        sa.Column("direction", sa.String(length=32), nullable=False),
        sa.Column("author", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("media", _json(), nullable=True),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=16), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        _one_of("messages", "direction", ["in", "out"]),
        _one_of("messages", "author", ["customer", "bot", "agent", "system"]),
        _one_of(
            "messages",
            "status",
            [
                "pending",
                "accepted",
                "scheduled",
                "queued",
                "sending",
                "sent",
                "delivered",
                "read",
                "partially_delivered",
                "undelivered",
                "failed",
                "canceled",
                "receiving",
                "received",
            ],
        ),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"], name=op.f("fk_messages_chat_id_chats")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("provider_sid", name=op.f("uq_messages_provider_sid")),
    )
    op.create_index(op.f("ix_messages_chat_id"), "messages", ["chat_id"])


def downgrade() -> None:
    op.drop_table("messages")
    op.drop_table("chats")
    op.drop_table("contacts")
    op.drop_table("customers")
    op.drop_table("campaigns")
    op.drop_table("flow_versions")
