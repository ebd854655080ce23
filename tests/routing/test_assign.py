"""Who may receive a chat, and what the log says about each decision."""

from __future__ import annotations

from datetime import timedelta

from centralita.core.models import AssignmentKind, ChatStatus, Presence, Role
from tests.routing.conftest import NOW, World


def test_a_waiting_chat_goes_to_the_eligible_agent_with_a_log_row(world: World) -> None:
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza", capacity=4)
    chat_id = world.chat("cobranza")

    assignment = world.assign(chat_id)

    assert assignment is not None
    chat = world.chat_row(chat_id)
    assert (chat.status, chat.agent_id, chat.assigned_at) == (
        ChatStatus.ASSIGNED,
        world.users["ana@example.com"],
        NOW,
    )
    assert world.get("ana@example.com").last_assigned_at == NOW
    [row] = world.log(chat_id)
    assert row.id == assignment.id
    assert (row.agent_id, row.by_user_id, row.kind, row.policy, row.created_at) == (
        world.users["ana@example.com"],
        None,
        AssignmentKind.ASSIGN,
        "least_load",
        NOW,
    )
    assert row.reason.startswith("least load: ana@example.com at 0/4 open")
    assert row.candidates == [
        {
            "agent": "ana@example.com",
            "open": 0,
            "capacity": 4,
            "weight": 1,
            "load": 0.0,
            "last_minute": 0,
            "eligible": True,
            "why_not": None,
        }
    ]


def test_the_log_lists_every_agent_of_the_campaign_with_why_not(world: World) -> None:
    world.campaign("cobranza")
    world.campaign("ventas")
    world.agent("busy@example.com", "cobranza", capacity=1)
    world.chat("cobranza", status=ChatStatus.ASSIGNED, agent="busy@example.com")
    world.agent("away@example.com", "cobranza", presence=Presence.AWAY)
    world.agent("off@example.com", "cobranza", presence=Presence.OFFLINE)
    world.agent("stale@example.com", "cobranza", seen=NOW - timedelta(seconds=91))
    world.agent("gone@example.com", "cobranza", active=False)
    world.agent("ok@example.com", "cobranza")
    world.agent("other@example.com", "ventas")
    world.user("boss@example.com", ["cobranza"], role=Role.SUPERVISOR)

    assignment = world.assign(world.chat("cobranza"))

    assert assignment is not None
    assert world.email(assignment.agent_id) == "ok@example.com"
    why = {c["agent"]: (c["eligible"], c["why_not"]) for c in assignment.candidates}
    assert why == {
        "busy@example.com": (False, "full"),
        "away@example.com": (False, "away"),
        "off@example.com": (False, "offline"),
        "stale@example.com": (False, "stale"),
        "gone@example.com": (False, "inactive"),
        "ok@example.com": (True, None),
    }
    assert "1 eligible of 6 agents" in assignment.reason


def test_offline_away_and_stale_agents_get_nothing_and_the_chat_waits(world: World) -> None:
    world.campaign("cobranza")
    world.agent("away@example.com", "cobranza", presence=Presence.AWAY)
    world.agent("off@example.com", "cobranza", presence=Presence.OFFLINE)
    world.agent("stale@example.com", "cobranza", seen=NOW - timedelta(seconds=91))
    world.agent("never@example.com", "cobranza", seen=None)
    chat_id = world.chat("cobranza")

    assert world.assign(chat_id) is None
    assert world.status(chat_id) == ChatStatus.WAITING_QUEUE
    assert world.log() == []  # nothing was decided: no row (the queue is retried often)


def test_a_heartbeat_90_seconds_old_still_counts(world: World) -> None:
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza", seen=NOW - timedelta(seconds=90))
    assert world.handoff("cobranza") == "ana@example.com"


def test_a_stale_agent_keeps_the_chats_they_hold(world: World) -> None:
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza")
    held = world.chat("cobranza")
    assert world.assign(held) is not None
    # Ana's browser goes quiet; two minutes later a new chat arrives.
    later = NOW + timedelta(minutes=2)
    assert world.assign(world.chat("cobranza"), later) is None
    assert world.chat_row(held).agent_id == world.users["ana@example.com"]
    assert world.status(held) == ChatStatus.ASSIGNED


