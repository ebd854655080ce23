"""One pass of every timer, as of a given time: what `centralita sweep` and the worker run.

Each part is safe to run from several workers at once and catches up on whatever a crash or
a Redis outage left undone, because it works from rows, not from jobs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from centralita.channels.bot_timers import tick_due_chats
from centralita.channels.outbox import recover_unsent
from centralita.channels.senders import evaluate_senders
from centralita.core.runtime import Runtime
from centralita.routing.queue import drain_queue


@dataclass
class SweepReport:
    bot_timers: int  # chats whose silence reminder or timeout fired
    outbox_requeued: int  # unsent messages whose job was lost, enqueued again
    senders_changed: int = 0  # numbers whose risk level changed (alerted; paused if critical)
    queue_assigned: int = 0  # waiting chats the router could give to an agent

    def lines(self) -> list[str]:
        return [
            f"bot silence timers fired: {self.bot_timers}",
            f"unsent messages enqueued again: {self.outbox_requeued}",
            f"waiting chats assigned: {self.queue_assigned}",
            f"sender risk levels changed: {self.senders_changed}",
        ]


def sweep(rt: Runtime, now: datetime) -> SweepReport:
    return SweepReport(
        bot_timers=tick_due_chats(rt, now),
        outbox_requeued=recover_unsent(rt, now),
        queue_assigned=len(drain_queue(rt.sessions, now)),
        # Last, so a bad SENDER_HEALTH_* value cannot hold up the timers and the outbox.
        senders_changed=len(evaluate_senders(rt, now)),
    )
