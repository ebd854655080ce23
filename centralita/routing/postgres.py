"""The router's statements on PostgreSQL, sent straight to the driver (psycopg) inside the
caller's transaction: the hot path of every handoff, and the one the router benchmark times.

Why not the ORM here: building, compiling and executing a statement through SQLAlchemy cost
about 0.5 ms of client CPU each on the development machine, against about 15 µs for the same
statement through psycopg, and the router's statements are fixed. A decision is two
statements (and the commit) in the common case:

1. `DECIDE`: lock the chat (if still waiting), read its campaign's agents as candidates
   (open chats from the `users.open_chats` counter, last minute's automatic assignments
   counted), rank the eligible ones by the campaign's policy, and lock the best-ranked one
   nobody else holds (`FOR NO KEY UPDATE SKIP LOCKED`) *and whose row is still the version
   that was ranked* (`xmin`): everything that changes an agent's figures (a chat given or
   taken away, which the triggers count on their row; presence; capacity) writes their row,
   so an unchanged row means the figures ranked are the figures now, and they cannot move
   until commit, since we hold the row. The eligibility conditions are also tested on the
   locked row itself, which PostgreSQL re-reads at its newest version when it locks it.
2. `WRITE`: the chat, the agent and the log row, in one statement.

An agent held by another decision, or changed since the statement's snapshot, is passed
over for the next best (concurrent routers each take a different agent instead of queueing
behind one lock, which is what a fair sequential router would have done). When every
eligible agent was passed over, the router waits for the best one's lock (holding no agent:
a savepoint taken just before is rolled back once the wait is over) and decides again:
nobody waits for an agent while holding another, so no deadlock.

Locks: the chat, then at most one agent, as every other writer (core/open_chats.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

_USER = (
    "u.id, u.email, u.active, u.capacity, u.weight, u.presence, u.last_seen_at,"
    " u.last_assigned_at, u.open_chats"
)
_RECENT = """(SELECT count(*) FROM assignments a
      WHERE a.agent_id = u.id AND a.kind = 'assign' AND a.created_at > %(since)s)"""

# When none of the campaign's agents is available (all offline, away, stale or inactive: a
# queue at night, an idle sweep's drain), nobody can be chosen and no log row is written, so
# last minute's assignments are not counted (NULL): that count is most of the statement's
# time. `available` mirrors presence.why_unavailable, `eligible` assign._judge; the ORDER BY
# mirrors policies.rank (least load: open / (capacity x weight), then whoever waited longest
# since their last chat, never first, then the lowest id; round robin: the same without the
# load): float8 division of the same integers gives the same doubles as Python's.
_DECIDE = f"""
WITH chat AS MATERIALIZED (
    SELECT c.id, c.campaign_id FROM chats c
    WHERE c.id = %(chat_id)s AND c.status = 'waiting_queue'
    FOR NO KEY UPDATE OF c {{skip}}
), anyone AS MATERIALIZED (
    SELECT EXISTS (
        SELECT FROM user_campaigns ua JOIN users a ON a.id = ua.user_id
        WHERE ua.campaign_id = (SELECT campaign_id FROM chat) AND a.role = 'agent'
          AND a.active AND a.presence = 'online' AND a.last_seen_at >= %(fresh_since)s
    ) AS available
), candidate AS MATERIALIZED (
    SELECT {_USER}, u.xmin AS version, k.assignment_policy AS policy,
        k.max_assignments_per_minute AS cap,
        CASE WHEN (SELECT available FROM anyone) THEN {_RECENT} END AS recent
    FROM chat JOIN campaigns k ON k.id = chat.campaign_id
    JOIN user_campaigns uc ON uc.campaign_id = chat.campaign_id
    JOIN users u ON u.id = uc.user_id AND u.role = 'agent'
), pick AS MATERIALIZED (
    SELECT p.id FROM candidate c JOIN users p ON p.id = c.id
    WHERE c.recent IS NOT NULL AND (c.cap IS NULL OR c.recent < c.cap)
      AND p.xmin = c.version
      AND p.active AND p.presence = 'online' AND p.last_seen_at >= %(fresh_since)s
      AND p.open_chats < p.capacity
    ORDER BY
        CASE WHEN c.policy = 'least_load'
            THEN c.open_chats::float8 / (c.capacity * c.weight) END,
        c.last_assigned_at NULLS FIRST, c.id
    LIMIT 1
    FOR NO KEY UPDATE OF p SKIP LOCKED
)
SELECT chat.campaign_id, c.policy, c.cap, c.id, c.email, c.active, c.capacity, c.weight,
    c.presence, c.last_seen_at, c.last_assigned_at, c.open_chats, c.recent,
    c.id = (SELECT id FROM pick)
FROM chat LEFT JOIN candidate c ON true
ORDER BY c.id
"""
DECIDE = _DECIDE.format(skip="")
DECIDE_SKIP = _DECIDE.format(skip="SKIP LOCKED")

WRITE = """
WITH agent_update AS (
    UPDATE users SET last_assigned_at = %(now)s WHERE id = %(agent_id)s
), chat_update AS (
    UPDATE chats SET status = 'assigned', agent_id = %(agent_id)s, assigned_at = %(now)s
    WHERE id = %(chat_id)s
)
INSERT INTO assignments
    (chat_id, agent_id, by_user_id, kind, policy, reason, candidates, created_at)
VALUES (%(chat_id)s, %(agent_id)s, %(by_user_id)s, 'assign', %(policy)s, %(reason)s,
    %(candidates)s::jsonb, %(now)s)
RETURNING id
"""

SAVEPOINT = "SAVEPOINT routing_wait"
LOCK_AGENT = "SELECT id FROM users WHERE id = %(agent_id)s FOR NO KEY UPDATE"
ROLLBACK_TO_SAVEPOINT = "ROLLBACK TO SAVEPOINT routing_wait"

IS_WAITING = "SELECT 1 FROM chats WHERE id = %(chat_id)s AND status = 'waiting_queue'"


def driver(connection: Any) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy `Connection` (same transaction)."""
    raw = connection.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"expected a psycopg connection, got {type(raw).__name__}")
    return raw


def utc(value: datetime | None) -> datetime | None:
    # The server's TimeZone decides the offset psycopg returns; the ORM gives UTC, so do we.
    return None if value is None else value.astimezone(UTC)


def wait_for(cursor: psycopg.Cursor[Any], agent_id: int) -> None:
    """Wait until nobody else holds the agent's row, and hold nothing after: every eligible
    agent was held by other decisions, so the next attempt waits for the best one's."""
    cursor.execute(SAVEPOINT)
    cursor.execute(LOCK_AGENT, {"agent_id": agent_id})
    cursor.execute(ROLLBACK_TO_SAVEPOINT)
