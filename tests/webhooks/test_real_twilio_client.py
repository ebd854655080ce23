"""The outbox through the real `twilio` client against the local Twilio-compatible server,
with its signed status callbacks coming back to a real HTTP server running Centralita."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels.outbox import send_message
from centralita.channels.twilio_transport import TwilioTransport
from centralita.core import runtime as runtimes
from centralita.core.jobs import InlineJobs
from centralita.core.models import Alert, Direction, Message, MessageStatus
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.devtools.fake_twilio import FakeTwilio
from centralita.devtools.server import BackgroundServer
from centralita.web import create_app

from .conftest import ACCOUNT_SID, AUTH_TOKEN, CUSTOMER, PUBLIC, Poster, inbound_params

MESSAGES = "/webhooks/twilio/messages"


@pytest.fixture
def twilio_rt(channel_settings: Settings) -> Iterator[tuple[Runtime, FakeTwilio]]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        transport = TwilioTransport(ACCOUNT_SID, AUTH_TOKEN, fake.base_url)
        rt = Runtime.build(channel_settings, jobs=InlineJobs(), transport=transport)
        app: Flask = create_app(runtime=rt, test_config={"TESTING": True})
        with BackgroundServer(app) as server:
            # Twilio signs callbacks for PUBLIC_BASE_URL; the fake posts them to our server.
            fake.state.url_map = {PUBLIC: server.base_url}
            yield rt, fake
        runtimes.install(None)
        rt.engine.dispose()


@pytest.fixture
def twilio_post(twilio_rt: tuple[Runtime, FakeTwilio], seeded: sessionmaker[Session]) -> Poster:
    rt, _ = twilio_rt
    app = create_app(runtime=rt, test_config={"TESTING": True})
    client = app.test_client()
    from centralita.channels.twilio_client import compute_signature

    def send(path: str, params: dict[str, str]) -> object:
        signature = compute_signature(AUTH_TOKEN, PUBLIC + path, params)
        return client.post(path, data=params, headers={"X-Twilio-Signature": signature})

    return send


def _outbound(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        return list(
            session.scalars(
                select(Message).where(Message.direction == Direction.OUT).order_by(Message.id)
            )
        )


def test_replies_reach_twilio_and_delivery_reports_come_back(
    twilio_rt: tuple[Runtime, FakeTwilio], twilio_post: Poster, seeded: sessionmaker[Session]
) -> None:
    _, fake = twilio_rt
    fake.script(CUSTOMER, statuses=["delivered", "sent", "read"])  # out of order, as it happens
    twilio_post(MESSAGES, inbound_params("hola"))
    fake.flush()
    sent = fake.messages
    assert [(m.from_, m.to, m.body) for m in sent] == [
        ("whatsapp:+5716001234", CUSTOMER, "¡Hola Ana! 👋"),
        ("whatsapp:+5716001234", CUSTOMER, "Escribe tu documento"),
    ]
    outbound = _outbound(seeded)
    assert [m.provider_sid for m in outbound] == [m.sid for m in sent]
    assert [m.status for m in outbound] == [MessageStatus.READ, MessageStatus.READ]


def test_a_rate_limited_send_is_retried_and_a_refused_one_fails_with_its_code(
    twilio_rt: tuple[Runtime, FakeTwilio], twilio_post: Poster, seeded: sessionmaker[Session]
) -> None:
    rt, fake = twilio_rt
    fake.script(CUSTOMER, reject=(429, 20429), times=1)
    twilio_post(MESSAGES, inbound_params("hola"))
    first, second = _outbound(seeded)
    assert first.status == MessageStatus.PENDING and first.attempts == 1
    assert first.failure_reason is not None and first.failure_reason.startswith("retrying")
    assert second.status == MessageStatus.PENDING  # waits for the first: order per chat
    assert isinstance(rt.jobs, InlineJobs) and len(rt.jobs.delayed) == 1
    job, args, delay = rt.jobs.delayed.pop()
    assert delay == 2.0
    job(*args)  # time passes: the retry runs, and sends the next one after it
    fake.flush()
    assert [m.status for m in _outbound(seeded)] == [MessageStatus.DELIVERED] * 2

    fake.script(CUSTOMER, reject=(400, 21211))
    twilio_post(MESSAGES, inbound_params("no sé"))
    refused = _outbound(seeded)[-1]
    assert refused.status == MessageStatus.FAILED and refused.error_code == "21211"
    with seeded() as session:
        alert = session.scalars(select(Alert)).one()
        assert alert.kind == "delivery_failed" and alert.details is not None
        assert alert.details["error_code"] == "21211"


def test_a_connection_failure_is_transient(
    twilio_rt: tuple[Runtime, FakeTwilio], seeded: sessionmaker[Session], twilio_post: Poster
) -> None:
    rt, fake = twilio_rt
    fake.stop()  # Twilio unreachable
    twilio_post(MESSAGES, inbound_params("hola"))
    first = _outbound(seeded)[0]
    assert first.status == MessageStatus.PENDING and first.attempts == 1
    assert first.failure_reason is not None and "retrying" in first.failure_reason
    assert send_message(rt, first.id) == "retry"  # still down: another try, later
    with seeded() as session:
        again = session.get(Message, first.id)
        assert again is not None and again.attempts == 2 and again.status == MessageStatus.PENDING
