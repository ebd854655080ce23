"""The chats' deadline indexes hold only the chats that have that deadline (partial indexes,
`WHERE <deadline> IS NOT NULL`).

Every deadline is cleared when its work is done (the alert raised, the chat closed, the
transcript made), and every query on them asks `deadline <= now`: entries for NULLs are never
read. Full indexes held one for every chat ever closed and, worse, every close and every alert
(an UPDATE that changes an indexed column, so no HOT update) inserted a new entry into each of
the five: partial ones leave a closed chat out of all but the transcript's. The sweep's closes
and alerts write about half the index entries they did.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22

Self-contained on purpose: a migration must not import the models, which keep changing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEADLINES = ("wait_deadline", "alert_due_at", "reassign_due_at", "close_due_at", "transcript_due_at")


def upgrade() -> None:
    for column in DEADLINES:
        op.drop_index(op.f(f"ix_chats_{column}"), table_name="chats")
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            op.f(f"ix_chats_{column}"),
            "chats",
            [column],
            postgresql_where=where,
            sqlite_where=where,
        )


def downgrade() -> None:
    for column in DEADLINES:
        op.drop_index(op.f(f"ix_chats_{column}"), table_name="chats")
        op.create_index(op.f(f"ix_chats_{column}"), "chats", [column])
