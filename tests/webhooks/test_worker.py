"""Jobs through a real Redis and RQ: the webhook enqueues, a burst worker sends."""

from __future__ import annotations

import dataclasses

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels.transport import ConsoleTransport
from centralita.core import runtime as runtimes
from centralita.core.jobs import RQJobs
from centralita.core.models import Direction, Message, MessageStatus
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.core.worker import run_worker
from centralita.web import create_app

from .conftest import inbound_params


def test_replies_wait_in_redis_until_a_worker_sends_them(
    channel_settings: Settings,
    redis_url: str,
    seeded: sessionmaker[Session],
    console: ConsoleTransport,
) -> None:
    settings = dataclasses.replace(channel_settings, redis_url=redis_url)
    rt = Runtime.build(settings, transport=console)
    assert isinstance(rt.jobs, RQJobs)
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
    runtimes.install(None)
    rt.engine.dispose()
