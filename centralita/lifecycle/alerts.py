"""Unanswered alerts: one per chat and unanswered episode, however many sweeps or workers.

Two things make it once-only. The due chats are taken with `FOR UPDATE SKIP LOCKED` and their
`alert_due_at` cleared in the same statement (UPDATE ... WHERE id IN (SELECT ... FOR UPDATE
SKIP LOCKED LIMIT n) RETURNING ...), so concurrent sweeps share the work instead of
repeating it; and the alert's unique key (`unanswered:<chat>:<episode start>`) is inserted with
ON CONFLICT DO NOTHING, so even a sweep that read the chat before another committed (SQLite's
serialised writers, a clock set back) adds nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from centralita.core.events import Event, publish_all_after_commit
from centralita.core.models import Alert, Chat
from centralita.core.runtime import Runtime
from centralita.lifecycle.bulk import insert_rows
from centralita.lifecycle.deadlines import HUMAN_STATUSES, UNANSWERED, episode_key

BATCH = 500


def insert_ignoring_duplicates(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert alerts, skipping any whose key exists; returns how many were added, each
    announced to the live pages once the transaction commits."""
    added = insert_rows(
        session,
        cast(Table, Alert.__table__),
        rows,
        ("kind", "chat_id", "campaign_id", "user_id"),
        skip_conflicts_on="key",
    )
    publish_all_after_commit(
        session,
        [
            Event(
                "alert",
                chat_id=chat_id,
                campaign_id=campaign_id,
                agent_ids=(user_id,) if user_id is not None else (),
                data={"alert": kind},
            )
            for kind, chat_id, campaign_id, user_id in added
        ],
    )
    return len(added)


def raise_due_unanswered(rt: Runtime, now: datetime, limit: int = 5000) -> int:
    """Raise the `unanswered` alert of every chat whose alert time has passed, for its agent
    (none while queued) and its campaign's supervisors; returns how many were raised. Each
    batch is one short transaction of two statements: take and clear, insert."""
    raised = 0
    taken = 0
    while taken < limit:
        due_ids = (
            select(Chat.id)
            .where(Chat.alert_due_at <= now, Chat.status.in_(HUMAN_STATUSES))
            .order_by(Chat.alert_due_at)
            .limit(min(BATCH, limit - taken))
            .with_for_update(skip_locked=True)
        )
        with rt.sessions.begin() as session:
            due = session.execute(
                update(Chat)
                .where(Chat.id.in_(due_ids.scalar_subquery()))
                .values(alert_due_at=None)
                .returning(
                    Chat.id, Chat.campaign_id, Chat.agent_id, Chat.number, Chat.unanswered_since
                )
                .execution_options(synchronize_session=False)
            ).all()
            if not due:
                break
            rows = [
                {
                    "kind": UNANSWERED,
                    "key": episode_key(c.id, c.unanswered_since or now),
                    "chat_id": c.id,
                    "campaign_id": c.campaign_id,
                    "number": c.number,
                    "user_id": c.agent_id,
                    "details": {
                        "unanswered_since": (c.unanswered_since or now).isoformat(),
                        "minutes": int(((now - (c.unanswered_since or now)).total_seconds()) // 60),
                    },
                    "created_at": now,
                }
                for c in due
            ]
            raised += insert_ignoring_duplicates(session, rows)
        taken += len(due)
        if len(due) < BATCH:
            break
    return raised
