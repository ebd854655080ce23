"""One pass of every timer, as of a given time: what `centralita sweep` and the worker run.

Each part is safe to run from several workers at once and catches up on whatever a crash or
a Redis outage left undone, because it works from rows, not from jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from centralita.channels.bot_timers import tick_due_chats
from centralita.channels.outbox import recover_unsent
from centralita.channels.senders import evaluate_senders_if_due
from centralita.channels.status import reconcile_early_statuses
from centralita.core.runtime import Runtime
from centralita.lifecycle.alerts import raise_due_unanswered
from centralita.lifecycle.autoclose import close_due_chats
from centralita.lifecycle.jobs import requeue_due_transcripts
from centralita.lifecycle.reassign import reassign_due_chats
from centralita.routing.queue import drain_queue
from centralita.routing.signin import expire_idle_sessions


@dataclass
class SweepReport:
    bot_timers: int  # chats whose silence reminder or timeout fired
    outbox_requeued: int  # unsent messages whose job was lost, enqueued again
    senders_changed: int = 0  # numbers whose risk level changed (alerted; paused if critical)
    queue_assigned: int = 0  # waiting chats the router could give to an agent
    chats_closed: int = 0  # open chats past their close time, closed by the timer
    alerts_raised: int = 0  # chats unanswered past their alert time
    reassigned: int = 0  # unanswered chats moved to another agent (or back to the queue)
    transcripts_enqueued: int = 0  # closed chats whose PDF was due, enqueued (again)
    sessions_expired: int = 0  # web sign-ins idle past SESSION_IDLE_MINUTES, ended
    early_statuses: int = 0  # status callbacks that came before their sid was stored, applied

    def lines(self) -> list[str]:
        return [
            f"bot silence timers fired: {self.bot_timers}",
            f"unsent messages enqueued again: {self.outbox_requeued}",
            f"chats closed automatically: {self.chats_closed}",
            f"unanswered alerts raised: {self.alerts_raised}",
            f"unanswered chats reassigned: {self.reassigned}",
            f"transcripts enqueued: {self.transcripts_enqueued}",
            f"waiting chats assigned: {self.queue_assigned}",
            f"sender risk levels changed: {self.senders_changed}",
            f"idle web sessions expired: {self.sessions_expired}",
            f"early delivery statuses applied: {self.early_statuses}",
        ]


def sweep(rt: Runtime, now: datetime) -> SweepReport:
    # Recovery first: what earlier work left unsent or unmade is enqueued again before this
    # sweep's own steps enqueue theirs (closing messages and transcripts, bot replies), so it
    # never enqueues twice what it has just enqueued.
    outbox_requeued = recover_unsent(rt, now)
    transcripts_requeued = requeue_due_transcripts(rt, now)
    # Closes next: a chat due for both closes instead of alerting, and frees its agent
    # before the queue drains. Each close enqueues its closing message and its transcript.
    chats_closed = close_due_chats(rt, now)
    return SweepReport(
        outbox_requeued=outbox_requeued,
        chats_closed=chats_closed,
        transcripts_enqueued=transcripts_requeued + chats_closed,
        alerts_raised=raise_due_unanswered(rt, now),
        reassigned=reassign_due_chats(rt, now),
        bot_timers=tick_due_chats(rt, now),
        early_statuses=reconcile_early_statuses(rt, now),
        queue_assigned=len(drain_queue(rt.sessions, now)),
        sessions_expired=expire_idle_sessions(
            rt.sessions, now, timedelta(minutes=rt.settings.session_idle_minutes)
        ),
        # Last, so a bad SENDER_HEALTH_* value cannot hold up the timers and the outbox;
        # at most once a minute per process (senders.EVALUATE_EVERY): rolling windows.
        senders_changed=len(evaluate_senders_if_due(rt, now)),
    )
