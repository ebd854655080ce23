"""The router's PostgreSQL path (routing/postgres.py) when what it read is no longer true by
the time it locks an agent: an agent another transaction holds is passed over for the next
best; one changed since the decision's snapshot too (the `xmin` guard), never given a chat on
figures that moved; when every eligible agent is held, the router waits for the best and
decides again with what is true then."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import psycopg
import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from centralita.core.db import make_engine, session_factory
from centralita.core.models import Base, Chat, ChatStatus, Presence, User
from centralita.routing import postgres as pg
from centralita.routing.assign import Outcome, attempt_assignment
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


def _give(session: Session, world: World, agent: str) -> None:
    """Another router gives `agent` a chat (in the caller's transaction)."""
    chat_id = world.chat("cobranza")
    session.execute(
        update(Chat)
        .where(Chat.id == chat_id)
        .values(status=ChatStatus.ASSIGNED, agent_id=world.users[agent], assigned_at=NOW)
    )
    session.execute(update(User).where(User.id == world.users[agent]).values(last_assigned_at=NOW))


def _while_held(
    world: World, lock: str, chat_id: int, meanwhile: Callable[[Session], None]
) -> tuple[Outcome, object]:
    """Route `chat_id` while another transaction holds `lock` (`SELECT ... FOR NO KEY
    UPDATE`), does `meanwhile` and commits once the router is waiting for it."""
    outcome: list[tuple[Outcome, object]] = []
    with world.sessions() as other:
        other.execute(text(lock))
        router = threading.Thread(
            target=lambda: outcome.append(_attempt(world, chat_id)), daemon=True
        )
        router.start()
        _wait_until_blocked(other)
        meanwhile(other)
        other.commit()
    router.join(timeout=30)
    assert outcome, "the router never finished"
    return outcome[0]


def _attempt(world: World, chat_id: int) -> tuple[Outcome, object]:
    with world.sessions.begin() as session:
        return attempt_assignment(session, chat_id, NOW)


def _wait_until_blocked(other: Session) -> None:
    """Until another backend waits for a lock `other` holds (the router's)."""
    for _ in range(1000):
        other.execute(text("SELECT pg_stat_clear_snapshot()"))  # else cached per transaction
        waiting = other.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))"
            )
        ).scalar_one()
        if waiting:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the router never waited")


def test_an_agent_another_decision_holds_is_passed_over_for_the_next_best(
    pg_world: World,
) -> None:
    world = pg_world
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza")  # never had a chat: ranked first
    world.agent("bea@example.com", "cobranza", last_assigned_at=NOW)
    chat_id = world.chat("cobranza")
    with world.sessions() as other:  # holds Ana (a router deciding for another chat)
        other.execute(
            text("SELECT id FROM users WHERE id = :id FOR NO KEY UPDATE"),
            {"id": world.users["ana@example.com"]},
        )
        outcome, assignment = _attempt(world, chat_id)
    assert outcome is Outcome.ASSIGNED and assignment is not None
    assert world.email(assignment.agent_id) == "bea@example.com"  # at once, no waiting
    logged = {c["agent"]: c["why_not"] for c in world.log(chat_id)[0].candidates}
    assert logged == {"ana@example.com": "busy", "bea@example.com": None}


def test_an_agent_changed_after_the_snapshot_is_not_given_a_chat_on_old_figures(
    pg_world: World,
) -> None:
    """The router's statement waits for the chat's lock with its snapshot already taken;
    meanwhile Ana is given a chat (1/2, so still eligible, but now more loaded than Bea).
    Ranked on the old figures Ana would win; her row changed, so Bea gets it."""
    world = pg_world
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza", capacity=2)  # never had a chat: ranked first
    world.agent("bea@example.com", "cobranza", capacity=2, last_assigned_at=NOW)
    chat_id = world.chat("cobranza")
    lock_chat = f"SELECT id FROM chats WHERE id = {chat_id} FOR NO KEY UPDATE"

    outcome, _ = _while_held(
        world, lock_chat, chat_id, lambda s: _give(s, world, "ana@example.com")
    )

    assert outcome is Outcome.ASSIGNED
    assert world.chat_row(chat_id).agent_id == world.users["bea@example.com"]
    assert world.loads() == {"ana@example.com": 1, "bea@example.com": 1}


def test_the_only_agent_filled_while_held_leaves_the_chat_waiting(pg_world: World) -> None:
    world = pg_world
    world.campaign("cobranza")
    ana = world.agent("ana@example.com", "cobranza", capacity=1)
    chat_id = world.chat("cobranza")
    lock_ana = f"SELECT id FROM users WHERE id = {ana} FOR NO KEY UPDATE"

    outcome, assignment = _while_held(
        world, lock_ana, chat_id, lambda s: _give(s, world, "ana@example.com")
    )

    assert (outcome, assignment) == (Outcome.NOBODY, None)
    assert world.status(chat_id) == ChatStatus.WAITING_QUEUE
    assert world.loads() == {"ana@example.com": 1}
    assert world.log(chat_id) == []


