"""The automatic reassignment tells the agent's page when it takes a chat away from them."""

from __future__ import annotations

from datetime import timedelta

from centralita.core.events import broker_for
from centralita.core.models import Campaign, Chat, ChatStatus, Presence, User, utcnow
from centralita.core.runtime import Runtime
from centralita.lifecycle.reassign import reassign_due_chats
from tests.inbox.conftest import World


def test_a_chat_sent_back_to_the_queue_is_announced_to_the_agent_who_lost_it(
    web_rt: Runtime, world: World
) -> None:
    now = utcnow()
    with web_rt.sessions.begin() as db:
        campaign = db.get(Campaign, world.campaigns["a"])
        assert campaign is not None
        campaign.reassign_after_seconds = 600
        other = db.get(User, world.users["agent_a2"])
        assert other is not None
        other.presence = Presence.OFFLINE  # nobody else can take it: back to the queue
        chat = db.get(Chat, world.chats["a_assigned"])
        assert chat is not None
        chat.unanswered_since = now - timedelta(minutes=11)
        chat.reassign_due_at = now - timedelta(minutes=1)
    broker = broker_for(web_rt.engine)
    assert broker is not None
    listener = broker.subscribe()
    try:
        assert reassign_due_chats(web_rt, now) == 1
        with web_rt.sessions() as db:
            moved = db.get(Chat, world.chats["a_assigned"])
            assert moved is not None and moved.status == ChatStatus.WAITING_QUEUE
        heard = []
        while (event := listener.get(timeout=0.5)) is not None:
            heard.append(event)
    finally:
        listener.close()
    assert any(
        e.kind == "chat"
        and e.chat_id == world.chats["a_assigned"]
        and world.users["agent_a"] in e.agent_ids
        and e.campaign_id == world.campaigns["a"]
        for e in heard
    ), heard
