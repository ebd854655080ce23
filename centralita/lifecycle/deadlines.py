"""The chat's lifecycle deadlines, kept up to date inside the caller's transaction.

Each timer is an indexed column on the chat (see `Chat` in core/models.py), so the sweep
finds what is due with an index range scan instead of reading every open chat:

- `close_due_at`: opening + the campaign's close time (24 h until a campaign is known). Never
  moved by the customer's silence or activity: the automatic close is at a fixed time.
- `unanswered_since` / `alert_due_at` / `reassign_due_at`: one *unanswered episode*. It
  starts when the chat reaches the humans (the handoff: before that the bot was answering)
  or, while a human holds or awaits it, with the first customer message after an agent's
  reply; it ends with the agent's next reply. The alert and the optional reassignment are
  due that long after the episode began.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import event, update
from sqlalchemy.orm import Session

from centralita.core.models import Alert, Campaign, Chat, ChatStatus

DEFAULT_CLOSE_AFTER = timedelta(hours=24)  # the campaign's default, for chats without one yet
DEFAULT_ALERT_AFTER = timedelta(minutes=30)
HUMAN_STATUSES = (ChatStatus.WAITING_QUEUE, ChatStatus.ASSIGNED)
UNANSWERED = "unanswered"  # the alert kind


_CAMPAIGN_CHANGED = "_lifecycle_campaign_changed"


@event.listens_for(Chat.campaign_id, "set")
def _campaign_set(target: Chat, value: Any, oldvalue: Any, _initiator: Any) -> None:
    # Noted on the object (not the attribute history, which a flush clears, and the bot's
    # lookups autoflush): `track` then recomputes the close time, without a query per message.
    if value != oldvalue:
        setattr(target, _CAMPAIGN_CHANGED, True)


def note_campaign_change(chat: object) -> None:
    """For a chat that is not an ORM entity (no attribute events): its campaign changed."""
    setattr(chat, _CAMPAIGN_CHANGED, True)


class TrackedChat(Protocol):
    """The chat's columns `track` reads and sets: the ORM entity, or the inbound webhook's
    plain row (channels/receive_sql.py), which calls `note_campaign_change` itself."""

    status: ChatStatus
    campaign_id: int | None
    opened_at: datetime
    close_due_at: datetime | None
    unanswered_since: datetime | None
    alert_due_at: datetime | None
    reassign_due_at: datetime | None


def _campaign(session: Session, chat: TrackedChat) -> Campaign | None:
    # session.get: no query when the campaign is already in the session (the bot selected it).
    return session.get(Campaign, chat.campaign_id) if chat.campaign_id is not None else None


def close_due(session: Session, chat: TrackedChat) -> datetime:
    campaign = _campaign(session, chat)
    after = (
        timedelta(seconds=campaign.close_after_seconds)
        if campaign is not None
        else DEFAULT_CLOSE_AFTER
    )
    return chat.opened_at + after


def track(session: Session, chat: TrackedChat, now: datetime) -> None:
    """After anything that may have changed the chat (a customer message, a bot turn): set the
    close deadline if missing or the campaign changed, and start an unanswered episode if the
    chat is with the humans and none is under way."""
    if chat.status == ChatStatus.CLOSED:
        return
    if chat.close_due_at is None or getattr(chat, _CAMPAIGN_CHANGED, False):
        chat.close_due_at = close_due(session, chat)
        setattr(chat, _CAMPAIGN_CHANGED, False)
    if chat.status in HUMAN_STATUSES and chat.unanswered_since is None:
        start_unanswered(session, chat, now)


def start_unanswered(session: Session, chat: TrackedChat, since: datetime) -> None:
    campaign = _campaign(session, chat)
    alert_after = (
        timedelta(seconds=campaign.alert_after_seconds) if campaign else DEFAULT_ALERT_AFTER
    )
    chat.unanswered_since = since
    chat.alert_due_at = since + alert_after
    chat.reassign_due_at = (
        since + timedelta(seconds=campaign.reassign_after_seconds)
        if campaign is not None and campaign.reassign_after_seconds is not None
        else None
    )


def answered(session: Session, chat: Chat, now: datetime) -> None:
    """An agent answered: the episode ends, and its alert (if raised) is resolved."""
    if chat.unanswered_since is None:
        return
    chat.unanswered_since = None
    chat.alert_due_at = None
    chat.reassign_due_at = None
    resolve_unanswered_alerts(session, chat.id, now)


def resolve_unanswered_alerts(session: Session, chat_id: int, now: datetime) -> None:
    session.execute(
        update(Alert)
        .where(Alert.chat_id == chat_id, Alert.kind == UNANSWERED, Alert.resolved_at.is_(None))
        .values(resolved_at=now),
        execution_options={"synchronize_session": False},
    )


def episode_key(chat_id: int, since: datetime) -> str:
    """The unanswered alert's unique key: once per chat and episode."""
    return f"{UNANSWERED}:{chat_id}:{since.isoformat()}"
