"""Closing a chat: one function for every path (an agent, a supervisor or admin, the timer,
the bot's `end`), so every close ends the same way: closed with who and why, the closing
message in the outbox, the PDF transcript due, the deadlines cleared.

`close_chat` works inside the caller's transaction (which holds the chat row locked); after
the commit, `after_close` enqueues the jobs and drains the queue for the freed agent. Both
the message and the transcript are rows before they are jobs: if the jobs are lost, the
sweep finds the pending message and the due transcript again. Every path enqueues the
transcript job right after its commit, so the close leases the transcript at once (due in
`LEASE`): the sweeps leave that job alone while it waits in the queue, and enqueue it again
only if it has not run by then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, cast

from sqlalchemy import BigInteger, ColumnElement, Table, Text, any_, bindparam, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from centralita.core.db import id_array
from centralita.core.events import (
    Event,
    chat_event,
    publish_after_commit,
    publish_all_after_commit,
)
from centralita.core.models import (
    Author,
    Campaign,
    Chat,
    ChatStatus,
    Direction,
    Message,
    MessageStatus,
)
from centralita.core.open_chats import release_closed
from centralita.core.runtime import Runtime
from centralita.lifecycle.bulk import insert_rows
from centralita.lifecycle.deadlines import resolve_unanswered_alerts
from centralita.lifecycle.jobs import LEASE, enqueue_transcript, enqueue_transcripts
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


@dataclass(frozen=True)
class ClosedRow:
    """A chat closed by `close_many`: what `after_close` needs, without ORM objects."""

    chat_id: int
    message_id: int
    agent_id: int | None


@dataclass(frozen=True)
class ToClose:
    """A chat for `close_many`, as read with its row lock."""

    chat_id: int
    campaign_id: int | None
    agent_id: int | None
    status: ChatStatus
    reason: str


def closed_columns(
    now: datetime, reason: str, closed_by: ClosedBy, by_user_id: int | None
) -> dict[str, Any]:
    """What every close writes on the chat: closed with who and why, every deadline cleared,
    the transcript due (leased to the job enqueued after the commit)."""
    return {
        "status": ChatStatus.CLOSED,
        "closed_at": now,
        "close_reason": reason,
        "closed_by": closed_by.value,
        "closed_by_user_id": by_user_id,
        "wait_deadline": None,
        "close_due_at": None,
        "alert_due_at": None,
        "reassign_due_at": None,
        "unanswered_since": None,
        "transcript_due_at": now + LEASE,
    }


def closing_message(
    campaign: Campaign | None,
    closing_text: str | None,
    chat_id: int,
    now: datetime,
    author: Author,
) -> dict[str, Any]:
    """The closing message's columns: `closing_text`, else the campaign's closing message,
    else the default; the campaign's approved closing template goes with it, used by the
    outbox outside WhatsApp's 24-hour window."""
    text = closing_text or (campaign.closing_message if campaign else None)
    template = campaign.closing_template_sid if campaign is not None else None
    return {
        "chat_id": chat_id,
        "direction": Direction.OUT,
        "author": author,
        "text": text or DEFAULT_CLOSING_MESSAGE,
        "status": MessageStatus.PENDING,
        "next_attempt_at": now,
        "created_at": now,
        "template_sid": template,
        # The closing template takes no variables: the text may not fit an approved one.
        "template_variables": {} if template else None,
    }


class ClosingChat(Protocol):
    """What `close_chat` reads of the chat: the ORM entity, or the inbound webhook's plain
    row (channels/receive_sql.py), which writes every column `close_chat` sets on it."""

    id: int
    status: ChatStatus
    campaign_id: int | None
    agent_id: int | None


