"""The queue: drain order (priority, then age), what drains it, the per-minute cap, and the
supervisors' list of waiting chats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from centralita.core.models import Chat, ChatStatus, Presence, Role, User
from centralita.routing.errors import NotAllowed
from centralita.routing.presence import heartbeat, set_presence
from centralita.routing.queue import drain_queue, waiting_chats
from tests.routing.conftest import NOW, World


def _chat_ids(assignments: list[object]) -> list[int]:
    return [a.chat_id for a in assignments]  # type: ignore[attr-defined]


def test_the_queue_drains_by_priority_then_age(world: World) -> None:
    world.campaign("cobranza", cap=100)
    world.agent("ana@example.com", "cobranza", capacity=1)
    old = world.chat("cobranza", queued=NOW - timedelta(minutes=50))
    new = world.chat("cobranza", queued=NOW - timedelta(minutes=5))
    urgent_new = world.chat("cobranza", queued=NOW - timedelta(minutes=1), priority=5)
    urgent_old = world.chat("cobranza", queued=NOW - timedelta(minutes=2), priority=5)
    middle = world.chat("cobranza", queued=NOW - timedelta(minutes=30))
    order = []
    for _ in range(5):
        [assignment] = drain_queue(world.sessions, NOW)  # capacity 1: one at a time
        order.append(assignment.chat_id)
        world.close(assignment.chat_id)  # closing a chat makes room: drain again
    assert order == [urgent_old, urgent_new, old, middle, new]
    assert drain_queue(world.sessions, NOW) == []


def test_a_drain_fills_every_agent_then_stops(world: World) -> None:
    world.campaign("cobranza", cap=100)
    world.agent("ana@example.com", "cobranza", capacity=2)
    world.agent("bea@example.com", "cobranza", capacity=3)
    chats = [world.chat("cobranza") for _ in range(8)]
    done = drain_queue(world.sessions, NOW)
    assert _chat_ids(done) == chats[:5]
    assert world.loads() == {"ana@example.com": 2, "bea@example.com": 3}
    assert [world.status(c) for c in chats[5:]] == [ChatStatus.WAITING_QUEUE] * 3


def test_a_campaign_nobody_serves_does_not_hold_up_the_others(world: World) -> None:
    world.campaign("cobranza")
    world.campaign("ventas")
    world.agent("ana@example.com", "ventas")
    stuck = [world.chat("cobranza", priority=9) for _ in range(3)]
    nobody = world.chat(None, priority=9)
    served = world.chat("ventas")
    assert _chat_ids(drain_queue(world.sessions, NOW)) == [served]
    assert [world.status(c) for c in [*stuck, nobody]] == [ChatStatus.WAITING_QUEUE] * 4


def test_limit_and_campaign_filter(world: World) -> None:
    world.campaign("cobranza", cap=100)
    world.campaign("ventas", cap=100)
    world.agent("ana@example.com", "cobranza", "ventas", capacity=50)
    c = [world.chat("cobranza") for _ in range(3)]
    v = [world.chat("ventas") for _ in range(3)]
    assert _chat_ids(drain_queue(world.sessions, NOW, limit=2)) == c[:2]
    cid = world.campaigns["ventas"]
    assert _chat_ids(drain_queue(world.sessions, NOW, campaign_id=cid)) == v
    assert _chat_ids(drain_queue(world.sessions, NOW)) == c[2:]


def test_draining_for_an_agent_takes_only_their_campaigns(world: World) -> None:
    world.campaign("cobranza", cap=100)
    world.campaign("ventas", cap=100)
    world.agent("ana@example.com", "ventas")
    world.agent("bea@example.com", "cobranza")
    world.chat("cobranza")
    v = world.chat("ventas")
    ana = world.users["ana@example.com"]
    assert _chat_ids(drain_queue(world.sessions, NOW, agent_id=ana)) == [v]
    loner = world.user("loner@example.com")
    assert drain_queue(world.sessions, NOW, agent_id=loner) == []


def _user_do(sessions: sessionmaker[Session], user_id: int, change: str) -> bool:
    with sessions.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        if change == "online":
            return set_presence(session, user, Presence.ONLINE, NOW)
        if change == "heartbeat":
            return heartbeat(session, user, NOW)
        user.capacity += 2
        return True


def test_what_drains_the_queue(world: World) -> None:
    """Coming online, a heartbeat after going stale, more capacity, a closed chat: each
    tells the caller to drain, and the drain then assigns."""
    world.campaign("cobranza", cap=100)
    ana = world.agent("ana@example.com", "cobranza", capacity=1, presence=Presence.OFFLINE)
    bea = world.agent("bea@example.com", "cobranza", capacity=1, seen=NOW - timedelta(hours=1))
    chats = [world.chat("cobranza") for _ in range(6)]
    assert drain_queue(world.sessions, NOW) == []

    assert _user_do(world.sessions, ana, "online")
    assert _chat_ids(drain_queue(world.sessions, NOW, agent_id=ana)) == chats[:1]
    assert _user_do(world.sessions, bea, "heartbeat")
    assert _chat_ids(drain_queue(world.sessions, NOW, agent_id=bea)) == chats[1:2]
    assert _user_do(world.sessions, ana, "capacity")
    assert _chat_ids(drain_queue(world.sessions, NOW, agent_id=ana)) == chats[2:4]
    world.close(chats[1])
    assert _chat_ids(drain_queue(world.sessions, NOW)) == chats[4:5]
    assert world.loads() == {"ana@example.com": 3, "bea@example.com": 1}


def test_the_per_minute_cap_stops_the_first_agent_from_taking_the_backlog(
    world: World,
) -> None:
    world.campaign("cobranza", cap=6)
    ana = world.agent("ana@example.com", "cobranza", capacity=50, presence=Presence.OFFLINE)
    bea = world.agent("bea@example.com", "cobranza", capacity=50, presence=Presence.OFFLINE)
    backlog = [world.chat("cobranza") for _ in range(20)]
    _user_do(world.sessions, ana, "online")
    assert _chat_ids(drain_queue(world.sessions, NOW, agent_id=ana)) == backlog[:6]
    _user_do(world.sessions, bea, "online")
    assert _chat_ids(drain_queue(world.sessions, NOW, agent_id=bea)) == backlog[6:12]
    # The sweep a minute later (both still heartbeating) hands out the rest, in turns.
    later = NOW + timedelta(seconds=61)
    with world.sessions.begin() as session:
        for user_id in (ana, bea):
            user = session.get(User, user_id)
            assert user is not None
            heartbeat(session, user, later)
    assert _chat_ids(drain_queue(world.sessions, later)) == backlog[12:20]
    assert world.loads() == {"ana@example.com": 10, "bea@example.com": 10}


def _titles(chats: list[Chat]) -> list[int]:
    return [c.id for c in chats]


def test_supervisors_see_only_waiting_chats_of_their_campaigns(world: World) -> None:
    world.campaign("cobranza")
    world.campaign("ventas")
    world.agent("ana@example.com", "cobranza")
    world.user("boss@example.com", ["cobranza"], role=Role.SUPERVISOR)
    world.user("admin@example.com", role=Role.ADMIN)
    world.user("agent@example.com", ["cobranza"])
    world.chat("cobranza", status=ChatStatus.ASSIGNED, agent="ana@example.com")
    world.chat("cobranza", status=ChatStatus.CLOSED)
    world.chat("cobranza", status=ChatStatus.BOT)
    old = world.chat("cobranza", queued=NOW - timedelta(minutes=40))
    urgent = world.chat("cobranza", queued=NOW - timedelta(minutes=1), priority=3)
    orphan = world.chat(None, queued=NOW - timedelta(minutes=20))
    other = world.chat("ventas", queued=NOW - timedelta(minutes=50))
    supervisor = world.get("boss@example.com")
    admin = world.get("admin@example.com")
    agent = world.get("agent@example.com")
    with world.sessions() as session:
        assert _titles(waiting_chats(session, supervisor)) == [urgent, old, orphan]
        assert _titles(waiting_chats(session, admin)) == [urgent, other, old, orphan]
        with pytest.raises(NotAllowed):
            waiting_chats(session, agent)
