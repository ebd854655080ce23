"""Routing tests: a small world of campaigns, agents and waiting chats built straight into
the database (SQLite and PostgreSQL), at a fixed `NOW`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from centralita.core.models import (
    Assignment,
    AssignmentPolicy,
    Campaign,
    Channel,
    Chat,
    ChatStatus,
    Contact,
    Presence,
    Role,
    User,
    user_campaigns,
)
from centralita.routing.assign import _candidates, assign_chat
from centralita.routing.policies import explain, rank

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NUMBER = "whatsapp:+5716001234"


class World:
    """Builds and inspects routing scenes; every method is its own transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._contacts = count(1)
        self.campaigns: dict[str, int] = {}
        self.users: dict[str, int] = {}

    def campaign(
        self,
        slug: str,
        *,
        policy: AssignmentPolicy = AssignmentPolicy.LEAST_LOAD,
        manual: bool = False,
        cap: int = 6,
    ) -> int:
        with self.sessions.begin() as session:
            campaign = Campaign(
                slug=slug,
                name=slug.title(),
                assignment_policy=policy,
                manual_assignment=manual,
                max_assignments_per_minute=cap,
            )
            session.add(campaign)
            session.flush()
            self.campaigns[slug] = campaign.id
        return campaign.id

    def user(
        self,
        email: str,
        campaigns: Sequence[str] = (),
        *,
        role: Role = Role.AGENT,
        capacity: int = 5,
        weight: int = 1,
        presence: Presence = Presence.ONLINE,
        seen: datetime | None = NOW,
        active: bool = True,
        last_assigned_at: datetime | None = None,
    ) -> int:
        with self.sessions.begin() as session:
            user = User(
                email=email,
                name=email.split("@")[0].title(),
                role=role,
                password_hash="not-a-real-hash",
                capacity=capacity,
                weight=weight,
                presence=presence,
                last_seen_at=seen,
                active=active,
                last_assigned_at=last_assigned_at,
            )
            session.add(user)
            session.flush()
            for slug in campaigns:
                session.execute(
                    user_campaigns.insert().values(
                        user_id=user.id, campaign_id=self.campaigns[slug]
                    )
                )
            self.users[email] = user.id
        return user.id

    def agent(self, email: str, *campaigns: str, **options: object) -> int:
        return self.user(email, campaigns, **options)  # type: ignore[arg-type]

    def chat(
        self,
        campaign: str | None,
        *,
        queued: datetime | None = None,
        priority: int = 0,
        status: ChatStatus = ChatStatus.WAITING_QUEUE,
        agent: str | None = None,
    ) -> int:
        n = next(self._contacts)
        with self.sessions.begin() as session:
            contact = Contact(
                address=f"whatsapp:+57300{n:07d}", phone=f"+57300{n:07d}", channel=Channel.WHATSAPP
            )
            session.add(contact)
            session.flush()
            chat = Chat(
                contact_id=contact.id,
                number=NUMBER,
                status=status,
                campaign_id=self.campaigns[campaign] if campaign else None,
                opened_at=NOW - timedelta(hours=1),
                queued_at=queued or (NOW - timedelta(minutes=30) + timedelta(seconds=n)),
                priority=priority,
                agent_id=self.users[agent] if agent else None,
                assigned_at=NOW - timedelta(minutes=20) if agent else None,
            )
            session.add(chat)
            session.flush()
            return chat.id

    def assign(
        self, chat_id: int, now: datetime = NOW, *, by: User | None = None
    ) -> Assignment | None:
        with self.sessions.begin() as session:
            return assign_chat(session, chat_id, now, by=by)

    def handoff(self, campaign: str, now: datetime = NOW, **options: object) -> str | None:
        """A new waiting chat, assigned at once if possible: the agent's email, or None."""
        assignment = self.assign(self.chat(campaign, **options), now)  # type: ignore[arg-type]
        return None if assignment is None else self.email(assignment.agent_id)

    def email(self, user_id: int | None) -> str | None:
        return next((e for e, i in self.users.items() if i == user_id), None)

    def get(self, user: str) -> User:
        with self.sessions() as session:
            found = session.get(User, self.users[user])
            assert found is not None
            return found

    def chat_row(self, chat_id: int) -> Chat:
        with self.sessions() as session:
            found = session.get(Chat, chat_id)
            assert found is not None
            return found

    def close(self, chat_id: int) -> None:
        with self.sessions.begin() as session:
            chat = session.get(Chat, chat_id)
            assert chat is not None
            chat.status = ChatStatus.CLOSED
            chat.closed_at = NOW

    def loads(self) -> dict[str, int]:
        """Open chats per agent (every agent, zeros included)."""
        with self.sessions() as session:
            rows = session.execute(
                select(Chat.agent_id, func.count())
                .where(Chat.status == ChatStatus.ASSIGNED)
                .group_by(Chat.agent_id)
            ).all()
        by_id = {agent_id: n for agent_id, n in rows}
        return {email: by_id.get(user_id, 0) for email, user_id in self.users.items()}

    def log(self, chat_id: int | None = None) -> list[Assignment]:
        with self.sessions() as session:
            query = select(Assignment).order_by(Assignment.id)
            if chat_id is not None:
                query = query.where(Assignment.chat_id == chat_id)
            return list(session.scalars(query))

    def status(self, chat_id: int) -> ChatStatus:
        return self.chat_row(chat_id).status


def python_decision(
    world: World, campaign: str, now: datetime
) -> tuple[int, str, list[dict[str, object]]] | None:
    """What the Python reference (`_candidates`, `rank`, `explain`, `log_entry`, counting the
    log) decides for the campaign's next chat now, with nobody else deciding: the chosen
    agent, the reason and the log's candidates; None if nobody is eligible."""
    with world.sessions() as session:
        found = session.get(Campaign, world.campaigns[campaign])
        assert found is not None
        cap, policy = found.max_assignments_per_minute, found.assignment_policy
        candidates = _candidates(session, found.id, cap, now)
    ranked = rank(candidates, policy)
    if not ranked:
        return None
    chosen = ranked[0]
    entries = [c.log_entry() for c in candidates]
    return chosen.agent_id, explain(chosen, candidates, policy), entries


@pytest.fixture
def world(sessions: sessionmaker[Session]) -> World:
    return World(sessions)
