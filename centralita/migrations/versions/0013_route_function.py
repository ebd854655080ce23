"""The router's decision as one PostgreSQL function (`centralita_route`, with its helpers
for Python's rounding), and on `users` the times of each agent's recent automatic
assignments (`recent_assigned_at`, complete after `recent_assigned_since`), which the
function keeps and reads for the per-minute cap instead of counting last minute's log rows
for every candidate on every decision. Both PostgreSQL only: the columns stay NULL on SQLite,
whose router counts the log.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22

Self-contained on purpose: a migration must not import the code, which keeps changing (the
function's text is that of centralita/routing/postgres.py as of this revision; a later change
to it is a new migration that replaces the function).

Existing agents' times are filled from the log for the last two minutes (twice the cap's
window); a decision whose window starts earlier than what the array holds counts the log, so
the figures are the same either way.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_POSTGRESQL = (
    """
CREATE FUNCTION centralita_py_round_tie(n bigint, d bigint, m bigint) RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    low bigint := (2 * n * m / d - 1) / 2;
    reduced bigint := d / gcd(n, d);
    v float8;
    w float8;
    s integer;
    up boolean;
BEGIN
    IF reduced & (reduced - 1) = 0 THEN
        up := mod(low, 2) = 1;
    ELSE
        v := n::float8 / d::float8;
        s := 52 - floor(ln(v) / ln(2::float8))::integer;
        w := v * power(2::float8, s);
        IF w >= 9007199254740992 THEN
            s := s - 1;
            w := w / 2;
        ELSIF w < 4503599627370496 THEN
            s := s + 1;
            w := w * 2;
        END IF;
        up := w::bigint::numeric * d > n::numeric * power(2::numeric, s);
    END IF;
    RETURN (low + up::integer)::numeric / m;
END
$$
""",
    """
