"""Sender health tests: traffic written straight into the database at chosen times, on SQLite
and PostgreSQL, with the webhook tests' runtime (`rt`, `seeded`, `post`) for the outbox."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels.health_thresholds import ENV_PREFIX
from centralita.core.models import (
    Author,
    Channel,
    Chat,
    ChatStatus,
    Contact,
    Direction,
    Message,
    MessageEvent,
    MessageStatus,
    SenderNumber,
)
from centralita.core.runtime import Runtime
from tests.webhooks.conftest import (  # noqa: F401  (fixtures, re-exported for these tests)
    channel_app,
    channel_client,
    channel_settings,
    console,
    flows_dir,
    post,
    rt,
    seeded,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
N1 = "whatsapp:+5716001234"  # the webhook tests' number
N2 = "whatsapp:+5716005678"
SMS = "+5716003456"


@pytest.fixture(autouse=True)
def default_thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests expect the documented defaults, whatever the developer's environment says."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


class Scene:
    """Builds traffic: numbers, customers' chats, messages and status callbacks at given times.

    Times are offsets before `NOW` (e.g. `ago(hours=2)`), so each test reads as a timeline."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions
        self._phones = count(1)

    def number(self, address: str, rate_limit: int = 80) -> None:
        with self.sessions.begin() as session:
            exists = session.scalar(select(SenderNumber.id).where(SenderNumber.address == address))
            if exists is None:
                session.add(SenderNumber(address=address, flow_id="saludo", rate_limit=rate_limit))

    def customer(self, whatsapp: bool = True) -> int:
        """A new contact; returns its id."""
        phone = f"+57300{next(self._phones):07d}"
        with self.sessions.begin() as session:
            contact = Contact(
                address=f"whatsapp:{phone}" if whatsapp else phone,
                phone=phone,
                channel=Channel.WHATSAPP if whatsapp else Channel.SMS,
            )
            session.add(contact)
            session.flush()
            return contact.id

    def chat(self, number: str, contact_id: int) -> int:
        with self.sessions.begin() as session:
            chat = Chat(contact_id=contact_id, number=number, status=ChatStatus.ASSIGNED)
            session.add(chat)
            session.flush()
            return chat.id

    def inbound(self, chat_id: int, at: datetime) -> int:
        return self._add(
            Message(
                chat_id=chat_id,
                direction=Direction.IN,
                author=Author.CUSTOMER,
                text="hola",
                status=MessageStatus.RECEIVED,
                created_at=at,
            )
        )

    def outbound(
        self,
        chat_id: int,
        sent: datetime | None,
        *,
        status: MessageStatus = MessageStatus.DELIVERED,
        code: str | None = None,
        created: datetime | None = None,
        attempts: int = 1,
        hold_reason: str | None = None,
    ) -> int:
        """A message of ours; `sent` is when Twilio accepted it (None: it never did)."""
        created = created or sent
        assert created is not None
        return self._add(
            Message(
                chat_id=chat_id,
                direction=Direction.OUT,
                author=Author.AGENT,
                text="Recordatorio",
                status=status,
                error_code=code,
                created_at=created,
                sent_at=sent,
                attempts=attempts,
                hold_reason=hold_reason,
                next_attempt_at=created if status == MessageStatus.PENDING else None,
            )
        )

    def event(self, message_id: int, status: str, at: datetime, code: str | None = None) -> None:
        with self.sessions.begin() as session:
            session.add(
                MessageEvent(
                    message_id=message_id, status=status, error_code=code, raw={}, created_at=at
                )
            )

    def blocked(self, number: str, at: datetime, code: str = "63014") -> int:
        """A business-initiated message to a new customer that came back with `code`."""
        chat = self.chat(number, self.customer())
        message = self.outbound(chat, at, status=MessageStatus.UNDELIVERED, code=code)
        self.event(message, "undelivered", at + timedelta(seconds=2), code)
        return message

    def _add(self, message: Message) -> int:
        with self.sessions.begin() as session:
            session.add(message)
            session.flush()
            return message.id


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


@pytest.fixture
def scene(rt: Runtime) -> Iterator[Scene]:  # noqa: F811  (the fixture imported above)
    yield Scene(rt.sessions)
