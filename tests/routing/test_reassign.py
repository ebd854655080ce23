"""Supervisors reassign (with a reason, to an eligible agent of the campaign, logged);
manual assignment from the queue only where the campaign allows it; agents do neither."""

from __future__ import annotations

from datetime import timedelta

import pytest

from centralita.core.models import AssignmentKind, ChatStatus, Presence, Role
from centralita.routing.errors import (
    AgentNotEligible,
    ChatNotFound,
    InvalidRequest,
    ManualAssignmentDisabled,
    NotAllowed,
    RoutingError,
    WrongChatStatus,
)
from centralita.routing.reassign import manual_assign, reassign_chat
from tests.routing.conftest import NOW, World


@pytest.fixture
def scene(world: World) -> World:
    world.campaign("cobranza")
    world.campaign("ventas")
    world.agent("ana@example.com", "cobranza")
    world.agent("bea@example.com", "cobranza", capacity=2)
    world.agent("carl@example.com", "ventas")
    world.user("boss@example.com", ["cobranza"], role=Role.SUPERVISOR)
    world.user("vboss@example.com", ["ventas"], role=Role.SUPERVISOR)
    world.user("admin@example.com", role=Role.ADMIN)
    return world


def _reassign(world: World, chat_id: int, to: str, by: str, reason: str = "vacaciones") -> object:
    with world.sessions.begin() as session:
        user = world.get(by)
        session.add(user)
        return reassign_chat(session, chat_id, to, user, reason, NOW)


def _manual(world: World, chat_id: int, to: str, by: str, reason: str = "") -> object:
    with world.sessions.begin() as session:
        user = world.get(by)
        session.add(user)
        return manual_assign(session, chat_id, to, user, reason, NOW)


def test_a_supervisor_reassigns_moving_both_loads_and_logging_it(scene: World) -> None:
    chat_id = scene.chat("cobranza", status=ChatStatus.ASSIGNED, agent="ana@example.com")
    assert scene.loads()["ana@example.com"] == 1

    _reassign(scene, chat_id, "BEA@example.com ", "boss@example.com", "  Ana se fue  ")

    chat = scene.chat_row(chat_id)
    assert (chat.status, chat.agent_id, chat.assigned_at) == (
        ChatStatus.ASSIGNED,
        scene.users["bea@example.com"],
        NOW,
    )
    loads = scene.loads()
    assert (loads["ana@example.com"], loads["bea@example.com"]) == (0, 1)
    [row] = scene.log(chat_id)
    assert (row.kind, row.agent_id, row.by_user_id, row.policy) == (
        AssignmentKind.REASSIGN,
        scene.users["bea@example.com"],
        scene.users["boss@example.com"],
        None,
    )
    assert row.reason == (
        "reassigned from ana@example.com to bea@example.com by boss@example.com: Ana se fue"
    )
    assert [c["agent"] for c in row.candidates] == ["bea@example.com"]


def test_an_admin_reassigns_in_any_campaign(scene: World) -> None:
    chat_id = scene.chat("ventas", status=ChatStatus.ASSIGNED, agent="carl@example.com")
    scene.agent("dana@example.com", "ventas")
    _reassign(scene, chat_id, "dana@example.com", "admin@example.com")
    assert scene.chat_row(chat_id).agent_id == scene.users["dana@example.com"]


@pytest.mark.parametrize(
    ("by", "error"),
    [
        ("ana@example.com", "only supervisors and admins"),
        ("vboss@example.com", "does not supervise"),
    ],
)
def test_agents_and_other_campaigns_supervisors_cannot_reassign(
    scene: World, by: str, error: str
) -> None:
    chat_id = scene.chat("cobranza", status=ChatStatus.ASSIGNED, agent="ana@example.com")
    with pytest.raises(NotAllowed, match=error) as caught:
        _reassign(scene, chat_id, "bea@example.com", by)
    assert isinstance(caught.value, PermissionError)
    assert caught.value.http_status == 403
    assert scene.chat_row(chat_id).agent_id == scene.users["ana@example.com"]
    assert scene.log() == []


