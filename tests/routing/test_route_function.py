"""The router's PostgreSQL function (`centralita_route`, routing/postgres.py) against the Python
reference: the same choice as `policies.rank`, the same reason as `policies.explain` and the
same log entries as `Candidate.log_entry`, byte for byte as stored; Python's rounding of the
loads reproduced exactly (ties included); the per-minute cap from the times kept on the
agent's row equal to counting the log, whatever the clock does."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select, text, update

from centralita.core.db import make_engine, session_factory
from centralita.core.models import (
    Assignment,
    AssignmentPolicy,
    Base,
    ChatStatus,
    Presence,
    User,
)
from tests.routing.conftest import NOW, World, python_decision


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_world(pg_engine: Engine) -> World:
    return World(session_factory(pg_engine))


def _stored(world: World, assignment_id: int) -> str:
    with world.sessions() as session:
        return str(
            session.execute(
                text("SELECT candidates::text FROM assignments WHERE id = :id"),
                {"id": assignment_id},
            ).scalar_one()
        )


def _as_python_stored(world: World, entries: list[dict[str, object]]) -> str:
    """What the log held when Python wrote these entries (json.dumps, then JSONB)."""
    with world.sessions() as session:
        return str(
            session.execute(
                text("SELECT CAST(:entries AS jsonb)::text"), {"entries": json.dumps(entries)}
            ).scalar_one()
        )


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_every_decision_is_the_python_references(pg_world: World, seed: int) -> None:
    """Random campaigns, capacities (40 and 32 make exact rounding ties), weights, presences,
    loads and last chats; the clock moves by random steps, so the per-minute cap bites and
    lets go. Each decision, before it is made, is also made by the Python reference."""
    rng = random.Random(seed)
    world = pg_world
    policy = rng.choice(list(AssignmentPolicy))
    world.campaign("cobranza", policy=policy, cap=rng.randint(1, 4))
    for n in range(8):
        email = f"agent{n}@example.com"
        world.agent(
            email,
            "cobranza",
            capacity=rng.choice([1, 2, 3, 7, 8, 32, 40]),
            weight=rng.choice([1, 1, 2, 3]),
            presence=rng.choice([Presence.ONLINE] * 4 + [Presence.AWAY, Presence.OFFLINE]),
            seen=NOW - timedelta(seconds=rng.choice([0, 10, 200])),
            active=rng.random() > 0.1,
            last_assigned_at=rng.choice([None, NOW - timedelta(seconds=rng.randint(1, 500))]),
        )
        for _ in range(rng.randint(0, 3)):
            world.chat("cobranza", status=ChatStatus.ASSIGNED, agent=email)
    now = NOW
    decided = 0
    for _ in range(40):
        now += timedelta(seconds=rng.choice([0, 1, 7, 20, 45]))
        with world.sessions.begin() as session:  # everyone keeps their heartbeat
            session.execute(update(User).values(last_seen_at=now - timedelta(seconds=5)))
        expected = python_decision(world, "cobranza", now)
        assignment = world.assign(world.chat("cobranza"), now)
        if expected is None:
            assert assignment is None
            continue
        decided += 1
        assert assignment is not None
        agent_id, reason, entries = expected
        assert (assignment.agent_id, assignment.reason) == (agent_id, reason)
        assert assignment.candidates == entries
        assert _stored(world, assignment.id) == _as_python_stored(world, entries)
    assert decided >= 3


def test_the_loads_are_rounded_as_python_rounds_them(pg_engine: Engine) -> None:
    """Every load open / (capacity x weight) up to 120 / 120: `round(load, 4)` as json.dumps
    writes it, and `{load:.2f}`; exact halves included (1/32, 3/40, 1/8 ...), where Python
    rounds the double's exact value half to even."""
    query = text(
        "SELECT n, d, centralita_py_float(centralita_py_round(n, d, 10000))::text,"
        " round(centralita_py_round(n, d, 100), 2)::text"
        " FROM generate_series(0, 120) n, generate_series(1, 120) d"
    )
    with pg_engine.connect() as conn:
        rows = conn.execute(query).all()
    wrong = [
        (n, d, four, two)
        for n, d, four, two in rows
        if (four, two) != (json.dumps(round(n / d, 4)), f"{n / d:.2f}")
    ]
    assert len(rows) == 121 * 120
    assert wrong == []


