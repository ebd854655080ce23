"""The sweep's set-based steps: a batch of timer closes ends each chat exactly as the one-chat
close does, and sender health is measured at most once a minute."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from centralita.channels import senders
from centralita.core.events import Event, broker_for
from centralita.core.models import Author, ChatStatus, Direction, MessageStatus
from centralita.core.sweep import sweep
from centralita.lifecycle.close import DEFAULT_CLOSING_MESSAGE

from .conftest import CLOSING, CLOSING_TEMPLATE, DOCUMENT, Center
from .test_close_timer import open_chats_of

OTHER = "whatsapp:+573009990001"
THIRD = "whatsapp:+573009990002"


def test_one_sweep_closes_chats_in_every_situation_each_with_its_own_message(
    center: Center, t0: datetime
) -> None:
    assigned = center.handed_off(t0)  # Ana holds it
    bot = center.write("hola", t0, from_=OTHER).chat_id  # still with the bot, no campaign
    center.online(at=t0)  # nobody online: the next handoff waits in the queue
    center.write("hola", t0, from_=THIRD)
    waiting = center.write(DOCUMENT, t0, from_=THIRD).chat_id
    assert bot is not None and waiting is not None
    assert center.chat(waiting).status == ChatStatus.WAITING_QUEUE
    assert open_chats_of(center, "ana") == 1

    report = sweep(center.rt, t0 + timedelta(hours=24))

    assert report.chats_closed == 3
    for chat_id in (assigned, bot, waiting):
        chat = center.chat(chat_id)
        assert (chat.status, chat.closed_by, chat.closed_by_user_id) == (
            ChatStatus.CLOSED,
            "timer",
            None,
        )
        assert chat.close_reason == "cierre automático: 24 h desde la apertura"
        assert chat.closed_at == t0 + timedelta(hours=24)
        assert (chat.close_due_at, chat.alert_due_at, chat.unanswered_since) == (None, None, None)
        closing = [m for m in center.messages(chat_id) if m.author == Author.SYSTEM]
        assert len(closing) == 1 and closing[0].direction == Direction.OUT
        assert closing[0].created_at == t0 + timedelta(hours=24)
    # The campaign's closing message and template; without a campaign, the default text.
    (with_campaign,) = [m for m in center.messages(waiting) if m.author == Author.SYSTEM]
    assert (with_campaign.text, with_campaign.template_sid) == (CLOSING, CLOSING_TEMPLATE)
    assert with_campaign.template_variables == {}
    (default,) = [m for m in center.messages(bot) if m.author == Author.SYSTEM]
    assert (default.text, default.template_sid, default.template_variables) == (
        DEFAULT_CLOSING_MESSAGE,
        None,
        None,
    )
    assert default.status in (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.PENDING)
    assert open_chats_of(center, "ana") == 0  # her load is free again
    assert sweep(center.rt, t0 + timedelta(hours=25)).chats_closed == 0


def test_sender_health_is_measured_at_most_once_a_minute(
    center: Center, t0: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured: list[datetime] = []
    measure = senders.compute_health

    def counting(session: Any, now: datetime, limits: Any) -> Any:
        measured.append(now)
        return measure(session, now, limits)

    monkeypatch.setattr(senders, "compute_health", counting)
    at = t0 + timedelta(hours=1)
    sweep(center.rt, at)
    sweep(center.rt, at + timedelta(seconds=30))  # the next 30-second sweep: not again
    sweep(center.rt, at + timedelta(seconds=59))
    assert measured == [at]
    sweep(center.rt, at + timedelta(seconds=60))
    sweep(center.rt, at + timedelta(seconds=10))  # a clock set back measures again
    assert measured == [at, at + timedelta(seconds=60), at + timedelta(seconds=10)]


def test_the_batched_alert_and_close_are_announced_to_the_agent_after_commit(
    center: Center, t0: datetime
) -> None:
    chat_id = center.handed_off(t0)
    ana = center.agents["ana"]
    broker = broker_for(center.rt.engine)
    assert broker is not None
    listener = broker.subscribe()
    heard: list[Event] = []
    try:
        assert sweep(center.rt, t0 + timedelta(minutes=30)).alerts_raised == 1
        assert sweep(center.rt, t0 + timedelta(hours=24)).chats_closed == 1
        while (event := listener.get(timeout=0.5)) is not None:
            heard.append(event)
    finally:
        listener.close()
    mine = [(e.kind, e.data) for e in heard if e.chat_id == chat_id and ana in e.agent_ids]
    assert ("alert", {"alert": "unanswered"}) in mine
    assert ("chat", {}) in mine
    assert all(e.campaign_id == center.campaign_id for e in heard if e.chat_id == chat_id)
