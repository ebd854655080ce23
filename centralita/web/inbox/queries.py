"""What the inbox shows: an agent's open chats (unread counts, alerts, newest activity first),
one chat with its whole conversation and the customer's card; and the read marker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, selectinload

from centralita.core.models import (
    Alert,
    Chat,
    ChatRead,
    ChatStatus,
    Customer,
    Direction,
    Message,
    Role,
)
from centralita.web.login import CurrentUser


@dataclass(frozen=True)
class ChatSummary:
    id: int
    title: str  # the customer's name, else the contact's profile name, else the number
    address: str
    campaign: str | None
    unread: int
    alerts: int
    last_activity: datetime | None
    last_text: str


def my_open_chats(db: Session, me: CurrentUser) -> list[ChatSummary]:
    read_up_to = (
        select(ChatRead.last_read_message_id)
        .where(ChatRead.chat_id == Chat.id, ChatRead.user_id == me.id)
        .correlate(Chat)
        .scalar_subquery()
    )
    unread = (
        select(func.count(Message.id))
        .where(
            Message.chat_id == Chat.id,
            Message.direction == Direction.IN,
            Message.id > func.coalesce(read_up_to, 0),
        )
        .correlate(Chat)
        .scalar_subquery()
    )
    alerts = (
        select(func.count(Alert.id))
        .where(Alert.chat_id == Chat.id, Alert.resolved_at.is_(None))
        .correlate(Chat)
        .scalar_subquery()
    )
    last_at = (
        select(func.max(Message.created_at))
        .where(Message.chat_id == Chat.id)
        .correlate(Chat)
        .scalar_subquery()
    )
    last_text = (
        select(Message.text)
        .where(Message.chat_id == Chat.id)
        .order_by(Message.id.desc())
        .limit(1)
        .correlate(Chat)
        .scalar_subquery()
    )
    rows = db.execute(
        select(Chat, unread, alerts, last_at, last_text)
        .where(Chat.agent_id == me.id, Chat.status == ChatStatus.ASSIGNED)
        .options(
            selectinload(Chat.contact), selectinload(Chat.customer), selectinload(Chat.campaign)
        )
    ).all()
    found = [
        ChatSummary(
            id=chat.id,
            title=_title(chat),
            address=chat.contact.address,
            campaign=chat.campaign.name if chat.campaign is not None else None,
            unread=int(unread_count or 0),
            alerts=int(alert_count or 0),
            last_activity=last_at or chat.assigned_at or chat.opened_at,
            last_text=(text or "")[:80],
        )
        for chat, unread_count, alert_count, last_at, text in rows
    ]
    found.sort(key=lambda c: (c.last_activity is not None, c.last_activity), reverse=True)
    return found


def _title(chat: Chat) -> str:
    if chat.customer is not None:
        return chat.customer.name
    return chat.contact.profile_name or chat.contact.address.split(":", 1)[-1]


def visible_chat(db: Session, me: CurrentUser, chat_id: int, *, lock: bool = False) -> Chat | None:
    """The chat if `me` may see it: agents their own, supervisors their campaigns', admins
    any. None otherwise (the page answers 404: a chat's existence is private)."""
    query = select(Chat).where(Chat.id == chat_id)
    if me.role == Role.AGENT:
        query = query.where(Chat.agent_id == me.id)
    elif me.role == Role.SUPERVISOR:
        query = query.where(Chat.campaign_id.in_(me.campaign_ids or (-1,)))
    if lock:
        query = query.with_for_update(of=Chat)
    found: Chat | None = db.scalar(query)
    return found


def conversation(db: Session, chat: Chat) -> list[Message]:
    return list(db.scalars(select(Message).where(Message.chat_id == chat.id).order_by(Message.id)))


def customer_card(chat: Chat) -> list[tuple[str, Any]]:
    """Every column of the customer's row in their campaign's database, in file order."""
    customer: Customer | None = chat.customer
    if customer is None:
        return []
    card: list[tuple[str, Any]] = [("document", customer.document)]
    if customer.document_type:
        card.append(("document_type", customer.document_type))
    card.append(("name", customer.name))
    if customer.phone:
        card.append(("phone", customer.phone))
    card.extend((str(k), v) for k, v in (customer.extra or {}).items())
    return card


def mark_read(db: Session, user_id: int, chat_id: int, up_to: int, now: datetime) -> None:
    """The person has seen the chat up to message `up_to` (never moves back)."""
    values = {"user_id": user_id, "chat_id": chat_id, "last_read_message_id": up_to, "read_at": now}
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(ChatRead).values(**values)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=["user_id", "chat_id"],
            set_={"last_read_message_id": up_to, "read_at": now},
            where=ChatRead.last_read_message_id < up_to,
        )
    )
