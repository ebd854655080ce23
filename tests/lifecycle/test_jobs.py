"""The lifecycle's jobs through a real Redis and RQ burst workers: closing message and PDF
wait in Redis until a worker runs them; a failing PDF retries with backoff, then gives up
into RQ's failed registry with an alert; the sweep re-enqueues what Redis lost."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from centralita.channels.transport import ConsoleTransport
from centralita.core import runtime as runtimes
from centralita.core.jobs import QUEUE_NAME, RQJobs
from centralita.core.models import ChatStatus, MessageStatus, utcnow
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.core.sweep import sweep
from centralita.core.worker import run_worker
from centralita.lifecycle.jobs import MAX_ATTEMPTS, backoff

from .conftest import CLOSING, DOCUMENT, Center, build_center


@pytest.fixture
def rq_center(lifecycle_settings: Settings, redis_url: str) -> Iterator[Center]:
    """Jobs in Redis (RQ), run only by the burst workers the tests start."""
    transport = ConsoleTransport()
    rt = Runtime.build(
        dataclasses.replace(lifecycle_settings, redis_url=redis_url), transport=transport
    )
    assert isinstance(rt.jobs, RQJobs)
    yield build_center(rt, transport)
    runtimes.install(None)
    rt.engine.dispose()


def queue(center: Center) -> Queue:
    assert center.rt.redis is not None
    return Queue(QUEUE_NAME, connection=center.rt.redis, serializer=JSONSerializer)


def failed_jobs(rt: Runtime) -> list[str]:
    """The functions of the jobs in RQ's failed registry."""
    registry = FailedJobRegistry(QUEUE_NAME, connection=rt.redis, serializer=JSONSerializer)
    jobs = [
        Job.fetch(job_id, connection=rt.redis, serializer=JSONSerializer)
        for job_id in registry.get_job_ids()
    ]
    return sorted((job.func_name or "").rsplit(".", 1)[-1] for job in jobs)


def test_the_timer_close_waits_in_redis_until_a_worker_sends_and_renders(
    rq_center: Center, t0: datetime
) -> None:
    center = rq_center
    chat_id = center.handed_off(t0)
    report = sweep(center.rt, t0 + timedelta(hours=24))
    assert (report.chats_closed, report.transcripts_enqueued) == (1, 1)
    chat = center.chat(chat_id)
    assert chat.status == ChatStatus.CLOSED and chat.transcript_path is None
    assert center.messages(chat_id)[-1].status == MessageStatus.PENDING
    assert center.transport.sent == []
    assert queue(center).count >= 2  # the replies, the closing message, the PDF

    run_worker(center.rt, burst=True)
    # (The bot's replies, sent only now, found WhatsApp's window closed and no template.)
    closing = center.messages(chat_id)[-1]
    assert closing.text == CLOSING and closing.status == MessageStatus.SENT
    chat = center.chat(chat_id)
    assert chat.transcript_path is not None
    assert (Path(center.rt.settings.storage_dir) / chat.transcript_path).is_file()


def test_jobs_lost_with_redis_are_enqueued_again_by_the_sweep(
    rq_center: Center, t0: datetime, redis_server: Redis
) -> None:
    center = rq_center
    chat_id = center.handed_off(t0)
    close_at = t0 + timedelta(hours=24)
    sweep(center.rt, close_at)
    redis_server.flushdb()  # Redis lost every job
    assert queue(center).count == 0
    # Leased for a few minutes (a queued job may still run); then enqueued again.
    assert sweep(center.rt, close_at + timedelta(minutes=1)).transcripts_enqueued == 0
    report = sweep(center.rt, close_at + timedelta(minutes=6))
    assert report.transcripts_enqueued == 1 and report.outbox_requeued >= 1
    run_worker(center.rt, burst=True)
    assert center.chat(chat_id).transcript_path is not None
    assert center.messages(chat_id)[-1].status == MessageStatus.SENT


