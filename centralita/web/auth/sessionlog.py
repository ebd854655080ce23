"""The sessions report (attendance control): each sign-in with its connected time, the chats
the person handled and the messages they sent while signed in. Used by the report page and
`GET /api/v1/sessions`; no Flask here.

- connected time: from sign-in to sign-out; for a session that expired or is still open, to
  its last activity (the idle minutes before an expiry are not counted as work).
- chats handled: distinct chats that were assigned to the person, that they wrote in, or that
  they closed, during the session.
- messages sent: the messages they wrote during the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, func, or_, select, union
from sqlalchemy.orm import Session

from centralita.core.models import (
    Assignment,
    Campaign,
    Chat,
    Message,
    Role,
    SessionEnd,
    User,
    WebSession,
    user_campaigns,
)

LIMIT = 1000


class FilterError(ValueError):
    """A bad filter value; `status` is the HTTP status that fits (400, 403 or 404)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Filters:
    email: str | None = None
    start: datetime | None = None  # sessions that began at or after
    end: datetime | None = None  # ... and before
    campaign: str | None = None  # people who serve this campaign (slug)


@dataclass(frozen=True)
class Viewer:
    """Who asks: supervisors see the people of their campaigns, admins everyone."""

    user_id: int
    role: Role
    campaign_ids: tuple[int, ...]


def parse_time(name: str, raw: str | None, *, end_of_day: bool = False) -> datetime | None:
    """An ISO 8601 date (a UTC day; `to` includes the whole day) or date-time with offset."""
    if raw is None or not raw.strip():
        return None
    raw = raw.strip()
    example = "e.g. 2026-03-01 or 2026-03-01T08:00:00-05:00"
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        pass
    else:
        start = datetime.combine(day, time(), UTC)
        return start + timedelta(days=1) if end_of_day else start
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise FilterError(
            400, f"{name}: {raw!r} is not an ISO 8601 date or time ({example})"
        ) from None
    if moment.tzinfo is None:
        raise FilterError(400, f"{name}: {raw!r} has no UTC offset ({example})")
    return moment.astimezone(UTC)


def parse_filters(args: dict[str, str]) -> Filters:
    known = {"user", "from", "to", "campaign"}
    unknown = sorted(set(args) - known)
    if unknown:
        raise FilterError(
            400, f"unknown filter {unknown[0]!r}; the filters are {', '.join(sorted(known))}"
        )
    start = parse_time("from", args.get("from"))
    end = parse_time("to", args.get("to"), end_of_day=True)
    if start is not None and end is not None and start >= end:
        raise FilterError(400, f"from ({args['from']}) must be before to ({args['to']})")
    email = (args.get("user") or "").strip().lower() or None
    campaign = (args.get("campaign") or "").strip() or None
    return Filters(email=email, start=start, end=end, campaign=campaign)


def _query(db: Session, viewer: Viewer, filters: Filters, now: datetime) -> Select[Any]:
    window_end = func.coalesce(WebSession.ended_at, bindparam("now", now))

    def by_them_in_session(person: Any, at: Any) -> tuple[Any, ...]:
        # Done by the session's person while it lasted (or lasts).
        return (person == WebSession.user_id, at >= WebSession.started_at, at <= window_end)

    sent = (
        select(func.count(Message.id))
        .where(*by_them_in_session(Message.user_id, Message.created_at))
        .correlate(WebSession)
        .scalar_subquery()
    )
    handled_chats = union(
        select(Message.chat_id.label("chat_id"))
        .where(*by_them_in_session(Message.user_id, Message.created_at))
        .correlate(WebSession),
        select(Assignment.chat_id.label("chat_id"))
        .where(*by_them_in_session(Assignment.agent_id, Assignment.created_at))
        .correlate(WebSession),
        select(Chat.id.label("chat_id"))
        .where(*by_them_in_session(Chat.closed_by_user_id, Chat.closed_at))
        .correlate(WebSession),
    ).subquery()
    handled = (
        select(func.count()).select_from(handled_chats).correlate(WebSession).scalar_subquery()
    )
    query = (
        select(WebSession, User, sent.label("sent"), handled.label("handled"))
        .join(User, User.id == WebSession.user_id)
        .order_by(WebSession.started_at.desc(), WebSession.id.desc())
        .limit(LIMIT)
    )
    visible = or_(
        User.id == viewer.user_id,
        exists().where(
            user_campaigns.c.user_id == User.id,
            user_campaigns.c.campaign_id.in_(viewer.campaign_ids or (-1,)),
        ),
    )
    if viewer.role != Role.ADMIN:
        query = query.where(visible)
    if filters.email is not None:
        # Among the people the viewer may see: someone else's person and nobody answer alike,
        # so the report does not tell a supervisor which emails exist.
        lookup = select(User.id).where(User.email == filters.email)
        if viewer.role != Role.ADMIN:
            lookup = lookup.where(visible)
        found = db.scalar(lookup)
        if found is None:
            raise FilterError(404, f"user: nobody signs in as {filters.email!r}")
        query = query.where(User.id == found)
    if filters.campaign is not None:
        campaign_id = db.scalar(select(Campaign.id).where(Campaign.slug == filters.campaign))
        if campaign_id is None:
            raise FilterError(404, f"campaign: there is no campaign {filters.campaign!r}")
        if viewer.role != Role.ADMIN and campaign_id not in viewer.campaign_ids:
            raise FilterError(403, f"campaign: you do not supervise {filters.campaign!r}")
        query = query.where(
            exists().where(
                and_(
                    user_campaigns.c.user_id == User.id,
                    user_campaigns.c.campaign_id == campaign_id,
                )
            )
        )
    if filters.start is not None:
        query = query.where(WebSession.started_at >= filters.start)
    if filters.end is not None:
        query = query.where(WebSession.started_at < filters.end)
    return query


@dataclass(frozen=True)
class SessionRow:
    id: int
    email: str
    name: str
    role: Role
    started_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None
    end_reason: SessionEnd | None
    ip: str | None
    user_agent: str | None
    connected: timedelta
    chats_handled: int
    messages_sent: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.email,
            "name": self.name,
            "role": str(self.role),
            "started_at": self.started_at.isoformat(),
            "last_seen_at": self.last_seen_at.isoformat(),
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "end_reason": str(self.end_reason) if self.end_reason else None,
            "ip": self.ip,
            "user_agent": self.user_agent,
            "connected_seconds": int(self.connected.total_seconds()),
            "chats_handled": self.chats_handled,
            "messages_sent": self.messages_sent,
        }


def connected_time(web_session: WebSession) -> timedelta:
    if web_session.end_reason == SessionEnd.SIGN_OUT and web_session.ended_at is not None:
        return web_session.ended_at - web_session.started_at
    return web_session.last_seen_at - web_session.started_at


def session_report(
    db: Session, viewer: Viewer, filters: Filters, now: datetime
) -> list[SessionRow]:
    rows = db.execute(_query(db, viewer, filters, now)).all()
    return [
        SessionRow(
            id=ws.id,
            email=person.email,
            name=person.name,
            role=person.role,
            started_at=ws.started_at,
            last_seen_at=ws.last_seen_at,
            ended_at=ws.ended_at,
            end_reason=ws.end_reason,
            ip=ws.ip,
            user_agent=ws.user_agent,
            connected=connected_time(ws),
            chats_handled=int(handled or 0),
            messages_sent=int(sent or 0),
        )
        for ws, person, sent, handled in rows
    ]
