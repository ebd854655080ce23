"""One close for every path: agent, supervisor or admin through the API, the bot's `end`.
Each ends the same way (who, why, closing message, PDF, the agent's load freed), and the
customer's next message opens a new chat at the flow's start."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from centralita.core.models import (
    Author,
    Campaign,
    Chat,
    ChatStatus,
    Direction,
    MessageStatus,
    Role,
    User,
    utcnow,
)
from centralita.core.sweep import sweep
from centralita.routing.users import create_token
from centralita.web import create_app

from .conftest import CLOSING, QUIET_NUMBER, Center


def token_for(center: Center, email: str, role: Role = Role.AGENT) -> dict[str, str]:
    with center.sessions.begin() as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            campaign = session.get(Campaign, center.campaign_id)
            assert campaign is not None
            user = User(
                email=email,
                name=email,
                role=role,
                password_hash="not-a-login",
                campaigns=[campaign] if role == Role.SUPERVISOR else [],
            )
            session.add(user)
            session.flush()
        return {"Authorization": f"Bearer {create_token(session, user, utcnow())}"}


def api(center: Center) -> FlaskClient:
    return create_app(runtime=center.rt, test_config={"TESTING": True}).test_client()


def assert_transcript(center: Center, chat: Chat) -> None:
    assert chat.transcript_path is not None and chat.transcript_due_at is None
    assert (Path(center.rt.settings.storage_dir) / chat.transcript_path).is_file()


@pytest.mark.parametrize(
    ("email", "role"),
    [("ana@x.co", Role.AGENT), ("sara@x.co", Role.SUPERVISOR), ("root@x.co", Role.ADMIN)],
)
def test_a_person_closes_through_the_api(center: Center, email: str, role: Role) -> None:
    now = utcnow()
    chat_id = center.handed_off(now)
    headers = token_for(center, email, role)
    response = api(center).post(
        f"/api/v1/chats/{chat_id}/close", json={"reason": "resuelto"}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    chat = center.chat(chat_id)
    assert chat.status == ChatStatus.CLOSED and chat.close_reason == "resuelto"
    assert chat.closed_by == role.value
    with center.sessions() as session:
        assert chat.closed_by_user_id == session.scalar(select(User.id).where(User.email == email))
    closing = center.messages(chat_id)[-1]
    assert (closing.author, closing.text, closing.status) == (
        Author.SYSTEM,
        CLOSING,
        MessageStatus.SENT,
    )
    assert center.transport.sent[-1].body == CLOSING  # the window is open: free text
    assert_transcript(center, chat)
    again = api(center).post(
        f"/api/v1/chats/{chat_id}/close", json={"reason": "otra vez"}, headers=headers
    )
    assert again.status_code == 409


def test_closing_frees_the_agent_for_a_waiting_chat(center: Center) -> None:
    now = utcnow()
    with center.sessions.begin() as session:
        ana = session.get(User, center.agents["ana"])
        assert ana is not None
        ana.capacity = 1
    first = center.handed_off(now)
    second = center.write("hola", now, from_="whatsapp:+573009999999")
    center.write("1012345678", now, from_="whatsapp:+573009999999")
    assert second.chat_id is not None
    assert center.chat(second.chat_id).status == ChatStatus.WAITING_QUEUE  # ana is full
    response = api(center).post(
        f"/api/v1/chats/{first}/close", json={"reason": "ok"}, headers=token_for(center, "ana@x.co")
    )
    assert response.status_code == 200
    chat = center.chat(second.chat_id)
    assert chat.status == ChatStatus.ASSIGNED and chat.agent_id == center.agents["ana"]


def test_the_bots_end_closes_the_same_way_and_the_next_message_starts_over(
    center: Center, t0: datetime
) -> None:
    center.write("hola", t0)
    received = center.write("999999", t0 + timedelta(minutes=1))  # not found: the flow ends
    assert received.chat_id is not None
    chat = center.chat(received.chat_id)
    assert chat.status == ChatStatus.CLOSED and chat.closed_by == "bot"
    assert chat.closed_at == t0 + timedelta(minutes=1) and chat.close_due_at is None
    closing = center.messages(chat.id)[-1]
    assert (closing.direction, closing.author, closing.text) == (
        Direction.OUT,
        Author.BOT,
        "No te encontré. Chao.",  # the bot's end text, not the campaign's
    )
    assert_transcript(center, chat)

    again = center.write("hola de nuevo", t0 + timedelta(minutes=5))
    assert again.chat_id is not None and again.chat_id != chat.id
    fresh = center.chat(again.chat_id)
    assert fresh.status == ChatStatus.BOT and fresh.opened_at == t0 + timedelta(minutes=5)
    assert [m.text for m in center.messages(fresh.id) if m.direction == Direction.OUT] == [
        "¡Hola! 👋",
        "Escribe tu documento",
    ]


def test_the_bots_timeout_end_closes_with_the_default_message_and_a_pdf(
    center: Center,
) -> None:
    now = utcnow() - timedelta(minutes=20)
    received = center.write("hola", now, to=QUIET_NUMBER)
    assert received.chat_id is not None
    assert center.chat(received.chat_id).wait_deadline == now + timedelta(minutes=10)
    assert sweep(center.rt, now + timedelta(minutes=10)).bot_timers == 1
    chat = center.chat(received.chat_id)
    assert chat.status == ChatStatus.CLOSED and chat.closed_by == "bot"
    closing = center.messages(chat.id)[-1]
    # The flow's `end` has no text and the customer is not identified (no campaign): the
    # default closing message, so the customer still hears the chat ended.
    assert (closing.author, closing.text, closing.status) == (
        Author.BOT,
        "Tu conversación ha finalizado. ¡Gracias por escribirnos!",
        MessageStatus.SENT,
    )
    assert_transcript(center, chat)
