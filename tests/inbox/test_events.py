"""Live events: published after commit only, through Redis between processes, and streamed to
the pages over Server-Sent Events (a real server, a real Redis)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import select

from centralita.channels.status import record_status
from centralita.core import runtime as runtimes
from centralita.core.alerts import raise_alert
from centralita.core.events import Event, broker_for, publish_after_commit
from centralita.core.jobs import InlineJobs
from centralita.core.models import Message, SenderNumber
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.devtools.server import BackgroundServer
from centralita.devtools.twilio_inbound import inbound_params
from centralita.web import create_app
from tests.inbox.conftest import PASSWORD, World, build_world, sign_in

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_events_go_out_after_the_commit_and_never_after_a_rollback(
    web_rt: Runtime, world: World
) -> None:
    broker = broker_for(web_rt.engine)
    assert broker is not None
    listener = broker.subscribe()
    with web_rt.sessions.begin() as session:
        publish_after_commit(session, Event("chat", chat_id=1))
        assert listener.get(timeout=0.05) is None  # not before the commit
    got = listener.get(timeout=1)
    assert got is not None and (got.kind, got.chat_id) == ("chat", 1)
    with pytest.raises(RuntimeError), web_rt.sessions.begin() as session:
        publish_after_commit(session, Event("chat", chat_id=2))
        raise RuntimeError("rolled back")
    with web_rt.sessions.begin() as session:  # the next transaction does not inherit it
        publish_after_commit(session, Event("chat", chat_id=3))
    got = listener.get(timeout=1)
    assert got is not None and got.chat_id == 3
    assert listener.get(timeout=0.05) is None
    listener.close()


def test_status_changes_and_alerts_name_the_chats_agent(web_rt: Runtime, world: World) -> None:
    broker = broker_for(web_rt.engine)
    assert broker is not None
    listener = broker.subscribe()
    chat_id = world.chats["a_assigned"]
    with web_rt.sessions.begin() as session:
        message = session.scalars(select(Message).where(Message.chat_id == chat_id)).first()
        assert message is not None
        message.provider_sid = "SM" + "1" * 32
        message_id = message.id
    record_status(web_rt, {"MessageSid": "SM" + "1" * 32, "MessageStatus": "failed"})
    kinds = {}
    for _ in range(2):  # the status, and the delivery_failed alert it raised
        got = listener.get(timeout=1)
        assert got is not None
        kinds[got.kind] = got
    assert kinds["status"].data == {"message_id": message_id}
    assert kinds["status"].agent_ids == (world.users["agent_a"],)
    assert kinds["alert"].data == {"alert": "delivery_failed"}
    with web_rt.sessions.begin() as session:  # an alert raised twice is announced once
        assert not raise_alert(session, "delivery_failed", f"delivery_failed:message:{message_id}")
    assert listener.get(timeout=0.1) is None
    listener.close()


# -- through Redis and over HTTP -------------------------------------------------------------


@pytest.fixture
def redis_rt(sqlite_url: str, redis_url: str, tmp_path: Path) -> Iterator[Runtime]:
    from centralita.core.db import make_engine
    from centralita.core.models import Base

    engine = make_engine(sqlite_url)
    Base.metadata.create_all(engine)
    engine.dispose()
    settings = Settings(
        secret_key="t", database_url=sqlite_url, redis_url=redis_url, flows_dir=tmp_path
    )
    runtime = Runtime.build(settings, jobs=InlineJobs())
    yield runtime
    runtimes.install(None)
    runtime.engine.dispose()


def test_redis_carries_events_to_every_process(redis_rt: Runtime) -> None:
    # Another process: its own runtime (engine, Redis client, broker) on the same Redis.
    other = Runtime.build(redis_rt.settings, jobs=InlineJobs())
    try:
        theirs = broker_for(other.engine)
        assert theirs is not None and theirs is not broker_for(redis_rt.engine)
        listener = theirs.subscribe()
        with redis_rt.sessions.begin() as session:
            publish_after_commit(session, Event("message", chat_id=7, agent_ids=(3,)))
        got = listener.get(timeout=2)
        assert got is not None and (got.kind, got.chat_id, got.agent_ids) == ("message", 7, (3,))
        listener.close()
    finally:
        other.engine.dispose()


def test_a_transactions_many_events_reach_other_processes_in_order(redis_rt: Runtime) -> None:
    # A sweep's batch commits hundreds of events: one pipeline, heard in the same order.
    other = Runtime.build(redis_rt.settings, jobs=InlineJobs())
    try:
        theirs = broker_for(other.engine)
        assert theirs is not None
        listener = theirs.subscribe()
        with redis_rt.sessions.begin() as session:
            for chat_id in range(1, 301):
                publish_after_commit(session, Event("chat", chat_id=chat_id))
        heard = [listener.get(timeout=2) for _ in range(300)]
        assert [e.chat_id if e is not None else None for e in heard] == list(range(1, 301))
        listener.close()
    finally:
        other.engine.dispose()


def test_a_transactions_events_are_one_message_on_their_own_channel(redis_url: str) -> None:
    # One PUBLISH for a sweep's batch, not one per event; and not on the one-event channel,
    # whose listeners in a process still running an older version expect one event each.
    from redis import Redis

    from centralita.core.events import RedisBroker

    redis = Redis.from_url(redis_url)
    broker = RedisBroker(redis)
    pubsub = redis.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.subscribe(broker.channel, broker.batch_channel)
    for _ in range(2):  # take in both subscribe confirmations: subscribed before publishing
        pubsub.get_message(timeout=2)
    batch = [Event("chat", chat_id=1, agent_ids=(4,)), Event("alert", chat_id=2, data={"a": 1})]
    broker.publish_many(batch)
    broker.publish(Event("message", chat_id=3))
    heard = []
    ends = time.monotonic() + 3
    while len(heard) < 2 and time.monotonic() < ends:
        message = pubsub.get_message(timeout=0.5)
        if message is not None and message["type"] == "message":
            heard.append((message["channel"].decode(), message["data"]))
    pubsub.close()
    assert [channel for channel, _ in heard] == [broker.batch_channel, broker.channel]
    assert [Event.from_dict(raw) for raw in json.loads(heard[0][1])] == batch
    assert Event.from_json(heard[1][1]) == Event("message", chat_id=3)


class _Stream:
    """A signed-in browser's event stream, read by a thread into `lines`."""

    def __init__(self, base_url: str, email: str) -> None:
        self.http = requests.Session()
        page = self.http.get(f"{base_url}/login", timeout=5).text
        token = _TOKEN.search(page)
        assert token
        signed = self.http.post(
            f"{base_url}/login",
            data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)},
            timeout=5,
            allow_redirects=False,
        )
        assert signed.status_code == 302
        self.response = self.http.get(f"{base_url}/events", stream=True, timeout=10)
        assert self.response.status_code == 200
        assert self.response.headers["Content-Type"].startswith("text/event-stream")
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines(decode_unicode=True):
                self.lines.append(line)
        except (requests.RequestException, AttributeError, ValueError):
            pass  # closed by the test

    def wait_for(self, text: str, seconds: float) -> bool:
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:
            if any(text in line for line in self.lines):
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        self.response.close()
        self.http.close()