def test_a_failing_transcript_retries_with_backoff_then_fails_with_an_alert(
    lifecycle_settings: Settings, redis_url: str, t0: datetime, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the storage folder should be")
    settings = dataclasses.replace(lifecycle_settings, redis_url=redis_url, storage_dir=blocked)
    transport = ConsoleTransport()
    rt = Runtime.build(settings, transport=transport)
    center = build_center(rt, transport)
    try:
        chat_id = center.handed_off(t0)
        # Now (not at t0 + 24 h): the burst worker's own sweep, at the real time, must find
        # the transcript leased, as it would be after a real-time sweep.
        assert sweep(rt, utcnow()).chats_closed == 1
        run_worker(rt, burst=True)
        chat = center.chat(chat_id)
        assert chat.transcript_attempts == 1 and chat.transcript_path is None
        assert chat.transcript_error is not None and "not-a-folder" in chat.transcript_error
        assert chat.transcript_due_at is not None
        first_retry = chat.transcript_due_at
        assert backoff(1) == timedelta(minutes=1)
        assert "transcripts_job" not in failed_jobs(rt)  # not given up yet
        for attempt in range(2, MAX_ATTEMPTS + 1):
            due = center.chat(chat_id).transcript_due_at
            assert due is not None
            assert sweep(rt, due - timedelta(seconds=1)).transcripts_enqueued == 0
            assert sweep(rt, due).transcripts_enqueued == 1
            run_worker(rt, burst=True)
            assert center.chat(chat_id).transcript_attempts == attempt
        chat = center.chat(chat_id)
        assert chat.transcript_due_at is None  # given up: the sweep stops trying
        assert first_retry > t0
        assert failed_jobs(rt).count("transcripts_job") == 1
        [alert] = center.alerts("transcript_failed")
        assert alert.chat_id == chat_id and alert.details is not None
        assert alert.details["attempts"] == MAX_ATTEMPTS
        assert (
            sweep(
                rt, datetime.max.replace(tzinfo=t0.tzinfo) - timedelta(days=1)
            ).transcripts_enqueued
            == 0
        )
    finally:
        runtimes.install(None)
        rt.engine.dispose()


def test_a_closing_message_that_cannot_go_fails_into_the_registry_with_an_alert(
    rq_center: Center, t0: datetime
) -> None:
    center = rq_center
    center.set_campaign(closing_template_sid=None)  # and the number has no fallback template
    chat_id = center.handed_off(t0)
    assert sweep(center.rt, utcnow()).chats_closed == 1
    run_worker(center.rt, burst=True)
    closing = center.messages(chat_id)[-1]
    assert closing.text == CLOSING and closing.status == MessageStatus.FAILED
    assert closing.failure_reason is not None and "template" in closing.failure_reason
    alerts = [a for a in center.alerts("delivery_failed") if a.details is not None]
    assert closing.id in [a.details["message_id"] for a in alerts]  # type: ignore[index]
    assert "send_messages_job" in failed_jobs(center.rt)  # the sweep's batch job
    assert center.chat(chat_id).transcript_path is not None  # the PDF does not depend on it


def test_the_sweep_sends_its_closes_in_batch_jobs_that_go_on_past_a_failure(
    rq_center: Center, t0: datetime
) -> None:
    center = rq_center
    center.set_campaign(closing_template_sid=None)  # and the number has no fallback template
    silent = center.handed_off(t0)  # last wrote at t0: WhatsApp's window is closed at 24 h
    other = "whatsapp:+573009998877"
    # Opened a minute later: closed after the silent one, so its message comes second.
    center.write("hola", t0 + timedelta(minutes=1), from_=other)
    talking = center.write(DOCUMENT, t0 + timedelta(minutes=1), from_=other).chat_id
    assert talking is not None and talking != silent
    center.write("sigo aquí", utcnow() - timedelta(minutes=5), from_=other)  # window open

    report = sweep(center.rt, utcnow())
    assert (report.chats_closed, report.transcripts_enqueued) == (2, 2)
    closing = {chat_id: center.messages(chat_id)[-1] for chat_id in (silent, talking)}
    batches = {
        (job.func_name or "").rsplit(".", 1)[-1]: job.args
        for job in queue(center).jobs
        if (job.func_name or "").endswith(("send_messages_job", "transcripts_job"))
    }
    # One job each for both closes, carrying their ids (not one job per row).
    assert batches["send_messages_job"] == [[closing[silent].id, closing[talking].id]]
    assert batches["transcripts_job"] == [[silent, talking]]

    run_worker(center.rt, burst=True)
    # The first closing message could not go (no template); the batch went on to the other.
    assert center.messages(silent)[-1].status == MessageStatus.FAILED
    assert center.messages(talking)[-1].status == MessageStatus.SENT
    assert "send_messages_job" in failed_jobs(center.rt)  # given up on one: the job failed
    assert all(center.chat(c).transcript_path is not None for c in (silent, talking))
