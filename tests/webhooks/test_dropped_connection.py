"""The web engine does not ping PostgreSQL before each request: a connection the database
dropped (a restart, a failover) must still cost Twilio's webhook nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, select, text

from centralita.channels.transport import ConsoleTransport
from centralita.channels.twilio_client import compute_signature
from centralita.core import runtime as runtimes
from centralita.core.jobs import InlineJobs
from centralita.core.models import Base, Campaign, Direction, Message, SenderNumber
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.web import create_app
from centralita.web.server import web_engine
from tests.webhooks.conftest import ACCOUNT_SID, AUTH_TOKEN, NUMBER, PUBLIC, inbound_params

pytestmark = pytest.mark.postgres

MESSAGES = "/webhooks/twilio/messages"


@pytest.fixture
def web(postgres_url: str, flows_dir: Path) -> Iterator[tuple[Runtime, FlaskClient, list[int]]]:
    """The app on the engine `centralita serve` uses; the backend pids it connected to."""
    engine = web_engine(postgres_url)
    pids: list[int] = []

    @event.listens_for(engine, "connect")
    def remember(dbapi_connection: Any, _record: Any) -> None:
        pids.append(dbapi_connection.info.backend_pid)

    Base.metadata.create_all(engine)

    settings = Settings(
        secret_key="test",
        database_url=postgres_url,
        public_base_url=PUBLIC,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        flows_dir=flows_dir,
    )
    rt = Runtime.build(settings, jobs=InlineJobs(), transport=ConsoleTransport(), engine=engine)
    with rt.sessions.begin() as session:
        campaign = Campaign(slug="castigada", name="Cartera castigada")
        session.add(campaign)
        session.add(SenderNumber(address=NUMBER, flow_id="saludo", campaigns=[campaign]))
    client = create_app(runtime=rt, test_config={"TESTING": True}).test_client()
    yield rt, client, pids
    runtimes.install(None)
    engine.dispose()


def _post(client: FlaskClient, params: dict[str, str]) -> int:
    signature = compute_signature(AUTH_TOKEN, PUBLIC + MESSAGES, params)
    return client.post(MESSAGES, data=params, headers={"X-Twilio-Signature": signature}).status_code


def test_the_engine_does_not_ping_before_each_checkout(postgres_url: str) -> None:
    engine = web_engine(postgres_url)
    try:
        assert engine.pool._pre_ping is False
    finally:
        engine.dispose()


def test_a_connection_the_database_dropped_costs_the_webhook_nothing(
    web: tuple[Runtime, FlaskClient, list[int]], postgres_admin: Engine
) -> None:
    rt, client, pids = web
    assert _post(client, inbound_params("hola")) == 200
    assert pids  # the pool holds the connections it made
    with postgres_admin.connect() as admin:
        for pid in pids:  # what a restart of PostgreSQL does to them
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    params = inbound_params("1.012.345.678")
    assert _post(client, params) == 200

    with rt.sessions() as session:
        stored = session.scalars(
            select(Message.text).where(Message.provider_sid == params["MessageSid"])
        ).all()
        replies = session.scalars(
            select(Message.text).where(Message.direction == Direction.OUT).order_by(Message.id)
        ).all()
    assert stored == ["1.012.345.678"]  # stored once, on a fresh connection
    assert replies == ["¡Hola Ana! 👋", "Escribe tu documento", "No te encontré. Chao."]
