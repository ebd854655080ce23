"""Sender health: indexes for the rolling 24-hour figures per sender number.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Self-contained on purpose: a migration must not import the models, which keep changing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_messages_sent_at"), "messages", ["sent_at"])
    op.create_index(op.f("ix_messages_created_at"), "messages", ["created_at"])
    op.create_index(
        op.f("ix_messages_chat_id_direction_created_at"),
        "messages",
        ["chat_id", "direction", "created_at"],
    )
    op.create_index(
        "ix_message_events_coded",
        "message_events",
        ["created_at"],
        sqlite_where=sa.text("error_code IS NOT NULL"),
        postgresql_where=sa.text("error_code IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_message_events_coded", table_name="message_events")
    op.drop_index(op.f("ix_messages_chat_id_direction_created_at"), table_name="messages")
    op.drop_index(op.f("ix_messages_created_at"), table_name="messages")
    op.drop_index(op.f("ix_messages_sent_at"), table_name="messages")
