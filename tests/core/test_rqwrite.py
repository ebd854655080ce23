"""Jobs written by `rqwrite.add_jobs` are the jobs RQ's own `enqueue_many` writes."""

from __future__ import annotations

from typing import Any

from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from centralita.core.jobs import JOB_TIMEOUT, QUEUE_NAME, RQJobs
from centralita.core.rqwrite import add_jobs

CALLS: list[Any] = []


def record_call(*args: Any) -> str:
    """A job for the worker to run: remembers what it got."""
    CALLS.append(args)
    return "done"


# Every field but these two is the same however the job was written.
VARYING = {b"created_at", b"enqueued_at"}


def _hash(redis: Redis, job_id: str) -> dict[bytes, bytes]:
    fields: dict[bytes, bytes] = redis.hgetall(Job.key_for(job_id))  # type: ignore[assignment]
    return {k: v for k, v in fields.items() if k not in VARYING}


def test_the_hash_and_the_queue_are_those_rq_writes(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    queue = Queue(QUEUE_NAME, connection=redis, serializer=JSONSerializer)
    args = (42, "ñandú 🙂", [1, 2], None, "x" * 200)  # a long one: the description cuts it
    theirs = queue.enqueue_many([Queue.prepare_data(record_call, args, timeout=JOB_TIMEOUT)])[0].id
    with redis.pipeline(transaction=False) as pipe:
        ours = add_jobs(pipe, queue, [(record_call, args)], JOB_TIMEOUT)[0]
        pipe.execute()
    assert _hash(redis, ours) == _hash(redis, theirs)
    assert redis.lrange(queue.key, 0, -1) == [theirs.encode(), ours.encode()]
    assert redis.smembers("rq:queues") == {queue.key.encode()}
    for job_id in (ours, theirs):
        assert redis.ttl(Job.key_for(job_id)) == -1  # kept, as RQ keeps a queued job
    job = Job.fetch(ours, connection=redis, serializer=JSONSerializer)
    assert job.func_name == f"{__name__}.record_call"
    assert job.args == list(args)
    assert job.get_status() == JobStatus.QUEUED
    assert job.timeout == JOB_TIMEOUT
    assert job.origin == QUEUE_NAME
    assert job.created_at is not None and job.enqueued_at is not None


def test_a_worker_runs_them_in_order(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    jobs = RQJobs(redis)
    CALLS.clear()
    with redis.pipeline(transaction=False) as pipe:
        jobs.add_to(pipe, [(record_call, (1,)), (record_call, (2, "dos"))])
        pipe.execute()
    assert jobs.queue.count == 2
    SimpleWorker([jobs.queue], connection=redis, serializer=JSONSerializer).work(burst=True)
    assert CALLS == [(1,), (2, "dos")]
    assert jobs.queue.count == 0
    assert len(jobs.queue.finished_job_registry) == 2


def test_no_calls_write_nothing(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    queue = Queue(QUEUE_NAME, connection=redis, serializer=JSONSerializer)
    with redis.pipeline(transaction=False) as pipe:
        assert add_jobs(pipe, queue, [], JOB_TIMEOUT) == []
        pipe.execute()
    assert redis.keys("*") == []
