"""The agent's inbox through the Flask test client: lists, conversation, card, visibility,
replies, closing, presence."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from centralita.core.models import (
    Alert,
    Author,
    Chat,
    ChatStatus,
    Direction,
    Message,
    MessageStatus,
    Presence,
    User,
    utcnow,
)
from centralita.core.runtime import Runtime
from tests.inbox.conftest import World, csrf_token, sign_in

FETCH = {"X-Requested-With": "fetch"}


def _list_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-chat-id="(\d+)"', html)]


def _post(client: FlaskClient, path: str, **data: str) -> object:
    token = csrf_token(client)
    return client.post(path, data={"csrf_token": token, **data}, headers=FETCH)


def test_the_list_shows_my_open_chats_only_with_unread_counts(
    agent_client: FlaskClient, world: World
) -> None:
    page = agent_client.get("/inbox/").get_data(as_text=True)
    assert _list_ids(page) == [world.chats["a_assigned"]]
    assert 'class="badge" title="sin leer">1<' in page
    # Opening the chat reads it.
    assert agent_client.get(f"/inbox/chats/{world.chats['a_assigned']}").status_code == 200
    page = agent_client.get("/inbox/list").get_data(as_text=True)
    assert 'title="sin leer"' not in page


def test_alert_badges_and_newest_activity_first(
    agent_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    now = utcnow()
    with web_rt.sessions.begin() as session:
        other = session.get(Chat, world.chats["a_waiting"])
        assert other is not None
        other.status, other.agent_id = ChatStatus.ASSIGNED, world.users["agent_a"]
        session.add(
            Message(
                chat_id=other.id,
                direction=Direction.IN,
                author=Author.CUSTOMER,
                text="¿me ayudan?",
                status=MessageStatus.RECEIVED,
                created_at=now + timedelta(minutes=5),
            )
        )
        session.add(
            Alert(kind="unanswered", key="k1", chat_id=world.chats["a_assigned"], campaign_id=1)
        )
    page = agent_client.get("/inbox/list").get_data(as_text=True)
    assert _list_ids(page) == [world.chats["a_waiting"], world.chats["a_assigned"]]
    assert 'class="badge alert" title="alertas">!1<' in page
    assert "¿me ayudan?" in page


def _agent_message(web_rt: Runtime, chat_id: int, text: str, **columns: Any) -> None:
    """A message an agent wrote in the chat, with the given status and other columns."""
    with web_rt.sessions.begin() as session:
        session.add(
            Message(
                chat_id=chat_id, direction=Direction.OUT, author=Author.AGENT, text=text, **columns
            )
        )


def test_a_chat_shows_the_whole_conversation_ticks_failures_and_the_card(
    agent_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    chat_id = world.chats["a_assigned"]
    _agent_message(
        web_rt, chat_id, "No llegó", status=MessageStatus.UNDELIVERED, error_code="63016"
    )
    page = agent_client.get(f"/inbox/chats/{chat_id}").get_data(as_text=True)
    assert "hola" in page and "¿Cuál es tu documento?" in page  # the customer and the bot
    assert 'aria-label="entregado"' in page  # the bot's delivered message
    assert "no entregado (código 63016)" in page
    for column, value in [
        ("document", "1012345678"),
        ("name", "Carla Cliente"),
        ("phone", "+573001112233"),
        ("saldo", "1520000"),
        ("ciudad", "Medellín"),
        ("vencimiento", "2026-01-15"),
    ]:
        assert f"<dt>{column}</dt><dd>{value}</dd>" in page
    assert 'id="reply-form"' in page and "autofocus" in page


def test_times_are_shown_in_the_campaigns_time_zone(
    agent_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    chat_id = world.chats["a_assigned"]
    _agent_message(
        web_rt,
        chat_id,
        "Buenas noches",
        status=MessageStatus.SENT,
        created_at=datetime(2026, 11, 22, 2, 15, tzinfo=UTC),
    )
    page = agent_client.get(f"/inbox/chats/{chat_id}").get_data(as_text=True)
    # 02:15 UTC is 21:15 of the day before in Bogotá, the campaign's (default) zone.
    assert 'datetime="2026-11-22T02:15:00+00:00">21:15</time>' in page


@pytest.mark.parametrize(
    ("who", "chat", "status"),
    [
        ("agent_a", "b_assigned", 404),  # another campaign's chat
        ("agent_a", "a_waiting", 404),  # their campaign, but not theirs
        ("agent_a2", "a_assigned", 404),  # a colleague's chat
        ("agent_b", "a_assigned", 404),
        ("sup_a", "a_assigned", 200),  # their campaign: read only
        ("sup_a", "b_assigned", 404),
        ("admin", "b_assigned", 200),
    ],
)
def test_nobody_sees_a_chat_they_may_not(
    web_client: FlaskClient, world: World, who: str, chat: str, status: int
) -> None:
    sign_in(web_client, world.emails[who])
    chat_id = world.chats[chat]
    assert web_client.get(f"/inbox/chats/{chat_id}").status_code == status
    assert web_client.get(f"/inbox/chats/{chat_id}/messages").status_code == status
    if status == 200:
        page = web_client.get(f"/inbox/chats/{chat_id}").get_data(as_text=True)
        assert "Solo lectura" in page
    reply = _post(web_client, f"/inbox/chats/{chat_id}/reply", text="hola")
    assert reply.status_code in (403, 404)  # type: ignore[attr-defined]


def test_only_agents_have_an_inbox(web_client: FlaskClient, world: World) -> None:
    sign_in(web_client, world.emails["sup_a"])
    assert web_client.get("/inbox/").status_code == 403


def test_a_reply_goes_out_through_the_outbox_as_the_agent(
    agent_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    chat_id = world.chats["a_assigned"]
    response = _post(agent_client, f"/inbox/chats/{chat_id}/reply", text="Hola Carla, te ayudo")
    assert response.status_code == 201  # type: ignore[attr-defined]
    with web_rt.sessions() as session:
        message = session.scalars(
            select(Message).where(Message.chat_id == chat_id, Message.author == Author.AGENT)
        ).one()
    assert message.text == "Hola Carla, te ayudo"
    assert message.user_id == world.users["agent_a"]
    assert message.status != MessageStatus.PENDING  # the send job ran (inline in tests)
    fragment = agent_client.get(f"/inbox/chats/{chat_id}/messages").get_data(as_text=True)
    assert "Hola Carla, te ayudo" in fragment


def test_bad_replies_are_refused_with_a_reason(
    agent_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    chat_id = world.chats["a_assigned"]
    empty = _post(agent_client, f"/inbox/chats/{chat_id}/reply", text="   ")
    assert empty.status_code == 400  # type: ignore[attr-defined]
    assert empty.get_json()["error"]["message"] == "Escribe un mensaje antes de enviar."  # type: ignore[attr-defined]
    long = _post(agent_client, f"/inbox/chats/{chat_id}/reply", text="x" * 4097)
    assert long.status_code == 400  # type: ignore[attr-defined]
    no_token = agent_client.post(
        f"/inbox/chats/{chat_id}/reply", data={"text": "hola"}, headers=FETCH
    )
    assert no_token.status_code == 400
    assert no_token.get_json()["error"]["code"] == "csrf"
    closed = _post(agent_client, f"/inbox/chats/{world.chats['a_closed']}/reply", text="hola")
    assert closed.status_code == 409  # type: ignore[attr-defined]
    assert closed.get_json()["error"]["message"] == "Este chat ya está cerrado."  # type: ignore[attr-defined]
    with web_rt.sessions() as session:
        assert session.scalars(select(Message).where(Message.author == Author.AGENT)).all() == []


def test_closing_needs_a_reason_and_records_who(
    agent_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    chat_id = world.chats["a_assigned"]
    token = csrf_token(agent_client)
    response = agent_client.post(
        f"/inbox/chats/{chat_id}/close", data={"csrf_token": token, "reason": "  "}
    )
    assert response.status_code == 302
    with web_rt.sessions() as session:
        chat = session.get(Chat, chat_id)
        assert chat is not None and chat.status == ChatStatus.ASSIGNED
    response = agent_client.post(
        f"/inbox/chats/{chat_id}/close", data={"csrf_token": token, "reason": "Pagó la deuda"}
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox/")
    with web_rt.sessions() as session:
        chat = session.get(Chat, chat_id)
        assert chat is not None
        assert (chat.status, chat.close_reason) == (ChatStatus.CLOSED, "Pagó la deuda")
        assert chat.closed_by_user_id == world.users["agent_a"]
        closing = session.scalars(
            select(Message).where(Message.chat_id == chat_id).order_by(Message.id.desc())
        ).first()
        assert closing is not None and closing.text == "¡Gracias!"  # the campaign's message
    page = agent_client.get("/inbox/").get_data(as_text=True)
    assert "Chat cerrado." in page and _list_ids(page) == []
    again = agent_client.post(
        f"/inbox/chats/{chat_id}/close", data={"csrf_token": token, "reason": "otra vez"}
    )
    assert again.status_code == 302
    assert "Este chat ya está cerrado." in agent_client.get(f"/inbox/chats/{chat_id}").get_data(
        as_text=True
    )


def test_presence_switch_and_heartbeat(
    agent_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    away = _post(agent_client, "/inbox/presence", status="away")
    assert away.get_json() == {"presence": "away"}  # type: ignore[attr-defined]
    bad = _post(agent_client, "/inbox/presence", status="dormido")
    assert bad.status_code == 400  # type: ignore[attr-defined]
    with web_rt.sessions.begin() as session:
        agent = session.get(User, world.users["agent_a"])
        assert agent is not None and agent.presence == Presence.AWAY
        agent.last_seen_at = utcnow() - timedelta(minutes=5)
    assert _post(agent_client, "/heartbeat", active="0").status_code == 200  # type: ignore[attr-defined]
    with web_rt.sessions() as session:
        agent = session.get(User, world.users["agent_a"])
        assert agent is not None and agent.last_seen_at is not None
        assert utcnow() - agent.last_seen_at < timedelta(seconds=30)
