"""The router on PostgreSQL: one decision is one call of the database function
`centralita_route`, sent straight to the driver (psycopg) inside the caller's transaction:
the hot path of every handoff, and the one the router benchmark times.

Why a function: the decision used to be two statements (decide, then write) with Python
judging, ranking and describing the 50 candidates in between (about 1 ms of the client's
CPU per decision in the router benchmark). As one call, the chat is locked, the candidates
judged and ranked, the best free agent locked and the chat, the agent and the log row
written in one round trip; Python gets back the log row and judges nothing. Python's
`policies.rank`, `assign._judge`, `policies.explain` and `Candidate.log_entry` stay the
reference: the function mirrors them (tests/routing/test_route_function.py checks the
choice, the reason and the log's candidates, as stored, against them on random scenes).

What the function does (`ROUTE`):

1. Lock the chat (`FOR NO KEY UPDATE`, or `SKIP LOCKED` for the queue's drain) if it is still
   waiting; else say why not (`not_waiting`, `locked`, `no_campaign`).
2. One statement: read the campaign's agents as candidates (open chats from the
   `users.open_chats` counter, last minute's automatic assignments from their row), judge them as
   `assign._judge` does, rank the eligible ones as `policies.rank` does (least load is
   open / (capacity x weight), float8 division of the same integers giving the same doubles
   as Python's; then whoever waited longest since their last chat, never first; then the
   lowest id), lock the best-ranked one nobody else holds (`FOR NO KEY UPDATE SKIP LOCKED`)
   *whose row is still the version that was ranked* (`xmin`), and write the chat, the agent's
   `last_assigned_at` and the log row, its reason and candidates built in SQL from the figures
   ranked. Everything that changes an agent's figures (a chat given or taken away, which the
   triggers count on their row; presence; capacity) writes their row, so an unchanged row
   means the figures ranked are the figures now, and they cannot move until commit, since we
   hold the row. The eligibility conditions are also tested on the locked row itself, which
   PostgreSQL re-reads at its newest version when it locks it.
3. When every eligible agent was passed over (held by other decisions, or changed since the
   statement's snapshot): wait for the best one's lock inside a subtransaction that is then
   rolled back (so nothing is held while waiting), and go back to 2. Nobody waits for an
   agent while holding another, so no deadlock.

An agent passed over is shown in the log as `why_not: "busy"`, as before. When none of the
campaign's agents is eligible on availability and capacity alone (all offline, away, stale,
full: a queue at night, an idle sweep's drain), last minute's assignments are not counted:
nobody can be chosen and no log row is written.

The per-minute cap without counting the log: each agent's row keeps the times of the
router's chats of the last two minutes (twice the cap's window), sorted
(`users.recent_assigned_at`), and the instant after which it holds every one of them
(`recent_assigned_since`, NULL: ever); the function keeps both when it gives the agent a
chat, in the same write as `last_assigned_at`, while it holds their row. The chats after the
window's start are then those past its place in the array (`width_bucket`, a binary search),
where counting the log took an index scan per candidate. A window that starts before what the
row holds (a caller's clock behind another's by more than a minute) counts the log, so the
figure is the log's either way. Only the router writes automatic assignments (`assign` rows),
so no other writer has to keep the times.

Numbers in the log as Python wrote them: the loads are `round(open / (capacity x weight), 4)`
in the JSON (`centralita_py_round`, the decimal Python's float shows: 0.125, 0.0, 1.0) and
`{load:.2f}` in the reason; Python rounds the exact binary value of the double half to even,
which `centralita_py_round_tie` reproduces for the rare exact ties.

Locks: the chat, then at most one agent, as every other writer (core/open_chats.py).
The function is made by migration 0013 (and by `Base.metadata.create_all`, for tests and
benchmarks, with the `assignments` table); the SQLite path stays in Python (`assign.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Connection, Table

# Python's round(n / d, digits) as numeric (m = 10 ** digits), for n >= 0 and d >= 1: the
# nearest m-th, which is Python's answer whenever n / d is not exactly halfway between two
# (then the double is on the same side as n / d: they differ by far less than 1 / (2dm)).
# Inlined into the query that calls it (one SQL expression, cheap arguments).
_PY_ROUND = """
CREATE FUNCTION centralita_py_round(n bigint, d bigint, m bigint) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN mod(2 * n * m, d) = 0 AND mod(2 * n * m / d, 2) = 1
    THEN centralita_py_round_tie(n, d, m)
    ELSE ((2 * n * m + d) / (2 * d))::numeric / m END
$$
"""

# Exactly halfway: Python rounds the double's exact value half to even. If n / d is a binary
# fraction the double is exactly n / d (so: to even); otherwise the double lies just above or
# below n / d, and it is rounded that way: v = w / 2^s with w an integer, compared exactly.
_PY_ROUND_TIE = """
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
"""

# The JSON number Python's json.dumps writes for that float: no trailing zeros, but ".0".
# Given a column, not an expression: an argument used several times must be cheap for the
# function to be inlined (else it runs as a query of its own, for every candidate).
_PY_FLOAT = """
CREATE FUNCTION centralita_py_float(x numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN x = trunc(x) THEN round(x, 1) ELSE trim_scale(x) END
$$
"""

# No "%" anywhere in this DDL: drivers would take it for a placeholder.
# Every name in a query that could also be a variable is qualified (`#variable_conflict
# error`, PL/pgSQL's default, would refuse to guess).
_ROUTE = """
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
"""

DDL = (_PY_ROUND_TIE, _PY_ROUND, _PY_FLOAT, _ROUTE)
DROP = (
    "DROP FUNCTION IF EXISTS centralita_route",
    "DROP FUNCTION IF EXISTS centralita_py_float",
    "DROP FUNCTION IF EXISTS centralita_py_round",
    "DROP FUNCTION IF EXISTS centralita_py_round_tie",
)

ROUTE = """SELECT * FROM centralita_route(%(chat_id)s::bigint, %(now)s, %(since)s,
    %(fresh_since)s, %(by_user_id)s::bigint, %(skip_locked)s)"""


def create_functions(connection: Connection) -> None:
    for statement in DDL:
        connection.exec_driver_sql(statement)


def after_create_assignments(_table: Table, connection: Connection, **_kw: object) -> None:
    """`Base.metadata.create_all` makes the function with the table (tests, benchmarks)."""
    if connection.dialect.name == "postgresql":
        create_functions(connection)


def driver(connection: Any) -> psycopg.Connection[Any]:
    """The psycopg connection under a SQLAlchemy `Connection` (same transaction)."""
    raw = connection.connection.driver_connection
    if not isinstance(raw, psycopg.Connection):
        raise TypeError(f"expected a psycopg connection, got {type(raw).__name__}")
    return raw


def utc(value: datetime | None) -> datetime | None:
    # The server's TimeZone decides the offset psycopg returns; the ORM gives UTC, so do we.
    return None if value is None else value.astimezone(UTC)
