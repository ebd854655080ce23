"""The authorization matrix: every endpoint x agent / supervisor / admin x own / other
campaign, plus the contract's error shape."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from .conftest import World, auth

# (method, path template, body) -> expected status per (user, chat label).
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/chats/{id}", None),
    ("POST", "/api/v1/chats/{id}/messages", {"text": "Hola, soy tu asesora"}),
    ("GET", "/api/v1/chats/{id}/assignments", None),
    ("GET", "/api/v1/chats/{id}/transcript.pdf", None),
]

EXPECTED = {
    # user, chat: GET chat, POST message, GET assignments, GET transcript (none made yet)
    ("agent_a", "a_assigned"): (200, 201, 403, 404),
    ("agent_a", "b_assigned"): (404, 404, 403, 404),
    ("agent_a2", "a_assigned"): (404, 404, 403, 404),
    ("sup_a", "a_assigned"): (200, 403, 200, 404),
    ("sup_a", "b_assigned"): (404, 404, 404, 404),
    ("sup_b", "b_assigned"): (200, 403, 200, 404),
    ("admin", "a_assigned"): (200, 403, 200, 404),
    ("admin", "b_assigned"): (200, 403, 200, 404),
}


@pytest.mark.parametrize(("who", "label"), sorted(EXPECTED))
def test_chat_endpoints_by_role_and_campaign(
    api_client: FlaskClient, world: World, who: str, label: str
) -> None:
    chat_id = world.chats[label]
    for (method, path, body), expected in zip(ENDPOINTS, EXPECTED[(who, label)], strict=True):
        response = api_client.open(
            path.format(id=chat_id), method=method, json=body, headers=auth(world, who)
        )
        assert response.status_code == expected, (method, path, who, label, response.json)
        if expected >= 400:
            error = response.get_json()["error"]
            assert set(error) == {"code", "message"} and error["message"]


@pytest.mark.parametrize(
    ("who", "labels"),
    [
        ("agent_a", {"a_assigned", "a_closed"}),
        ("agent_b", {"b_assigned"}),
        ("sup_a", {"a_assigned", "a_waiting", "a_closed"}),
        ("sup_b", {"b_assigned"}),
        ("admin", {"a_assigned", "a_waiting", "b_assigned", "a_closed"}),
    ],
)
def test_chat_lists_show_only_what_each_role_may_see(
    api_client: FlaskClient, world: World, who: str, labels: set[str]
) -> None:
    response = api_client.get("/api/v1/chats", headers=auth(world, who))
    assert response.status_code == 200
    ids = {c["id"] for c in response.get_json()["chats"]}
    assert ids == {world.chats[label] for label in labels}


def test_filters_by_status_and_campaign(api_client: FlaskClient, world: World) -> None:
    got = api_client.get("/api/v1/chats?status=waiting_queue", headers=auth(world, "admin"))
    assert [c["id"] for c in got.get_json()["chats"]] == [world.chats["a_waiting"]]
    got = api_client.get("/api/v1/chats?campaign=ventas", headers=auth(world, "admin"))
    assert [c["campaign"] for c in got.get_json()["chats"]] == ["ventas"]
    bad = api_client.get("/api/v1/chats?status=abierto", headers=auth(world, "admin"))
    assert bad.status_code == 400 and "abierto" in bad.get_json()["error"]["message"]


def test_chat_shape_follows_the_contract(api_client: FlaskClient, world: World) -> None:
    chat = api_client.get(
        f"/api/v1/chats/{world.chats['a_assigned']}", headers=auth(world, "agent_a")
    ).get_json()
    assert set(chat) == {
        "id",
        "status",
        "campaign",
        "contact",
        "customer",
        "agent",
        "opened_at",
        "queued_at",
        "assigned_at",
        "closed_at",
        "close_reason",
        "last_customer_message_at",
        "messages",
    }
    assert chat["agent"] == "ana@x.co" and chat["campaign"] == "castigada"
    assert set(chat["messages"][0]) == {
        "id",
        "direction",
        "author",
        "text",
        "status",
        "error_code",
        "created_at",
    }


def test_missing_bad_and_wrong_role_tokens(api_client: FlaskClient, world: World) -> None:
    assert api_client.get("/api/v1/chats").status_code == 401
    bad = api_client.get("/api/v1/chats", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "unauthorized"
    assert api_client.get("/api/v1/agents", headers=auth(world, "agent_a")).status_code == 403
    assert api_client.get("/api/v1/nothing", headers=auth(world, "admin")).status_code == 404
    assert api_client.get("/api/v1/nothing").get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("who", "label", "status"),
    [
        ("agent_a", "a_assigned", 200),
        ("agent_a2", "a_assigned", 404),
        ("sup_a", "a_assigned", 200),
        ("sup_b", "a_assigned", 404),
        ("admin", "b_assigned", 200),
        ("agent_a", "a_closed", 409),
    ],
)
def test_close_by_role(
    api_client: FlaskClient, world: World, who: str, label: str, status: int
) -> None:
    response = api_client.post(
        f"/api/v1/chats/{world.chats[label]}/close",
        json={"reason": "resuelto"},
        headers=auth(world, who),
    )
    assert response.status_code == status, response.get_json()
    if status == 200:
        assert response.get_json()["status"] == "closed"
        assert response.get_json()["close_reason"] == "resuelto"


@pytest.mark.parametrize(
    ("who", "label", "agent", "status"),
    [
        ("sup_a", "a_assigned", "alba@x.co", 200),
        ("sup_a", "a_assigned", "beto@x.co", 422),  # does not serve the chat's campaign
        ("sup_b", "a_assigned", "alba@x.co", 404),
        ("admin", "a_assigned", "alba@x.co", 200),
        ("agent_a", "a_assigned", "alba@x.co", 403),
    ],
)
def test_reassign_by_role(
    api_client: FlaskClient, world: World, who: str, label: str, agent: str, status: int
) -> None:
    response = api_client.post(
        f"/api/v1/chats/{world.chats[label]}/reassign",
        json={"agent": agent, "reason": "cambio de turno"},
        headers=auth(world, who),
    )
    assert response.status_code == status, response.get_json()
    if status == 200:
        assert response.get_json()["agent"] == agent
        log = api_client.get(
            f"/api/v1/chats/{world.chats[label]}/assignments", headers=auth(world, who)
        ).get_json()["assignments"]
        assert log[-1]["agent"] == agent and log[-1]["reason"].endswith("cambio de turno")


def test_agents_board_and_presence(api_client: FlaskClient, world: World) -> None:
    board = api_client.get("/api/v1/agents", headers=auth(world, "sup_a")).get_json()["agents"]
    assert [a["email"] for a in board] == ["alba@x.co", "ana@x.co"]  # campaign castigada only
    ana = next(a for a in board if a["email"] == "ana@x.co")
    assert ana["open_chats"] == 1 and ana["capacity"] == 5 and ana["campaigns"] == ["castigada"]
    away = api_client.put(
        "/api/v1/me/presence", json={"status": "away"}, headers=auth(world, "agent_a")
    )
    assert away.status_code == 200 and away.get_json()["presence"] == "away"
    wrong = api_client.put(
        "/api/v1/me/presence", json={"status": "dormido"}, headers=auth(world, "agent_a")
    )
    assert wrong.status_code == 400


def test_agent_replies_go_out_and_validation(
    api_client: FlaskClient, world: World, api_rt: Any
) -> None:
    chat_id = world.chats["a_assigned"]
    sent = api_client.post(
        f"/api/v1/chats/{chat_id}/messages",
        json={"text": "¿En qué te ayudo? 😊"},
        headers=auth(world, "agent_a"),
    )
    assert sent.status_code == 201 and sent.get_json()["author"] == "agent"
    assert api_rt.transport.sent[-1].body == "¿En qué te ayudo? 😊"
    empty = api_client.post(
        f"/api/v1/chats/{chat_id}/messages", json={"text": " "}, headers=auth(world, "agent_a")
    )
    assert empty.status_code == 400 and "'text'" in empty.get_json()["error"]["message"]
    closed = api_client.post(
        f"/api/v1/chats/{world.chats['a_closed']}/messages",
        json={"text": "hola"},
        headers=auth(world, "agent_a"),
    )
    assert closed.status_code == 409


def test_closing_sends_the_campaign_closing_message(
    api_client: FlaskClient, world: World, api_rt: Any
) -> None:
    api_client.post(
        f"/api/v1/chats/{world.chats['a_assigned']}/close",
        json={"reason": "ok"},
        headers=auth(world, "agent_a"),
    )
    assert api_rt.transport.sent[-1].body == "¡Gracias!"


def test_alerts_and_sender_health(api_client: FlaskClient, world: World) -> None:
    alerts = api_client.get("/api/v1/alerts?open=true", headers=auth(world, "agent_a"))
    assert alerts.status_code == 200 and alerts.get_json() == {"alerts": []}
    health = api_client.get("/api/v1/senders/health", headers=auth(world, "admin"))
    assert health.status_code == 200 and "senders" in health.get_json()
    assert (
        api_client.get("/api/v1/senders/health", headers=auth(world, "agent_a")).status_code == 403
    )