def test_a_new_message_reaches_its_agents_page_within_a_second(redis_rt: Runtime) -> None:
    world = build_world(redis_rt.sessions)
    with redis_rt.sessions.begin() as session:
        session.add(SenderNumber(address="whatsapp:+5716001234", flow_id="cobranza"))
    app = create_app(runtime=redis_rt, test_config={"TESTING": True})
    with BackgroundServer(app) as server:
        ana = _Stream(server.base_url, "ana@x.co")
        beto = _Stream(server.base_url, "beto@x.co")
        try:
            assert ana.wait_for(": connected", 5) and beto.wait_for(": connected", 5)
            # Streams wait on Redis, not on the database.
            assert redis_rt.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
            with redis_rt.sessions() as session:
                chat_id = world.chats["a_assigned"]
                from centralita.core.models import Chat

                chat = session.get(Chat, chat_id)
                assert chat is not None
                address = chat.contact.address
            params = inbound_params(
                account_sid="AC" + "0" * 32,
                from_=address,
                to="whatsapp:+5716001234",
                body="¿Siguen ahí?",
            )
            started = time.monotonic()
            posted = requests.post(
                f"{server.base_url}/webhooks/twilio/messages", data=params, timeout=5
            )
            assert posted.status_code == 200
            assert ana.wait_for(f'"chat_id": {chat_id}', 1.0)
            assert time.monotonic() - started < 1.0
            assert "event: message" in ana.lines
            # Beto (another campaign) hears nothing of it.
            time.sleep(0.3)
            assert not any(str(chat_id) in line for line in beto.lines if "data" in line)
        finally:
            ana.close()
            beto.close()


def test_the_stream_is_for_signed_in_people_only(redis_rt: Runtime) -> None:
    app = create_app(runtime=redis_rt, test_config={"TESTING": True})
    client = app.test_client()
    response = client.get("/events", headers={"Accept": "text/event-stream"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "signed_out"


def test_a_server_without_threads_is_never_held_by_a_stream(
    web_client: FlaskClient, world: World
) -> None:
    sign_in(web_client, world.emails["agent_a"])
    # As gunicorn's sync workers say: one request at a time in this process.
    response = web_client.get("/events", environ_overrides={"wsgi.multithread": False})
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith("retry: 3000\n")


def test_a_redis_outage_loses_live_events_but_never_slows_commits() -> None:
    from redis import Redis

    from centralita.core.events import RedisBroker

    class CountingRedis(Redis):  # a real client, to a port nothing listens on
        attempts = 0

        def publish(self, channel: Any, message: Any, **kwargs: Any) -> Any:
            CountingRedis.attempts += 1
            return super().publish(channel, message, **kwargs)

    broker = RedisBroker(CountingRedis.from_url("redis://127.0.0.1:1/0"))
    for _ in range(100):
        broker.publish(Event("chat", chat_id=1))  # refused: logged, never raised
    # After the first failure, the next commits do not wait on Redis again.
    assert CountingRedis.attempts == 1
