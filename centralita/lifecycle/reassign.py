"""Optional per campaign (`Campaign.reassign_after_seconds`): a chat its agent has left
unanswered that long goes to another eligible agent of the campaign, chosen by the router's
policy and written in the assignment log by the system (no `by_user`). When nobody else is
eligible it goes back to the queue (logged as `unassign`), where the next drain places it
with whoever is eligible then: possibly the same agent, who at least shows up in the log.

The clock then starts again for the new holder, until an agent answers (which ends the
episode, see deadlines.py). Lock order is the router's, chat then agent, so this never
deadlocks with it; each chat is its own short transaction, skipping locked chats.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from centralita.core.events import chat_event, publish_after_commit
from centralita.core.models import Assignment, AssignmentKind, Campaign, Chat, ChatStatus, User
from centralita.core.open_chats import lock_agents
from centralita.core.runtime import Runtime
from centralita.lifecycle.deadlines import HUMAN_STATUSES
from centralita.routing.assign import _candidates, candidate, record_assignment
from centralita.routing.policies import rank


def reassign_due_chats(rt: Runtime, now: datetime, limit: int = 500) -> int:
    """Reassign every chat unanswered for its campaign's reassignment time; returns how many
    moved (to another agent or back to the queue)."""
    with rt.sessions() as session:
        due = session.scalars(
            select(Chat.id)
            .where(Chat.reassign_due_at <= now, Chat.status.in_(HUMAN_STATUSES))
            .order_by(Chat.reassign_due_at)
            .limit(limit)
        ).all()
    moved = 0
    for chat_id in due:
        with rt.sessions.begin() as session:
            moved += reassign_unanswered(session, chat_id, now)
    return moved


def reassign_unanswered(session: Session, chat_id: int, now: datetime) -> bool:
    """In the caller's transaction: move the chat if it is (still) due. True if it moved."""
    chat = session.scalar(
        select(Chat)
        .where(Chat.id == chat_id)
        .with_for_update(key_share=True, skip_locked=True)
        .execution_options(populate_existing=True)
    )
    if chat is None or chat.reassign_due_at is None or chat.reassign_due_at > now:
        return False  # answered, closed, or another worker has it
    campaign = session.get(Campaign, chat.campaign_id) if chat.campaign_id else None
    if campaign is None or campaign.reassign_after_seconds is None:
        chat.reassign_due_at = None  # the campaign turned the option off meanwhile
        return False
    chat.reassign_due_at = now + timedelta(seconds=campaign.reassign_after_seconds)
    if chat.status != ChatStatus.ASSIGNED or chat.agent_id is None:
        return False  # in the queue: the router gives it to the first eligible agent
    minutes = int((now - (chat.unanswered_since or now)).total_seconds() // 60)
    previous = session.get(User, chat.agent_id)
    source = previous.email if previous is not None else f"agent {chat.agent_id}"
    candidates = _candidates(session, campaign.id, campaign.max_assignments_per_minute, now)
    others = [c for c in candidates if c.agent_id != chat.agent_id]
    ranked = rank(others, campaign.assignment_policy)
    why = f"sin respuesta durante {minutes} min"
    if ranked:
        # Then count again: nobody moves them now. With the present agent, whose counter
        # drops with the move: both in id order, as every writer locks agents.
        lock_agents(session, [ranked[0].agent_id, chat.agent_id])
        target = candidate(session, ranked[0].agent_id, campaign.id, now)
        if target is not None and target.eligible:
            record_assignment(
                session,
                chat,
                target,
                now,
                kind=AssignmentKind.REASSIGN,
                by=None,
                policy=campaign.assignment_policy.value,
                reason=f"{why}: reasignado automáticamente de {source} a {target.email}",
                candidates=candidates,
            )
            return True
    # The agent's page hears that the chat left them (the event names them as the previous
    # agent), as it does when the router gives the chat to someone else.
    publish_after_commit(session, chat_event("chat", chat, previous_agent_id=chat.agent_id))
    chat.status = ChatStatus.WAITING_QUEUE
    chat.agent_id = None
    chat.queued_at = chat.queued_at or now  # keeps its place in the queue
    session.add(
        Assignment(
            chat_id=chat.id,
            agent_id=None,
            by_user_id=None,
            kind=AssignmentKind.UNASSIGN,
            policy=campaign.assignment_policy.value,
            reason=f"{why}: ningún otro agente disponible, {source} lo deja y vuelve a la cola",
            candidates=[c.log_entry() for c in candidates],
            created_at=now,
        )
    )
    session.flush()
    return True
