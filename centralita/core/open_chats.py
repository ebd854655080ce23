"""`users.open_chats`: each agent's open chats (status `assigned`, every campaign), kept by the
database itself.

The router's capacity check and ranking read this counter instead of counting every
candidate's chats on every decision. It is kept by triggers on `chats` (insert, update of
`status` or `agent_id`, delete), so every writer keeps it in its own transaction without
having to remember to: the router, reassignments, every close path (one chat or many in one
UPDATE), the bot's end, the timers, supervisors' tools, fixtures and raw SQL alike.

Lock order: a trigger updates the agents' rows after the chat's, so a writer that moves
several agents' chats at once (a reassignment: two agents; a batch of timer closes: many)
locks those agents first, in id order (`lock_agents`), as the router takes them one at a
time: no two writers can wait for each other.

A writer that closes hundreds of chats in one statement (the timer's `close_many`) counts
them itself instead (`release_closed`): one grouped UPDATE of `users` for the statement,
while the update trigger stands aside for it on PostgreSQL (a transaction-local setting its
WHEN clause reads), where the trigger's one `users` UPDATE per chat was most of the close's
cost. SQLite's row triggers are in-process and cheap (≈ 0.2 ms per 500 closes): there they
keep counting.

A counter can only drift if the triggers were bypassed (disabled, or `chats` rebuilt by a
SQLite batch migration, which drops a table's triggers: such a migration must create them
again, as 0009 does). `drifted` finds what is wrong; `recount` sets it right
(`centralita db recount-loads`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg
from sqlalchemy import Connection, Executable, Table, bindparam, text
from sqlalchemy.orm import Session

from centralita.core.db import id_array

# PostgreSQL: while this transaction-local setting is 'on', the update trigger does not count
# (`release_closed` has counted the statement's changes itself).
COUNTED_BY_WRITER = "centralita.open_chats_counted_by_writer"

# PostgreSQL: one function, three row triggers; WHEN clauses keep the function from running
# on the chats' many other updates (bot state, deadlines, last message).
POSTGRESQL_DDL = (
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
WHEN ((OLD.status IS DISTINCT FROM NEW.status OR OLD.agent_id IS DISTINCT FROM NEW.agent_id)
    AND current_setting('centralita.open_chats_counted_by_writer', true) IS DISTINCT FROM 'on')
EXECUTE FUNCTION centralita_count_open_chats()
""",
    """
CREATE TRIGGER chats_open_chats_delete AFTER DELETE ON chats FOR EACH ROW
WHEN (OLD.status = 'assigned' AND OLD.agent_id IS NOT NULL)
EXECUTE FUNCTION centralita_count_open_chats()
""",
)
POSTGRESQL_DROP = (
    "DROP TRIGGER IF EXISTS chats_open_chats_delete ON chats",
    "DROP TRIGGER IF EXISTS chats_open_chats_update ON chats",
    "DROP TRIGGER IF EXISTS chats_open_chats_insert ON chats",
    "DROP FUNCTION IF EXISTS centralita_count_open_chats()",
)

SQLITE_DDL = (
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
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS chats_open_chats_delete",
    "DROP TRIGGER IF EXISTS chats_open_chats_update",
    "DROP TRIGGER IF EXISTS chats_open_chats_insert",
)


def create_triggers(connection: Connection) -> None:
    """The triggers, on a database whose `chats` and `users.open_chats` exist."""
    ddl = POSTGRESQL_DDL if connection.dialect.name == "postgresql" else SQLITE_DDL
    for statement in ddl:
        connection.exec_driver_sql(statement)


def after_create_chats(_table: Table, connection: Connection, **_kw: object) -> None:
    """`Base.metadata.create_all` makes the triggers with the table (tests, benchmarks)."""
    create_triggers(connection)


def lock_agents(session: Session, agent_ids: Iterable[int | None]) -> None:
    """Lock these agents' rows in id order, before changing their chats: the triggers will
    update them, and in a fixed order no two writers wait for each other. No-op on SQLite
    (a write transaction already excludes every other writer)."""
    ids = sorted({a for a in agent_ids if a is not None})
    if not ids or session.get_bind().dialect.name != "postgresql":
        return
    session.execute(_LOCK_AGENTS, {"ids": ids})


_LOCK_AGENTS = text(
    "SELECT id FROM users WHERE id IN :ids ORDER BY id FOR NO KEY UPDATE"
).bindparams(bindparam("ids", expanding=True))


def release_closed(session: Session, chat_ids: Sequence[int], closes: Sequence[Executable]) -> None:
    """Run `closes`, statements that close the (open) chats `chat_ids` and change no other
    chat's status or agent, counting them in one grouped UPDATE of `users` instead of the
    update trigger's one per chat (PostgreSQL; on SQLite the statements just run and the
    triggers count). The counts come from the chats' rows, locked here if the caller has not
    already, and the agents are locked in id order (the lock order of every writer)."""
    if session.get_bind().dialect.name != "postgresql":
        for statement in closes:
            session.execute(statement)
        return
    session.execute(_RELEASE, {"ids": id_array(chat_ids)})
    session.execute(_COUNTED_BY_WRITER, {"on": "on"})
    try:
        for statement in closes:
            session.execute(statement)
    finally:
        # After an SQL error the transaction can only roll back, and the setting goes with
        # it; otherwise the triggers must count again for whatever this transaction does next.
        if not _aborted(session):
            session.execute(_COUNTED_BY_WRITER, {"on": "off"})


_RELEASE = text(
    """
UPDATE users SET open_chats = users.open_chats - freed.n
FROM (
    SELECT u.id, counted.n FROM users u
    JOIN (
        SELECT agent_id, count(*) AS n FROM (
            SELECT agent_id, status FROM chats WHERE id = ANY(CAST(:ids AS bigint[]))
            FOR NO KEY UPDATE
        ) AS locked
        WHERE status = 'assigned' AND agent_id IS NOT NULL
        GROUP BY agent_id
    ) AS counted ON counted.agent_id = u.id
    ORDER BY u.id
    FOR NO KEY UPDATE OF u
) AS freed
WHERE users.id = freed.id
"""
)
_COUNTED_BY_WRITER = text(f"SELECT set_config('{COUNTED_BY_WRITER}', :on, true)")


def _aborted(session: Session) -> bool:
    raw = session.connection().connection.dbapi_connection
    return (
        isinstance(raw, psycopg.Connection)
        and raw.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
    )


@dataclass(frozen=True)
class Drift:
    user_id: int
    email: str
    counter: int
    actual: int


_TRUE_COUNTS = """
SELECT u.id, u.email, u.open_chats,
    (SELECT count(*) FROM chats c WHERE c.agent_id = u.id AND c.status = 'assigned')
FROM users u ORDER BY u.id
"""


def drifted(session: Session) -> list[Drift]:
    """Everyone whose counter differs from their open chats counted now."""
    rows = session.execute(text(_TRUE_COUNTS)).all()
    return [Drift(r[0], r[1], r[2], r[3]) for r in rows if r[2] != r[3]]


def recount(session: Session) -> list[Drift]:
    """Set every drifted counter to the true count, in the caller's transaction; returns what
    was wrong. On PostgreSQL every user row is locked first (id order, as everyone locks
    them), so no chat moves to or from anyone while they are counted: a count then cannot
    miss a change committed meanwhile."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT id FROM users ORDER BY id FOR NO KEY UPDATE"))
    wrong = drifted(session)
    for drift in wrong:
        session.execute(
            text("UPDATE users SET open_chats = :n WHERE id = :id"),
            {"n": drift.actual, "id": drift.user_id},
        )
    return wrong
