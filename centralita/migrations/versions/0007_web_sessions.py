"""Web sessions: who signed in when (attendance), failed sign-ins (throttling), how far each
person has read a chat (unread counts), and who wrote each agent message (messages sent per
session).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

Self-contained on purpose: a migration must not import the models, which keep changing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite's batch rebuild of `messages` would turn this partial index into a plain one, so it
# is dropped before and made again after (as 0005 and 0006 do for chats).
_OUTBOX_INDEX = "ix_messages_outbox"


def _id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _outbox_index() -> None:
    op.create_index(
        _OUTBOX_INDEX,
        "messages",
        ["next_attempt_at"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", _id(), nullable=False),
        sa.Column("user_id", _id(), nullable=False),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("last_seen_at", _utc(), nullable=False),
        sa.Column("ended_at", _utc(), nullable=True),
        sa.Column(
            "end_reason",
            sa.Enum(
                "sign_out",
                "expired",
                name="end_reason",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
    )
    op.create_index(
        op.f("ix_web_sessions_user_id_started_at"), "web_sessions", ["user_id", "started_at"]
    )
    op.create_index(op.f("ix_web_sessions_started_at"), "web_sessions", ["started_at"])
    op.create_index(
        "ix_web_sessions_open",
        "web_sessions",
        ["last_seen_at"],
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )

    op.create_table(
        "login_attempts",
        sa.Column("id", _id(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempts")),
    )
    op.create_index(
        op.f("ix_login_attempts_email_created_at"), "login_attempts", ["email", "created_at"]
    )
    op.create_index(op.f("ix_login_attempts_ip_created_at"), "login_attempts", ["ip", "created_at"])

    op.create_table(
        "chat_reads",
        sa.Column("user_id", _id(), nullable=False),
        sa.Column("chat_id", _id(), nullable=False),
        sa.Column("last_read_message_id", _id(), nullable=False),
        sa.Column("read_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_chat_reads_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["chat_id"], ["chats.id"], name=op.f("fk_chat_reads_chat_id_chats")
        ),
        sa.PrimaryKeyConstraint("user_id", "chat_id", name=op.f("pk_chat_reads")),
    )

    op.drop_index(_OUTBOX_INDEX, table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("user_id", _id(), nullable=True))
        batch.create_foreign_key(op.f("fk_messages_user_id_users"), "users", ["user_id"], ["id"])
    _outbox_index()
    op.create_index(op.f("ix_messages_user_id_created_at"), "messages", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_user_id_created_at"), table_name="messages")
    op.drop_index(_OUTBOX_INDEX, table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint(op.f("fk_messages_user_id_users"), type_="foreignkey")
        batch.drop_column("user_id")
    _outbox_index()
    op.drop_table("chat_reads")
    op.drop_index(op.f("ix_login_attempts_ip_created_at"), table_name="login_attempts")
    op.drop_index(op.f("ix_login_attempts_email_created_at"), table_name="login_attempts")
    op.drop_table("login_attempts")
    op.drop_index("ix_web_sessions_open", table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_started_at"), table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_user_id_started_at"), table_name="web_sessions")
    op.drop_table("web_sessions")
