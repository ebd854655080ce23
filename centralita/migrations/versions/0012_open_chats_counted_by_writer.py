"""The open-chats update trigger stands aside while a writer counts its own statement's
closes (`open_chats.release_closed`, the timer's batches of 500): on PostgreSQL its WHEN
clause now also reads the transaction-local setting `centralita.open_chats_counted_by_writer`.
SQLite's triggers are unchanged (their per-row cost is small; they go on counting there).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22

Self-contained on purpose (as 0009): the trigger text is that of
centralita/core/open_chats.py as of this revision.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DROP = "DROP TRIGGER IF EXISTS chats_open_chats_update ON chats"
_CREATE = """
CREATE TRIGGER chats_open_chats_update AFTER UPDATE OF status, agent_id ON chats FOR EACH ROW
WHEN ({when})
EXECUTE FUNCTION centralita_count_open_chats()
"""
_CHANGED = "OLD.status IS DISTINCT FROM NEW.status OR OLD.agent_id IS DISTINCT FROM NEW.agent_id"
_NOT_COUNTED_BY_WRITER = (
    "current_setting('centralita.open_chats_counted_by_writer', true) IS DISTINCT FROM 'on'"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # In one transaction (Alembic's, on PostgreSQL): no update goes uncounted in between.
    op.execute(_DROP)
    op.execute(_CREATE.format(when=f"({_CHANGED}) AND {_NOT_COUNTED_BY_WRITER}"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_DROP)
    op.execute(_CREATE.format(when=_CHANGED))
