"""A closed chat with everything a transcript shows: a campaign in Bogotá's time zone, an
identified customer, two agents in turn (router, then a supervisor's reassignment), bot,
agent, customer and system messages with every delivery outcome, media, and a hostile text."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from centralita.channels.transport import ConsoleTransport
from centralita.core import runtime as runtimes
from centralita.core.models import (
    Assignment,
    AssignmentKind,
    Author,
    Campaign,
    Chat,
    ChatStatus,
    Contact,
    Customer,
    Direction,
    Message,
    MessageStatus,
)
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.routing.users import create_token, create_user
from tests.api.conftest import _quick_password_hashes  # noqa: F401  (autouse: cheap hashes)

OPENED = datetime(2026, 11, 21, 13, 5, 0, tzinfo=UTC)  # 08:05:00 in Bogotá (UTC-05:00)
CLOSED = datetime(2026, 11, 22, 4, 30, 15, tzinfo=UTC)  # 23:30:15 on the 21st in Bogotá
HOSTILE = "<script>alert('x')</script><img src=http://127.0.0.1:9/x>"


@dataclass
class ClosedChat:
    chat_id: int
    open_chat_id: int
    tokens: dict[str, str]


@pytest.fixture
def rt(db_url: str, engine: object, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(
        secret_key="t", database_url=db_url, flows_dir=tmp_path, storage_dir=tmp_path / "storage"
    )
    runtime = Runtime.for_tests(settings, transport=ConsoleTransport())
    yield runtime
    runtimes.install(None)
    runtime.engine.dispose()


@pytest.fixture
def closed_chat(rt: Runtime) -> ClosedChat:
    at = OPENED
    with rt.sessions.begin() as session:
        campaign = Campaign(slug="castigada", name="Cartera castigada", timezone="America/Bogota")
        other = Campaign(slug="ventas", name="Ventas")
        session.add_all([campaign, other])
        session.flush()
        # name -> role, campaign; otto and sol work for the other campaign.
        staff = {
            "ana": ("agent", campaign),
            "beto": ("agent", campaign),
            "sara": ("supervisor", campaign),
            "otto": ("agent", other),
            "sol": ("supervisor", other),
            "root": ("admin", None),
        }
        users = {
            name: create_user(
                session,
                f"{name}@x.co",
                name=name.capitalize(),
                role=role,
                password="p" * 12,
                campaigns=[where] if where else [],
            )
            for name, (role, where) in staff.items()
        }
        ana, beto, sara = users["ana"], users["beto"], users["sara"]
        tokens = {name: create_token(session, user, OPENED) for name, user in users.items()}
        customer = Customer(
            campaign_id=campaign.id,
            document="1012345678",
            document_type="CC",
            name="Juana Pérez Ñúñez",
        )
        contact = Contact(
            address="whatsapp:+573001112233", phone="+573001112233", channel="whatsapp"
        )
        session.add_all([customer, contact])
        session.flush()
        chat = Chat(
            contact_id=contact.id,
            number="whatsapp:+5716001234",
            status=ChatStatus.CLOSED,
            campaign_id=campaign.id,
            customer_id=customer.id,
            agent_id=beto.id,
            opened_at=OPENED,
            closed_at=CLOSED,
            close_reason="Acuerdo de pago registrado",
            closed_by="supervisor",
            closed_by_user_id=sara.id,
            transcript_due_at=CLOSED,
        )
        session.add(chat)
        session.flush()

        def say(
            minutes: int,
            author: Author,
            text: str,
            status: MessageStatus,
            error_code: str | None = None,
            media: list[dict[str, str]] | None = None,
        ) -> None:
            session.add(
                Message(
                    chat_id=chat.id,
                    direction=Direction.IN if author == Author.CUSTOMER else Direction.OUT,
                    author=author,
                    text=text,
                    status=status,
                    error_code=error_code,
                    media=media,
                    created_at=at + timedelta(minutes=minutes),
                )
            )
            session.flush()

        say(0, Author.CUSTOMER, "Hola, quiero pagar", MessageStatus.RECEIVED)
        say(0, Author.BOT, "Bienvenida al canal de pagos", MessageStatus.READ)
        say(2, Author.CUSTOMER, HOSTILE, MessageStatus.RECEIVED)
        say(
            3,
            Author.CUSTOMER,
            "Adjunto el comprobante",
            MessageStatus.RECEIVED,
            media=[{"url": "https://api.twilio.com/x/Media/ME1", "content_type": "image/jpeg"}],
        )
        session.add(
            Assignment(
                chat_id=chat.id,
                agent_id=ana.id,
                kind=AssignmentKind.ASSIGN,
                policy="least_load",
                reason="least load: Ana had 0 of 5",
                created_at=at + timedelta(minutes=4),
            )
        )
        say(5, Author.AGENT, "Hola Juana, soy Ana", MessageStatus.DELIVERED)
        say(6, Author.AGENT, "Le envío el enlace de pago", MessageStatus.FAILED, "63016")
        session.add(
            Assignment(
                chat_id=chat.id,
                agent_id=beto.id,
                by_user_id=sara.id,
                kind=AssignmentKind.REASSIGN,
                reason="reassigned from ana@x.co to beto@x.co by sara@x.co: turno de tarde",
                created_at=at + timedelta(minutes=30),
            )
        )
        say(31, Author.AGENT, "Buenas tardes, soy Beto", MessageStatus.READ)
        long_text = "Queda registrado su acuerdo " + "muy largo " * 300
        say(32, Author.AGENT, long_text, MessageStatus.SENT)
        say(925, Author.SYSTEM, "Gracias por escribirnos", MessageStatus.PENDING)

        still_open = Chat(
            contact_id=contact.id,
            number="whatsapp:+5716009999",
            status=ChatStatus.ASSIGNED,
            campaign_id=campaign.id,
            agent_id=ana.id,
        )
        session.add(still_open)
        session.flush()
        return ClosedChat(chat.id, still_open.id, tokens)


def pdf_text(pdf: bytes | Path) -> str:
    """The PDF's text, pages joined, whitespace runs collapsed (layout breaks lines anywhere)."""
    import io

    source = io.BytesIO(pdf) if isinstance(pdf, bytes) else pdf
    reader = PdfReader(source)
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)
