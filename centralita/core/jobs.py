"""Background jobs: RQ on Redis when REDIS_URL is set, a thread in this process otherwise.

Jobs are importable functions that take plain ids and reload their rows (RQ's advice), so
either runner can carry them. Work that must not be lost is a database row before it is a job:
a job that never runs (Redis down, process killed) is found again by the sweep, so enqueueing
is best effort and never fails the transaction that produced the work.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, Protocol

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

QUEUE_NAME = "centralita"
JOB_TIMEOUT = 120  # seconds; a send or a PDF that takes longer is stuck, not slow


class Jobs(Protocol):
    def enqueue(self, func: Callable[..., Any], *args: Any, delay: float = 0.0) -> None: ...


def enqueue_all(
    jobs: Jobs, func: Callable[..., Any], calls: Sequence[tuple[Any, ...]], *, items: int = 1
) -> None:
    """Enqueue `func(*args)` for each of `calls`, in order: in one Redis round trip when the
    runner can (`enqueue_many`), else one by one. `items`: how many sends or PDFs one call
    does at most (batch jobs), so its time limit allows each of them JOB_TIMEOUT."""
    many = getattr(jobs, "enqueue_many", None)
    if many is not None:
        many(func, calls, timeout=JOB_TIMEOUT * items)
    else:
        for args in calls:
            jobs.enqueue(func, *args)


def enqueue_batches(
    jobs: Jobs, func: Callable[[list[int]], Any], ids: Sequence[int], size: int
) -> None:
    """Enqueue `func(chunk)` for `ids` in chunks of at most `size`. Creating an RQ job costs
    ≈ 0.1 ms of CPU (its hash, its serialised call): the sweep's hundreds of closing messages
    and transcripts go as a few jobs carrying id lists instead of one job per row."""
    chunks = [list(ids[start : start + size]) for start in range(0, len(ids), size)]
    enqueue_all(jobs, func, [(chunk,) for chunk in chunks], items=size)


class InlineJobs:
    """Runs each job at once, in the caller's thread: tests and scripts that want results now.
    Delayed jobs (retries, rate limits) are only recorded in `delayed`, never run: a test
    decides when time passes, e.g. by calling the job itself."""

    def __init__(self) -> None:
        self.delayed: list[tuple[Callable[..., Any], tuple[Any, ...], float]] = []

    def enqueue(self, func: Callable[..., Any], *args: Any, delay: float = 0.0) -> None:
        if delay > 0:
            self.delayed.append((func, args, delay))
            return
        try:
            func(*args)
        except Exception:
            log.exception("job %s%r failed", func.__name__, args)


class ThreadJobs:
    """One background thread running jobs in order, for `demo` and `serve` without Redis.

    A delayed job waits on a timer thread. Jobs lost when the process stops are recovered by
    the sweep from their rows, as with RQ."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="centralita-jobs", daemon=True)
        self._thread.start()

    def enqueue(self, func: Callable[..., Any], *args: Any, delay: float = 0.0) -> None:
        if delay > 0:
            timer = threading.Timer(delay, self._queue.put, args=((func, args),))
            timer.daemon = True
            timer.start()
        else:
            self._queue.put((func, args))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            func, args = item
            try:
                func(*args)
            except Exception:
                log.exception("job %s%r failed", func.__name__, args)
            finally:
                self._queue.task_done()

    def join(self) -> None:
        """Wait until every job queued so far has run (tests)."""
        self._queue.join()

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)


class RQJobs:
    """RQ with the JSON serializer: jobs carry ids, never pickled objects."""

    def __init__(self, redis: Redis) -> None:
        from rq import Queue
        from rq.serializers import JSONSerializer

        self.queue = Queue(QUEUE_NAME, connection=redis, serializer=JSONSerializer)

    def enqueue(self, func: Callable[..., Any], *args: Any, delay: float = 0.0) -> None:
        try:
            if delay > 0:
                self.queue.enqueue_in(
                    timedelta(seconds=delay), func, *args, job_timeout=JOB_TIMEOUT
                )
            else:
                self.queue.enqueue(func, *args, job_timeout=JOB_TIMEOUT)
        except RedisError as exc:
            # The row is committed; the sweep will enqueue it again once Redis is back.
            log.warning("could not enqueue %s%r: %s", func.__name__, args, exc)

    def enqueue_many(
        self,
        func: Callable[..., Any],
        calls: Sequence[tuple[Any, ...]],
        *,
        timeout: int = JOB_TIMEOUT,
    ) -> None:
        """One job per call, all sent to Redis in one pipeline (one round trip)."""
        if not calls:
            return
        from rq import Queue

        try:
            self.queue.enqueue_many(
                [Queue.prepare_data(func, args, timeout=timeout) for args in calls]
            )
        except RedisError as exc:
            log.warning("could not enqueue %d × %s: %s", len(calls), func.__name__, exc)

    def add_to(
        self, pipe: Pipeline, calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]]
    ) -> None:
        """A job for each `func(*args)` of `calls`, added to `pipe`: sent when the caller
        executes it, with whatever else the caller adds (one round trip in all). Written as
        RQ writes them, without a `Job` object each (rqwrite.py): this runs for every
        inbound message."""
        from centralita.core.rqwrite import add_jobs

        add_jobs(pipe, self.queue, calls, JOB_TIMEOUT)