def test_the_target_must_be_eligible_for_the_chats_campaign(scene: World) -> None:
    chat_id = scene.chat("cobranza", status=ChatStatus.ASSIGNED, agent="ana@example.com")
    scene.agent("away@example.com", "cobranza", presence=Presence.AWAY)
    scene.agent("stale@example.com", "cobranza", seen=NOW - timedelta(minutes=3))
    scene.agent("gone@example.com", "cobranza", active=False)
    scene.chat("ventas", status=ChatStatus.ASSIGNED, agent="bea@example.com")
    scene.chat("ventas", status=ChatStatus.ASSIGNED, agent="bea@example.com")  # bea: 2 of 2
    cases = {
        "carl@example.com": "does not serve chat",
        "nobody@example.com": "no agent 'nobody@example.com'",
        "boss@example.com": "no agent 'boss@example.com'",
        "away@example.com": "away",
        "stale@example.com": "not seen for over 90 seconds",
        "gone@example.com": "deactivated",
        "bea@example.com": "at capacity",
        "ana@example.com": "already holds",
    }
    for target, message in cases.items():
        with pytest.raises(AgentNotEligible, match=message) as caught:
            _reassign(scene, chat_id, target, "boss@example.com")
        assert caught.value.http_status == 422
        assert caught.value.code == "agent_not_eligible"
    assert scene.chat_row(chat_id).agent_id == scene.users["ana@example.com"]
    assert scene.log() == []


def test_reassign_needs_a_reason_an_assigned_chat_and_an_existing_one(scene: World) -> None:
    assigned = scene.chat("cobranza", status=ChatStatus.ASSIGNED, agent="ana@example.com")
    waiting = scene.chat("cobranza")
    closed = scene.chat("cobranza", status=ChatStatus.CLOSED)
    errors: list[tuple[int, str, type[RoutingError], int]] = [
        (assigned, " ", InvalidRequest, 400),
        (waiting, "x", WrongChatStatus, 409),
        (closed, "x", WrongChatStatus, 409),
        (999999, "x", ChatNotFound, 404),
    ]
    for chat_id, reason, error, status in errors:
        with pytest.raises(error) as caught:
            _reassign(scene, chat_id, "bea@example.com", "boss@example.com", reason)
        assert caught.value.http_status == status


def test_manual_assignment_is_off_by_default(scene: World) -> None:
    chat_id = scene.chat("cobranza")
    with pytest.raises(ManualAssignmentDisabled) as caught:
        _manual(scene, chat_id, "ana@example.com", "boss@example.com")
    assert caught.value.http_status == 403
    assert scene.status(chat_id) == ChatStatus.WAITING_QUEUE


def test_manual_assignment_where_the_campaign_allows_it(world: World) -> None:
    world.campaign("vip", manual=True)
    world.agent("ana@example.com", "vip")
    world.agent("bea@example.com", "vip")
    world.user("boss@example.com", ["vip"], role=Role.SUPERVISOR)
    chat_id = world.chat("vip")
    with pytest.raises(NotAllowed):
        _manual(world, chat_id, "bea@example.com", "ana@example.com")
    _manual(world, chat_id, "bea@example.com", "boss@example.com", "habla inglés")
    [row] = world.log(chat_id)
    assert (row.kind, row.agent_id, row.by_user_id) == (
        AssignmentKind.MANUAL,
        world.users["bea@example.com"],
        world.users["boss@example.com"],
    )
    assert row.reason.endswith("by boss@example.com: habla inglés")
    with pytest.raises(WrongChatStatus):  # no longer waiting
        _manual(world, chat_id, "ana@example.com", "boss@example.com")


def test_a_chat_without_campaign_can_be_placed_by_hand(scene: World) -> None:
    chat_id = scene.chat(None)
    _manual(scene, chat_id, "carl@example.com", "boss@example.com")
    assert scene.chat_row(chat_id).agent_id == scene.users["carl@example.com"]
    assert "picked from the queue" in scene.log(chat_id)[0].reason
