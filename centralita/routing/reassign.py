"""Supervisors move chats; nobody else assigns by hand.

- `reassign_chat`: an assigned chat goes to another agent of its campaign, with a reason.
  The previous agent's load drops and the new one's rises by the same move (loads are counted
  from the chats, so one update does both); the log row says who, from whom, and why.
- `manual_assign`: a supervisor gives a waiting chat to an agent, only where the campaign
  allows it (`Campaign.manual_assignment`, off by default) or where the chat has no campaign
  (the router cannot place those; see `assign.py`).

Only supervisors (in their own campaigns) and admins may do either: agents get `NotAllowed`.
The target must be eligible as the router would see them, except for the per-minute cap (a
person decided): an active agent of the chat's campaign, available, under capacity counting
every campaign. Otherwise `AgentNotEligible`, which the API answers with 422. Lock order is
the router's, chat then agent, so these never deadlock with it.

Both work in the caller's transaction. After the commit, the previous agent has room: drain
the queue for them (`queue.drain_queue(sessions, now, agent_id=previous)`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from centralita.core.models import (
    Assignment,
    AssignmentKind,
    Campaign,
    Chat,
    ChatStatus,
    Role,
    User,
    user_campaigns,
)
from centralita.core.open_chats import lock_agents
from centralita.routing.assign import candidate, record_assignment
from centralita.routing.errors import (
    AgentNotEligible,
    ChatNotFound,
    InvalidRequest,
    ManualAssignmentDisabled,
    NotAllowed,
    WrongChatStatus,
)
from centralita.routing.policies import Candidate


def reassign_chat(
    session: Session,
    chat_id: int,
    to_agent_email: str,
    by_user: User,
    reason: str,
    now: datetime,
) -> Assignment:
    """Move an assigned chat to another eligible agent of its campaign."""
    reason = reason.strip()
    if not reason:
        raise InvalidRequest("a reassignment needs a reason")
    chat = _locked_chat(session, chat_id)
    _check_may_route(session, by_user, chat)
    if chat.status != ChatStatus.ASSIGNED:
        hint = " (waiting: that is a manual assignment)" if _waiting(chat) else ""
        raise WrongChatStatus(f"chat {chat.id} is {chat.status}, not assigned{hint}")
    previous = session.get(User, chat.agent_id) if chat.agent_id is not None else None
    if previous is not None and previous.email == to_agent_email.strip().lower():
        raise AgentNotEligible(f"{previous.email} already holds chat {chat.id}")
    target = _eligible_target(session, chat, to_agent_email, now)
    source = previous.email if previous is not None else "nobody"
    return record_assignment(
        session,
        chat,
        target,
        now,
        kind=AssignmentKind.REASSIGN,
        by=by_user,
        policy=None,
        reason=f"reassigned from {source} to {target.email} by {by_user.email}: {reason}",
        candidates=[target],
    )


def manual_assign(
    session: Session,
    chat_id: int,
    to_agent_email: str,
    by_user: User,
    reason: str,
    now: datetime,
) -> Assignment:
    """Give a waiting chat to an agent by hand, where its campaign allows it."""
    chat = _locked_chat(session, chat_id)
    _check_may_route(session, by_user, chat)
    if not _waiting(chat):
        raise WrongChatStatus(f"chat {chat.id} is {chat.status}, not waiting in the queue")
    if chat.campaign_id is not None:
        allowed = session.scalar(
            select(Campaign.manual_assignment).where(Campaign.id == chat.campaign_id)
        )
        if not allowed:
            raise ManualAssignmentDisabled(
                f"chat {chat.id}'s campaign does not allow manual assignment: the router "
                "assigns its chats (an admin can turn `manual_assignment` on)"
            )
    target = _eligible_target(session, chat, to_agent_email, now)
    note = reason.strip() or "picked from the queue"
    return record_assignment(
        session,
        chat,
        target,
        now,
        kind=AssignmentKind.MANUAL,
        by=by_user,
        policy=None,
        reason=f"assigned by hand to {target.email} by {by_user.email}: {note}",
        candidates=[target],
    )


def _waiting(chat: Chat) -> bool:
    return chat.status == ChatStatus.WAITING_QUEUE


def _locked_chat(session: Session, chat_id: int) -> Chat:
    chat = session.scalar(
        select(Chat)
        .where(Chat.id == chat_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    )
    if chat is None:
        raise ChatNotFound(f"no chat {chat_id}")
    return chat


def _check_may_route(session: Session, user: User, chat: Chat) -> None:
    if not user.active:
        raise NotAllowed(f"{user.email} is deactivated")
    if user.role == Role.ADMIN:
        return
    if user.role != Role.SUPERVISOR:
        raise NotAllowed("only supervisors and admins assign or reassign chats")
    if chat.campaign_id is None:
        return  # nobody's campaign: any supervisor may place it
    serves = session.scalar(
        select(user_campaigns.c.user_id).where(
            user_campaigns.c.user_id == user.id, user_campaigns.c.campaign_id == chat.campaign_id
        )
    )
    if serves is None:
        raise NotAllowed(f"{user.email} does not supervise chat {chat.id}'s campaign")


def _eligible_target(session: Session, chat: Chat, email: str, now: datetime) -> Candidate:
    email = email.strip().lower()
    agent_id = session.scalar(select(User.id).where(User.email == email, User.role == Role.AGENT))
    if agent_id is None:
        raise AgentNotEligible(f"no agent {email!r}")
    # Then count: nobody else can give them a chat meanwhile. The chat's present agent too
    # (their counter drops with the move), both in id order, as every writer locks agents.
    held = chat.agent_id if chat.status == ChatStatus.ASSIGNED else None
    lock_agents(session, [agent_id, held])
    target = candidate(session, agent_id, chat.campaign_id, now)
    if target is None:
        raise AgentNotEligible(f"{email} does not serve chat {chat.id}'s campaign")
    if target.why_not is not None:
        raise AgentNotEligible(f"{email} cannot take chat {chat.id}: {_WHY[target.why_not]}")
    return target


_WHY = {
    "inactive": "deactivated",
    "offline": "offline",
    "away": "away",
    "stale": "online but not seen for over 90 seconds",
    "full": "at capacity",
}
