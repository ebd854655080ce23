"""Presence and heartbeats: who is available, and when a change should drain the queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from centralita.core.models import Presence, User
from centralita.routing.errors import InvalidRequest
from centralita.routing.presence import heartbeat, is_available, set_presence
from tests.routing.conftest import NOW, World


def _do(sessions: sessionmaker[Session], user_id: int, action: str, *args: object) -> bool:
    with sessions.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        if action == "presence":
            return set_presence(session, user, *args)  # type: ignore[arg-type]
        return heartbeat(session, user, *args)  # type: ignore[arg-type]


def test_going_online_makes_an_agent_available(world: World) -> None:
    world.campaign("cobranza")
    ana = world.agent("ana@example.com", "cobranza", presence=Presence.OFFLINE, seen=None)
    assert not is_available(world.get("ana@example.com"), NOW)
    assert _do(world.sessions, ana, "presence", "online", NOW) is True
    user = world.get("ana@example.com")
    assert (user.presence, user.presence_changed_at, user.last_seen_at) == (
        Presence.ONLINE,
        NOW,
        NOW,
    )
    assert is_available(user, NOW + timedelta(seconds=90))
    assert not is_available(user, NOW + timedelta(seconds=91))
    # Online again while online: nothing new (no drain needed), the change time stays.
    assert (
        _do(world.sessions, ana, "presence", Presence.ONLINE, NOW + timedelta(seconds=1)) is False
    )
    assert world.get("ana@example.com").presence_changed_at == NOW


def test_away_and_offline_are_not_available(world: World) -> None:
    world.campaign("cobranza")
    ana = world.agent("ana@example.com", "cobranza")
    assert _do(world.sessions, ana, "presence", "away", NOW) is False
    assert not is_available(world.get("ana@example.com"), NOW)
    assert _do(world.sessions, ana, "presence", "offline", NOW) is False
    assert not is_available(world.get("ana@example.com"), NOW)


def test_a_heartbeat_revives_a_stale_agent(world: World) -> None:
    world.campaign("cobranza")
    ana = world.agent("ana@example.com", "cobranza", seen=NOW - timedelta(minutes=5))
    assert _do(world.sessions, ana, "heartbeat", NOW) is True
    assert _do(world.sessions, ana, "heartbeat", NOW + timedelta(seconds=30)) is False
    assert world.get("ana@example.com").last_seen_at == NOW + timedelta(seconds=30)


def test_a_heartbeat_does_not_bring_an_away_agent_back(world: World) -> None:
    world.campaign("cobranza")
    ana = world.agent("ana@example.com", "cobranza", presence=Presence.AWAY)
    assert _do(world.sessions, ana, "heartbeat", NOW) is False
    assert world.get("ana@example.com").presence == Presence.AWAY


def test_an_unknown_presence_is_refused(world: World) -> None:
    ana = world.agent("ana@example.com")
    with pytest.raises(InvalidRequest, match="'busy' is not one of online, away, offline"):
        _do(world.sessions, ana, "presence", "busy", NOW)


def test_a_deactivated_user_is_never_available(world: World) -> None:
    world.agent("ana@example.com", active=False)
    assert not is_available(world.get("ana@example.com"), NOW)
