"""Many assigners at once on PostgreSQL, in threads and in processes (each with its own
engine): afterwards no agent is over capacity, no chat has two agents or two assignment rows,
and nobody who could take a chat was left idle while chats waited."""

from __future__ import annotations

import multiprocessing
import random
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from centralita.core.db import make_engine, session_factory
from centralita.core.models import (
    Assignment,
    AssignmentKind,
    Base,
    Chat,
    ChatStatus,
    Role,
    User,
    user_campaigns,
)
from centralita.routing.assign import assign_chat
from centralita.routing.errors import AgentNotEligible, WrongChatStatus
from centralita.routing.queue import drain_queue
from centralita.routing.reassign import reassign_chat
from tests.routing.conftest import NOW, World

CAMPAIGNS = ("cobranza", "ventas", "soporte")
AGENTS = 20
CHATS = 200


def _scene(engine: Engine) -> tuple[sessionmaker[Session], list[int]]:
    """Three campaigns, 20 agents in one or two of them (capacity 2 to 6, 120 seats at most),
    200 waiting chats: more chats than seats, so every seat gets fought over."""
    Base.metadata.create_all(engine)
    sessions = session_factory(engine)
    world = World(sessions)
    rng = random.Random(11)
    for slug in CAMPAIGNS:
        world.campaign(slug, cap=1000)
    for n in range(AGENTS):
        served = rng.sample(CAMPAIGNS, rng.choice([1, 2]))
        world.agent(f"agent{n}@example.com", *served, capacity=rng.randint(2, 6))
    world.user("boss@example.com", role=Role.ADMIN)
    chats = [world.chat(rng.choice(CAMPAIGNS)) for _ in range(CHATS)]
    return sessions, chats


def _assigner(url: str, chat_ids: list[int], seed: int, rounds: int = 1) -> int:
    """Try every chat (in a random order) in its own transaction; now and then drain."""
    engine = make_engine(url, pool_size=1)
    sessions = session_factory(engine)
    rng = random.Random(seed)
    made = 0
    try:
        for _ in range(rounds):
            order = chat_ids[:]
            rng.shuffle(order)
            for i, chat_id in enumerate(order):
                if i % 50 == 0:
                    made += len(drain_queue(sessions, NOW, limit=5))
                    continue
                with sessions.begin() as session:
                    made += assign_chat(session, chat_id, NOW) is not None
    finally:
        engine.dispose()
    return made


def _reassigner(url: str, seed: int, moves: int = 60) -> int:
    """An admin moving assigned chats to random agents while the router works."""
    engine = make_engine(url, pool_size=1)
    sessions = session_factory(engine)
    rng = random.Random(seed)
    moved = 0
    try:
        for _ in range(moves):
            with sessions() as session:
                chat_ids = session.scalars(
                    select(Chat.id).where(Chat.status == ChatStatus.ASSIGNED)
                ).all()
            if not chat_ids:
                continue
            target = f"agent{rng.randrange(AGENTS)}@example.com"
            try:
                with sessions.begin() as session:
                    admin = session.scalar(select(User).where(User.role == Role.ADMIN))
                    assert admin is not None
                    reassign_chat(session, rng.choice(chat_ids), target, admin, "load test", NOW)
                moved += 1
            except (AgentNotEligible, WrongChatStatus):
                pass
    finally:
        engine.dispose()
    return moved


