"""The router's statements on PostgreSQL, sent straight to the driver (psycopg) inside the
caller's transaction: the hot path of every handoff, and the one the router benchmark times.

Why not the ORM here: building, compiling and executing a statement through SQLAlchemy cost
about 0.5 ms of client CPU each on the development machine, against about 15 µs for the same
statement through psycopg, and the router's statements are fixed. Three steps (four round
trips) decide a chat in the common case:

1. lock the chat (if still waiting) and read its campaign's agents with their loads, in one
   statement (`CHAT_AND_CANDIDATES`);
2. a savepoint, then the best-ranked agent nobody else holds, locked (`SKIP LOCKED`);
3. the guarded write (`GUARDED_WRITE`): in a new statement, so with a snapshot taken after
   the agent's lock, the agent is counted again, and only if they are exactly as ranked
   (same open chats, last minute's assignments, capacity, presence...) are the chat, the
   agent and the log row written, all in that one statement. Otherwise nothing is written
   and every candidate's figures come back, counted after the lock, for the caller to rank
   again (under contention the first ranking is often stale: a better-placed decider gave
   that agent a chat between our reading and our lock).

Locks: the chat, then at most one agent at a time. An agent who is no longer the best choice
is released (rolling back to the savepoint taken just before its lock) before another is
tried, and an assigner waits for an agent's lock only when every eligible agent is held by
others, holding no agent itself: no two assigners can wait for each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg

# An agent as a candidate: the users row `u`, open chats (every campaign), last minute's.
_OPEN = "u.open_chats"  # kept by triggers on `chats` (core/open_chats.py)
_RECENT = """(SELECT count(*) FROM assignments a
      WHERE a.agent_id = u.id AND a.kind = 'assign' AND a.created_at > %(since)s)"""
_USER = (
    "u.id, u.email, u.active, u.capacity, u.weight, u.presence, u.last_seen_at, u.last_assigned_at"
)
_COLUMNS = f"{_USER}, {_OPEN} AS open_chats, {_RECENT} AS recent"

# When none of the campaign's agents is available (all offline, away, stale or inactive: a
# queue at night, an idle sweep's drain), nobody can be chosen and no log row is written, so
# their loads are not counted (NULL): the counts visit every open chat and recent assignment
# of every agent, most of the statement's time. `available` mirrors presence.why_unavailable.
_CHAT_AND_CANDIDATES = f"""
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
)
SELECT k.id, k.assignment_policy, k.max_assignments_per_minute, {_USER},
    CASE WHEN (SELECT available FROM anyone) THEN {_OPEN} END,
    CASE WHEN (SELECT available FROM anyone) THEN {_RECENT} END
FROM chat
LEFT JOIN campaigns k ON k.id = chat.campaign_id
LEFT JOIN (user_campaigns uc JOIN users u ON u.id = uc.user_id AND u.role = 'agent')
    ON uc.campaign_id = chat.campaign_id
ORDER BY u.id
"""
CHAT_AND_CANDIDATES = _CHAT_AND_CANDIDATES.format(skip="")
CHAT_AND_CANDIDATES_SKIP = _CHAT_AND_CANDIDATES.format(skip="SKIP LOCKED")

SAVEPOINT = "SAVEPOINT routing_agent"
ROLLBACK_TO_SAVEPOINT = "ROLLBACK TO SAVEPOINT routing_agent"

LOCK_FIRST_FREE = """
SELECT id FROM users WHERE id = ANY(%(ids)s)
ORDER BY array_position(%(ids)s, id) LIMIT 1
FOR NO KEY UPDATE SKIP LOCKED
"""
LOCK_AGENT = "SELECT id FROM users WHERE id = %(agent_id)s FOR NO KEY UPDATE"

# Every data-modifying CTE runs exactly once whether read or not; each writes only when `ok`.
GUARDED_WRITE = f"""
WITH fresh AS MATERIALIZED (
    SELECT {_COLUMNS}
    FROM users u JOIN user_campaigns uc ON uc.user_id = u.id
    WHERE u.id = %(agent_id)s AND u.role = 'agent' AND uc.campaign_id = %(campaign_id)s
),
ok AS MATERIALIZED (
    SELECT 1 FROM fresh f
    WHERE f.active = %(active)s AND f.capacity = %(capacity)s AND f.weight = %(weight)s
      AND f.presence = %(presence)s AND f.last_seen_at IS NOT DISTINCT FROM %(last_seen_at)s
      AND f.last_assigned_at IS NOT DISTINCT FROM %(last_assigned_at)s
      AND f.open_chats = %(open)s AND f.recent = %(recent)s
),
agent_update AS (
    UPDATE users SET last_assigned_at = %(now)s
    WHERE id = %(agent_id)s AND EXISTS (SELECT FROM ok)
),
chat_update AS (
    UPDATE chats SET status = 'assigned', agent_id = %(agent_id)s, assigned_at = %(now)s
    WHERE id = %(chat_id)s AND EXISTS (SELECT FROM ok)
),
logged AS (
    INSERT INTO assignments
        (chat_id, agent_id, by_user_id, kind, policy, reason, candidates, created_at)
    SELECT %(chat_id)s, %(agent_id)s, %(by_user_id)s, 'assign', %(policy)s, %(reason)s,
        %(candidates)s::jsonb, %(now)s
    WHERE EXISTS (SELECT FROM ok)
    RETURNING id
)
SELECT id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM logged
UNION ALL
SELECT NULL, {_COLUMNS}
FROM user_campaigns uc JOIN users u ON u.id = uc.user_id AND u.role = 'agent'
WHERE uc.campaign_id = %(campaign_id)s AND NOT EXISTS (SELECT FROM ok)
"""

IS_WAITING = "SELECT 1 FROM chats WHERE id = %(chat_id)s AND status = 'waiting_queue'"


def driver(connection: Any) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy `Connection` (same transaction)."""
    raw = connection.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"expected a psycopg connection, got {type(raw).__name__}")
    return raw


def release(cursor: psycopg.Cursor[Any]) -> None:
    """Let go of the agent locked last (and nothing else: the chat was locked before)."""
    cursor.execute(ROLLBACK_TO_SAVEPOINT)


def utc(value: datetime | None) -> datetime | None:
    # The server's TimeZone decides the offset psycopg returns; the ORM gives UTC, so do we.
    return None if value is None else value.astimezone(UTC)


def lock_first_free(cursor: psycopg.Cursor[Any], ranked_ids: Sequence[int]) -> int | None:
    """A savepoint, then the first agent of `ranked_ids` nobody else holds, locked.

    Two round trips rather than one pipeline: entering and leaving psycopg's pipeline mode
    cost more client CPU than the extra round trip, and CPU is what 16 deciders run out of."""
    cursor.execute(SAVEPOINT)
    row = cursor.execute(LOCK_FIRST_FREE, {"ids": list(ranked_ids)}).fetchone()
    return None if row is None else int(row[0])


def lock_wait(cursor: psycopg.Cursor[Any], agent_id: int) -> None:
    """A savepoint, then wait for the agent's lock."""
    cursor.execute(SAVEPOINT)
    cursor.execute(LOCK_AGENT, {"agent_id": agent_id})
