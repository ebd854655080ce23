"""A contact center for lifecycle tests (SQLite and PostgreSQL): a number greeting with a
small flow (ask the document, hand off to the customer's campaign, or end), one campaign
with a closing message and an approved closing template, two agents, and helpers to let a
customer write at a given time and to put agents online then.

Times are anchored on the real clock (`t0` is a little over a day ago), because the outbox
decides WhatsApp's 24-hour window with the real time when it sends."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels.inbound import InboundMessage
from centralita.channels.receive import Received, receive_message
from centralita.channels.transport import ConsoleTransport
from centralita.core import runtime as runtimes
from centralita.core.models import (
    Alert,
    Campaign,
    Chat,
    Customer,
    Message,
    Presence,
    Role,
    SenderNumber,
    User,
    utcnow,
)
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings

NUMBER = "whatsapp:+5716001234"
QUIET_NUMBER = "whatsapp:+5716009999"  # greets with a question that times out
CUSTOMER = "whatsapp:+573001234567"
DOCUMENT = "1012345678"
CLOSING = "¡Gracias por escribirnos! Tu caso queda registrado."
CLOSING_TEMPLATE = "HX" + "c" * 32

FLOW = """
flow: saludo
start: hola
steps:
  hola: {type: say, text: "¡Hola! 👋"}
  doc:
    type: ask
    text: Escribe tu documento
    slot: documento
    validate: {type: document}
  buscar: {type: lookup, document: "{{ slots.documento }}", on: {found: ok, not_found: nada}}
  ok: {type: handoff, text: "Te paso con {{ campaign.name }}"}
  nada: {type: end, text: "No te encontré. Chao."}
"""

QUIET_FLOW = """
flow: corto
start: doc
steps:
  doc:
    type: ask
    text: Escribe tu documento
    slot: documento
    timeout: {after: 10m, then: adios}
  fin: {type: end, text: "Gracias"}
  adios: {type: end}
"""


@dataclass
class Center:
    rt: Runtime
    transport: ConsoleTransport
    campaign_id: int
    agents: dict[str, int] = field(default_factory=dict)

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.rt.sessions

    def write(self, text: str, at: datetime, from_: str = CUSTOMER, to: str = NUMBER) -> Received:
        """The customer writes `text` at `at` (as the webhook would hand it over)."""
        sid = "SM" + uuid.uuid4().hex
        inbound = InboundMessage(
            sid=sid,
            from_=from_,
            to=to,
            body=text,
            media=(),
            profile_name="Ana",
            location=None,
            button=None,
            raw={"MessageSid": sid, "Body": text},
        )
        return receive_message(self.rt, inbound, at)

    def set_campaign(self, **values: object) -> None:
        """Change the campaign's settings (alert, close or reassignment times...)."""
        with self.sessions.begin() as session:
            session.execute(update(Campaign).where(Campaign.id == self.campaign_id).values(values))

    def online(self, *names: str, at: datetime) -> None:
        """These agents are online with a fresh heartbeat at `at`; the others go offline."""
        with self.sessions.begin() as session:
            for name, user_id in self.agents.items():
                user = session.get(User, user_id)
                assert user is not None
                user.presence = Presence.ONLINE if name in names else Presence.OFFLINE
                user.last_seen_at = at

    def handed_off(self, at: datetime, *, agent: str | None = "ana") -> int:
        """A chat that reached the humans at `at` (with `agent` online, who gets it)."""
        if agent is not None:
            self.online(agent, at=at)
        self.write("hola", at)
        received = self.write(DOCUMENT, at)
        assert received.chat_id is not None
        return received.chat_id

    def chat(self, chat_id: int) -> Chat:
        with self.sessions() as session:
            chat = session.get(Chat, chat_id)
            assert chat is not None
            return chat

    def alerts(self, kind: str = "unanswered") -> list[Alert]:
        with self.sessions() as session:
            return list(session.scalars(select(Alert).where(Alert.kind == kind).order_by(Alert.id)))

    def messages(self, chat_id: int) -> list[Message]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(Message).where(Message.chat_id == chat_id).order_by(Message.id)
                )
            )


@pytest.fixture
def t0() -> datetime:
    """A little over a day ago: a chat opened then is due to close a few minutes ago."""
    return utcnow().replace(microsecond=0) - timedelta(hours=24, minutes=10)


@pytest.fixture
def lifecycle_settings(db_url: str, engine: object, tmp_path: Path) -> Settings:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "saludo.yaml").write_text(textwrap.dedent(FLOW).lstrip(), encoding="utf-8")
    (flows / "corto.yaml").write_text(textwrap.dedent(QUIET_FLOW).lstrip(), encoding="utf-8")
    return Settings(
        secret_key="test",
        database_url=db_url,
        flows_dir=flows,
        storage_dir=tmp_path / "storage",
        public_base_url="https://centralita.example.com",
    )


def build_center(rt: Runtime, transport: ConsoleTransport) -> Center:
    with rt.sessions.begin() as session:
        campaign = Campaign(
            slug="castigada",
            name="Cartera castigada",
            closing_message=CLOSING,
            closing_template_sid=CLOSING_TEMPLATE,
        )
        session.add(campaign)
        session.flush()
        session.add(Customer(campaign_id=campaign.id, document=DOCUMENT, name="Ana", extra={}))
        session.add(SenderNumber(address=NUMBER, flow_id="saludo", campaigns=[campaign]))
        session.add(SenderNumber(address=QUIET_NUMBER, flow_id="corto", campaigns=[campaign]))
        center = Center(rt, transport, campaign.id)
        for name in ("ana", "alba"):
            user = User(
                email=f"{name}@x.co",
                name=name.title(),
                role=Role.AGENT,
                password_hash="not-a-login",
                campaigns=[campaign],
            )
            session.add(user)
            session.flush()
            center.agents[name] = user.id
    return center


@pytest.fixture
def center(lifecycle_settings: Settings) -> Iterator[Center]:
    """Jobs inline (the sends and the PDF happen at once), messages recorded."""
    transport = ConsoleTransport()
    rt = Runtime.for_tests(lifecycle_settings, transport=transport)
    runtimes.install(rt)  # the jobs (sends, transcripts) find their runtime here
    yield build_center(rt, transport)
    runtimes.install(None)
    rt.engine.dispose()
