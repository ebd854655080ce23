"""A world for the pages: two campaigns with customers, agents of each, a supervisor of the
first, an admin, chats; a Flask test client that signs in through the real form (CSRF on)."""

from __future__ import annotations

import re
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
    Customer,
    Direction,
    Message,
    MessageStatus,
    Presence,
    utcnow,
)
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.routing.users import create_user
from centralita.web import create_app

PASSWORD = "clave-secreta-1"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    users: dict[str, int] = field(default_factory=dict)  # label -> user id
    emails: dict[str, str] = field(default_factory=dict)  # label -> email
    chats: dict[str, int] = field(default_factory=dict)  # label -> chat id
    campaigns: dict[str, int] = field(default_factory=dict)


def quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The production hash is slow on purpose; these tests are about what sign-in does."""
    from werkzeug.security import generate_password_hash

    from centralita.routing import users

    monkeypatch.setattr(
        users,
        "generate_password_hash",
        lambda password: generate_password_hash(password, method="pbkdf2:sha256:1"),
    )


@pytest.fixture(autouse=True)
def _quick_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    quick_password_hashes(monkeypatch)


@pytest.fixture
def web_settings(db_url: str, engine: object, tmp_path: Path) -> Settings:
    return Settings(secret_key="t", database_url=db_url, flows_dir=tmp_path)


@pytest.fixture
def web_rt(web_settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.for_tests(web_settings, transport=ConsoleTransport())
    yield runtime
    runtimes.install(None)
    runtime.engine.dispose()


def build_world(sessions: sessionmaker[Session]) -> World:
    found = World()
    now = utcnow()
    with sessions.begin() as session:
        a = Campaign(slug="castigada", name="Cartera castigada", closing_message="¡Gracias!")
        b = Campaign(slug="ventas", name="Ventas")
        session.add_all([a, b])
        session.flush()
        found.campaigns = {"a": a.id, "b": b.id}
        specs = [
            ("agent_a", "ana@x.co", "Ana", "agent", [a]),
            ("agent_a2", "alba@x.co", "Alba", "agent", [a]),
            ("agent_b", "beto@x.co", "Beto", "agent", [b]),
            ("sup_a", "sara@x.co", "Sara", "supervisor", [a]),
            ("admin", "root@x.co", "Root", "admin", []),
        ]
        people = {}
        for label, email, name, role, campaigns in specs:
            person = create_user(
                session, email, name=name, role=role, password=PASSWORD, campaigns=campaigns
            )
            person.presence = Presence.ONLINE
            person.last_seen_at = now
            people[label] = person
            found.users[label] = person.id
            found.emails[label] = email
        customer = Customer(
            campaign_id=a.id,
            document="1012345678",
            name="Carla Cliente",
            phone="+573001112233",
            extra={"saldo": 1520000, "ciudad": "Medellín", "vencimiento": "2026-01-15"},
        )
        session.add(customer)
        session.flush()
        for label, campaign, status, agent in [
            ("a_assigned", a, ChatStatus.ASSIGNED, people["agent_a"]),
            ("a_waiting", a, ChatStatus.WAITING_QUEUE, None),
            ("b_assigned", b, ChatStatus.ASSIGNED, people["agent_b"]),
            ("a_closed", a, ChatStatus.CLOSED, people["agent_a"]),
        ]:
            contact = Contact(
                address=f"whatsapp:+5730000{len(found.chats):05d}",
                phone=f"+5730000{len(found.chats):05d}",
                profile_name=f"Cliente {label}",
                channel="whatsapp",
            )
            session.add(contact)
            session.flush()
            chat = Chat(
                contact_id=contact.id,
                number="whatsapp:+5716001234",
                status=status,
                campaign_id=campaign.id,
                customer_id=customer.id if label == "a_assigned" else None,
                agent_id=agent.id if agent else None,
                last_customer_message_at=now,
                assigned_at=now if agent else None,
            )
            session.add(chat)
            session.flush()
            session.add_all(
                [
                    Message(
                        chat_id=chat.id,
                        direction=Direction.IN,
                        author=Author.CUSTOMER,
                        text="hola",
                        status=MessageStatus.RECEIVED,
                        created_at=now,
                    ),
                    Message(
                        chat_id=chat.id,
                        direction=Direction.OUT,
                        author=Author.BOT,
                        text="¿Cuál es tu documento?",
                        status=MessageStatus.DELIVERED,
                        created_at=now,
                    ),
                ]
            )
            found.chats[label] = chat.id
    return found


@pytest.fixture
def world(web_rt: Runtime) -> World:
    return build_world(web_rt.sessions)


@pytest.fixture
def web_app(web_rt: Runtime, world: World) -> Flask:
    return create_app(runtime=web_rt, test_config={"TESTING": True})


@pytest.fixture
def web_client(web_app: Flask) -> FlaskClient:
    return web_app.test_client()


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = _TOKEN.search(page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, **extra: str) -> str:
    """Sign in through the form; returns the response's Location (where it sends you)."""
    token = csrf_token(client)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token, **extra}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


@pytest.fixture
def agent_client(web_client: FlaskClient, world: World) -> FlaskClient:
    sign_in(web_client, world.emails["agent_a"])
    return web_client
