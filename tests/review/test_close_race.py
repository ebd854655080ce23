"""An agent's close and the timer's close of the same chat at the same moment: one close,
one closing message, whoever wins."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from centralita.core.models import Author, Chat, ChatStatus, Direction, Message, utcnow
from centralita.core.runtime import Runtime
from centralita.lifecycle import close as close_module
from centralita.lifecycle.autoclose import close_due_chats
from centralita.web import inbox
from tests.inbox.conftest import World, csrf_token


def test_the_agent_and_the_timer_closing_together_close_once(
    agent_client: FlaskClient, web_rt: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat_id = world.chats["a_assigned"]
    with web_rt.sessions.begin() as db:
        chat = db.get(Chat, chat_id)
        assert chat is not None
        chat.close_due_at = utcnow() - timedelta(seconds=1)
    agent_holds_lock = threading.Event()

    def slow_close(*args: Any, **kwargs: Any) -> Any:
        agent_holds_lock.set()
        time.sleep(0.5)  # the timer runs now, while the agent's transaction holds the chat
        return close_module.close_chat(*args, **kwargs)

    monkeypatch.setattr(inbox, "close_chat", slow_close)
    token = csrf_token(agent_client, f"/inbox/chats/{chat_id}")
    answers: list[int] = []
    agent = threading.Thread(
        target=lambda: answers.append(
            agent_client.post(
                f"/inbox/chats/{chat_id}/close", data={"reason": "resuelto", "csrf_token": token}
            ).status_code
        )
    )
    agent.start()
    assert agent_holds_lock.wait(5)
    timer_closed = close_due_chats(web_rt, utcnow())
    agent.join(10)
    assert answers == [302]
    with web_rt.sessions() as db:
        chat = db.get(Chat, chat_id)
        assert chat is not None and chat.status == ChatStatus.CLOSED
        closing = db.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.chat_id == chat_id,
                Message.direction == Direction.OUT,
                Message.author == Author.SYSTEM,
            )
        )
    assert closing == 1
    assert timer_closed == 0 and chat.close_reason == "resuelto"
