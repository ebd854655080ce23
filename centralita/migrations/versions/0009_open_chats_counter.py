"""Each agent's open chats as a counter on `users`, kept by triggers on `chats`, so the
router reads one column instead of counting every candidate's chats on every decision.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

Self-contained on purpose: a migration must not import the models, which keep changing (the
trigger text is that of centralita/core/open_chats.py as of this revision). A later SQLite
batch migration that rebuilds `chats` drops these triggers: it must create them again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POSTGRESQL = (
    """
CREATE FUNCTION centralita_count_open_chats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.status = 'assigned' AND OLD.agent_id IS NOT NULL THEN
        UPDATE users SET open_chats = open_chats - 1 WHERE id = OLD.agent_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.status = 'assigned' AND NEW.agent_id IS NOT NULL THEN
        UPDATE users SET open_chats = open_chats + 1 WHERE id = NEW.agent_id;
    END IF;
    RETURN NULL;
END
$$
""",
    """
CREATE TRIGGER chats_open_chats_insert AFTER INSERT ON chats FOR EACH ROW
WHEN (NEW.status = 'assigned' AND NEW.agent_id IS NOT NULL)
EXECUTE FUNCTION centralita_count_open_chats()
""",
    """
CREATE TRIGGER chats_open_chats_update AFTER UPDATE OF status, agent_id ON chats FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.agent_id IS DISTINCT FROM NEW.agent_id)
EXECUTE FUNCTION centralita_count_open_chats()
""",
    """
CREATE TRIGGER chats_open_chats_delete AFTER DELETE ON chats FOR EACH ROW
WHEN (OLD.status = 'assigned' AND OLD.agent_id IS NOT NULL)
EXECUTE FUNCTION centralita_count_open_chats()
""",
)
_POSTGRESQL_DROP = (
    "DROP TRIGGER IF EXISTS chats_open_chats_delete ON chats",
    "DROP TRIGGER IF EXISTS chats_open_chats_update ON chats",
    "DROP TRIGGER IF EXISTS chats_open_chats_insert ON chats",
    "DROP FUNCTION IF EXISTS centralita_count_open_chats()",
)
_SQLITE = (
    """
CREATE TRIGGER chats_open_chats_insert AFTER INSERT ON chats
WHEN NEW.status = 'assigned' AND NEW.agent_id IS NOT NULL
BEGIN
    UPDATE users SET open_chats = open_chats + 1 WHERE id = NEW.agent_id;
END
""",
    """
CREATE TRIGGER chats_open_chats_update AFTER UPDATE OF status, agent_id ON chats
WHEN OLD.status IS NOT NEW.status OR OLD.agent_id IS NOT NEW.agent_id
BEGIN
    UPDATE users SET open_chats = open_chats - 1
    WHERE id = OLD.agent_id AND OLD.status = 'assigned';
    UPDATE users SET open_chats = open_chats + 1
    WHERE id = NEW.agent_id AND NEW.status = 'assigned';
END
""",
    """
CREATE TRIGGER chats_open_chats_delete AFTER DELETE ON chats
WHEN OLD.status = 'assigned' AND OLD.agent_id IS NOT NULL
BEGIN
    UPDATE users SET open_chats = open_chats - 1 WHERE id = OLD.agent_id;
END
""",
)
_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS chats_open_chats_delete",
    "DROP TRIGGER IF EXISTS chats_open_chats_update",
    "DROP TRIGGER IF EXISTS chats_open_chats_insert",
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("open_chats", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    if _postgresql():
        # No chat may move while the counters are filled and the triggers made.
        op.execute("LOCK TABLE chats IN SHARE MODE")
    op.execute(
        "UPDATE users SET open_chats = (SELECT count(*) FROM chats"
        " WHERE chats.agent_id = users.id AND chats.status = 'assigned')"
    )
    for statement in _POSTGRESQL if _postgresql() else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    for statement in _POSTGRESQL_DROP if _postgresql() else _SQLITE_DROP:
        op.execute(statement)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("open_chats")
