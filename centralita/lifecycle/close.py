"""Closing a chat: one function for every path, so every close ends the same way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from centralita.core.models import Author, Chat, ChatStatus, Direction, Message, MessageStatus
from centralita.routing.errors import WrongChatStatus


def close_chat(
    session: Session, chat: Chat, reason: str, now: datetime, *, closing_text: str | None = None
) -> Message | None:
    """Close the chat and put its closing message in the outbox (the given text, else the
    campaign's closing message). Returns that message, for the caller to enqueue after commit.
    The caller holds the chat row locked (SELECT ... FOR UPDATE)."""
    if chat.status == ChatStatus.CLOSED:
        raise WrongChatStatus(f"chat {chat.id} is already closed")
    chat.status = ChatStatus.CLOSED
    chat.closed_at = now
    chat.close_reason = reason
    chat.wait_deadline = None
    text = closing_text
    if text is None and chat.campaign is not None:
        text = chat.campaign.closing_message
    if not text:
        return None
    message = Message(
        chat_id=chat.id,
        direction=Direction.OUT,
        author=Author.SYSTEM,
        text=text,
        status=MessageStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
        # Outside WhatsApp's 24-hour window the campaign's approved template goes instead.
        template_sid=chat.campaign.closing_template_sid if chat.campaign is not None else None,
        template_variables={} if chat.campaign and chat.campaign.closing_template_sid else None,
    )
    session.add(message)
    session.flush()
    return message
