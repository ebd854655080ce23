"""Each web process remembers a number's flow and campaigns for a few seconds
(channels/routes.py): a number added is served at once, a number changed within seconds."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels import routes
from centralita.core.models import Alert, Chat, ChatStatus, Message, SenderNumber

from .conftest import Poster, inbound_params

MESSAGES = "/webhooks/twilio/messages"
OTHER = "whatsapp:+5716009999"


def test_a_number_added_while_serving_answers_its_very_next_message(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    assert post(MESSAGES, inbound_params("hola", To=OTHER)).status_code == 200
    with seeded() as session:
        assert session.scalars(select(Message)).all() == []  # rejected: nobody added it
    with seeded.begin() as session:
        session.add(SenderNumber(address=OTHER, flow_id="saludo"))  # what `numbers add` does

    assert post(MESSAGES, inbound_params("hola", To=OTHER)).status_code == 200
    with seeded() as session:
        texts = session.scalars(select(Message.text).order_by(Message.id)).all()
    assert texts == ["hola", "¡Hola Ana! 👋", "Escribe tu documento"]


def test_a_changed_number_is_followed_once_its_route_is_a_few_seconds_old(
    post: Poster, seeded: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    post(MESSAGES, inbound_params("hola", From="whatsapp:+573001110001"))
    with seeded.begin() as session:  # the number now greets with a flow that is not loaded
        session.execute(update(SenderNumber).values(flow_id="despedida"))

    post(MESSAGES, inbound_params("hola", From="whatsapp:+573001110002"))
    later = time.monotonic() + routes.TTL + 1
    monkeypatch.setattr(routes, "time", SimpleNamespace(monotonic=lambda: later))
    post(MESSAGES, inbound_params("hola", From="whatsapp:+573001110003"))

    with seeded() as session:
        chats = session.scalars(select(Chat).order_by(Chat.id)).all()
        alerts = session.scalars(select(Alert.kind)).all()
    # Within TTL seconds the process still used the route it had read: the bot answered...
    assert [c.flow_id for c in chats[:2]] == ["saludo", "saludo"]
    # ...then it read the number again: a flow that is not loaded hands the chat to a person.
    assert chats[2].status == ChatStatus.WAITING_QUEUE and chats[2].flow_id is None
    assert alerts == ["flow_missing"]
