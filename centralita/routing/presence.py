"""Presence: online / away / offline, set by the person, kept alive by a heartbeat.

An agent is available, and may receive new chats, while online with a heartbeat in the last
90 seconds. A stale agent (the browser closed, the laptop asleep) keeps the chats they hold
but receives no new ones until the next heartbeat. Both actions work in the caller's
transaction and say whether the agent just became available: after the commit, the caller
drains the queue for them (`queue.drain_queue(..., agent_id=...)`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from centralita.core.models import Presence, User
from centralita.routing.errors import InvalidRequest

STALE_AFTER = timedelta(seconds=90)


def why_unavailable(
    presence: Presence | str, last_seen_at: datetime | None, now: datetime
) -> str | None:
    """None when available; else `offline`, `away` or `stale` (online, heartbeat too old)."""
    if presence != Presence.ONLINE:
        return str(presence)
    if last_seen_at is None or now - last_seen_at > STALE_AFTER:
        return "stale"
    return None


def is_available(user: User, now: datetime) -> bool:
    return user.active and why_unavailable(user.presence, user.last_seen_at, now) is None


def set_presence(session: Session, user: User, status: Presence | str, now: datetime) -> bool:
    """Set the user's presence (an explicit change counts as a heartbeat too); True if the
    agent was not available before and is now."""
    try:
        presence = Presence(status)
    except ValueError:
        allowed = ", ".join(p.value for p in Presence)
        raise InvalidRequest(f"presence {status!r} is not one of {allowed}") from None
    before = is_available(user, now)
    if user.presence != presence:
        user.presence = presence
        user.presence_changed_at = now
    user.last_seen_at = now
    session.flush()
    return not before and is_available(user, now)


def heartbeat(session: Session, user: User, now: datetime) -> bool:
    """The user's client is alive; True if that made a stale agent available again."""
    before = is_available(user, now)
    user.last_seen_at = now
    session.flush()
    return not before and is_available(user, now)
