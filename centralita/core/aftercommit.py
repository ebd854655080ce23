"""What a committed transaction leaves to do: its jobs and its live events, sent together.

With RQ and Redis pub/sub on the same Redis (as `Runtime.build` sets them up), the jobs and
the events go in one pipeline: one round trip instead of one for the jobs and one per event.
The inbound webhook does this for every message. Both are best effort, as everywhere: the
rows are committed, the sweep enqueues a lost job again, and a lost event only delays a page
until its next refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from redis.exceptions import RedisError

from centralita.core.events import Event, RedisBroker, broker_for
from centralita.core.jobs import RQJobs
from centralita.core.runtime import Runtime

log = logging.getLogger(__name__)

Call = tuple[Callable[..., Any], tuple[Any, ...]]


def enqueue_and_publish(rt: Runtime, calls: Sequence[Call], events: Sequence[Event]) -> None:
    """Enqueue each `func(*args)` of `calls` and publish `events`, in one Redis round trip
    when both go to the same Redis; otherwise each the usual way."""
    broker = broker_for(rt.engine)
    jobs = rt.jobs
    if not isinstance(jobs, RQJobs) or (
        events and not (isinstance(broker, RedisBroker) and broker.redis is jobs.queue.connection)
    ):
        for func, args in calls:
            jobs.enqueue(func, *args)
        if broker is not None and events:
            broker.publish_many(list(events))
        return
    publish = isinstance(broker, RedisBroker) and not broker.paused()
    try:
        with jobs.queue.connection.pipeline(transaction=False) as pipe:
            if calls:
                jobs.add_to(pipe, calls)
            if publish:
                assert isinstance(broker, RedisBroker)
                for item in events:
                    pipe.publish(broker.channel, item.to_json())
            pipe.execute()
    except RedisError as exc:
        names = ", ".join(func.__name__ for func, _ in calls) or "no job"
        log.warning("could not enqueue %s nor publish %d events: %s", names, len(events), exc)
        if publish and isinstance(broker, RedisBroker):
            broker.failed(exc)
