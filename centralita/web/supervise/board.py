"""What the supervisor pages show, read from the database (no Flask here).

- `agents_board`: each agent a viewer may see (supervisors: agents sharing one of their
  campaigns; admins: all), with their presence as the router sees it (online but silent for
  over 90 s is `stale`), open chats against capacity, and time connected today (the session
  log's connected time, clipped to today in the viewer's time zone).
- `eligible_agents`: who could take a chat right now, as the router would judge them (active
  agent of the chat's campaign, available, under capacity); the reassign form lists only these.
- `open_alerts`, `assignment_log`: with the API's visibility rules.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from centralita.core.models import (
    Alert,
    Assignment,
    Campaign,
    Chat,
    ChatStatus,
    Contact,
    Role,
    User,
    WebSession,
    user_campaigns,
)
from centralita.customers.campaigns import DEFAULT_TIMEZONE
from centralita.routing.assign import candidate
from centralita.routing.policies import Candidate
from centralita.routing.presence import why_unavailable
from centralita.web.auth.sessionlog import connected_time


@dataclass(frozen=True)
class Viewer:
    """A supervisor or an admin; supervisors see their campaigns only."""

    user_id: int
    role: Role
    campaign_ids: tuple[int, ...]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def sees(self, campaign_id: int | None) -> bool:
        # Chats without a campaign: any supervisor may place them (routing/reassign.py).
        return self.is_admin or campaign_id is None or campaign_id in self.campaign_ids


@dataclass(frozen=True)
class AgentRow:
    id: int
    email: str
    name: str
    presence: str  # online | away | offline | stale
    open_chats: int
    capacity: int
    weight: int
    campaigns: tuple[str, ...]
    connected_today: timedelta
    chat_ids: tuple[int, ...]  # the chats they hold that the viewer may open, oldest first

    @property
    def load_percent(self) -> int:
        return min(100, round(100 * self.open_chats / self.capacity))


def viewer_timezone(session: Session, viewer: Viewer) -> ZoneInfo:
    """The time zone "today" is counted in: the viewer's campaigns' when they share one."""
    zones = set(
        session.scalars(select(Campaign.timezone).where(Campaign.id.in_(viewer.campaign_ids)))
    )
    return ZoneInfo(zones.pop() if len(zones) == 1 else DEFAULT_TIMEZONE)


def agents_board(session: Session, viewer: Viewer, now: datetime) -> list[AgentRow]:
    query = select(User).where(User.role == Role.AGENT, User.active.is_(True))
    if not viewer.is_admin:
        theirs = select(user_campaigns.c.user_id).where(
            user_campaigns.c.campaign_id.in_(viewer.campaign_ids)
        )
        query = query.where(User.id.in_(theirs))
    # Their campaigns in one more query, not one per agent.
    agents = session.scalars(
        query.options(selectinload(User.campaigns)).order_by(User.name, User.email)
    ).all()
    ids = [agent.id for agent in agents]
    if not ids:
        return []
    held: dict[int, list[int]] = defaultdict(list)  # every chat: their load
    shown: dict[int, list[int]] = defaultdict(list)  # the ones the viewer may open
    for chat_id, agent_id, campaign_id in session.execute(
        select(Chat.id, Chat.agent_id, Chat.campaign_id)
        .where(Chat.status == ChatStatus.ASSIGNED, Chat.agent_id.in_(ids))
        .order_by(Chat.assigned_at, Chat.id)
    ):
        held[agent_id].append(chat_id)
        if viewer.sees(campaign_id):
            shown[agent_id].append(chat_id)
    connected = _connected_today(session, ids, now, viewer_timezone(session, viewer))
    rows = []
    for agent in agents:
        why = why_unavailable(agent.presence, agent.last_seen_at, now)
        rows.append(
            AgentRow(
                id=agent.id,
                email=agent.email,
                name=agent.name,
                presence=why or "online",
                open_chats=len(held.get(agent.id, ())),
                capacity=agent.capacity,
                weight=agent.weight,
                campaigns=tuple(c.slug for c in agent.campaigns),
                connected_today=connected.get(agent.id, timedelta()),
                chat_ids=tuple(shown.get(agent.id, ())),
            )
        )
    return rows


def _connected_today(
    session: Session, user_ids: Sequence[int], now: datetime, zone: ZoneInfo
) -> dict[int, timedelta]:
    local = now.astimezone(zone)
    day_start = datetime.combine(local.date(), time(), tzinfo=zone)
    sessions = session.scalars(
        select(WebSession).where(
            WebSession.user_id.in_(list(user_ids)),
            WebSession.started_at < now,
            # Anything that ended before today starts cannot overlap it.
            (WebSession.ended_at.is_(None)) | (WebSession.ended_at > day_start),
        )
    )
    totals: dict[int, timedelta] = defaultdict(timedelta)
    for web_session in sessions:
        end = min(web_session.started_at + connected_time(web_session), now)
        start = max(web_session.started_at, day_start)
        if end > start:
            totals[web_session.user_id] += end - start
    return dict(totals)


def load_contacts(session: Session, chats: Sequence[Chat]) -> list[Contact]:
    """Load the chats' contacts in one query: `chat.contact` then finds them in the session
    instead of asking the database once per chat (a long queue is hundreds of chats). Keep
    the list while using the chats: the session only holds objects someone refers to."""
    ids = {chat.contact_id for chat in chats}
    if not ids:
        return []
    return list(session.scalars(select(Contact).where(Contact.id.in_(ids))))


def eligible_agents(session: Session, chat: Chat, now: datetime) -> list[Candidate]:
    """Agents who could take `chat` now, least loaded first (no per-minute cap: a person
    decides). A chat without a campaign may go to any agent."""
    query = select(User.id).where(User.role == Role.AGENT, User.active.is_(True))
    if chat.campaign_id is not None:
        query = query.join(user_campaigns, user_campaigns.c.user_id == User.id).where(
            user_campaigns.c.campaign_id == chat.campaign_id
        )
    found = []
    for agent_id in session.scalars(query):
        if agent_id == chat.agent_id:
            continue
        seen = candidate(session, agent_id, chat.campaign_id, now)
        if seen is not None and seen.eligible:
            found.append(seen)
    return sorted(found, key=lambda c: (c.load, c.email))


def agent_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    found = session.execute(select(User.id, User.name).where(User.id.in_(list(ids))))
    return {user_id: name for user_id, name in found}


def open_alerts(
    session: Session, viewer: Viewer, limit: int = 200
) -> list[tuple[Alert, Chat | None]]:
    """Unresolved alerts of the viewer's campaigns (admins: all), newest first."""
    query = (
        select(Alert, Chat)
        .outerjoin(Chat, Alert.chat_id == Chat.id)
        .where(Alert.resolved_at.is_(None))
    )
    if not viewer.is_admin:
        query = query.where(Alert.campaign_id.in_(viewer.campaign_ids))
    rows = session.execute(query.order_by(Alert.id.desc()).limit(limit)).all()
    return [(alert, chat) for alert, chat in rows]


def assignment_log(session: Session, chat_id: int) -> list[Assignment]:
    return list(
        session.scalars(
            select(Assignment).where(Assignment.chat_id == chat_id).order_by(Assignment.id)
        )
    )
