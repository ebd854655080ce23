"""One inbound message, end to end, in one transaction (ARCHITECTURE.md, "One message").

Store the message (its Twilio SID is unique: a retried webhook changes nothing), find or open
the chat of (contact, our number), let the bot advance, and put its replies in the outbox.
Only after the commit are the send jobs enqueued: a reply is a row before it is a job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from centralita.bot import effects as fx
from centralita.bot.engine import Contact as BotContact
from centralita.bot.engine import Engine as BotEngine
from centralita.bot.engine import Inbound
from centralita.bot.state import ChatState
from centralita.channels import optout, routes
from centralita.channels import receive_sql as sql
from centralita.channels.inbound import InboundMessage
from centralita.core.aftercommit import Call, enqueue_and_publish
from centralita.core.alerts import raise_alert
from centralita.core.events import chat_event, held_events, hold_events, publish_after_commit
from centralita.core.flowstore import record_version
from centralita.core.lookup import DatabaseDirectory
from centralita.core.models import (
    Author,
    Campaign,
    Chat,
    ChatStatus,
    Customer,
    Message,
    MessageStatus,
    utcnow,
)
from centralita.core.runtime import Runtime
from centralita.lifecycle import deadlines as lifecycle
from centralita.lifecycle.close import ClosedBy, close_chat
from centralita.lifecycle.jobs import transcript_job
from centralita.routing.assign import assign_chat

log = logging.getLogger(__name__)

# Two first messages of a new contact at the same moment race to create the contact and the
# chat; the loser's transaction fails on the unique index and is simply run again.
ATTEMPTS = 3


@dataclass
class Received:
    outcome: str  # processed | duplicate | rejected
    chat_id: int | None = None
    message_id: int | None = None
    outbox: list[int] = field(default_factory=list)
    closed: bool = False  # the bot closed the chat: its transcript job goes after the commit


def receive_message(rt: Runtime, inbound: InboundMessage, now: datetime | None = None) -> Received:
    """Handle one inbound message; enqueue the replies once it is all committed."""
    now = now or utcnow()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with rt.sessions.begin() as session:
                hold_events(session)  # published with the jobs below, in one round trip
                result = _receive(session, rt, inbound, now)
            sql.remember_versions(session)  # committed
            break
        except _Duplicate:
            return Received("duplicate")  # rolled back: a chat it opened is undone too
        except IntegrityError:
            if _already_stored(rt, inbound.sid):
                return Received("duplicate")
            if attempt == ATTEMPTS:
                raise
            log.info("retrying message %s after a concurrent insert", inbound.sid)
    from centralita.channels.outbox import send_message_job

    calls: list[Call] = []
    if result.outbox:
        # The replies (and any released held messages) are all this chat's: the outbox sends
        # a chat's messages one after the other, each sent or failed one enqueueing the next
        # (outbox._send_next), so the first one's job carries them all, in order. A job per
        # row would only find an earlier one pending and leave it to that chain.
        calls.append((send_message_job, (min(result.outbox),)))
    if result.closed and result.chat_id is not None:
        calls.append((transcript_job, (result.chat_id,)))
    enqueue_and_publish(rt, calls, held_events(session))
    return result


class _Duplicate(Exception):
    """The MessageSid is already stored: nothing of this transaction may stay."""


def _already_stored(rt: Runtime, sid: str) -> bool:
    with rt.sessions() as session:
        return session.scalar(select(Message.id).where(Message.provider_sid == sid)) is not None


def _receive(session: Session, rt: Runtime, inbound: InboundMessage, now: datetime) -> Received:
    conn = session.connection()  # Core statements for the rows the ORM need not track
    route = routes.route(conn, inbound.to)
    if route is not None:
        flow_id, campaigns = route.flow_id, route.campaigns
    elif rt.settings.default_flow:
        flow_id, campaigns = rt.settings.default_flow, None
    else:
        log.warning(
            "message %s to %s rejected: not a number added with `numbers add`, and no DEFAULT_FLOW",
            inbound.sid,
            inbound.to,
        )
        return Received("rejected")

    found = sql.open_chat_and_store(conn, inbound, now)
    if found is not None:
        chat, profile_name, holds_paused, message_id = found
        contact_id = chat.contact_id
        sql.keep_name_fresh(conn, contact_id, profile_name, inbound)
    else:  # the contact's first message to this number, or the first since the last close
        contact_id, holds_paused = sql.contact_id(conn, inbound), False
        chat = sql.new_chat(conn, contact_id, inbound.to, now)
        message_id = sql.insert_inbound(conn, chat.id, inbound, now)
    if message_id is None:
        raise _Duplicate
    chat.last_customer_message_at = now
    lifecycle.track(session, chat, now)  # close deadline; unanswered since, if with the humans
    result = Received("processed", chat.id, message_id)
    # For the live inbox, after commit: as the chat is then (the router may assign it).
    publish_after_commit(session, chat_event("message", chat))
    _handle(session, rt, chat, contact_id, holds_paused, inbound, flow_id, campaigns, now, result)
    chat.save(session)
    return result


def _handle(
    session: Session,
    rt: Runtime,
    chat: sql.ChatRow,
    contact_id: int,
    holds_paused: bool,
    inbound: InboundMessage,
    flow_id: str,
    campaigns: list[str] | None,
    now: datetime,
    result: Received,
) -> None:
    conn = session.connection()
    # The customer wrote: the 24-hour window is open, so messages held because the number is
    # paused (held only while business-initiated) may go, first, before the new replies.
    held = (
        session.scalars(
            select(Message)
            .where(
                Message.chat_id == chat.id,
                Message.status == MessageStatus.PENDING,
                Message.hold_reason == "sender_paused",
            )
            .order_by(Message.id)
        ).all()
        if holds_paused
        else []
    )
    for waiting in held:
        waiting.hold_reason = None
        waiting.next_attempt_at = now
    result.outbox.extend(w.id for w in held)

    word = optout.keyword(inbound.body)
    if word is not None:
        kind, language = word
        if kind == "stop":
            optout.opt_out(session, contact_id, inbound.to, source=inbound.body.strip()[:64])
            result.outbox.append(_reply(conn, chat, optout.CONFIRM_STOP[language], now))
            return
        if optout.is_opted_out(session, contact_id, inbound.to):
            optout.opt_in(session, contact_id, inbound.to)
            result.outbox.append(_reply(conn, chat, optout.CONFIRM_START[language], now))
            return

    if chat.status == ChatStatus.BOT:
        _advance_bot(session, rt, chat, inbound, flow_id, campaigns, now, result)


def _reply(conn: Connection, chat: sql.ChatRow, text: str, now: datetime) -> int:
    """One reply of ours (not the flow's) in the outbox; its id."""
    return sql.insert_replies(conn, [sql.reply_row(chat.id, text, now)])[0]


def _advance_bot(
    session: Session,
    rt: Runtime,
    chat: sql.ChatRow,
    inbound: InboundMessage,
    flow_id: str,
    campaigns: list[str] | None,
    now: datetime,
    result: Received,
) -> None:
    # On the connection: its savepoint does not flush the chat's changes (one UPDATE at the end).
    bot = BotEngine(rt.flows, DatabaseDirectory(session.connection()))
    who = BotContact(inbound.from_, inbound.profile_name)
    said = Inbound(inbound.text, tuple(m.url for m in inbound.media))
    if chat.bot_state is None:
        flow = rt.flows.current(flow_id)
        if flow is None:
            log.error("flow %r is not loaded: chat %s goes to an agent", flow_id, chat.id)
            raise_alert(
                session,
                "flow_missing",
                f"flow_missing:{chat.id}",
                chat_id=chat.id,
                number=chat.number,
                details={"flow": flow_id},
            )
            _queue(chat, None, now)
            return
        sql.record_version_once(session, flow)
        chat.flow_id, chat.flow_hash = flow.id, flow.version
        turn = bot.start(flow_id, who, now, message=said, campaigns=campaigns)
    else:
        state = ChatState.from_json(chat.bot_state)
        turn = bot.receive(state, said, who, now, campaigns=campaigns)
    apply_turn(session, rt, chat, turn, now, result)


def apply_turn(
    session: Session,
    rt: Runtime,
    chat: Chat | sql.ChatRow,
    turn: fx.Turn,
    now: datetime,
    result: Received,
) -> None:
    """Carry out the engine's effects on the chat, and store its new state."""
    state: ChatState = turn.state
    for flow_id, version in {
        (state.flow, state.version),
        *((f.flow, f.version) for f in state.stack),
    } - {(chat.flow_id, chat.flow_hash)}:  # the chat's own version is stored (its foreign key)
        flow = rt.flows.version(flow_id, version)
        if flow is not None:
            record_version(session, flow)  # a subflow's version, so a restart can resume it
    # The bot's replies go in one INSERT (Core, not the unit of work) for a run of them; a
    # closing message (an ORM row from close_chat) is flushed with the chat's new state. Ids
    # follow the effects' order, which is the order the outbox sends a chat's messages in.
    conn = session.connection()
    replies: list[int | Message] = []
    rows: list[dict[str, Any]] = []  # replies not inserted yet
    for effect in turn.effects:
        if isinstance(effect, fx.Send):
            if replies and isinstance(replies[-1], Message) and replies[-1].id is None:
                session.flush()  # the closing message first: it came first
            rows.append(sql.reply_row(chat.id, effect.text, now, effect.media))
        elif isinstance(effect, fx.SelectCustomer):
            # The campaign (loaded: the lifecycle reads its times) and the customer, at once;
            # no autoflush: the chat's changes go in one UPDATE at the end.
            found = session.execute(
                _CAMPAIGN_AND_CUSTOMER, {"slug": effect.campaign, "document": effect.document}
            ).first()
            if found is not None:
                chat.campaign_id, chat.customer_id = found[0].id, found[1]
        elif isinstance(effect, fx.Handoff):
            _queue(chat, _campaign_id(session, effect.campaign) if effect.campaign else None, now)
            chat.priority = effect.priority
            chat.tags = list(effect.tags) or None
        elif isinstance(effect, fx.Close):
            replies.extend(sql.insert_replies(conn, rows))  # the replies before it, first
            rows.clear()
            closing = close_chat(
                session,
                chat,
                effect.reason,
                now,
                closed_by=ClosedBy.BOT,
                closing_text=effect.text,
                author=Author.BOT,
                flush=False,
            )
            replies.append(closing.message)
            result.closed = True
        elif isinstance(effect, fx.FlowError):
            log.error(
                "flow %s failed at %s in chat %s: %s",
                effect.flow,
                effect.step,
                chat.id,
                effect.message,
            )
            raise_alert(
                session,
                "flow_error",
                f"flow_error:{chat.id}:{now.isoformat()}",
                chat_id=chat.id,
                campaign_id=chat.campaign_id,
                number=chat.number,
                details={"flow": effect.flow, "step": effect.step, "error": effect.message},
            )
    replies.extend(sql.insert_replies(conn, rows))
    lifecycle.track(session, chat, now)  # the campaign may be known now, or a handoff done
    chat.bot_state = state.to_json()
    chat.wait_deadline = (
        datetime.fromtimestamp(state.deadline, UTC) if state.deadline is not None else None
    )
    session.flush()
    result.outbox.extend(reply if isinstance(reply, int) else reply.id for reply in replies)
    if chat.status == ChatStatus.WAITING_QUEUE:
        # At once when someone eligible is free: decided in this transaction, which holds the
        # chat's row; otherwise it waits in the queue for the next drain. The router reads
        # the row, so the handoff is written first.
        if isinstance(chat, sql.ChatRow):
            chat.save(session)
        assigned = assign_chat(session, chat.id, now)
        if assigned is not None and isinstance(chat, sql.ChatRow):
            chat.written(status=ChatStatus.ASSIGNED, agent_id=assigned.agent_id)


def _campaign_id(session: Session, slug: str) -> int | None:
    return session.scalar(_CAMPAIGN_ID, {"slug": slug})


# Built once (building a select and its cache key costs more than running it); no autoflush:
# the chat's changes go in one UPDATE at the end.
_CAMPAIGN_AND_CUSTOMER = (
    select(Campaign, Customer.id)
    .outerjoin(
        Customer,
        (Customer.campaign_id == Campaign.id) & (Customer.document == bindparam("document")),
    )
    .where(Campaign.slug == bindparam("slug"))
    .execution_options(autoflush=False)
)
_CAMPAIGN_ID = (
    select(Campaign.id).where(Campaign.slug == bindparam("slug")).execution_options(autoflush=False)
)


def _queue(chat: Chat | sql.ChatRow, campaign_id: int | None, now: datetime) -> None:
    """Hand the chat to the humans' queue; the router (routing/) takes it from there."""
    chat.status = ChatStatus.WAITING_QUEUE
    chat.queued_at = now
    chat.wait_deadline = None
    if campaign_id is not None and chat.campaign_id is None:
        chat.campaign_id = campaign_id
