"""Pausing through the real outbox and webhooks: at critical, business-initiated messages wait
while replies to customers who write in still go out; `senders resume` releases them."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels.outbox import send_message
from centralita.channels.transport import ConsoleTransport
from centralita.cli import main
from centralita.core.models import (
    Author,
    Chat,
    Contact,
    Direction,
    Message,
    MessageStatus,
    SenderNumber,
    utcnow,
)
from centralita.core.runtime import Runtime
from centralita.core.sweep import sweep
from tests.webhooks.conftest import CUSTOMER, NUMBER, Poster, inbound_params

MESSAGES = "/webhooks/twilio/messages"
STATUS = "/webhooks/twilio/status"
BETO = "whatsapp:+573009998877"
TEMPLATE = "HX" + "c" * 32


def _chat_of(sessions: sessionmaker[Session], address: str) -> int:
    with sessions() as session:
        chat_id = session.scalar(
            select(Chat.id)
            .join(Contact, Contact.id == Chat.contact_id)
            .where(Contact.address == address)
        )
        assert chat_id is not None
        return chat_id


def _queue(sessions: sessionmaker[Session], chat_id: int, text: str) -> int:
    with sessions.begin() as session:
        message = Message(
            chat_id=chat_id,
            direction=Direction.OUT,
            author=Author.AGENT,
            text=text,
            status=MessageStatus.PENDING,
            next_attempt_at=utcnow(),
        )
        session.add(message)
        session.flush()
        return message.id


def _critical(post: Poster, rt: Runtime, seeded: sessionmaker[Session]) -> None:
    """Ana and Beto wrote; Beto's window closed 6 h ago; then Twilio reports the account
    locked (63051) on one of our replies to Ana, and the sweep pauses the number."""
    post(MESSAGES, inbound_params("hola"))
    post(MESSAGES, inbound_params("hola", From=BETO, WaId=BETO.split("+")[1], ProfileName="Beto"))
    with seeded.begin() as session:
        chat = session.get(Chat, _chat_of(seeded, BETO))
        assert chat is not None and chat.last_customer_message_at is not None
        chat.last_customer_message_at -= timedelta(hours=30)
        number = session.scalars(select(SenderNumber)).one()
        number.fallback_template_sid = TEMPLATE
    with seeded() as session:
        sid = session.scalars(
            select(Message.provider_sid)
            .where(
                Message.chat_id == _chat_of(seeded, CUSTOMER), Message.direction == Direction.OUT
            )
            .order_by(Message.id)
        ).first()
    assert sid is not None
    post(STATUS, {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "63051"})
    assert sweep(rt, utcnow()).senders_changed == 1
    with seeded() as session:
        number = session.scalars(select(SenderNumber)).one()
        assert number.risk_level == "critical" and number.paused_at is not None


def test_a_critical_number_holds_business_initiated_messages_until_resumed(
    post: Poster,
    rt: Runtime,
    seeded: sessionmaker[Session],
    console: ConsoleTransport,
    runner: CliRunner,
    db_url: str,
) -> None:
    _critical(post, rt, seeded)
    # An agent follows up with Beto, whose window is closed: business-initiated, held.
    follow_up = _queue(seeded, _chat_of(seeded, BETO), "¿Pudiste revisar la propuesta?")
    assert send_message(rt, follow_up) == "held"
    # Ana writes again: the bot's replies are inside her window and go out.
    sent_before = len(console.sent)
    post(MESSAGES, inbound_params("no sé"))
    replies = console.sent[sent_before:]
    assert replies and all(m.to == CUSTOMER for m in replies)
    # The sweep neither sends the held message nor un-pauses the number.
    sweep(rt, utcnow())
    assert all(m.to != BETO or m.content_sid is None for m in console.sent)

    shown = runner.invoke(main, ["senders", "health"], env={"DATABASE_URL": db_url})
    assert shown.exit_code == 0, shown.output
    assert f"{NUMBER}  CRITICAL  PAUSED since " in shown.output
    assert "critical locked (63051) (24 h): 1 ≥ 1" in shown.output

    resumed = runner.invoke(main, ["senders", "resume", NUMBER], env={"DATABASE_URL": db_url})
    assert resumed.exit_code == 0, resumed.output
    assert f"resumed {NUMBER} (paused since " in resumed.output
    assert "1 held message(s) back in the outbox, sent by the next sweep" in resumed.output
    with seeded() as session:
        message = session.get(Message, follow_up)
        assert message is not None and message.hold_reason is None

    # The next sweep sends it, as the template WhatsApp requires outside the window; the
    # number is still critical, but an admin resumed it, so it stays resumed.
    report = sweep(rt, utcnow() + timedelta(seconds=1))
    assert report.outbox_requeued == 1
    assert (console.sent[-1].to, console.sent[-1].content_sid) == (BETO, TEMPLATE)
    assert console.sent[-1].content_variables == {"1": "¿Pudiste revisar la propuesta?"}
    with seeded() as session:
        number = session.scalars(select(SenderNumber)).one()
        assert (number.risk_level, number.paused_at) == ("critical", None)


def test_a_customer_who_writes_in_gets_replies_despite_a_held_message_in_the_chat(
    post: Poster, rt: Runtime, seeded: sessionmaker[Session], console: ConsoleTransport
) -> None:
    _critical(post, rt, seeded)
    held = _queue(seeded, _chat_of(seeded, BETO), "¿Pudiste revisar la propuesta?")
    assert send_message(rt, held) == "held"
    sent_before = len(console.sent)
    post(MESSAGES, inbound_params("hola otra vez", From=BETO, WaId=BETO.split("+")[1]))
    assert [m.to for m in console.sent[sent_before:]][:1] == [BETO]