CREATE FUNCTION centralita_py_round(n bigint, d bigint, m bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN mod(2 * n * m, d) = 0 AND mod(2 * n * m / d, 2) = 1
    THEN centralita_py_round_tie(n, d, m)
    ELSE ((2 * n * m + d) / (2 * d))::numeric / m END
$$
""",
    """
CREATE FUNCTION centralita_py_float(x numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN x = trunc(x) THEN round(x, 1) ELSE trim_scale(x) END
$$
""",
    """
CREATE FUNCTION centralita_route(
    p_chat bigint, p_now timestamptz, p_since timestamptz, p_fresh_since timestamptz,
    p_by bigint, p_skip_locked boolean,
    OUT r_outcome text, OUT r_assignment bigint, OUT r_agent bigint, OUT r_policy text,
    OUT r_reason text, OUT r_candidates jsonb
) LANGUAGE plpgsql AS $$
DECLARE
    v_campaign bigint;
    v_cap integer;
    v_best bigint;
    v_keep timestamptz := p_since - (p_now - p_since);  -- twice the window back
BEGIN
    -- "IS TRUE": the chat by its primary key, never by scanning the queue's partial index,
    -- which a generic plan would otherwise find as cheap.
    IF p_skip_locked THEN
        SELECT c.campaign_id INTO v_campaign FROM chats c
        WHERE c.id = p_chat AND (c.status = 'waiting_queue') IS TRUE
        FOR NO KEY UPDATE OF c SKIP LOCKED;
        IF NOT FOUND THEN
            r_outcome := CASE WHEN EXISTS (
                SELECT FROM chats c WHERE c.id = p_chat AND c.status = 'waiting_queue'
            ) THEN 'locked' ELSE 'not_waiting' END;
            RETURN;
        END IF;
    ELSE
        SELECT c.campaign_id INTO v_campaign FROM chats c
        WHERE c.id = p_chat AND (c.status = 'waiting_queue') IS TRUE
        FOR NO KEY UPDATE OF c;
        IF NOT FOUND THEN
            r_outcome := 'not_waiting';
            RETURN;
        END IF;
    END IF;
    IF v_campaign IS NULL THEN
        r_outcome := 'no_campaign';
        RETURN;
    END IF;
    SELECT k.assignment_policy, k.max_assignments_per_minute INTO r_policy, v_cap
    FROM campaigns k WHERE k.id = v_campaign;

    FOR attempt IN 1..100 LOOP
        WITH candidate AS MATERIALIZED (
            SELECT u.id, u.email, u.open_chats AS open, u.capacity, u.weight,
                u.last_assigned_at, u.xmin AS version, u.recent_assigned_at AS recent_times,
                u.recent_assigned_since AS recent_since,
                CASE WHEN NOT u.active THEN 'inactive'
                    WHEN u.presence <> 'online' THEN u.presence::text
                    WHEN u.last_seen_at IS NULL OR u.last_seen_at < p_fresh_since THEN 'stale'
                    WHEN u.open_chats >= u.capacity THEN 'full'
                END AS why_not
            FROM user_campaigns uc JOIN users u ON u.id = uc.user_id
            WHERE uc.campaign_id = v_campaign AND u.role = 'agent'
        ), counted AS MATERIALIZED (
            SELECT c.*, CASE WHEN EXISTS (SELECT FROM candidate e WHERE e.why_not IS NULL)
                THEN CASE WHEN coalesce(c.recent_since, '-infinity') <= p_since
                    -- sorted: those after p_since are those past its place in the array
                    THEN coalesce(cardinality(c.recent_times)
                        - width_bucket(p_since, c.recent_times), 0)
                    ELSE (SELECT count(*) FROM assignments a WHERE a.agent_id = c.id
                          AND a.kind = 'assign' AND a.created_at > p_since)
                END END AS recent
            FROM candidate c
        ), judged AS MATERIALIZED (
            SELECT c.id, c.email, c.open, c.capacity, c.weight, c.last_assigned_at, c.version,
                coalesce(c.recent, 0) AS recent,
                coalesce(c.why_not, CASE WHEN v_cap IS NOT NULL AND c.recent >= v_cap
                    THEN 'per_minute_cap' END) AS why_not
            FROM counted c
        ), ranked AS MATERIALIZED (
            SELECT j.*, CASE WHEN j.why_not IS NULL THEN row_number() OVER (ORDER BY
                j.why_not IS NOT NULL,
                CASE WHEN r_policy = 'least_load' AND j.why_not IS NULL
                    THEN j.open::float8 / (j.capacity * j.weight) END,
                j.last_assigned_at NULLS FIRST, j.id) END AS place
            FROM judged j
        ), pick AS MATERIALIZED (
            -- In rank order, so that the first free agent ends the scan.
            SELECT p.id, r.place
            FROM (SELECT * FROM ranked r WHERE r.place IS NOT NULL ORDER BY r.place) r
            JOIN users p ON p.id = r.id
            WHERE p.xmin = r.version
              AND p.active AND p.presence = 'online' AND p.last_seen_at >= p_fresh_since
              AND p.open_chats < p.capacity
            ORDER BY r.place
            LIMIT 1
            FOR NO KEY UPDATE OF p SKIP LOCKED
        ), seen AS MATERIALIZED (
            SELECT r.*, CASE WHEN r.place < (SELECT k.place FROM pick k) THEN 'busy'
                ELSE r.why_not END AS shown,
                centralita_py_round(r.open, r.capacity * r.weight, 10000) AS load
            FROM ranked r WHERE EXISTS (SELECT FROM pick)
        ), summary AS MATERIALIZED (
            SELECT count(*) FILTER (WHERE s.shown IS NULL) AS eligible, count(*) AS everyone,
                jsonb_agg(jsonb_build_object(
                    'agent', s.email, 'open', s.open, 'capacity', s.capacity,
                    'weight', s.weight, 'load', centralita_py_float(s.load),
                    'last_minute', s.recent, 'eligible', s.shown IS NULL, 'why_not', s.shown
                ) ORDER BY s.id) AS entries
            FROM seen s
        ), agent_update AS (
            UPDATE users u SET last_assigned_at = p_now,
                recent_assigned_since = greatest(u.recent_assigned_since, v_keep),
                recent_assigned_at = ARRAY(SELECT t FROM (
                    SELECT t FROM unnest(u.recent_assigned_at) t
                    UNION ALL SELECT p_now
                ) x WHERE t > greatest(u.recent_assigned_since, v_keep) ORDER BY t)
            WHERE u.id = (SELECT k.id FROM pick k)
        ), chat_update AS (
            UPDATE chats c SET status = 'assigned', agent_id = k.id, assigned_at = p_now
            FROM pick k WHERE c.id = p_chat
        ), logged AS (
            INSERT INTO assignments AS a
                (chat_id, agent_id, by_user_id, kind, policy, reason, candidates, created_at)
            SELECT p_chat, k.id, p_by, 'assign', r_policy,
                CASE WHEN r_policy = 'round_robin' THEN 'round robin: ' || w.email
                    || ' waited longest (' || w.waited || '); ' || m.of
                ELSE 'least load: ' || w.email || ' at ' || w.open || '/' || w.capacity
                    || ' open (weight ' || w.weight || ', load ' || round(centralita_py_round(
                        w.open, w.capacity * w.weight, 100), 2) || '; ' || w.waited || '); '
                    || m.of
                END,
                m.entries, p_now
            FROM pick k
            JOIN (SELECT s.*, CASE WHEN s.last_assigned_at IS NULL THEN 'never had a chat'
                    ELSE 'last chat at ' || to_char(s.last_assigned_at AT TIME ZONE 'UTC',
                        'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00' END AS waited
                  FROM seen s) w ON w.id = k.id
            CROSS JOIN (SELECT u.entries,
                    u.eligible || ' eligible of ' || u.everyone || ' agents' AS of
                  FROM summary u) m
            RETURNING a.id, a.agent_id, a.reason, a.candidates
        )
        SELECT l.id, l.agent_id, l.reason, l.candidates,
            (SELECT r.id FROM ranked r WHERE r.place = 1)
        INTO r_assignment, r_agent, r_reason, r_candidates, v_best
        FROM (SELECT) one LEFT JOIN logged l ON true;

        IF r_agent IS NOT NULL THEN
            r_outcome := 'assigned';
            RETURN;
        END IF;
        IF v_best IS NULL THEN
            r_outcome := 'nobody';
            RETURN;
        END IF;
        -- Every eligible agent was passed over: wait until the best is free, holding
        -- nothing (the subtransaction's lock goes with it), then decide again.
        BEGIN
            PERFORM FROM users u WHERE u.id = v_best FOR NO KEY UPDATE;
            RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'centralita_route: waited';
        EXCEPTION WHEN raise_exception THEN
            NULL;
        END;
    END LOOP;
    -- Only a bug could get here: fail loudly rather than spin holding the chat's lock.
    RAISE EXCEPTION USING MESSAGE =
        'routing chat ' || p_chat || ': no decision after 100 attempts';
END
$$
""",
)
_POSTGRESQL_DROP = (
    'DROP FUNCTION IF EXISTS centralita_route',
    'DROP FUNCTION IF EXISTS centralita_py_float',
    'DROP FUNCTION IF EXISTS centralita_py_round',
    'DROP FUNCTION IF EXISTS centralita_py_round_tie',
)


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    times = sa.JSON().with_variant(postgresql.ARRAY(sa.DateTime(timezone=True)), "postgresql")
    # Plain ADD / DROP COLUMN, also on SQLite: a batch migration would rebuild `users`, which
    # the open-chats triggers on `chats` name.
    op.add_column("users", sa.Column("recent_assigned_at", times, nullable=True))
    op.add_column(
        "users", sa.Column("recent_assigned_since", sa.DateTime(timezone=True), nullable=True)
    )
    if not _postgresql():
        return
    # No automatic assignment may be logged between the fill and the function's first call.
    op.execute("LOCK TABLE assignments IN SHARE MODE")
    op.execute(
        "UPDATE users SET recent_assigned_since = now() - interval '2 minutes',"
        " recent_assigned_at = ARRAY(SELECT a.created_at FROM assignments a"
        " WHERE a.agent_id = users.id AND a.kind = 'assign'"
        " AND a.created_at > now() - interval '2 minutes' ORDER BY a.created_at)"
    )
    for statement in _POSTGRESQL:
        op.execute(statement)


def downgrade() -> None:
    if _postgresql():
        for statement in _POSTGRESQL_DROP:
            op.execute(statement)
    for column in ("recent_assigned_since", "recent_assigned_at"):
        op.execute(f"ALTER TABLE users DROP COLUMN {column}")
