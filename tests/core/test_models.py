from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from centralita.core.db import transaction
from centralita.core.models import (
    Author,
    Campaign,
    Channel,
    Chat,
    ChatStatus,
    Contact,
    Customer,
    Direction,
    FlowVersion,
    Message,
    MessageStatus,
    normalize_document,
)

NUMBER = "whatsapp:+5760100000"
BOGOTA = timezone(timedelta(hours=-5))


def _contact(session: Session, address: str = "whatsapp:+573001234567") -> Contact:
    contact = Contact(address=address, phone=address.split(":")[-1], channel=Channel.WHATSAPP)
    session.add(contact)
    session.flush()
    return contact


def _chat(session: Session, contact: Contact, number: str = NUMBER, **values: object) -> Chat:
    chat = Chat(contact=contact, number=number, **values)
    session.add(chat)
    session.flush()
    return chat


def _message(chat: Chat, sid: str | None, **values: object) -> Message:
    defaults: dict[str, object] = {
        "direction": Direction.IN,
        "author": Author.CUSTOMER,
        "text": "hola",
        "status": MessageStatus.RECEIVED,
    }
    return Message(chat=chat, provider_sid=sid, **(defaults | values))


def test_a_second_open_chat_for_the_same_contact_and_number_is_rejected(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as tx:
        contact = _contact(tx)
        _chat(tx, contact)
        contact_id = contact.id
    for status in (ChatStatus.BOT, ChatStatus.WAITING_QUEUE, ChatStatus.ASSIGNED):
        with pytest.raises(IntegrityError), transaction(sessions) as tx:
            tx.add(Chat(contact_id=contact_id, number=NUMBER, status=status))


def test_after_closing_a_chat_a_new_one_can_open(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as tx:
        contact = _contact(tx)
        for _ in range(2):  # closed chats pile up: one per past conversation
            chat = _chat(tx, contact)
            chat.status = ChatStatus.CLOSED
            chat.closed_at = datetime.now(UTC)
            tx.flush()
        _chat(tx, contact)
        _chat(tx, contact, number="whatsapp:+5760100001")  # another of our numbers
    with sessions() as session:
        statuses = session.scalars(select(Chat.status).where(Chat.number == NUMBER)).all()
        assert sorted(statuses) == [ChatStatus.BOT, ChatStatus.CLOSED, ChatStatus.CLOSED]
        assert all(isinstance(status, ChatStatus) for status in statuses)


def test_a_repeated_provider_sid_is_rejected(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as tx:
        chat = _chat(tx, _contact(tx))
        tx.add_all([_message(chat, "SM" + "a" * 32), _message(chat, None), _message(chat, None)])
        chat_id = chat.id
    with pytest.raises(IntegrityError), transaction(sessions) as tx:
        chat = tx.get_one(Chat, chat_id)
        tx.add(_message(chat, "SM" + "a" * 32))


@pytest.mark.parametrize("offset", [UTC, BOGOTA, timezone(timedelta(hours=5, minutes=30))])
def test_datetimes_come_back_aware_and_in_utc(
    sessions: sessionmaker[Session], offset: timezone
) -> None:
    moment = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=offset)
    with transaction(sessions) as tx:
        chat_id = _chat(tx, _contact(tx), wait_deadline=moment).id
    with sessions() as session:
        chat = session.get_one(Chat, chat_id)
        assert chat.wait_deadline == moment
        assert chat.wait_deadline is not None
        assert chat.wait_deadline.utcoffset() == timedelta(0)
        assert chat.opened_at.tzinfo is not None  # defaults too


def test_naive_datetimes_are_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(StatementError, match="naive datetime"), transaction(sessions) as tx:
        _chat(tx, _contact(tx), wait_deadline=datetime(2026, 3, 1, 9, 30))


def test_deadline_queries_compare_instants_not_wall_clocks(
    sessions: sessionmaker[Session],
) -> None:
    now = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
    with transaction(sessions) as tx:
        contact = _contact(tx)
        # 10:30 in Bogotá is 15:30 UTC: not yet due although "10:30" < "15:00" as text.
        later = _chat(tx, contact, wait_deadline=datetime(2026, 3, 1, 10, 30, tzinfo=BOGOTA))
        due = _chat(tx, contact, number="whatsapp:+5760100001", wait_deadline=now)
        ids = {"later": later.id, "due": due.id}
    with sessions() as session:
        found = session.scalars(select(Chat.id).where(Chat.wait_deadline <= now)).all()
    assert found == [ids["due"]]


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("messages", "direction", "sideways"),
        ("messages", "author", "robot"),
        ("messages", "status", "lost"),
        ("chats", "status", "archived"),
    ],
)
def test_enum_columns_are_checked_by_the_database(
    engine: Engine, sessions: sessionmaker[Session], table: str, column: str, value: str
) -> None:
    with transaction(sessions) as tx:
        chat = _chat(tx, _contact(tx))
        message = _message(chat, None)
        tx.add(message)
        tx.flush()
        ids = {"messages": message.id, "chats": chat.id}
    # Raw SQL, as another program or a hand-written fix would do, bypassing the models.
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {table} SET {column} = :v WHERE id = :id"), {"v": value, "id": ids[table]}
        )


