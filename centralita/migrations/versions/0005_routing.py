"""Routing: users (agents, supervisors, admins) and their campaigns, API tokens, the
assignment log; chats get an agent, a priority and tags; campaigns their routing settings.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Self-contained on purpose: a migration must not import the models, which keep changing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The open-chat index of 0001, partial: SQLite's batch rebuild of `chats` must not turn it
# into a plain unique index, so it is dropped before and made again after.
_OPEN_CHAT_INDEX = "uq_chats_open_contact_number"


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
        "users",
        sa.Column("id", _id(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("presence", sa.String(length=32), nullable=False),
        sa.Column("presence_changed_at", _utc(), nullable=True),
        sa.Column("last_seen_at", _utc(), nullable=True),
        sa.Column("last_assigned_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_users_email_lower_case")),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_users_capacity_positive")),
        sa.CheckConstraint("weight >= 1", name=op.f("ck_users_weight_positive")),
        _one_of("users", "role", ["agent", "supervisor", "admin"]),
        _one_of("users", "presence", ["online", "away", "offline"]),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "user_campaigns",
        sa.Column("user_id", _id(), nullable=False),
        sa.Column("campaign_id", _id(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_user_campaigns_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_campaigns_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "campaign_id", name=op.f("pk_user_campaigns")),
    )
    op.create_index(op.f("ix_user_campaigns_campaign_id"), "user_campaigns", ["campaign_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", _id(), nullable=False),
        sa.Column("user_id", _id(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("last_used_at", _utc(), nullable=True),
        sa.Column("revoked_at", _utc(), nullable=True),
        sa.CheckConstraint("length(token_hash) = 64", name=op.f("ck_api_tokens_token_hash_sha256")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_id"), "api_tokens", ["user_id"])

    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column(
                "assignment_policy",
                sa.String(length=32),
                nullable=False,
                server_default="least_load",
            )
        )
        batch.add_column(
            sa.Column("manual_assignment", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column(
                "max_assignments_per_minute",
                sa.Integer(),
                nullable=False,
                server_default=sa.text("6"),
            )
        )
        batch.create_check_constraint(
            "ck_campaigns_assignment_policy",
            "assignment_policy IN ('least_load', 'round_robin')",
        )
        batch.create_check_constraint(
            "ck_campaigns_assignment_cap_positive", "max_assignments_per_minute >= 1"
        )
    # Existing rows needed values; new ones get them from the application.
    with op.batch_alter_table("campaigns") as batch:
        for column in ("assignment_policy", "manual_assignment", "max_assignments_per_minute"):
            batch.alter_column(column, server_default=None)

    op.drop_index(_OPEN_CHAT_INDEX, table_name="chats")
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("agent_id", _id(), nullable=True))
        batch.add_column(
            sa.Column("priority", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("tags", _json(), nullable=True))
        batch.create_foreign_key(op.f("fk_chats_agent_id_users"), "users", ["agent_id"], ["id"])
    with op.batch_alter_table("chats") as batch:
        batch.alter_column("priority", server_default=None)
    _open_chat_index()
    op.create_index(op.f("ix_chats_agent_id_status"), "chats", ["agent_id", "status"])
    op.create_index(
        "ix_chats_queue",
        "chats",
        ["campaign_id", "priority", "queued_at"],
        sqlite_where=sa.text("status = 'waiting_queue'"),
        postgresql_where=sa.text("status = 'waiting_queue'"),
    )

    op.create_table(
        "assignments",
        sa.Column("id", _id(), nullable=False),
        sa.Column("chat_id", _id(), nullable=False),
        sa.Column("agent_id", _id(), nullable=True),
        sa.Column("by_user_id", _id(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("candidates", _json(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        _one_of("assignments", "kind", ["assign", "reassign", "manual", "unassign"]),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["users.id"], name=op.f("fk_assignments_agent_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["users.id"], name=op.f("fk_assignments_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_assignments_chat_id_chats")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    op.create_index(op.f("ix_assignments_chat_id"), "assignments", ["chat_id"])
    op.create_index(
        op.f("ix_assignments_agent_id_created_at"), "assignments", ["agent_id", "created_at"]
    )


def _open_chat_index() -> None:
    op.create_index(
        _OPEN_CHAT_INDEX,
        "chats",
        ["contact_id", "number"],
        unique=True,
        sqlite_where=sa.text("status != 'closed'"),
        postgresql_where=sa.text("status != 'closed'"),
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_assignments_agent_id_created_at"), table_name="assignments")
    op.drop_index(op.f("ix_assignments_chat_id"), table_name="assignments")
    op.drop_table("assignments")

    op.drop_index("ix_chats_queue", table_name="chats")
    op.drop_index(op.f("ix_chats_agent_id_status"), table_name="chats")
    op.drop_index(_OPEN_CHAT_INDEX, table_name="chats")
    with op.batch_alter_table("chats") as batch:
        batch.drop_constraint(op.f("fk_chats_agent_id_users"), type_="foreignkey")
        batch.drop_column("tags")
        batch.drop_column("priority")
        batch.drop_column("agent_id")
    _open_chat_index()

    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint("ck_campaigns_assignment_cap_positive", type_="check")
        batch.drop_constraint("ck_campaigns_assignment_policy", type_="check")
        batch.drop_column("max_assignments_per_minute")
        batch.drop_column("manual_assignment")
        batch.drop_column("assignment_policy")

    op.drop_index(op.f("ix_api_tokens_user_id"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_index(op.f("ix_user_campaigns_campaign_id"), table_name="user_campaigns")
    op.drop_table("user_campaigns")
    op.drop_table("users")
