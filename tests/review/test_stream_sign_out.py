"""A live-events stream stops soon after its sign-in ends (signed out, deactivated, expired):
an open tab does not go on hearing chat ids for the rest of the stream's two minutes."""

from __future__ import annotations

import time

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from centralita.core.events import Event, LocalBroker
from centralita.core.models import Role, User, WebSession
from centralita.core.runtime import Runtime
from centralita.web import events
from centralita.web.login import CurrentUser
from tests.inbox.conftest import World


def test_the_stream_ends_once_the_sign_in_is_no_longer_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "RECHECK_SECONDS", 0.05)
    monkeypatch.setattr(events, "KEEPALIVE_SECONDS", 0.05)
    broker = LocalBroker()
    me = CurrentUser(1, "a@x.co", "A", Role.ADMIN, (), 7)
    valid = [True]
    stream = events._stream(me, broker, lambda: valid[0])
    assert next(stream).startswith("retry:")
    broker.publish(Event("chat", chat_id=5))
    assert "chat_id" in next(stream)
    valid[0] = False
    started = time.monotonic()
    rest = list(stream)  # ends by itself
    assert time.monotonic() - started < 5
    assert not any("chat_id" in part for part in rest)


def test_signed_in_checks_the_row_and_the_person(
    agent_client: FlaskClient, web_rt: Runtime, world: World
) -> None:
    with web_rt.sessions() as db:
        session_id = db.scalar(
            select(WebSession.id).where(WebSession.user_id == world.users["agent_a"])
        )
    assert session_id is not None
    assert events.signed_in(web_rt, session_id)
    with web_rt.sessions.begin() as db:
        person = db.get(User, world.users["agent_a"])
        assert person is not None
        person.active = False
    assert not events.signed_in(web_rt, session_id)
    with web_rt.sessions.begin() as db:
        person = db.get(User, world.users["agent_a"])
        assert person is not None
        person.active = True
    agent_client.post("/logout", data={"csrf_token": _token(agent_client)})
    assert not events.signed_in(web_rt, session_id)


def _token(client: FlaskClient) -> str:
    from tests.inbox.conftest import csrf_token

    return csrf_token(client, "/inbox/")
