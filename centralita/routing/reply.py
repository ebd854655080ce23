"""An agent's reply: the one action behind the API's `POST /chats/ID/messages` and the
inbox's reply box, so both write the same row and end the unanswered episode the same way."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from centralita.core.events import chat_event, publish_after_commit
from centralita.core.models import Author, Chat, ChatStatus, Direction, Message, MessageStatus
from centralita.lifecycle.deadlines import answered
from centralita.routing.errors import InvalidRequest, NotAllowed, WrongChatStatus

MAX_TEXT = 4096  # WhatsApp's limit for a text message


def agent_reply(session: Session, chat: Chat, user_id: int, text: str, now: datetime) -> Message:
    """Put the agent's message in the outbox of the (locked) chat. The caller enqueues its send
    job after the commit (`send_message_job`, the message's id)."""
    if not text.strip():
        raise InvalidRequest("an empty message")
    if len(text) > MAX_TEXT:
        raise InvalidRequest(f"a message of {len(text)} characters (at most {MAX_TEXT})")
    if chat.status == ChatStatus.CLOSED:
        raise WrongChatStatus(f"chat {chat.id} is closed")
    if chat.agent_id != user_id:
        raise NotAllowed("only the agent the chat is assigned to may write in it")
    message = Message(
        chat_id=chat.id,
        direction=Direction.OUT,
        author=Author.AGENT,
        text=text,
        status=MessageStatus.PENDING,
        next_attempt_at=now,
        created_at=now,
        user_id=user_id,
    )
    session.add(message)
    answered(session, chat, now)  # ends the unanswered episode, resolves its alert
    session.flush()
    publish_after_commit(session, chat_event("message", chat, message_id=message.id))
    return message