def test_an_unknown_status_is_refused_before_reaching_the_database(
    sessions: sessionmaker[Session],
) -> None:
    with pytest.raises(StatementError), transaction(sessions) as tx:
        _chat(tx, _contact(tx), status="archived")


def test_bot_state_and_media_round_trip_as_json(sessions: sessionmaker[Session]) -> None:
    state = {"v": 1, "flow": "cobranza", "step": "ask_document", "slots": {"nombre": "Ñandú"}}
    media = [{"url": "https://example.com/a.jpg", "content_type": "image/jpeg"}]
    with transaction(sessions) as tx:
        chat = _chat(tx, _contact(tx), bot_state=state)
        message = _message(chat, None, media=media)
        tx.add(message)
        tx.flush()
        ids = (chat.id, message.id)
    with sessions() as session:
        assert session.get_one(Chat, ids[0]).bot_state == state
        assert session.get_one(Message, ids[1]).media == media
        # None is SQL NULL, so "no state" is findable with IS NULL.
        assert session.scalars(select(Message.id).where(Message.media.is_(None))).all() == []


def test_chats_keep_their_flow_version(sessions: sessionmaker[Session]) -> None:
    source = "flow: cobranza\n"
    digest = hashlib.sha256(source.encode()).hexdigest()
    with transaction(sessions) as tx:
        tx.add(FlowVersion(flow_id="cobranza", content_hash=digest, source=source, path="x.yaml"))
        tx.flush()
        _chat(tx, _contact(tx), flow_id="cobranza", flow_hash=digest)
    with pytest.raises(IntegrityError), transaction(sessions) as tx:
        tx.add(FlowVersion(flow_id="cobranza", content_hash=digest, source=source, path="y"))
    with pytest.raises(IntegrityError), transaction(sessions) as tx:  # unknown version
        _chat(tx, _contact(tx, "whatsapp:+1"), flow_id="cobranza", flow_hash="0" * 64)


def test_documents_are_normalised_and_unique_per_campaign(
    sessions: sessionmaker[Session],
) -> None:
    assert normalize_document(" 1.234.567-8 ") == "12345678"
    with transaction(sessions) as tx:
        first = Campaign(slug="cartera", name="Cartera")
        second = Campaign(slug="ventas", name="Ventas")
        tx.add_all([first, second])
        tx.flush()
        tx.add_all(
            [
                Customer(campaign_id=first.id, document="1.234.567-8", name="Ana"),
                Customer(campaign_id=second.id, document="12345678", name="Ana", extra={"a": 1}),
            ]
        )
        first_id = first.id
    with sessions() as session:
        found = session.scalars(select(Customer).where(Customer.document == "12345678")).all()
        assert sorted(c.campaign.slug for c in found) == ["cartera", "ventas"]
    with pytest.raises(IntegrityError), transaction(sessions) as tx:
        tx.add(Customer(campaign_id=first_id, document="12 345 678", name="Otra"))


def test_campaign_defaults(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as tx:
        campaign = Campaign(slug="cartera", name="Cartera")
        tx.add(campaign)
        tx.flush()
        assert campaign.active is True
        assert campaign.timezone == "America/Bogota"
        assert campaign.alert_after_seconds == 1800
        assert campaign.close_after_seconds == 86400
        assert campaign.closing_message is None
