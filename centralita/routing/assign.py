"""Assign a waiting chat to the best eligible agent of its campaign, inside the caller's
transaction, race-free, with a row in the assignment log.

Eligible: an active agent who serves the chat's campaign, is available (online, heartbeat in
the last 90 s), holds fewer open chats than their capacity counting every campaign, and has
received fewer chats from the router in the last minute than the campaign's cap.

How it stays correct with many assigners at once (web workers handing off, sweeps draining):

- The chat row is locked first (`FOR NO KEY UPDATE`) and must still be `waiting_queue`: two
  assigners of one chat take turns, and the second finds it assigned. Never two agents.
- Then the chosen agent's row is locked. An agent's open chats are a counter on their row,
  which the database's triggers change with every chat given or taken away
  (core/open_chats.py), so whoever changes an agent's load writes, and so locks, their row:
  once we hold it, nobody can, and what we read of it is final until commit. Never over
  capacity.
- Agents are locked with `SKIP LOCKED`, best-ranked first: concurrent assigners of one
  campaign each take a different agent (the next best) instead of queueing behind one lock,
  which is both faster and what a fair sequential router would have done. An assigner holds
  one agent at a time, and waits only when every eligible agent is held by others, for the
  best one, holding no agent: lock order is always chat, then agent, so no deadlock.
- On PostgreSQL the whole decision is one call of the database function `centralita_route`
  (`postgres.py`, migration 0013, sent straight on psycopg): locking the chat, judging and
  ranking the candidates, locking the best free agent and writing chat, agent and log row in
  one round trip, the router's hot path kept off the ORM and out of Python. It ranks on one
  snapshot and locks only an agent whose row is still the version it ranked, so figures
  that moved in between (another decision committed meanwhile) are never acted on. The
  Python below (`_judge`, `policies.rank`, `policies.explain`) stays the reference it
  mirrors, and the SQLite path.
- SQLite has no row locks: the write transaction (`BEGIN IMMEDIATE`) already excludes every
  other writer, so the first read is final and no lock statements are sent.

`NO KEY UPDATE` rather than `UPDATE`: it conflicts with itself and with UPDATE as needed,
but not with the `KEY SHARE` locks that foreign keys take, so inserting a message into a chat
(or anything referencing a user) does not wait for the router.

A chat without a campaign (a handoff before the customer was identified, a missing flow)
cannot be routed: no agent serves "no campaign". It stays in the queue, where supervisors
see it (`queue.waiting_chats`) and can give it to an agent by hand (`reassign.manual_assign`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Executable,
    Row,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from centralita.core.events import chat_event, publish_after_commit
from centralita.core.models import (
    Assignment,
    AssignmentKind,
    Campaign,
    Chat,
    ChatStatus,
    IdType,
    Role,
    User,
    user_campaigns,
)
from centralita.routing import postgres as pg
from centralita.routing.policies import Candidate, explain, rank
from centralita.routing.presence import STALE_AFTER, why_unavailable

CAP_WINDOW = timedelta(minutes=1)  # the campaign's cap counts the router's chats in this window


class Outcome(StrEnum):
    ASSIGNED = "assigned"
    LOCKED = "locked"  # another transaction holds the chat (only with skip_locked)
    NOT_WAITING = "not_waiting"  # not in the queue (any more), or no such chat
    NO_CAMPAIGN = "no_campaign"  # cannot be routed: for supervisors, by hand
    NOBODY = "nobody"  # no eligible agent right now


def assign_chat(
    session: Session,
    chat_id: int,
    now: datetime,
    *,
    by: User | None = None,
    skip_locked: bool = False,
) -> Assignment | None:
    """Give the waiting chat to the best eligible agent; None if it stays in the queue (not
    waiting any more, no campaign, or nobody eligible now). With `skip_locked`, a chat that
    another transaction holds is left alone (None) instead of waited for, as the queue's
    drain does. The caller commits; the chat row stays locked until then."""
    return attempt_assignment(session, chat_id, now, by=by, skip_locked=skip_locked)[1]


def attempt_assignment(
    session: Session,
    chat_id: int,
    now: datetime,
    *,
    by: User | None = None,
    skip_locked: bool = False,
) -> tuple[Outcome, Assignment | None]:
    """`assign_chat`, also saying why nothing was assigned."""
    if session.get_bind().dialect.name == "postgresql":
        return _attempt_postgres(session, chat_id, now, by=by, skip_locked=skip_locked)
    # Only a waiting chat is locked (the condition is checked again after any wait): trying
    # a chat someone else already placed costs no lock, so no write and no commit flush.
    query = _LOCK_CHAT_SKIP if skip_locked else _LOCK_CHAT
    found = session.execute(query, {"chat_id": chat_id}).first()
    if found is None:
        if skip_locked and session.scalar(_WAITING, {"chat_id": chat_id}):
            return Outcome.LOCKED, None
        return Outcome.NOT_WAITING, None
    chat, policy, cap = found
    if chat.campaign_id is None or policy is None or cap is None:
        return Outcome.NO_CAMPAIGN, None

    # SQLite: the write transaction (BEGIN IMMEDIATE) excludes every other writer, so what
    # is read now is final until commit.
    candidates = {c.agent_id: c for c in _candidates(session, chat.campaign_id, cap, now)}
    ranked = rank(candidates.values(), policy)
    if not ranked:
        return Outcome.NOBODY, None
    chosen = ranked[0]
    assignment = record_assignment(
        session,
        chat,
        chosen,
        now,
        kind=AssignmentKind.ASSIGN,
        by=by,
        policy=policy.value,
        reason=explain(chosen, candidates.values(), policy),
        candidates=list(candidates.values()),
    )
    return Outcome.ASSIGNED, assignment


def _attempt_postgres(
    session: Session,
    chat_id: int,
    now: datetime,
    *,
    by: User | None,
    skip_locked: bool,
) -> tuple[Outcome, Assignment | None]:
    """`attempt_assignment` on PostgreSQL: one call of the database's `centralita_route`,
    straight on the driver (see `postgres.py`)."""
    session.flush()  # what the caller changed goes first, as the ORM would order it
    row = (
        pg.driver(session.connection())
        .execute(
            pg.ROUTE,
            {
                "chat_id": chat_id,
                "now": now,
                "since": now - CAP_WINDOW,
                "fresh_since": now - STALE_AFTER,
                "by_user_id": by.id if by is not None else None,
                "skip_locked": skip_locked,
            },
        )
        .fetchone()
    )
    assert row is not None  # a function with OUT parameters returns one row
    outcome, assignment_id, agent_id, policy, reason, entries = row
    if outcome != Outcome.ASSIGNED:
        return Outcome(outcome), None
    return Outcome.ASSIGNED, _assigned(
        session, assignment_id, chat_id, agent_id, now, by, policy, reason, entries
    )


def _assigned(
    session: Session,
    assignment_id: int,
    chat_id: int,
    agent_id: int,
    now: datetime,
    by: User | None,
    policy: str,
    reason: str,
    entries: list[dict[str, Any]],
) -> Assignment:
    """The log row as an ORM object, and the session told what the database now holds."""
    chat = session.identity_map.get(identity_key(Chat, chat_id))
    _written(session, chat if isinstance(chat, Chat) else None, agent_id, now)
    assignment = Assignment(
        id=assignment_id,
        chat_id=chat_id,
        agent_id=agent_id,
        by_user_id=by.id if by is not None else None,
        kind=AssignmentKind.ASSIGN,
        policy=policy,
        reason=reason,
        candidates=entries,
        created_at=now,
    )
    make_transient_to_detached(assignment)
    session.add(assignment)
    return assignment


def _candidates(
    session: Session,
    campaign_id: int | None,
    cap: int | None,
    now: datetime,
    *,
    only: Sequence[int] | None = None,
) -> list[Candidate]:
    """The campaign's agents (or, with no campaign, the agents in `only`) with their open
    chats (every campaign) and last minute's automatic assignments, as of this statement.
    `cap` None: the per-minute cap does not apply (a person decides, not the router)."""
    params: dict[str, object] = {"since": now - CAP_WINDOW, "campaign_id": campaign_id}
    if only is not None:
        params["ids"] = list(only)
        query = _AGENTS_IN if campaign_id is None else _CAMPAIGN_AGENTS_IN
    elif campaign_id is None:
        raise ValueError("candidates without a campaign need `only`")
    else:
        query = _CAMPAIGN_AGENTS
    rows = session.execute(query, params).all()
    return [_candidate(row, cap, now) for row in rows]


def candidate(
    session: Session, agent_id: int, campaign_id: int | None, now: datetime
) -> Candidate | None:
    """One agent as a candidate for a chat of `campaign_id` (None if not an agent of it),
    counted now: call it after locking the agent (`open_chats.lock_agents`). No per-minute cap."""
    found = _candidates(session, campaign_id, None, now, only=[agent_id])
    return found[0] if found else None


_OPEN = User.open_chats.label("open")  # kept by triggers on `chats` (core/open_chats.py)
_RECENT = (
    select(func.count())
    .select_from(Assignment)
    .where(
        Assignment.agent_id == User.id,
        Assignment.kind == AssignmentKind.ASSIGN,
        Assignment.created_at > bindparam("since", type_=Assignment.created_at.type),
    )
    .correlate(User)
    .scalar_subquery()
    .label("recent")
)
_CANDIDATE_COLUMNS = (
    User.id,
    User.email,
    User.active,
    User.capacity,
    User.weight,
    User.presence,
    User.last_seen_at,
    User.last_assigned_at,
    _OPEN,
    _RECENT,
)


# The hot path's statements, built once: building and cache-keying a statement costs more
# than a round trip to the database.
_IDS = bindparam("ids", type_=ARRAY(BigInteger))
_CAMPAIGN_AGENTS = (
    select(*_CANDIDATE_COLUMNS)
    .join(user_campaigns, user_campaigns.c.user_id == User.id)
    .where(User.role == Role.AGENT, user_campaigns.c.campaign_id == bindparam("campaign_id"))
    .order_by(User.id)
)
_CAMPAIGN_AGENTS_IN = _CAMPAIGN_AGENTS.where(User.id.in_(bindparam("ids", expanding=True)))
_AGENTS_IN = (
    select(*_CANDIDATE_COLUMNS)
    .where(User.role == Role.AGENT, User.id.in_(bindparam("ids", expanding=True)))
    .order_by(User.id)
)
_CHAT_AND_SETTINGS = (
    select(Chat, Campaign.assignment_policy, Campaign.max_assignments_per_minute)
    .outerjoin(Campaign, Campaign.id == Chat.campaign_id)
    .where(Chat.id == bindparam("chat_id"), Chat.status == ChatStatus.WAITING_QUEUE)
    .execution_options(populate_existing=True)
)
_LOCK_CHAT = _CHAT_AND_SETTINGS.with_for_update(of=Chat, key_share=True)
_LOCK_CHAT_SKIP = _CHAT_AND_SETTINGS.with_for_update(of=Chat, key_share=True, skip_locked=True)
_WAITING = select(Chat.id).where(
    Chat.id == bindparam("chat_id"), Chat.status == ChatStatus.WAITING_QUEUE
)


def _candidate(row: Row[tuple[object, ...]], cap: int | None, now: datetime) -> Candidate:
    m = row._mapping
    return _judge(
        m["id"], m["email"], m["active"], m["capacity"], m["weight"], m["presence"],
        m["last_seen_at"], m["last_assigned_at"], m["open"], m["recent"], cap, now,
    )  # fmt: skip


def _judge(
    agent_id: int,
    email: str,
    active: bool,
    capacity: int,
    weight: int,
    presence: str,
    last_seen_at: datetime | None,
    last_assigned_at: datetime | None,
    open_chats: int,
    recent: int,
    cap: int | None,
    now: datetime,
) -> Candidate:
    """An agent as a candidate: eligible, or why not."""
    why_not: str | None
    if not active:
        why_not = "inactive"
    else:
        why_not = why_unavailable(presence, last_seen_at, now)
        if why_not is None and open_chats >= capacity:
            why_not = "full"
        elif why_not is None and cap is not None and recent >= cap:
            why_not = "per_minute_cap"
    return Candidate(
        agent_id=agent_id,
        email=email,
        open=open_chats,
        capacity=capacity,
        weight=weight,
        recent=recent,
        last_assigned_at=last_assigned_at,
        why_not=why_not,
        last_seen_at=last_seen_at,
    )


def record_assignment(
    session: Session,
    chat: Chat,
    to: Candidate,
    now: datetime,
    *,
    kind: AssignmentKind,
    by: User | None,
    policy: str | None,
    reason: str,
    candidates: Sequence[Candidate],
) -> Assignment:
    """Give the (locked) chat to the (locked) agent and write the log row."""
    publish_after_commit(session, chat_event("chat", chat, previous_agent_id=chat.agent_id))
    values = {
        "chat_id": chat.id,
        "agent_id": to.agent_id,
        "by_user_id": by.id if by is not None else None,
        "kind": kind,
        "policy": policy,
        "reason": reason,
        "candidates": [c.log_entry() for c in candidates],
        "created_at": now,
    }
    if session.get_bind().dialect.name != "postgresql":
        chat.status = ChatStatus.ASSIGNED
        chat.agent_id = to.agent_id
        chat.assigned_at = now
        session.execute(
            update(User).where(User.id == to.agent_id).values(last_assigned_at=now),
            execution_options={"synchronize_session": "evaluate"},
        )
        assignment = Assignment(**values)
        session.add(assignment)
        session.flush()
        return assignment

    # PostgreSQL: the three writes in one statement (one round trip instead of three, and no
    # unit-of-work flush): the hot path of every handoff. The objects in the session are then
    # told what the database now holds, as if they had been flushed.
    session.flush()  # anything pending on the chat goes first, as a flush would order it
    # On the connection: the ORM would take an insert with parameters for a bulk insert.
    new_id = (
        session.connection()
        .execute(
            _WRITE_ASSIGNMENT,
            {f"log_{name}": value for name, value in values.items()}
            | {"assign_agent_id": to.agent_id, "assign_chat_id": chat.id, "now": now},
        )
        .scalar_one()
    )
    _written(session, chat, to.agent_id, now)
    assignment = Assignment(id=new_id, **values)
    make_transient_to_detached(assignment)
    session.add(assignment)
    return assignment


def _written(session: Session, chat: Chat | None, agent_id: int, now: datetime) -> None:
    """Tell the session's objects what a statement sent past the ORM wrote, as if flushed."""
    if chat is not None:
        set_committed_value(chat, "status", ChatStatus.ASSIGNED)
        set_committed_value(chat, "agent_id", agent_id)
        set_committed_value(chat, "assigned_at", now)
        session.expire(chat, ["agent"])  # the relationship follows agent_id when next read
    agent = session.identity_map.get(identity_key(User, agent_id))
    if isinstance(agent, User):
        set_committed_value(agent, "last_assigned_at", now)


def _write_assignment() -> Executable:
    """Chat, agent and log row in one statement (PostgreSQL's data-modifying CTEs)."""
    now = bindparam("now", type_=User.last_assigned_at.type)
    agent_id = bindparam("assign_agent_id", type_=IdType)
    agent_update = (
        update(User).where(User.id == agent_id).values(last_assigned_at=now).cte("agent_update")
    )
    chat_update = (
        update(Chat)
        .where(Chat.id == bindparam("assign_chat_id", type_=IdType))
        .values(status=ChatStatus.ASSIGNED, agent_id=agent_id, assigned_at=now)
        .cte("chat_update")
    )
    columns = (
        "chat_id",
        "agent_id",
        "by_user_id",
        "kind",
        "policy",
        "reason",
        "candidates",
        "created_at",
    )
    return (
        insert(Assignment)
        .values(
            # Prefixed names: an execution parameter named like a column of an UPDATE
            # would be added to its SET clause.
            {name: bindparam(f"log_{name}") for name in columns}
        )
        .returning(Assignment.id)
        .add_cte(agent_update)
        .add_cte(chat_update)
    )


_WRITE_ASSIGNMENT = _write_assignment()
