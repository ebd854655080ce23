"""The inbound path's own statements (receive_sql.py): the message's INSERT, written as text,
must still set every column the model gives a default; the chat as a plain row must write
what changed and keep the lifecycle's deadlines right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels import receive_sql as sql
from centralita.channels.inbound import parse_inbound
from centralita.channels.receive_sql import _INBOUND_COLUMNS
from centralita.core.models import (
    Campaign,
    Channel,
    Chat,
    ChatStatus,
    Contact,
    Message,
    MessageStatus,
)
from centralita.lifecycle import deadlines as lifecycle
from centralita.lifecycle.close import ClosedBy, close_chat

from .conftest import CUSTOMER, NUMBER, inbound_params


def test_the_inbound_insert_sets_every_column_the_model_defaults() -> None:
    table = cast(Table, Message.__table__)
    defaulted = {c.name for c in table.columns if c.default is not None or c.server_default}
    assert defaulted <= {*_INBOUND_COLUMNS, "attempts"}, (
        "add the new column to _INBOUND_COLUMNS in centralita/channels/receive_sql.py"
    )


def test_the_chat_row_writes_what_changed_and_the_deadline_follows_its_campaign(
    sessions: sessionmaker[Session],
) -> None:
    """The inbound path's chat is a plain row (no ORM events): setting its campaign must still
    move the close deadline, and `save` must write exactly what changed."""
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    with sessions.begin() as session:
        campaign = Campaign(slug="castigada", name="Castigada", close_after_seconds=7200)
        contact = Contact(address=CUSTOMER, phone=CUSTOMER[9:], channel=Channel.WHATSAPP)
        session.add_all([campaign, contact])
        session.flush()
        campaign_id, contact_id = campaign.id, contact.id
    with sessions.begin() as session:
        row = sql.new_chat(session.connection(), contact_id, NUMBER, t0)
        lifecycle.track(session, row, t0)
        assert row.close_due_at == t0 + timedelta(hours=24)  # no campaign yet: the default
        row.save(session)
    with sessions.begin() as session:
        found = sql.open_chat(session.connection(), CUSTOMER, NUMBER)
        assert found is not None
        row, name, holds_paused = found
        assert (row.status, name, holds_paused) == (ChatStatus.BOT, None, False)
        row.campaign_id = campaign_id
        row.bot_state = {"step": "menu"}
        lifecycle.track(session, row, t0 + timedelta(minutes=1))
        assert set(row.changes()) == {"campaign_id", "bot_state", "close_due_at"}
        row.save(session)
    with sessions() as session:
        chat = session.get(Chat, row.id)
        assert chat is not None
        assert (chat.campaign_id, chat.bot_state) == (campaign_id, {"step": "menu"})
        assert chat.close_due_at == t0 + timedelta(hours=2)  # from the opening
        assert chat.opened_at == t0 and chat.priority == 0


def test_a_chat_row_writes_a_close_and_takes_what_the_router_wrote(
    sessions: sessionmaker[Session],
) -> None:
    """`close_chat` sets columns the row never reads; `save` writes them with the rest, and
    a second `save` writes nothing more. What another statement wrote (`written`) is not
    written again."""
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    with sessions.begin() as session:
        contact = Contact(address=CUSTOMER, phone=CUSTOMER[9:], channel=Channel.WHATSAPP)
        session.add(contact)
        session.flush()
        row = sql.new_chat(session.connection(), contact.id, NUMBER, t0)
        row.status = ChatStatus.WAITING_QUEUE
        row.save(session)
        assert row.changes() == {}
        row.written(status=ChatStatus.ASSIGNED, agent_id=None)
        assert row.changes() == {} and row.status == ChatStatus.ASSIGNED
        closed = close_chat(session, row, "resuelto", t0, closed_by=ClosedBy.BOT, flush=False)
        assert set(row.changes()) >= {"status", "closed_at", "close_reason", "closed_by"}
        session.flush()  # the closing message
        row.save(session)
        assert row.changes() == {}
        chat_id, message_id = row.id, closed.message_id
    with sessions() as session:
        chat = session.get(Chat, chat_id)
        assert chat is not None
        assert (chat.status, chat.close_reason, chat.closed_by) == (
            ChatStatus.CLOSED,
            "resuelto",
            "bot",
        )
        assert chat.closed_at == t0 and chat.transcript_due_at is not None
        assert chat.close_due_at is None and chat.closed_by_user_id is None
        closing = session.get(Message, message_id)
        assert closing is not None and closing.chat_id == chat_id


def test_the_open_chat_is_locked_and_the_message_stored_in_one_go(
    sessions: sessionmaker[Session],
) -> None:
    """One statement on PostgreSQL, two on SQLite: the same outcome. No open chat: nothing
    stored; a repeated MessageSid: the chat, and no new message."""
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    inbound = parse_inbound(
        inbound_params(
            "¿hola? 🙂",
            NumMedia="1",
            MediaUrl0="https://example.com/a.jpg",
            MediaContentType0="image/jpeg",
        )
    )
    with sessions.begin() as session:
        assert sql.open_chat_and_store(session.connection(), inbound, t0) is None
        contact = Contact(address=CUSTOMER, phone=CUSTOMER[9:], channel=Channel.WHATSAPP)
        session.add(contact)
        session.flush()
        opened = sql.new_chat(session.connection(), contact.id, NUMBER, t0)
    assert _count(sessions) == 0
    with sessions.begin() as session:
        found = sql.open_chat_and_store(session.connection(), inbound, t0)
        assert found is not None
        row, name, holds_paused, message_id = found
        assert (row.id, row.status, name, holds_paused) == (opened.id, ChatStatus.BOT, None, False)
        assert message_id is not None and row.changes() == {}
    with sessions.begin() as session:
        again = sql.open_chat_and_store(session.connection(), inbound, t0)
        assert again is not None and again[0].id == opened.id and again[3] is None
    with sessions() as session:
        stored = session.get(Message, message_id)
        assert stored is not None
        assert (stored.chat_id, stored.text, stored.provider_sid) == (
            opened.id,
            "¿hola? 🙂",
            inbound.sid,
        )
        assert stored.media == [{"url": "https://example.com/a.jpg", "content_type": "image/jpeg"}]
        assert stored.raw == inbound.raw and stored.created_at == t0
        assert stored.status == MessageStatus.RECEIVED and stored.attempts == 0
    assert _count(sessions) == 1


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return len(session.scalars(select(Message.id)).all())
