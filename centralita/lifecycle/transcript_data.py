"""What a chat's PDF transcript shows, read from the database into plain frozen values.

Reading is separate from rendering so the PDF is drawn with no session or transaction open
(a render takes a few hundred milliseconds), and so tests and the benchmark can render
made-up data without a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from centralita.core.models import (
    Assignment,
    AssignmentKind,
    Author,
    Chat,
    Direction,
    MessageStatus,
    User,
)

UTC_ZONE = "UTC"


@dataclass(frozen=True, slots=True)
class MediaNote:
    content_type: str | None
    url: str | None


@dataclass(frozen=True, slots=True)
class TranscriptMessage:
    at: datetime  # aware, UTC; shown in the campaign's zone
    author: Author
    direction: Direction
    text: str
    status: MessageStatus
    error_code: str | None = None
    failure_reason: str | None = None
    # For agent messages: the agent holding the chat then (only they may write in it).
    agent: str | None = None
    media: tuple[MediaNote, ...] = ()
    template: bool = False  # sent as an approved template (outside WhatsApp's 24 h window)


@dataclass(frozen=True, slots=True)
class TranscriptAssignment:
    at: datetime
    kind: AssignmentKind
    agent: str | None  # None: the chat went back to the queue
    by: str | None  # None: the router
    reason: str


@dataclass(frozen=True, slots=True)
class TranscriptData:
    chat_id: int
    timezone: str  # an IANA name; the campaign's, UTC for a chat without one
    opened_at: datetime
    closed_at: datetime | None
    contact_address: str
    campaign_name: str | None = None
    campaign_slug: str | None = None
    customer_document: str | None = None
    customer_document_type: str | None = None
    customer_name: str | None = None
    contact_name: str | None = None  # the profile name the customer set on WhatsApp
    agents: tuple[str, ...] = ()  # everyone who held the chat, in order
    close_reason: str | None = None
    closed_by: str | None = None  # agent, supervisor, admin, timer or bot
    closed_by_user: str | None = None
    messages: tuple[TranscriptMessage, ...] = ()
    assignments: tuple[TranscriptAssignment, ...] = ()


def person(user: User | None) -> str | None:
    return None if user is None else f"{user.name} ({user.email})"


def transcript_data(session: Session, chat_id: int) -> TranscriptData:
    """Everything the transcript of `chat_id` shows. Raises LookupError for an unknown chat."""
    chat = session.scalar(
        select(Chat)
        .where(Chat.id == chat_id)
        .options(
            selectinload(Chat.messages),
            joinedload(Chat.campaign),
            joinedload(Chat.customer),
            joinedload(Chat.contact),
            joinedload(Chat.agent),
            joinedload(Chat.closed_by_user),
        )
    )
    if chat is None:
        raise LookupError(f"no chat {chat_id}")
    rows = session.scalars(
        select(Assignment)
        .where(Assignment.chat_id == chat_id)
        .order_by(Assignment.created_at, Assignment.id)
        .options(joinedload(Assignment.agent), joinedload(Assignment.by_user))
    ).all()
    assignments = tuple(
        TranscriptAssignment(
            at=row.created_at,
            kind=row.kind,
            agent=person(row.agent),
            by=person(row.by_user),
            reason=row.reason,
        )
        for row in rows
    )
    # Agent replies name their writer (messages.user_id); older rows fall back to the log.
    writer_ids = {m.user_id for m in chat.messages if m.user_id is not None}
    writers = (
        {u.id: person(u) for u in session.scalars(select(User).where(User.id.in_(writer_ids)))}
        if writer_ids
        else {}
    )
    agents = list(dict.fromkeys(a.agent for a in assignments if a.agent is not None))
    final_agent = person(chat.agent)
    if final_agent is not None and final_agent not in agents:
        agents.append(final_agent)
    return TranscriptData(
        chat_id=chat.id,
        timezone=chat.campaign.timezone if chat.campaign is not None else UTC_ZONE,
        opened_at=chat.opened_at,
        closed_at=chat.closed_at,
        contact_address=chat.contact.address,
        contact_name=chat.contact.profile_name,
        campaign_name=chat.campaign.name if chat.campaign is not None else None,
        campaign_slug=chat.campaign.slug if chat.campaign is not None else None,
        customer_document=chat.customer.document if chat.customer is not None else None,
        customer_document_type=chat.customer.document_type if chat.customer else None,
        customer_name=chat.customer.name if chat.customer is not None else None,
        agents=tuple(agents),
        close_reason=chat.close_reason,
        closed_by=chat.closed_by,
        closed_by_user=person(chat.closed_by_user),
        messages=tuple(
            TranscriptMessage(
                at=m.created_at,
                author=m.author,
                direction=m.direction,
                text=m.text,
                status=m.status,
                error_code=m.error_code,
                failure_reason=m.failure_reason,
                agent=(
                    (writers.get(m.user_id) if m.user_id is not None else None)
                    or _holder(assignments, m.created_at, final_agent)
                    if m.author == Author.AGENT
                    else None
                ),
                media=_media(m.media),
                template=m.template_sid is not None,
            )
            for m in chat.messages
        ),
        assignments=assignments,
    )


def _holder(
    assignments: tuple[TranscriptAssignment, ...], at: datetime, fallback: str | None
) -> str | None:
    """Who held the chat at `at`, for agent messages that name no writer: only the assigned
    agent may write in a chat, so the assignment log tells who wrote it."""
    holder = fallback
    for row in assignments:
        if row.at > at:
            break
        holder = row.agent
    return holder if holder is not None else fallback


def _media(items: list[dict[str, Any]] | None) -> tuple[MediaNote, ...]:
    return tuple(
        MediaNote(
            content_type=str(item["content_type"]) if item.get("content_type") else None,
            url=str(item["url"]) if item.get("url") else None,
        )
        for item in items or []
        if isinstance(item, dict)
    )