def test_agents_of_another_campaign_and_supervisors_get_nothing(world: World) -> None:
    world.campaign("cobranza")
    world.campaign("ventas")
    world.agent("ventas@example.com", "ventas")
    world.user("boss@example.com", ["cobranza"], role=Role.SUPERVISOR)
    world.user("admin@example.com", ["cobranza"], role=Role.ADMIN)
    chat_id = world.chat("cobranza")
    assert world.assign(chat_id) is None
    assert world.status(chat_id) == ChatStatus.WAITING_QUEUE


def test_capacity_counts_the_open_chats_of_every_campaign(world: World) -> None:
    world.campaign("cobranza")
    world.campaign("ventas")
    world.agent("ana@example.com", "cobranza", "ventas", capacity=2)
    world.chat("ventas", status=ChatStatus.ASSIGNED, agent="ana@example.com")
    world.chat("ventas", status=ChatStatus.ASSIGNED, agent="ana@example.com")
    chat_id = world.chat("cobranza")
    assert world.assign(chat_id) is None
    # Closed chats do not count.
    world.close(world.chat("ventas", status=ChatStatus.ASSIGNED, agent="ana@example.com"))
    assert world.assign(chat_id) is None
    assert world.loads()["ana@example.com"] == 2


def test_never_over_capacity(world: World) -> None:
    world.campaign("cobranza", cap=100)
    world.agent("ana@example.com", "cobranza", capacity=3)
    results = [world.handoff("cobranza") for _ in range(5)]
    assert results == ["ana@example.com"] * 3 + [None] * 2
    assert world.loads() == {"ana@example.com": 3}


def test_only_waiting_chats_with_a_campaign_are_assigned(world: World) -> None:
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza")
    in_bot = world.chat("cobranza", status=ChatStatus.BOT)
    closed = world.chat("cobranza", status=ChatStatus.CLOSED)
    no_campaign = world.chat(None)
    assert world.assign(in_bot) is None
    assert world.assign(closed) is None
    assert world.assign(no_campaign) is None
    assert world.assign(123456) is None
    assert world.status(no_campaign) == ChatStatus.WAITING_QUEUE
    assert world.log() == []


def test_an_assigned_chat_is_not_assigned_twice(world: World) -> None:
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza")
    world.agent("bea@example.com", "cobranza")
    chat_id = world.chat("cobranza")
    assert world.assign(chat_id) is not None
    assert world.assign(chat_id) is None
    assert len(world.log(chat_id)) == 1


def test_the_per_minute_cap(world: World) -> None:
    world.campaign("cobranza", cap=2)
    world.agent("ana@example.com", "cobranza", capacity=10)
    assert [world.handoff("cobranza") for _ in range(3)] == [
        "ana@example.com",
        "ana@example.com",
        None,
    ]
    [*_, last] = world.log()
    # The next minute she may receive more (59 seconds later, not yet).
    assert world.handoff("cobranza", NOW + timedelta(seconds=59)) is None
    assert world.handoff("cobranza", NOW + timedelta(seconds=61)) == "ana@example.com"
    assert last.candidates[0]["last_minute"] == 1


def test_the_cap_counts_the_routers_chats_in_every_campaign(world: World) -> None:
    world.campaign("cobranza", cap=2)
    world.campaign("ventas", cap=10)
    world.agent("ana@example.com", "cobranza", "ventas", capacity=10)
    assert world.handoff("ventas") == "ana@example.com"
    assert world.handoff("ventas") == "ana@example.com"
    assert world.handoff("cobranza") is None  # two this minute: cobranza's cap
    assert world.handoff("ventas") == "ana@example.com"  # ventas allows ten


def test_who_triggered_the_assignment_is_recorded(world: World) -> None:
    world.campaign("cobranza")
    world.agent("ana@example.com", "cobranza")
    world.user("boss@example.com", ["cobranza"], role=Role.SUPERVISOR)
    assignment = world.assign(world.chat("cobranza"), by=world.get("boss@example.com"))
    assert assignment is not None
    assert assignment.by_user_id == world.users["boss@example.com"]