def close_chat(
    session: Session,
    chat: ClosingChat,
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
    for column, value in closed_columns(now, reason, closed_by, by_user_id).items():
        setattr(chat, column, value)
    publish_after_commit(session, chat_event("chat", chat, previous_agent_id=chat.agent_id))
    if closed_by in (ClosedBy.AGENT, ClosedBy.SUPERVISOR, ClosedBy.ADMIN):
        # A person looked at the chat and closed it: it is no longer unanswered unnoticed.
        resolve_unanswered_alerts(session, chat.id, now)
    campaign = session.get(Campaign, chat.campaign_id) if chat.campaign_id is not None else None
    message = Message(**closing_message(campaign, closing_text, chat.id, now, author))
    session.add(message)
    if flush:
        session.flush()
    return Closed(chat.id, message, agent_id)


def close_many(
    session: Session,
    chats: Sequence[ToClose],
    campaigns: dict[int, Campaign],
    now: datetime,
    *,
    closed_by: ClosedBy,
) -> list[ClosedRow]:
    """`close_chat` for many (locked, open) chats at once, closed by nobody in particular (the
    timer): one UPDATE per distinct reason and one INSERT of every closing message, instead
    of an ORM object each. The chats' rows end exactly as `close_chat` leaves them (same
    `closed_columns`, same `closing_message`), and each chat's live event is published after
    the commit. `campaigns`: the chats' campaigns by id."""
    if not chats:
        return []
    by_reason: dict[str, list[int]] = {}
    for chat in chats:
        by_reason.setdefault(chat.reason, []).append(chat.chat_id)
    # The agents' open-chat counters drop by one grouped UPDATE for all these closes (on
    # PostgreSQL; SQLite's row triggers count them), the agents locked in id order.
    release_closed(
        session,
        [c.chat_id for c in chats],
        [
            update(Chat)
            .where(_id_in(session, Chat.id, ids))
            .values(closed_columns(now, reason, closed_by, None))
            .execution_options(synchronize_session=False)
            for reason, ids in by_reason.items()
        ],
    )
    table = cast(Table, Message.__table__)
    rows = [
        closing_message(
            campaigns.get(c.campaign_id) if c.campaign_id is not None else None,
            None,
            c.chat_id,
            now,
            Author.SYSTEM,
        )
        for c in chats
    ]
    message_ids = {
        chat_id: message_id
        for message_id, chat_id in insert_rows(session, table, rows, ("id", "chat_id"))
    }
    # As close_chat's event: the chat's agent (kept on a closed chat) hears of it.
    publish_all_after_commit(
        session,
        [
            Event(
                "chat",
                chat_id=c.chat_id,
                campaign_id=c.campaign_id,
                agent_ids=(c.agent_id,) if c.agent_id is not None else (),
            )
            for c in chats
        ],
    )
    return [
        ClosedRow(
            c.chat_id,
            message_ids[c.chat_id],
            c.agent_id if c.status == ChatStatus.ASSIGNED else None,  # freed
        )
        for c in chats
    ]


def _id_in(session: Session, column: Any, ids: list[int]) -> ColumnElement[bool]:
    # PostgreSQL: one array parameter, so the statement stays short and its parse cached.
    if session.get_bind().dialect.name == "postgresql":
        array = sql_cast(bindparam("ids", id_array(ids), type_=Text), ARRAY(BigInteger))
        return cast(ColumnElement[bool], column == any_(array))
    return cast(ColumnElement[bool], column.in_(ids))


def after_close(
    rt: Runtime, closed: Sequence[Closed | ClosedRow], now: datetime, *, by_sweep: bool = False
) -> None:
    """After the commit: send the closing messages, make the transcripts and give the freed
    agents a waiting chat. Best effort: what fails here the sweep does later. `by_sweep`:
    hundreds of closes at once, so the jobs go in batches (`send_messages_job`,
    `transcripts_job`), and the sweep's own later step drains the queue (once for everyone,
    instead of once per freed agent)."""
    from centralita.channels.outbox import enqueue_sends, send_message_job
    from centralita.routing.queue import drain_queue

    if by_sweep:
        enqueue_sends(rt, [done.message_id for done in closed])
        enqueue_transcripts(rt, [done.chat_id for done in closed])
        return
    for done in closed:
        rt.jobs.enqueue(send_message_job, done.message_id)
        enqueue_transcript(rt, done.chat_id)
    for agent_id in sorted({d.agent_id for d in closed if d.agent_id is not None}):
        drain_queue(rt.sessions, now, agent_id=agent_id)