def test_the_only_agent_gone_offline_while_held_gets_nothing(pg_world: World) -> None:
    world = pg_world
    world.campaign("cobranza")
    ana = world.agent("ana@example.com", "cobranza")
    chat_id = world.chat("cobranza")
    lock_ana = f"SELECT id FROM users WHERE id = {ana} FOR NO KEY UPDATE"

    def offline(session: Session) -> None:
        session.execute(update(User).where(User.id == ana).values(presence="offline"))

    outcome, _ = _while_held(world, lock_ana, chat_id, offline)

    assert outcome is Outcome.NOBODY
    assert world.status(chat_id) == ChatStatus.WAITING_QUEUE


def test_the_only_agent_held_and_released_unchanged_gets_the_chat(pg_world: World) -> None:
    world = pg_world
    world.campaign("cobranza")
    ana = world.agent("ana@example.com", "cobranza")
    chat_id = world.chat("cobranza")
    lock_ana = f"SELECT id FROM users WHERE id = {ana} FOR NO KEY UPDATE"

    outcome, _ = _while_held(world, lock_ana, chat_id, lambda _s: None)

    assert outcome is Outcome.ASSIGNED
    assert world.chat_row(chat_id).agent_id == ana


def test_a_pick_that_never_comes_fails_loudly_instead_of_spinning(pg_world: World) -> None:
    world = pg_world
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza")
    chat_id = world.chat("cobranza")
    broken = pg._ROUTE.replace("WHERE p.xmin = r.version", "WHERE false").replace("100", "3")
    assert broken.count("WHERE false") == 1 and "1..3 LOOP" in broken
    with world.sessions.begin() as session:
        pg.driver(session.connection()).execute("DROP FUNCTION centralita_route")
        pg.driver(session.connection()).execute(broken.replace("CREATE", "CREATE OR REPLACE"))

    with pytest.raises(psycopg.Error, match="no decision after 3 attempts"):
        world.assign(chat_id)

    assert world.status(chat_id) == ChatStatus.WAITING_QUEUE
    assert world.log(chat_id) == []


def test_the_function_ranks_as_the_policies_do(pg_world: World) -> None:
    """The ORDER BY in SQL mirrors `policies.rank`: with nobody held, the agent the function
    locks is the Python ranking's first, loads, weights and waits all considered."""
    world = pg_world
    world.campaign("cobranza")
    world.agent("a@example.com", "cobranza", capacity=3, last_assigned_at=NOW)
    world.agent("b@example.com", "cobranza", capacity=6, weight=2, last_assigned_at=NOW)
    world.agent("c@example.com", "cobranza", capacity=4, last_assigned_at=NOW - timedelta(1))
    for n in range(9):
        chat_id = world.chat("cobranza")
        now = NOW + timedelta(seconds=n)
        expected = python_decision(world, "cobranza", now)
        assignment = world.assign(chat_id, now)
        assert assignment is not None
        assert (assignment.agent_id, assignment.reason) == expected[:2]
    assert world.loads() == {"a@example.com": 2, "b@example.com": 5, "c@example.com": 2}
    with world.sessions() as session:
        assert session.scalars(select(User.open_chats).order_by(User.id)).all() == [2, 5, 2]


def test_loads_are_logged_for_everyone_and_counted_only_when_someone_is_available(
    pg_world: World,
) -> None:
    """Nobody available: no decision, so nobody's load is counted (the statement skips it).
    Someone available: the log shows every candidate's load, the offline ones' too."""
    world = pg_world
    world.campaign("cobranza")
    world.agent("off@example.com", "cobranza", presence=Presence.OFFLINE)
    world.chat("cobranza", status=ChatStatus.ASSIGNED, agent="off@example.com")
    world.agent("stale@example.com", "cobranza", seen=NOW - timedelta(seconds=91))
    chat_id = world.chat("cobranza")
    with world.sessions.begin() as session:
        assert attempt_assignment(session, chat_id, NOW) == (Outcome.NOBODY, None)

    world.agent("ana@example.com", "cobranza", seen=NOW - timedelta(seconds=90))
    assignment = world.assign(chat_id)

    assert assignment is not None
    logged = {c["agent"]: (c["open"], c["why_not"]) for c in assignment.candidates}
    assert logged == {
        "off@example.com": (1, "offline"),
        "stale@example.com": (0, "stale"),
        "ana@example.com": (0, None),
    }
