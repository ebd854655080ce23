"""The automatic close: at opening + the campaign's close time, never earlier, with the
closing message and the PDF, whoever held the chat."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from centralita.core.models import Author, Chat, ChatStatus, Direction, MessageStatus
from centralita.core.sweep import sweep

from .conftest import CLOSING, CLOSING_TEMPLATE, Center


def open_chats_of(center: Center, agent: str) -> int:
    with center.sessions() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Chat)
                .where(Chat.agent_id == center.agents[agent], Chat.status == ChatStatus.ASSIGNED)
            )
            or 0
        )


def test_silent_for_23h59m_stays_open_and_closes_at_24h_with_message_and_pdf(
    center: Center, t0: datetime
) -> None:
    chat_id = center.handed_off(t0)
    assert center.chat(chat_id).status == ChatStatus.ASSIGNED
    assert open_chats_of(center, "ana") == 1

    report = sweep(center.rt, t0 + timedelta(hours=23, minutes=59))
    assert report.chats_closed == 0
    assert center.chat(chat_id).status == ChatStatus.ASSIGNED

    sent_before = len(center.transport.sent)
    report = sweep(center.rt, t0 + timedelta(hours=24))
    assert report.chats_closed == 1
    chat = center.chat(chat_id)
    assert chat.status == ChatStatus.CLOSED
    assert chat.closed_by == "timer" and chat.closed_by_user_id is None
    assert chat.close_reason == "cierre automático: 24 h desde la apertura"
    assert chat.closed_at == t0 + timedelta(hours=24)
    # The closing message went, as the approved template: the customer wrote over 24 h ago.
    closing = center.messages(chat_id)[-1]
    assert (closing.direction, closing.author, closing.text) == (
        Direction.OUT,
        Author.SYSTEM,
        CLOSING,
    )
    assert closing.status == MessageStatus.SENT
    assert [m.content_sid for m in center.transport.sent[sent_before:]] == [CLOSING_TEMPLATE]
    # The PDF exists and the chat points at it.
    assert chat.transcript_path is not None and chat.transcript_due_at is None
    pdf = Path(center.rt.settings.storage_dir) / chat.transcript_path
    assert pdf.read_bytes().startswith(b"%PDF")
    # Ana's load is free again.
    assert open_chats_of(center, "ana") == 0
    # Nothing happens twice.
    again = sweep(center.rt, t0 + timedelta(hours=25))
    assert (again.chats_closed, again.transcripts_enqueued) == (0, 0)
    assert len(center.messages(chat_id)) == len(center.messages(chat_id))


def test_the_customer_writing_neither_advances_nor_delays_the_close(
    center: Center, t0: datetime
) -> None:
    chat_id = center.handed_off(t0)
    center.write("¿hola?", t0 + timedelta(hours=23, minutes=50))
    assert center.chat(chat_id).close_due_at == t0 + timedelta(hours=24)
    sweep(center.rt, t0 + timedelta(hours=23, minutes=59, seconds=59))
    assert center.chat(chat_id).status == ChatStatus.ASSIGNED
    sweep(center.rt, t0 + timedelta(hours=24))
    assert center.chat(chat_id).status == ChatStatus.CLOSED


def test_a_bot_chat_nobody_finished_closes_too_with_the_default_time(
    center: Center, t0: datetime
) -> None:
    received = center.write("hola", t0)  # then silent: the question has no timeout
    assert received.chat_id is not None
    chat = center.chat(received.chat_id)
    assert chat.status == ChatStatus.BOT and chat.campaign_id is None
    assert chat.close_due_at == t0 + timedelta(hours=24)
    sweep(center.rt, t0 + timedelta(hours=24))
    chat = center.chat(received.chat_id)
    assert chat.status == ChatStatus.CLOSED and chat.closed_by == "timer"


def test_the_campaign_close_time_applies_once_the_bot_knows_the_campaign(
    center: Center, t0: datetime
) -> None:
    center.set_campaign(close_after_seconds=2 * 3600)
    first = center.write("hola", t0)
    assert first.chat_id is not None
    assert center.chat(first.chat_id).close_due_at == t0 + timedelta(hours=24)
    center.online("ana", at=t0 + timedelta(minutes=5))
    center.write("1012345678", t0 + timedelta(minutes=5))  # found: the campaign is known
    chat = center.chat(first.chat_id)
    assert chat.campaign_id == center.campaign_id
    assert chat.close_due_at == t0 + timedelta(hours=2)  # from the opening, not the handoff
    sweep(center.rt, t0 + timedelta(hours=2))
    chat = center.chat(first.chat_id)
    assert chat.status == ChatStatus.CLOSED
    assert chat.close_reason == "cierre automático: 2 h desde la apertura"
