"""Drop `ix_messages_chat_id`: the index on `(chat_id, direction, created_at)` (0003) starts
with the same column and answers every query on a chat's messages, so the single-column one
was only a second B-tree to write for every message stored (inbound, replies, closing
messages: 500 extra entries in a sweep that closes 500 chats).

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_messages_chat_id"), table_name="messages")


def downgrade() -> None:
    op.create_index(op.f("ix_messages_chat_id"), "messages", ["chat_id"])
