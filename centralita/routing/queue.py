"""The queue: handed-off chats waiting for an agent, higher priority first, then oldest first.

`drain_queue` gives waiting chats to agents, each chat in its own short transaction, and is
meant to run whenever capacity may have appeared: an agent comes online (or back from
stale), closes a chat, gains capacity, is reassigned a chat away, and on every sweep. It is
safe to run from many processes at once: each chat is locked with `SKIP LOCKED`, so two
drains share the work instead of waiting for each other.

A campaign where a chat found nobody eligible is skipped for the rest of the drain: who is
eligible depends on the campaign, never on the chat, so its later chats would not find anyone
either. Chats without a campaign never leave the queue by themselves (see `assign.py`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import UnaryExpression, exists, select
from sqlalchemy.orm import Session, sessionmaker

from centralita.core.models import (
    Assignment,
    Chat,
    ChatStatus,
    Presence,
    Role,
    User,
    user_campaigns,
)
from centralita.routing.assign import Outcome, attempt_assignment
from centralita.routing.errors import NotAllowed
from centralita.routing.presence import STALE_AFTER

DRAIN_LIMIT = 500  # assignments per call; the next trigger or sweep goes on
BATCH = 100  # waiting chats read per query


def queue_order() -> tuple[UnaryExpression[Any], ...]:
    """Higher priority first, then the oldest handoff, then the lowest id."""
    return (Chat.priority.desc(), Chat.queued_at.asc(), Chat.id.asc())


def drain_queue(
    sessions: sessionmaker[Session],
    now: datetime,
    campaign_id: int | None = None,
    *,
    agent_id: int | None = None,
    limit: int = DRAIN_LIMIT,
) -> list[Assignment]:
    """Assign waiting chats, in queue order, until nobody eligible is left or `limit`; only
    `campaign_id`'s chats if given, only the campaigns `agent_id` serves if given. Returns
    the assignments made (committed), for the caller to notify the agents."""
    campaigns: list[int] | None = None
    if campaign_id is not None:
        campaigns = [campaign_id]
    if agent_id is not None:
        with sessions() as session:
            served = set(
                session.scalars(
                    select(user_campaigns.c.campaign_id).where(user_campaigns.c.user_id == agent_id)
                )
            )
        campaigns = sorted(served if campaigns is None else served & set(campaigns))
    if campaigns == []:
        return []
    if not _anyone_to_route(sessions, campaigns, now):
        return []

    done: list[Assignment] = []
    exhausted: set[int] = set()
    after: tuple[int, datetime, int] | None = None  # where the last batch ended
    while len(done) < limit:
        batch = _waiting_batch(sessions, campaigns, exhausted, after)
        if not batch:
            break
        for chat_id, chat_campaign, priority, queued_at in batch:
            after = (priority, queued_at, chat_id)
            if chat_campaign in exhausted:
                continue
            with sessions.begin() as session:
                outcome, assignment = attempt_assignment(session, chat_id, now, skip_locked=True)
            if assignment is not None:
                done.append(assignment)
                if len(done) >= limit:
                    break
            elif outcome is Outcome.NOBODY:
                exhausted.add(chat_campaign)
    return done


def _anyone_to_route(
    sessions: sessionmaker[Session], campaigns: list[int] | None, now: datetime
) -> bool:
    """Whether any waiting chat's campaign has an available agent: one indexed EXISTS, so a
    drain with an empty queue or nobody online (every idle sweep, a queue at night) costs
    one short read instead of trying a chat per campaign. Mirrors the router's availability
    (`presence.why_unavailable`, the `anyone` check in `postgres.py`); capacity and the
    per-minute cap are left to the router, which the drain then runs as before."""
    waiting = (
        select(Chat.id)
        .where(
            Chat.status == ChatStatus.WAITING_QUEUE,
            Chat.campaign_id == user_campaigns.c.campaign_id,
            Chat.queued_at.is_not(None),
        )
        .correlate(user_campaigns)
    )
    query = (
        select(user_campaigns.c.campaign_id)
        .join(User, User.id == user_campaigns.c.user_id)
        .where(
            User.role == Role.AGENT,
            User.active.is_(True),
            User.presence == Presence.ONLINE,
            User.last_seen_at >= now - STALE_AFTER,
            exists(waiting),
        )
    )
    if campaigns is not None:
        query = query.where(user_campaigns.c.campaign_id.in_(campaigns))
    with sessions() as session:
        return session.scalar(select(exists(query))) is True


def _waiting_batch(
    sessions: sessionmaker[Session],
    campaigns: Iterable[int] | None,
    exhausted: set[int],
    after: tuple[int, datetime, int] | None,
) -> list[tuple[int, int, int, datetime]]:
    """The next waiting chats with a campaign, in queue order, after the `after` position."""
    # A waiting chat always has queued_at (set at handoff), which the paging relies on.
    query = select(Chat.id, Chat.campaign_id, Chat.priority, Chat.queued_at).where(
        Chat.status == ChatStatus.WAITING_QUEUE,
        Chat.campaign_id.is_not(None),
        Chat.queued_at.is_not(None),
    )
    if campaigns is not None:
        query = query.where(Chat.campaign_id.in_(list(campaigns)))
    if exhausted:
        query = query.where(Chat.campaign_id.not_in(sorted(exhausted)))
    if after is not None:
        priority, queued_at, chat_id = after
        query = query.where(
            (Chat.priority < priority)
            | ((Chat.priority == priority) & (Chat.queued_at > queued_at))
            | ((Chat.priority == priority) & (Chat.queued_at == queued_at) & (Chat.id > chat_id))
        )
    with sessions() as session:
        rows = session.execute(query.order_by(*queue_order()).limit(BATCH)).all()
    return [(r.id, r.campaign_id, r.priority, r.queued_at) for r in rows]


def waiting_chats(session: Session, user: User, *, limit: int = 200) -> list[Chat]:
    """The supervisors' list: waiting chats only, in queue order. A supervisor sees their
    campaigns' chats and those without a campaign (nobody else would route them); an admin
    sees all. Agents do not see the queue."""
    query = select(Chat).where(Chat.status == ChatStatus.WAITING_QUEUE)
    if user.role == Role.SUPERVISOR:
        served = select(user_campaigns.c.campaign_id).where(user_campaigns.c.user_id == user.id)
        query = query.where(Chat.campaign_id.in_(served) | Chat.campaign_id.is_(None))
    elif user.role != Role.ADMIN:
        raise NotAllowed("only supervisors and admins see the queue")
    return list(session.scalars(query.order_by(*queue_order()).limit(limit)))
