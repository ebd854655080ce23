"""Chat lifecycle: deadline columns for the unanswered alert, reassignment and automatic
close, who closed a chat, the PDF transcript's state; alerts name the person they are for;
campaigns may reassign unanswered chats.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

Self-contained on purpose: a migration must not import the models, which keep changing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's batch rebuild of `chats` would turn these partial indexes into plain ones, so they
# are dropped before and made again after (as in 0005).
_OPEN_CHAT_INDEX = "uq_chats_open_contact_number"
_QUEUE_INDEX = "ix_chats_queue"
_DEADLINES = ("alert_due_at", "reassign_due_at", "close_due_at", "transcript_due_at")


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _partial_indexes() -> None:
    op.create_index(
        _OPEN_CHAT_INDEX,
        "chats",
        ["contact_id", "number"],
        unique=True,
        sqlite_where=sa.text("status != 'closed'"),
        postgresql_where=sa.text("status != 'closed'"),
    )
    op.create_index(
        _QUEUE_INDEX,
        "chats",
        ["campaign_id", "priority", "queued_at"],
        sqlite_where=sa.text("status = 'waiting_queue'"),
        postgresql_where=sa.text("status = 'waiting_queue'"),
    )


def upgrade() -> None:
    op.drop_index(_QUEUE_INDEX, table_name="chats")
    op.drop_index(_OPEN_CHAT_INDEX, table_name="chats")
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("unanswered_since", _utc(), nullable=True))
        for column in _DEADLINES:
            batch.add_column(sa.Column(column, _utc(), nullable=True))
        batch.add_column(sa.Column("closed_by", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("closed_by_user_id", _id(), nullable=True))
        batch.add_column(sa.Column("transcript_path", sa.String(length=500), nullable=True))
        batch.add_column(
            sa.Column(
                "transcript_attempts", sa.Integer(), nullable=False, server_default=sa.text("0")
            )
        )
        batch.add_column(sa.Column("transcript_error", sa.Text(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_chats_closed_by_user_id_users"), "users", ["closed_by_user_id"], ["id"]
        )
    with op.batch_alter_table("chats") as batch:
        batch.alter_column("transcript_attempts", server_default=None)
    _partial_indexes()
    for column in _DEADLINES:
        op.create_index(op.f(f"ix_chats_{column}"), "chats", [column])
    # Chats open before this migration close on the default schedule (24 hours).
    op.execute(
        sa.text(
            "UPDATE chats SET close_due_at = opened_at + INTERVAL '1 day' WHERE status != 'closed'"
        )
        if op.get_bind().dialect.name == "postgresql"
        # SQLite keeps naive UTC text with microseconds; round up to the next whole second
        # so no chat closes a moment early.
        else sa.text(
            "UPDATE chats SET close_due_at = "
            "strftime('%Y-%m-%d %H:%M:%S', opened_at, '+1 day', '+1 second') || '.000000' "
            "WHERE status != 'closed'"
        )
    )

    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("user_id", _id(), nullable=True))
        batch.create_foreign_key(op.f("fk_alerts_user_id_users"), "users", ["user_id"], ["id"])
    op.create_index(op.f("ix_alerts_user_id"), "alerts", ["user_id"])

    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("reassign_after_seconds", sa.Integer(), nullable=True))
        batch.create_check_constraint(
            "ck_campaigns_reassign_after_positive", "reassign_after_seconds > 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_constraint("ck_campaigns_reassign_after_positive", type_="check")
        batch.drop_column("reassign_after_seconds")

    op.drop_index(op.f("ix_alerts_user_id"), table_name="alerts")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint(op.f("fk_alerts_user_id_users"), type_="foreignkey")
        batch.drop_column("user_id")

    for column in _DEADLINES:
        op.drop_index(op.f(f"ix_chats_{column}"), table_name="chats")
    op.drop_index(_QUEUE_INDEX, table_name="chats")
    op.drop_index(_OPEN_CHAT_INDEX, table_name="chats")
    with op.batch_alter_table("chats") as batch:
        batch.drop_constraint(op.f("fk_chats_closed_by_user_id_users"), type_="foreignkey")
        for column in (
            "transcript_error",
            "transcript_attempts",
            "transcript_path",
            "closed_by_user_id",
            "closed_by",
            *_DEADLINES,
            "unanswered_since",
        ):
            batch.drop_column(column)
    _partial_indexes()