def test_the_cap_counts_from_the_kept_times_or_the_log_alike(pg_world: World) -> None:
    """The agent's row keeps the times of the router's recent chats; a decision whose minute
    starts before what the row keeps (a clock behind the others') counts the log instead.
    Either way the figure is the log's."""
    world = pg_world
    world.campaign("cobranza", cap=5)
    world.agent("ana@example.com", "cobranza", capacity=50)
    times = [NOW, NOW + timedelta(seconds=30), NOW + timedelta(seconds=90)]
    for now in times:
        assert world.handoff("cobranza", now) is not None
    with world.sessions() as session:
        kept = session.execute(
            text("SELECT recent_assigned_at, recent_assigned_since FROM users WHERE email = :e"),
            {"e": "ana@example.com"},
        ).one()
    # The row keeps two minutes (twice the cap's window) back from the last chat.
    assert kept.recent_assigned_since == times[-1] - timedelta(minutes=2)
    assert kept.recent_assigned_at == times

    for now in [NOW + timedelta(seconds=100), NOW - timedelta(minutes=2), NOW + timedelta(1)]:
        with world.sessions.begin() as session:
            session.execute(update(User).values(last_seen_at=now))
        expected = python_decision(world, "cobranza", now)
        assert expected is not None
        assignment = world.assign(world.chat("cobranza"), now)
        assert assignment is not None
        assert (assignment.agent_id, assignment.reason, assignment.candidates) == expected
    assert [c["last_minute"] for a in world.log()[-3:] for c in a.candidates] == [1, 4, 0]


def test_a_chat_taken_by_another_drain_is_locked_not_waiting(pg_world: World) -> None:
    """`skip_locked`: a waiting chat another transaction holds is `locked`; a chat no longer
    waiting is `not_waiting`; a chat with no campaign is `no_campaign`."""
    from centralita.routing.assign import Outcome, attempt_assignment

    world = pg_world
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza")
    held = world.chat("cobranza")
    done = world.chat("cobranza", status=ChatStatus.ASSIGNED, agent="ana@example.com")
    orphan = world.chat(None)
    with world.sessions() as other:
        other.execute(text(f"SELECT id FROM chats WHERE id = {held} FOR NO KEY UPDATE"))
        with world.sessions.begin() as session:
            assert attempt_assignment(session, held, NOW, skip_locked=True) == (
                Outcome.LOCKED,
                None,
            )
            assert attempt_assignment(session, done, NOW, skip_locked=True) == (
                Outcome.NOT_WAITING,
                None,
            )
            assert attempt_assignment(session, orphan, NOW) == (Outcome.NO_CAMPAIGN, None)


def test_the_migration_fills_the_times_from_the_log_and_routes(postgres_url: str) -> None:
    """0013 on a database with history: each agent's row gets the log's automatic
    assignments of the last two minutes; the router then routes with them (the migrations'
    function, not the models')."""
    from sqlalchemy import func

    from centralita.core.migrate import upgrade

    upgrade(postgres_url, "0012")
    engine = make_engine(postgres_url)
    try:
        world = World(session_factory(engine))
        world.campaign("cobranza", cap=2)
        with engine.begin() as conn:  # by hand: the model's users has 0013's columns
            now = conn.execute(text("SELECT now()")).scalar_one()
            ana = conn.execute(
                text(
                    "INSERT INTO users (email, name, role, password_hash, active, capacity,"
                    " weight, presence, last_seen_at, created_at) VALUES ('ana@example.com',"
                    " 'Ana', 'agent', '-', true, 9, 1, 'online', :now, :now) RETURNING id"
                ),
                {"now": now},
            ).scalar_one()
            conn.execute(
                text("INSERT INTO user_campaigns VALUES (:user, :campaign)"),
                {"user": ana, "campaign": world.campaigns["cobranza"]},
            )
        world.users["ana@example.com"] = ana
        chat_ids = [world.chat("cobranza") for _ in range(4)]
        with engine.begin() as conn:
            for chat_id, age in zip(chat_ids[:3], [10, 50, 300], strict=True):
                conn.execute(
                    text(
                        "INSERT INTO assignments (chat_id, agent_id, kind, reason, candidates,"
                        " created_at) VALUES (:chat, :agent, 'assign', 'x', '[]', :at)"
                    ),
                    {"chat": chat_id, "agent": ana, "at": now - timedelta(seconds=age)},
                )
        upgrade(postgres_url)
        with engine.connect() as conn:
            times, since = conn.execute(
                text("SELECT recent_assigned_at, recent_assigned_since FROM users")
            ).one()
            later = conn.execute(text("SELECT now()")).scalar_one()
        assert times == [now - timedelta(seconds=50), now - timedelta(seconds=10)]
        assert now - timedelta(minutes=2) <= since <= later - timedelta(minutes=2)

        # Two chats in the last minute: the cap (2) holds Ana back now, not 45 s later.
        with engine.begin() as conn:
            conn.execute(text("UPDATE users SET last_seen_at = :t"), {"t": now + timedelta(1)})
        assert world.assign(chat_ids[3], now) is None
        assignment = world.assign(chat_ids[3], now + timedelta(seconds=45))
        assert assignment is not None
        assert assignment.candidates[0]["last_minute"] == 1
        with world.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Assignment)) == 4
    finally:
        engine.dispose()
