"""Jobs through a real Redis and RQ: the webhook enqueues, a burst worker sends."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels.inbound import parse_inbound
from centralita.channels.receive import receive_message
from centralita.channels.transport import ConsoleTransport
from centralita.core import runtime as runtimes
from centralita.core.events import broker_for
from centralita.core.jobs import RQJobs
from centralita.core.models import Direction, Message, MessageStatus
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.core.worker import run_worker
from centralita.web import create_app

from .conftest import inbound_params


@pytest.fixture
def rq_rt(
    channel_settings: Settings, redis_url: str, console: ConsoleTransport
) -> Iterator[Runtime]:
    """A runtime as `serve` builds it with REDIS_URL set: RQ jobs, live events over Redis."""
    settings = dataclasses.replace(channel_settings, redis_url=redis_url)
    rt = Runtime.build(settings, transport=console)
    assert isinstance(rt.jobs, RQJobs) and rt.redis is not None
    yield rt
    runtimes.install(None)
    rt.engine.dispose()


def test_replies_wait_in_redis_until_a_worker_sends_them(
    rq_rt: Runtime, seeded: sessionmaker[Session], console: ConsoleTransport
) -> None:
    rt = rq_rt
    app: Flask = create_app(runtime=rt, test_config={"TESTING": True})
    from centralita.channels.twilio_client import compute_signature

    from .conftest import AUTH_TOKEN, PUBLIC

    params = inbound_params("hola")
    path = "/webhooks/twilio/messages"
    signature = compute_signature(AUTH_TOKEN, PUBLIC + path, params)
    response = app.test_client().post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200

    def outbound() -> list[Message]:
        with seeded() as session:
            return list(
                session.scalars(
                    select(Message).where(Message.direction == Direction.OUT).order_by(Message.id)
                )
            )

    assert [m.status for m in outbound()] == [MessageStatus.PENDING] * 2
    assert console.sent == []
    run_worker(rt, burst=True)
    assert [m.status for m in outbound()] == [MessageStatus.SENT] * 2
    assert [m.body for m in console.sent] == ["¡Hola Ana! 👋", "Escribe tu documento"]


def test_a_message_s_replies_take_one_job_and_its_event_the_same_round_trip(
    rq_rt: Runtime, seeded: sessionmaker[Session]
) -> None:
    rt = rq_rt
    assert isinstance(rt.jobs, RQJobs) and rt.redis is not None
    broker = broker_for(rt.engine)
    assert broker is not None
    listening = broker.subscribe()  # the live inbox hears the message over Redis
    calls: list[str] = []
    original = rt.redis.pipeline

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append("pipeline")
        return original(*args, **kwargs)

    rt.redis.pipeline = counted  # type: ignore[method-assign]
    try:
        receive_message(rt, parse_inbound(inbound_params("hola")))
    finally:
        rt.redis.pipeline = original  # type: ignore[method-assign]
    replies = [m.id for m in _outbound(seeded)]
    assert len(replies) == 2
    # One job, for the first reply: it sends the second once the first is sent.
    jobs = rt.jobs.queue.get_jobs()
    assert [(j.func_name, j.args) for j in jobs] == [
        ("centralita.channels.outbox.send_message_job", [replies[0]])
    ]
    assert calls == ["pipeline"]  # the job and the event: one round trip
    heard = listening.get(timeout=5)
    listening.close()
    assert heard is not None and heard.kind == "message"
    run_worker(rt, burst=True)
    assert [m.status for m in _outbound(seeded)] == [MessageStatus.SENT] * 2


def _outbound(seeded: sessionmaker[Session]) -> list[Message]:
    with seeded() as session:
        return list(
            session.scalars(
                select(Message).where(Message.direction == Direction.OUT).order_by(Message.id)
            )
        )