def _check_invariants(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        agents = {u.id: u for u in session.scalars(select(User).where(User.role == Role.AGENT))}
        serves = set(
            session.execute(select(user_campaigns.c.user_id, user_campaigns.c.campaign_id))
            .tuples()
            .all()
        )
        chats = session.scalars(select(Chat)).all()
        log = session.scalars(select(Assignment).order_by(Assignment.id)).all()

    open_by_agent = Counter(c.agent_id for c in chats if c.status == ChatStatus.ASSIGNED)
    # The counters the router reads agree with the chats (kept by the database's triggers).
    assert {a: u.open_chats for a, u in agents.items() if u.open_chats} == dict(open_by_agent)
    for agent_id, held in open_by_agent.items():
        assert held <= agents[agent_id].capacity, f"agent {agent_id}: {held} open"

    first = Counter(a.chat_id for a in log if a.kind == AssignmentKind.ASSIGN)
    assert max(first.values()) == 1, "a chat assigned twice from the queue"
    latest = {a.chat_id: a for a in log}
    for chat in chats:
        if chat.status == ChatStatus.WAITING_QUEUE:
            assert chat.agent_id is None and chat.id not in latest
            continue
        assert chat.status == ChatStatus.ASSIGNED
        assert first[chat.id] == 1
        assert latest[chat.id].agent_id == chat.agent_id  # the log tells who holds it
        assert (chat.agent_id, chat.campaign_id) in serves

    # Nobody left idle while their campaigns' chats waited: every seat was taken.
    waiting_campaigns = {c.campaign_id for c in chats if c.status == ChatStatus.WAITING_QUEUE}
    for agent_id, agent in agents.items():
        theirs = {campaign for user, campaign in serves if user == agent_id}
        if theirs & waiting_campaigns:
            assert open_by_agent[agent_id] == agent.capacity, f"agent {agent_id} had room"


def _run_threads(targets: list[Callable[[], int]]) -> list[int]:
    results: list[int] = []
    errors: list[BaseException] = []

    def run(target: Callable[[], int]) -> None:
        try:
            results.append(target())
        except BaseException as exc:  # noqa: BLE001  (reported by the test thread)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=100)
    assert not errors, errors
    return results


def test_concurrent_assigners_in_threads(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        sessions, chats = _scene(engine)
        results = _run_threads(
            [
                (lambda seed=seed: _assigner(postgres_url, chats, seed))  # type: ignore[misc]
                for seed in range(10)
            ]
        )
        _check_invariants(sessions)
        with sessions() as session:
            assigned = session.scalar(
                select(func.count()).where(Chat.status == ChatStatus.ASSIGNED)
            )
        assert sum(results) == assigned > 0
    finally:
        engine.dispose()


def test_assigners_and_reassignments_at_once_in_threads(postgres_url: str) -> None:
    """Reassignments lock chat then agent as the router does: no deadlock, no excess."""
    engine = make_engine(postgres_url)
    try:
        sessions, chats = _scene(engine)
        workers: list[Callable[[], int]] = [
            (lambda seed=seed: _assigner(postgres_url, chats, seed, rounds=1))  # type: ignore[misc]
            for seed in range(8)
        ]
        workers += [
            (lambda seed=seed: _reassigner(postgres_url, seed))  # type: ignore[misc]
            for seed in range(100, 104)
        ]
        _run_threads(workers)
        _check_invariants(sessions)
    finally:
        engine.dispose()


def test_concurrent_assigners_in_processes(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    try:
        sessions, chats = _scene(engine)
        context = multiprocessing.get_context("spawn")
        with context.Pool(6) as pool:
            results = pool.starmap(_assigner, [(postgres_url, chats, seed) for seed in range(6)])
        _check_invariants(sessions)
        with sessions() as session:
            assigned = session.scalar(
                select(func.count()).where(Chat.status == ChatStatus.ASSIGNED)
            )
        assert sum(results) == assigned > 0
    finally:
        engine.dispose()


def test_stale_and_capped_agents_under_concurrency(postgres_url: str) -> None:
    """The per-minute cap holds under concurrency too (it is counted after the lock)."""
    engine = make_engine(postgres_url)
    try:
        Base.metadata.create_all(engine)
        sessions = session_factory(engine)
        world = World(sessions)
        world.campaign("cobranza", cap=3)
        for n in range(6):
            world.agent(f"agent{n}@example.com", "cobranza", capacity=50)
        world.agent("stale@example.com", "cobranza", seen=NOW - timedelta(minutes=5))
        chats = [world.chat("cobranza") for _ in range(60)]
        _run_threads(
            [
                (lambda seed=seed: _assigner(postgres_url, chats, seed, rounds=1))  # type: ignore[misc]
                for seed in range(10)
            ]
        )
        loads = world.loads()
        assert loads.pop("stale@example.com") == 0
        assert set(loads.values()) == {3}
    finally:
        engine.dispose()
