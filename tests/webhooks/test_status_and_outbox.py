"""Delivery statuses, outbox rules (order, 24-hour window, opt-out, paused sender) and the
bot's silence timers through the sweep."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels.outbox import recover_unsent, send_message
from centralita.channels.transport import Accepted, ConsoleTransport, Outgoing
from centralita.core.models import (
    Alert,
    Chat,
    Direction,
    EarlyStatus,
    Message,
    MessageEvent,
    MessageStatus,
    OptOut,
    SenderNumber,
    utcnow,
)
from centralita.core.runtime import Runtime
from centralita.core.sweep import sweep

from .conftest import Poster, inbound_params

MESSAGES = "/webhooks/twilio/messages"
STATUS = "/webhooks/twilio/status"


def _out(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        return list(
            session.scalars(
                select(Message).where(Message.direction == Direction.OUT).order_by(Message.id)
            )
        )


def _status(sid: str, status: str, **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": status, "SmsStatus": status, **extra}


def test_statuses_only_move_forward_and_every_callback_is_kept(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    post(MESSAGES, inbound_params("hola"))
    first = _out(seeded)[0]
    assert first.provider_sid is not None
    for status in ("delivered", "sent", "read", "delivered"):
        assert post(STATUS, _status(first.provider_sid, status)).status_code == 204
    with seeded() as session:
        message = session.get(Message, first.id)
        assert message is not None and message.status == MessageStatus.READ
        events = session.scalars(
            select(MessageEvent.status).where(MessageEvent.message_id == first.id)
        ).all()
    assert events == ["delivered", "sent", "read", "delivered"]


def test_a_failed_delivery_keeps_its_code_and_raises_an_alert(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    post(MESSAGES, inbound_params("hola"))
    first = _out(seeded)[0]
    assert first.provider_sid is not None
    post(STATUS, _status(first.provider_sid, "undelivered", ErrorCode="63024"))
    post(STATUS, _status(first.provider_sid, "undelivered", ErrorCode="63024"))  # a retry
    with seeded() as session:
        message = session.get(Message, first.id)
        assert message is not None
        assert (message.status, message.error_code) == (MessageStatus.UNDELIVERED, "63024")
        alerts = session.scalars(select(Alert)).all()
    assert [(a.kind, a.chat_id) for a in alerts] == [("delivery_failed", first.chat_id)]


def test_a_21610_marks_the_contact_opted_out(post: Poster, seeded: sessionmaker[Session]) -> None:
    post(MESSAGES, inbound_params("hola"))
    first = _out(seeded)[0]
    assert first.provider_sid is not None
    post(STATUS, _status(first.provider_sid, "failed", ErrorCode="21610"))
    with seeded() as session:
        assert session.scalars(select(OptOut.source)).all() == ["twilio:21610"]


def test_status_callbacks_need_a_signature_and_their_parameters(
    post: Poster, seeded: sessionmaker[Session]
) -> None:
    assert post(STATUS, _status("SM" + "0" * 32, "sent"), signature="bad").status_code == 403
    response = post(STATUS, {"MessageStatus": "sent"})
    assert response.status_code == 400
    assert response.get_data(as_text=True).startswith("MessageSid:")
    # An unknown message is acknowledged (Twilio would retry otherwise) and changes nothing.
    assert post(STATUS, _status("SM" + "0" * 32, "sent")).status_code == 204
    assert all(m.status == MessageStatus.PENDING for m in _out(seeded))


class EarlyCallbacks:
    """A transport whose provider calls back before the send job has stored the sid: the
    callbacks for the message it accepts are posted from inside `send`, as Twilio may."""

    def __init__(self, post: Poster, statuses: list[str]) -> None:
        self.post, self.statuses, self.count = post, statuses, 0

    def send(self, message: Outgoing) -> Accepted:
        self.count += 1
        sid = f"SM{self.count:032d}"
        for status in self.statuses:
            assert self.post(STATUS, _status(sid, status)).status_code == 204
        return Accepted(sid=sid, status="queued")


def test_callbacks_before_the_sid_is_stored_are_applied_when_it_is(
    post: Poster, seeded: sessionmaker[Session], rt: Runtime
) -> None:
    rt.transport = EarlyCallbacks(post, ["sent", "delivered"])
    post(MESSAGES, inbound_params("hola"))
    out = _out(seeded)
    assert out and all(m.status == MessageStatus.DELIVERED for m in out)
    with seeded() as session:
        events = session.scalars(
            select(MessageEvent.status).where(MessageEvent.message_id == out[0].id)
        ).all()
        assert events == ["sent", "delivered"]
        assert session.scalars(select(EarlyStatus)).all() == []


def test_the_sweep_applies_an_early_callback_the_send_job_missed(
    post: Poster, seeded: sessionmaker[Session], rt: Runtime
) -> None:
    post(MESSAGES, inbound_params("hola"))
    first = _out(seeded)[0]
    assert first.provider_sid is not None and first.status == MessageStatus.SENT
    # Stored just as the send job committed, so the job did not see it.
    with seeded.begin() as session:
        session.add(
            EarlyStatus(provider_sid=first.provider_sid, raw=_status(first.provider_sid, "read"))
        )
        session.add(EarlyStatus(provider_sid="SM-never-ours", raw=_status("SM-never-ours", "sent")))
    report = sweep(rt, utcnow())
    assert report.early_statuses == 1
    assert "early delivery statuses applied: 1" in report.lines()
    with seeded() as session:
        message = session.get(Message, first.id)
        assert message is not None and message.status == MessageStatus.READ
        # One nobody claimed is kept a while (its send may still be on its way), then dropped.
        assert session.scalars(select(EarlyStatus.provider_sid)).all() == ["SM-never-ours"]
    sweep(rt, utcnow() + timedelta(days=3))
    with seeded() as session:
        assert session.scalars(select(EarlyStatus)).all() == []


def _age_last_customer_message(sessions: sessionmaker[Session], hours: float) -> int:
    with sessions.begin() as session:
        chat = session.scalars(select(Chat)).one()
        assert chat.last_customer_message_at is not None
        chat.last_customer_message_at -= timedelta(hours=hours)
        return chat.id


def _queue_agent_message(sessions: sessionmaker[Session], chat_id: int, text: str) -> int:
    with sessions.begin() as session:
        message = Message(
            chat_id=chat_id,
            direction=Direction.OUT,
            author="agent",
            text=text,
            status=MessageStatus.PENDING,
            next_attempt_at=utcnow(),
        )
        session.add(message)
        session.flush()
        return message.id


def test_outside_the_24_hour_window_free_text_is_not_sent_blindly(
    post: Poster, seeded: sessionmaker[Session], rt: Runtime, console: ConsoleTransport
) -> None:
    post(MESSAGES, inbound_params("hola"))
    chat_id = _age_last_customer_message(seeded, 25)
    sent_before = len(console.sent)
    late = _queue_agent_message(seeded, chat_id, "¿Sigues interesada?")
    assert send_message(rt, late) == "failed"
    with seeded() as session:
        message = session.get(Message, late)
        assert message is not None and message.status == MessageStatus.FAILED
        assert message.failure_reason is not None and "24-hour window" in message.failure_reason
    # With the number's approved template, the text goes in as its variable.
    with seeded.begin() as session:
        session.scalars(select(SenderNumber)).one().fallback_template_sid = "HX" + "a" * 32
    again = _queue_agent_message(seeded, chat_id, "¿Sigues interesada?")
    assert send_message(rt, again) == "sent"
    assert len(console.sent) == sent_before + 1
    assert console.sent[-1].content_sid == "HX" + "a" * 32
    assert console.sent[-1].content_variables == {"1": "¿Sigues interesada?"}


def test_a_message_refused_at_its_claim_does_not_hold_up_the_next(
    post: Poster, seeded: sessionmaker[Session], rt: Runtime
) -> None:
    # A chat's messages leave one after the other, each job enqueueing the next: one that
    # fails before it is sent (window closed, no template) must still pass the turn on.
    post(MESSAGES, inbound_params("hola"))
    chat_id = _age_last_customer_message(seeded, 25)
    first = _queue_agent_message(seeded, chat_id, "uno")
    second = _queue_agent_message(seeded, chat_id, "dos")
    assert send_message(rt, first) == "failed"
    with seeded() as session:
        message = session.get(Message, second)
        assert message is not None and message.status == MessageStatus.FAILED
        assert message.failure_reason is not None and "24-hour window" in message.failure_reason


def test_nothing_business_initiated_goes_to_an_opted_out_contact(
    post: Poster, seeded: sessionmaker[Session], rt: Runtime
) -> None:
    post(MESSAGES, inbound_params("hola"))
    post(MESSAGES, inbound_params("STOP"))
    chat_id = _age_last_customer_message(seeded, 30)
    message_id = _queue_agent_message(seeded, chat_id, "Oferta especial")
    assert send_message(rt, message_id) == "failed"
    with seeded() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.failure_reason is not None
        assert "opted out" in message.failure_reason


def test_a_paused_sender_holds_business_initiated_messages(
    post: Poster, seeded: sessionmaker[Session], rt: Runtime
) -> None:
    post(MESSAGES, inbound_params("hola"))
    chat_id = _age_last_customer_message(seeded, 30)
    with seeded.begin() as session:
        number = session.scalars(select(SenderNumber)).one()
        number.paused_at = utcnow()
        number.fallback_template_sid = "HX" + "b" * 32
    message_id = _queue_agent_message(seeded, chat_id, "Recordatorio")
    assert send_message(rt, message_id) == "held"
    with seeded() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.hold_reason == "sender_paused"
        assert message.status == MessageStatus.PENDING


def test_messages_of_a_chat_leave_in_order(
    post: Poster, seeded: sessionmaker[Session], rt: Runtime, console: ConsoleTransport
) -> None:
    post(MESSAGES, inbound_params("hola"))
    chat_id = _age_last_customer_message(seeded, 0)
    first = _queue_agent_message(seeded, chat_id, "uno")
    second = _queue_agent_message(seeded, chat_id, "dos")
    assert send_message(rt, second) == "waiting_for_earlier"
    assert send_message(rt, first) == "sent"  # ... and its job sends the next one
    assert [m.body for m in console.sent[-2:]] == ["uno", "dos"]


def test_the_sweep_fires_silence_timers_and_recovers_lost_jobs(
    post: Poster, seeded: sessionmaker[Session], rt: Runtime, console: ConsoleTransport
) -> None:
    post(MESSAGES, inbound_params("hola"))
    now = utcnow()
    assert sweep(rt, now + timedelta(minutes=14)).bot_timers == 0
    report = sweep(rt, now + timedelta(minutes=16))
    assert report.bot_timers == 1
    assert console.sent[-1].body == "¿Sigues ahí?"
    assert sweep(rt, now + timedelta(minutes=17)).bot_timers == 0  # once per deadline
    sweep(rt, now + timedelta(minutes=31))
    assert console.sent[-1].body == "Cerramos el chat. ¡Hasta pronto!"
    with seeded() as session:
        assert session.scalars(select(Chat.close_reason)).one() == "bot_completed"

    # A message whose job was lost (Redis down, worker killed) is sent by the next sweep.
    chat_id = _age_last_customer_message(seeded, 0)
    with seeded.begin() as session:
        session.add(
            Message(
                chat_id=chat_id,
                direction=Direction.OUT,
                author="system",
                text="perdido",
                status=MessageStatus.PENDING,
                next_attempt_at=utcnow(),
            )
        )
    assert recover_unsent(rt) == 1
    assert console.sent[-1].body == "perdido"


def test_the_sweep_gives_waiting_chats_to_agents_who_came_online(
    post: Poster, seeded: sessionmaker[Session], rt: Runtime
) -> None:
    from centralita.core.models import Campaign, ChatStatus, Presence
    from centralita.routing.users import create_user

    post(MESSAGES, inbound_params("hola"))
    post(MESSAGES, inbound_params("1012345678"))  # handed off; nobody online yet
    with seeded.begin() as session:
        assert session.scalars(select(Chat.status)).one() == ChatStatus.WAITING_QUEUE
        agent = create_user(
            session,
            "luz@x.co",
            name="Luz",
            role="agent",
            password="x" * 12,
            campaigns=[session.scalars(select(Campaign)).one()],
        )
        agent.presence = Presence.ONLINE
        agent.last_seen_at = utcnow()
    assert sweep(rt, utcnow()).queue_assigned == 1
    with seeded() as session:
        chat = session.scalars(select(Chat)).one()
        assert chat.status == ChatStatus.ASSIGNED and chat.agent is not None
        assert chat.agent.email == "luz@x.co"
