"""The transcript job, its retries, and the sweep's re-enqueue of transcripts still due.

The row is the truth: `transcript_due_at` says a PDF is owed and when to try next. A failed
render counts an attempt and pushes the due time back (backoff), and the sweep enqueues the
job again then; after MAX_ATTEMPTS the chat stops being due, an alert `transcript_failed` is
raised, and the job raises so RQ keeps it in its failed registry for people to look at.
Retries are bookkept here rather than with RQ's `Retry`, so they survive a Redis outage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from centralita.core.alerts import raise_alert
from centralita.core.jobs import enqueue_batches
from centralita.core.models import Chat, ChatStatus, utcnow
from centralita.core.runtime import Runtime, current

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# While a job is queued or running its chat is not due: the sweep enqueues it again only if
# the job has not finished by then (lost with a killed worker or a flushed Redis).
LEASE = timedelta(minutes=5)
BATCH = 500
# Transcripts per batch job (`transcripts_job`): a few seconds of rendering each, and enough
# jobs for several workers to share a sweep's hundreds.
JOB_BATCH = 50


class TranscriptFailed(RuntimeError):
    """The transcript could not be made after every attempt (the job's final failure)."""


def backoff(attempts: int) -> timedelta:
    """Before attempt `attempts` + 1: 1, 2, 4, 8 minutes (capped at an hour)."""
    return timedelta(seconds=min(60 * 2 ** (attempts - 1), 3600))


def enqueue_transcript(rt: Runtime, chat_id: int) -> None:
    """After a close commits (best effort: the sweep enqueues it again if this is lost)."""
    rt.jobs.enqueue(transcript_job, chat_id)


def enqueue_transcripts(rt: Runtime, chat_ids: Sequence[int]) -> None:
    """Enqueue many transcripts (leased chats, after the commit), in batch jobs."""
    enqueue_batches(rt.jobs, transcripts_job, chat_ids, JOB_BATCH)


def transcript_job(chat_id: int) -> None:
    """The job (ids only; everything is reloaded)."""
    make_transcript(current(), chat_id)


def transcripts_job(chat_ids: list[int]) -> None:
    """The job for many transcripts (the sweep's): each made as `transcript_job` makes it,
    one after the other, failures recorded on its chat for a later retry. Raises after
    trying them all when any was given up on, so the job lands in RQ's failed registry."""
    rt = current()
    gave_up = []
    for chat_id in chat_ids:
        try:
            make_transcript(rt, chat_id)
        except TranscriptFailed:
            gave_up.append(chat_id)
    if gave_up:
        raise TranscriptFailed(f"transcripts of chats {gave_up}: see their transcript_error")


def make_transcript(rt: Runtime, chat_id: int, now: datetime | None = None) -> str | None:
    """Render and store the closed chat's PDF; on failure, record it for a later retry.
    Returns the stored path (None: nothing to do). Raises TranscriptFailed on giving up."""
    from centralita.lifecycle.transcript import write_transcript

    now = now or utcnow()
    try:
        return write_transcript(rt, chat_id, now)
    except Exception as exc:  # any render or storage failure counts as an attempt
        gave_up = record_failure(rt, chat_id, exc, now)
        if gave_up:
            raise TranscriptFailed(f"transcript of chat {chat_id}: {exc}") from exc
        log.warning("transcript of chat %s failed, will retry: %s", chat_id, exc)
        return None


def record_failure(rt: Runtime, chat_id: int, exc: BaseException, now: datetime) -> bool:
    """Count a failed attempt; True when that was the last one (the alert is raised)."""
    error = f"{type(exc).__name__}: {exc}"[:2000]
    with rt.sessions.begin() as session:
        chat = session.get(Chat, chat_id, with_for_update=True)
        if chat is None:
            return False
        chat.transcript_attempts += 1
        chat.transcript_error = error
        if chat.transcript_attempts < MAX_ATTEMPTS:
            chat.transcript_due_at = now + backoff(chat.transcript_attempts)
            return False
        chat.transcript_due_at = None
        _alert(session, chat, error)
        return True


def _alert(session: Session, chat: Chat, error: str) -> None:
    raise_alert(
        session,
        "transcript_failed",
        f"transcript_failed:{chat.id}",
        chat_id=chat.id,
        campaign_id=chat.campaign_id,
        number=chat.number,
        details={"attempts": chat.transcript_attempts, "error": error},
    )


def requeue_due_transcripts(rt: Runtime, now: datetime, limit: int = 2000) -> int:
    """Enqueue the transcript job of every closed chat whose PDF is due (the sweep's part),
    leasing each for LEASE so the next sweeps leave a queued job alone. Several sweeps at
    once each take different chats (SKIP LOCKED on PostgreSQL)."""
    enqueued: list[int] = []
    while len(enqueued) < limit:
        with rt.sessions.begin() as session:
            ids = list(
                session.scalars(
                    select(Chat.id)
                    .where(Chat.transcript_due_at <= now, Chat.status == ChatStatus.CLOSED)
                    .order_by(Chat.transcript_due_at)
                    .limit(min(BATCH, limit - len(enqueued)))
                    .with_for_update(skip_locked=True)
                )
            )
            if ids:
                session.execute(
                    update(Chat)
                    .where(Chat.id.in_(ids))
                    .values(transcript_due_at=now + LEASE)
                    .execution_options(synchronize_session=False)
                )
        # After the commit: an inline runner (no Redis) renders right here and may write the
        # chat, which must not wait for this transaction.
        enqueue_transcripts(rt, ids)
        enqueued.extend(ids)
        if len(ids) < BATCH:
            break
    return len(enqueued)
