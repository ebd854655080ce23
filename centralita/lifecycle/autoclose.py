"""The automatic close: every open chat closes at opening + its campaign's close time.

The deadline (`close_due_at`) is fixed when the chat opens and when the bot learns its
campaign; silence never brings it forward. Due chats are closed in batches, each one
transaction that locks its chats with `FOR UPDATE SKIP LOCKED` (so concurrent sweeps take
different chats) and closes them all through the shared `close_many` (the set-based
`close_chat`: same columns, same closing message): a few statements per batch, whatever
its size.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from centralita.core.models import Campaign, Chat, ChatStatus
from centralita.core.runtime import Runtime
from centralita.lifecycle.close import ClosedBy, ClosedRow, ToClose, after_close, close_many
from centralita.lifecycle.deadlines import DEFAULT_CLOSE_AFTER

BATCH = 500


def close_reason(close_after_seconds: int) -> str:
    """The reason, for people: says it was automatic and after how long."""
    hours, rest = divmod(close_after_seconds, 3600)
    span = f"{hours} h" if rest == 0 else f"{close_after_seconds // 60} min"
    return f"cierre automático: {span} desde la apertura"


def close_due_chats(rt: Runtime, now: datetime, limit: int = 2000) -> int:
    """Close every open chat whose close time has passed; returns how many were closed.
    The closing messages and the transcripts (leased by the close) are enqueued after each
    batch commits, in batch jobs; the freed agents are left to the sweep's queue drain."""
    closed_total = 0
    while closed_total < limit:
        with rt.sessions.begin() as session:
            closed = _close_batch(session, now, min(BATCH, limit - closed_total))
        after_close(rt, closed, now, by_sweep=True)
        closed_total += len(closed)
        if len(closed) < BATCH:
            break
    return closed_total


def _close_batch(session: Session, now: datetime, size: int) -> list[ClosedRow]:
    due = session.execute(
        select(Chat.id, Chat.campaign_id, Chat.agent_id, Chat.status)
        .where(Chat.close_due_at <= now, Chat.status != ChatStatus.CLOSED)
        .order_by(Chat.close_due_at)
        .limit(size)
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return []
    campaign_ids = sorted({c.campaign_id for c in due if c.campaign_id is not None})
    campaigns = (
        {c.id: c for c in session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)))}
        if campaign_ids
        else {}
    )
    # One reason per campaign (and one for chats without one), not one per chat.
    reasons = {cid: close_reason(c.close_after_seconds) for cid, c in campaigns.items()}
    default_reason = close_reason(int(DEFAULT_CLOSE_AFTER.total_seconds()))
    chats = [
        ToClose(
            chat_id=c.id,
            campaign_id=c.campaign_id,
            agent_id=c.agent_id,
            status=c.status,
            reason=reasons.get(c.campaign_id, default_reason),
        )
        for c in due
    ]
    return close_many(session, chats, campaigns, now, closed_by=ClosedBy.TIMER)
