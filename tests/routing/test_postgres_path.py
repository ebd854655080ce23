"""The router's PostgreSQL path (routing/postgres.py) when the ranking it read is stale: an
agent given a chat by someone else between our reading and our lock is counted again after
the lock, and the chat goes where a router seeing the fresh figures would send it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, update

from centralita.core.db import make_engine, session_factory
from centralita.core.models import Base, Chat, ChatStatus, Presence, User
from centralita.routing import assign
from centralita.routing import postgres as pg
from centralita.routing.assign import Outcome, attempt_assignment
from tests.routing.conftest import NOW, World


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_world(pg_engine: Engine) -> World:
    return World(session_factory(pg_engine))


def _before_lock(
    monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[list[int]], None]
) -> list[list[int]]:
    """Run `meanwhile` (committed, in its own transaction) just before the router's first
    agent lock, as a faster concurrent router would; returns the rankings tried."""
    tried: list[list[int]] = []
    real = pg.lock_first_free

    def lock_first_free(cursor: psycopg.Cursor[Any], ranked_ids: list[int]) -> int | None:
        if not tried:
            meanwhile(ranked_ids)
        tried.append(list(ranked_ids))
        return real(cursor, ranked_ids)

    monkeypatch.setattr(pg, "lock_first_free", lock_first_free)
    return tried


def _give(world: World, agent: str, at: datetime = NOW) -> None:
    """Someone else's router gives `agent` a chat at `at` (and commits)."""
    chat_id = world.chat("cobranza")
    with world.sessions.begin() as session:
        session.execute(
            update(Chat)
            .where(Chat.id == chat_id)
            .values(status=ChatStatus.ASSIGNED, agent_id=world.users[agent], assigned_at=at)
        )
        session.execute(
            update(User).where(User.id == world.users[agent]).values(last_assigned_at=at)
        )


def test_an_agent_filled_meanwhile_is_counted_again_and_passed_over(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = pg_world
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza", capacity=1)  # never had a chat: ranked first
    world.agent("bea@example.com", "cobranza", capacity=1, last_assigned_at=NOW)
    chat_id = world.chat("cobranza")
    tried = _before_lock(monkeypatch, lambda _ids: _give(world, "ana@example.com"))

    with world.sessions.begin() as session:
        outcome, assignment = attempt_assignment(session, chat_id, NOW)

    assert outcome is Outcome.ASSIGNED and assignment is not None
    assert world.email(assignment.agent_id) == "bea@example.com"
    assert world.loads() == {"ana@example.com": 1, "bea@example.com": 1}  # nobody over
    ana = world.users["ana@example.com"]
    assert tried[0][0] == ana  # the stale ranking put Ana first
    logged = {c["agent"]: c for c in world.log(chat_id)[0].candidates}
    assert logged["ana@example.com"]["why_not"] == "full"  # the log shows the fresh count
    assert logged["ana@example.com"]["open"] == 1


def test_the_only_agent_filled_meanwhile_leaves_the_chat_waiting(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = pg_world
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza", capacity=1)
    chat_id = world.chat("cobranza")
    _before_lock(monkeypatch, lambda _ids: _give(world, "ana@example.com"))

    with world.sessions.begin() as session:
        outcome, assignment = attempt_assignment(session, chat_id, NOW)

    assert (outcome, assignment) == (Outcome.NOBODY, None)
    assert world.status(chat_id) == ChatStatus.WAITING_QUEUE
    assert world.loads() == {"ana@example.com": 1}
    assert world.log(chat_id) == []


def test_an_agent_who_went_offline_meanwhile_gets_nothing(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = pg_world
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza")
    world.agent("bea@example.com", "cobranza", last_assigned_at=NOW)
    chat_id = world.chat("cobranza")

    def offline(_ids: list[int]) -> None:
        with world.sessions.begin() as session:
            session.execute(
                update(User)
                .where(User.id == world.users["ana@example.com"])
                .values(presence="offline")
            )

    _before_lock(monkeypatch, offline)
    assert world.assign(chat_id) is not None
    assert world.chat_row(chat_id).agent_id == world.users["bea@example.com"]


def test_a_held_agent_still_as_loaded_as_the_best_keeps_the_chat(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Least load: Ana, locked, received a chat meanwhile (1/4) but Bea and Caro are at 1/4
    too: Ana is as good as the best and keeps this one, rather than being traded (a tie
    differs only in who waited longest)."""
    world = pg_world
    world.campaign("cobranza")
    for name in ("bea", "caro"):  # 1/4 each, their last chat ten minutes ago
        world.agent(f"{name}@example.com", "cobranza", capacity=4)
        _give(world, f"{name}@example.com", NOW - timedelta(minutes=10))
    world.agent("ana@example.com", "cobranza", capacity=4)  # 0/4: ranked first
    chat_id = world.chat("cobranza")
    tried = _before_lock(monkeypatch, lambda _ids: _give(world, "ana@example.com"))

    assignment = world.assign(chat_id)

    assert assignment is not None
    assert world.email(assignment.agent_id) == "ana@example.com"
    assert len(tried) == 1  # one lock: Ana was not traded for an equally loaded agent
    assert world.loads() == {"bea@example.com": 1, "caro@example.com": 1, "ana@example.com": 2}


def test_a_guard_that_never_matches_fails_loudly_instead_of_spinning(
    pg_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = pg_world
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza")
    chat_id = world.chat("cobranza")
    broken = pg.GUARDED_WRITE.replace("WHERE f.active", "WHERE false AND f.active")
    assert broken != pg.GUARDED_WRITE
    monkeypatch.setattr(pg, "GUARDED_WRITE", broken)
    monkeypatch.setattr(assign, "MAX_ROUNDS", 3)

    with pytest.raises(RuntimeError, match="no decision after 3 rounds"):
        world.assign(chat_id)

    assert world.status(chat_id) == ChatStatus.WAITING_QUEUE
    assert world.log(chat_id) == []


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
