"""Closing a chat: one function for every path (an agent, a supervisor or admin, the timer,
the bot's `end`), so every close ends the same way: closed with who and why, the closing
message in the outbox, the PDF transcript due, the deadlines cleared.

`close_chat` works inside the caller's transaction (which holds the chat row locked); after
the commit, `after_close` enqueues the jobs and drains the queue for the freed agent. Both
the message and the transcript are rows before they are jobs: if the jobs are lost, the
sweep finds the pending message and the due transcript again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from centralita.core.events import chat_event, publish_after_commit
from centralita.core.models import (
    Author,
    Campaign,
    Chat,
    ChatStatus,
    Direction,
    Message,
    MessageStatus,
)
from centralita.core.runtime import Runtime
from centralita.lifecycle.deadlines import resolve_unanswered_alerts
from centralita.routing.errors import WrongChatStatus

# What the customer reads when neither the bot nor the campaign says anything better.
DEFAULT_CLOSING_MESSAGE = "Tu conversación ha finalizado. ¡Gracias por escribirnos!"


class ClosedBy(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    TIMER = "timer"
    BOT = "bot"


@dataclass(frozen=True)
class Closed:
    """What to do once the close is committed."""

    chat_id: int
    message: Message  # the closing message, to send (its id is known once flushed)
    agent_id: int | None  # the agent who held the chat: has room now

    @property
    def message_id(self) -> int:
        return self.message.id


def close_chat(
    session: Session,
    chat: Chat,
    reason: str,
    now: datetime,
    *,
    closed_by: ClosedBy,
    by_user_id: int | None = None,
    closing_text: str | None = None,
    author: Author = Author.SYSTEM,
    flush: bool = True,
) -> Closed:
    """Close the (locked) chat and put its closing message in the outbox: `closing_text` (the
    bot's `end` text), else the campaign's closing message, else a default. Outside WhatsApp's
    24-hour window the outbox sends the campaign's approved closing template instead (the
    message carries it; with none, the number's fallback template). With `flush=False` the
    message's id is known once the caller flushes (batches of timer closes: one insert)."""
    if chat.status == ChatStatus.CLOSED:
        raise WrongChatStatus(f"chat {chat.id} is already closed")
    agent_id = chat.agent_id if chat.status == ChatStatus.ASSIGNED else None
    chat.status = ChatStatus.CLOSED
    chat.closed_at = now
    publish_after_commit(session, chat_event("chat", chat, previous_agent_id=chat.agent_id))
    chat.close_reason = reason
    chat.closed_by = closed_by.value
    chat.closed_by_user_id = by_user_id
    chat.wait_deadline = None
    chat.close_due_at = None
    chat.alert_due_at = None
    chat.reassign_due_at = None
    chat.unanswered_since = None
    chat.transcript_due_at = now
    if closed_by in (ClosedBy.AGENT, ClosedBy.SUPERVISOR, ClosedBy.ADMIN):
        # A person looked at the chat and closed it: it is no longer unanswered unnoticed.
        resolve_unanswered_alerts(session, chat.id, now)
    campaign = session.get(Campaign, chat.campaign_id) if chat.campaign_id is not None else None
    text = closing_text or (campaign.closing_message if campaign else None)
    template = campaign.closing_template_sid if campaign is not None else None
    message = Message(
        chat_id=chat.id,
        direction=Direction.OUT,
        author=author,
        text=text or DEFAULT_CLOSING_MESSAGE,
        status=MessageStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
        template_sid=template,
        # The closing template takes no variables: the text may not fit an approved one.
        template_variables={} if template else None,
    )
    session.add(message)
    if flush:
        session.flush()
    return Closed(chat.id, message, agent_id)


def after_close(
    rt: Runtime, closed: list[Closed], now: datetime, *, by_sweep: bool = False
) -> None:
    """After the commit: send the closing messages, make the transcripts and give the freed
    agents a waiting chat. Best effort: what fails here the sweep does later. `by_sweep`: the
    sweep's own later steps enqueue the transcripts (leased, so once) and drain the queue
    (once for everyone, instead of once per freed agent)."""
    from centralita.channels.outbox import send_message_job
    from centralita.lifecycle.jobs import enqueue_transcript
    from centralita.routing.queue import drain_queue

    for done in closed:
        rt.jobs.enqueue(send_message_job, done.message_id)
        if not by_sweep:
            enqueue_transcript(rt, done.chat_id)
    if by_sweep:
        return
    for agent_id in sorted({d.agent_id for d in closed if d.agent_id is not None}):
        drain_queue(rt.sessions, now, agent_id=agent_id)
