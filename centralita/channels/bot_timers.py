"""The bot's silence timers: reminders and timeouts of questions nobody answered.

Deadlines live in `chats.wait_deadline` (indexed) and are swept, not scheduled one job per
chat; each due chat is ticked in its own short transaction, skipping chats another worker
holds (FOR UPDATE SKIP LOCKED on PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from centralita.bot.engine import Contact as BotContact
from centralita.bot.engine import Engine as BotEngine
from centralita.bot.state import ChatState
from centralita.channels.receive import Received, apply_turn
from centralita.core.lookup import DatabaseDirectory
from centralita.core.models import Chat, ChatStatus, SenderNumber
from centralita.core.runtime import Runtime
from centralita.lifecycle.jobs import enqueue_transcript


def tick_due_chats(rt: Runtime, now: datetime, limit: int = 500) -> int:
    """Tick every bot chat whose silence deadline has passed; returns how many moved."""
    with rt.sessions() as session:
        due = session.scalars(
            select(Chat.id)
            .where(Chat.status == ChatStatus.BOT, Chat.wait_deadline <= now)
            .order_by(Chat.wait_deadline)
            .limit(limit)
        ).all()
    return sum(1 for chat_id in due if tick_chat(rt, chat_id, now))


def tick_chat(rt: Runtime, chat_id: int, now: datetime) -> bool:
    from centralita.channels.outbox import send_message_job

    result = Received("ticked", chat_id)
    with rt.sessions.begin() as session:
        chat = session.get(
            Chat,
            chat_id,
            with_for_update={"skip_locked": True},
            options=[selectinload(Chat.contact)],
        )
        due = chat is not None and chat.status == ChatStatus.BOT and chat.bot_state is not None
        if not due or chat is None or chat.wait_deadline is None or chat.wait_deadline > now:
            return False  # answered, closed, or another worker got there first
        number = session.scalar(
            select(SenderNumber)
            .options(selectinload(SenderNumber.campaigns))
            .where(SenderNumber.address == chat.number)
        )
        campaigns = [c.slug for c in number.campaigns] or None if number else None
        assert chat.bot_state is not None
        bot = BotEngine(rt.flows, DatabaseDirectory(session))
        who = BotContact(chat.contact.address, chat.contact.profile_name or "")
        turn = bot.tick(ChatState.from_json(chat.bot_state), who, now, campaigns=campaigns)
        apply_turn(session, rt, chat, turn, now, result)
    for message_id in result.outbox:
        rt.jobs.enqueue(send_message_job, message_id)
    if result.closed:  # the bot's timeout ended the chat
        enqueue_transcript(rt, chat_id)
    return True
