"""A campaign world for API tests: two campaigns, agents and supervisors of each, an admin,
chats in every status, each user with a bearer token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels.transport import ConsoleTransport
from centralita.core import runtime as runtimes
from centralita.core.models import (
    Author,
    Campaign,
    Chat,
    ChatStatus,
    Contact,
    Direction,
    Message,
    MessageStatus,
    Presence,
    utcnow,
)
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.routing.users import create_token, create_user
from centralita.web import create_app


@dataclass
class World:
    tokens: dict[str, str] = field(default_factory=dict)  # user name -> token
    chats: dict[str, int] = field(default_factory=dict)  # label -> chat id


@pytest.fixture
def api_rt(db_url: str, engine: object, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(secret_key="t", database_url=db_url, flows_dir=tmp_path)
    runtime = Runtime.for_tests(settings, transport=ConsoleTransport())
    yield runtime
    runtimes.install(None)
    runtime.engine.dispose()


@pytest.fixture(autouse=True)
def _quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Six users per test with the deliberately slow production hash cost minutes; these
    # tests are about authorization by token, not password storage.
    from werkzeug.security import generate_password_hash

    from centralita.routing import users

    monkeypatch.setattr(
        users,
        "generate_password_hash",
        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"),
    )


@pytest.fixture
def world(api_rt: Runtime) -> World:
    found = World()
    now = utcnow()
    with api_rt.sessions.begin() as session:
        a = Campaign(slug="castigada", name="Cartera castigada", closing_message="¡Gracias!")
        b = Campaign(slug="ventas", name="Ventas")
        session.add_all([a, b])
        session.flush()
        users = {
            "agent_a": create_user(
                session, "ana@x.co", name="Ana", role="agent", password="p" * 12, campaigns=[a]
            ),
            "agent_a2": create_user(
                session, "alba@x.co", name="Alba", role="agent", password="p" * 12, campaigns=[a]
            ),
            "agent_b": create_user(
                session, "beto@x.co", name="Beto", role="agent", password="p" * 12, campaigns=[b]
            ),
            "sup_a": create_user(
                session,
                "sara@x.co",
                name="Sara",
                role="supervisor",
                password="p" * 12,
                campaigns=[a],
            ),
            "sup_b": create_user(
                session,
                "saul@x.co",
                name="Saúl",
                role="supervisor",
                password="p" * 12,
                campaigns=[b],
            ),
            "admin": create_user(
                session, "root@x.co", name="Root", role="admin", password="p" * 12
            ),
        }
        for user in users.values():
            user.presence = Presence.ONLINE
            user.last_seen_at = now
        for name, user in users.items():
            found.tokens[name] = create_token(session, user, now)
        for label, campaign, status, agent in [
            ("a_assigned", a, ChatStatus.ASSIGNED, users["agent_a"]),
            ("a_waiting", a, ChatStatus.WAITING_QUEUE, None),
            ("b_assigned", b, ChatStatus.ASSIGNED, users["agent_b"]),
            ("a_closed", a, ChatStatus.CLOSED, users["agent_a"]),
        ]:
            contact = Contact(
                address=f"whatsapp:+5730000{len(found.chats):05d}", phone="+57", channel="whatsapp"
            )
            session.add(contact)
            session.flush()
            chat = Chat(
                contact_id=contact.id,
                number="whatsapp:+5716001234",
                status=status,
                campaign_id=campaign.id,
                agent_id=agent.id if agent else None,
                last_customer_message_at=now,
            )
            session.add(chat)
            session.flush()
            session.add(
                Message(
                    chat_id=chat.id,
                    direction=Direction.IN,
                    author=Author.CUSTOMER,
                    text="hola",
                    status=MessageStatus.RECEIVED,
                )
            )
            found.chats[label] = chat.id
    return found


@pytest.fixture
def api_client(api_rt: Runtime, world: World) -> FlaskClient:
    app: Flask = create_app(runtime=api_rt, test_config={"TESTING": True})
    return app.test_client()


@pytest.fixture
def sessions(api_rt: Runtime) -> sessionmaker[Session]:
    return api_rt.sessions


def auth(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}
