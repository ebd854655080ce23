"""RQ jobs written straight into a Redis pipeline, as RQ's own `Queue.enqueue_many` writes them.

The inbound webhook enqueues a job for every message. RQ builds a `Job` object for each (its
attributes, its serializer resolved again, a first `HSET` of the status and then the whole
hash), which was half the CPU of the webhook's one Redis round trip. A plain job (a function
and its arguments, no dependencies, callbacks, retries or TTLs) is only that hash and the
push of its id on the queue: this writes exactly those, field for field, so an RQ worker runs
it as any other (tests/core/test_rqwrite.py compares the two writes and runs the job).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from redis.client import Pipeline
from rq import Queue
from rq.utils import get_call_string

# rq.utils' format: UTC, microseconds, a literal Z.
_TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
# RQ's limit on each argument's repr in a job's description.
_DESCRIPTION_ARGUMENT = 75
# The fields of a plain job RQ writes empty.
_EMPTY = (
    "success_callback_name",
    "failure_callback_name",
    "stopped_callback_name",
    "started_at",
    "ended_at",
    "last_heartbeat",
    "worker_name",
    "group_id",
)


def function_name(func: Callable[..., Any]) -> str:
    """The importable name RQ stores for a module-level function."""
    return f"{func.__module__}.{func.__qualname__}"


def add_jobs(
    pipe: Pipeline,
    queue: Queue,
    calls: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]],
    timeout: int,
) -> list[str]:
    """A queued job for each `func(*args)` of `calls` (module-level functions, JSON-able
    arguments: the queue's serializer must be RQ's JSONSerializer), added to `pipe` in order.
    Their ids."""
    if not calls:
        return []
    stamp = datetime.now(UTC).strftime(_TIMESTAMP)
    pipe.sadd(queue.redis_queues_keys, queue.key)
    ids = []
    for func, args in calls:
        name = function_name(func)
        job_id = str(uuid4())
        fields: dict[str, Any] = {
            "created_at": stamp,
            "data": zlib.compress(json.dumps((name, None, args, {})).encode("utf-8")),
            **dict.fromkeys(_EMPTY, ""),
            "origin": queue.name,
            "description": get_call_string(name, args, {}, max_length=_DESCRIPTION_ARGUMENT),
            "enqueued_at": stamp,
            "timeout": timeout,
            "status": "queued",
        }
        pipe.hset(queue.job_class.key_for(job_id), mapping=fields)
        pipe.rpush(queue.key, job_id)
        ids.append(job_id)
    return ids
