"""The inbound message's rows, written with SQLAlchemy Core statements built once.

`receive.py` runs for every message a customer sends. The ORM costs a webhook several times
what the database does (building each `select()`, its cache key, loading entities, the unit
of work of each flush), so the rows go through these statements instead: the contact, the
inbound message, the bot's replies, and the chat itself (`ChatRow`), read with its lock and
written in one UPDATE of what changed, also when the turn closes it or hands it to the router.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Boolean,
    Connection,
    Engine,
    Insert,
    Row,
    Table,
    bindparam,
    column,
    exists,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from centralita.bot.model import Flow
from centralita.channels.inbound import InboundMessage
from centralita.core.flowstore import record_version
from centralita.core.models import (
    Author,
    Channel,
    Chat,
    ChatStatus,
    Contact,
    Direction,
    Message,
    MessageStatus,
)
from centralita.lifecycle import deadlines as lifecycle

_contacts = cast(Table, Contact.__table__)
_messages = cast(Table, Message.__table__)
_chats = cast(Table, Chat.__table__)

_CONTACT = select(_contacts.c.id, _contacts.c.profile_name).where(
    _contacts.c.address == bindparam("address")
)
_NEW_CONTACT = insert(_contacts).returning(_contacts.c.id)
_RENAME = (
    update(_contacts)
    .where(_contacts.c.id == bindparam("contact_id"))
    .values(profile_name=bindparam("profile_name"))
)
# A repeated MessageSid inserts nothing and returns no id: the duplicate check and the insert
# are one statement, and two copies arriving at once cannot both get in (unique index). The
# same text on both databases (SQLite >= 3.35). Written as text with typed parameters because
# SQLAlchemy does not cache the compiled form of its dialects' `on_conflict_do_nothing()`
# (it would compile the statement again for every message); the columns' types still convert
# the values (enums, JSON, UTC datetimes). A column the model gives a default must be listed
# here (tests/webhooks/test_receive_sql.py checks it).
_INBOUND_COLUMNS = (
    "chat_id",
    "direction",
    "author",
    "text",
    "media",
    "provider_sid",
    "status",
    "raw",
    "created_at",
)
_INBOUND = (
    text(
        f"INSERT INTO messages ({', '.join(_INBOUND_COLUMNS)}, attempts) "
        f"VALUES ({', '.join(':' + c for c in _INBOUND_COLUMNS)}, 0) "
        "ON CONFLICT (provider_sid) DO NOTHING RETURNING id"
    )
    .bindparams(*(bindparam(c, type_=_messages.c[c].type) for c in _INBOUND_COLUMNS))
    .columns(_messages.c.id)
)
# The replies of one turn in one statement; ids in the order of the rows given.
_REPLIES: Insert = insert(_messages).returning(_messages.c.id, sort_by_parameter_order=True)


# The chat's columns the inbound path reads or sets (the rest are the router's, the close's
# and the transcript's, which load the entity).
CHAT_COLUMNS = (
    "id",
    "contact_id",
    "number",
    "status",
    "campaign_id",
    "customer_id",
    "flow_id",
    "flow_hash",
    "bot_state",
    "wait_deadline",
    "opened_at",
    "queued_at",
    "last_customer_message_at",
    "agent_id",
    "priority",
    "tags",
    "unanswered_since",
    "alert_due_at",
    "reassign_due_at",
    "close_due_at",
)
# Columns the inbound path only ever writes, when the bot closes the chat (lifecycle/close.py):
# written with the rest once set, never read.
WRITE_ONLY_COLUMNS = (
    "closed_at",
    "close_reason",
    "closed_by",
    "closed_by_user_id",
    "transcript_due_at",
)
# The contact's open chat with our number, locked, in one statement: with the contact's
# stored name, and whether the chat has messages held back because the number was paused
# (senders.py; rare, so an EXISTS here instead of a query for them on every message).
_OPEN_CHAT = (
    select(
        *(_chats.c[name] for name in CHAT_COLUMNS),
        _contacts.c.profile_name,
        exists()
        .where(
            _messages.c.chat_id == _chats.c.id,
            _messages.c.status == MessageStatus.PENDING,
            _messages.c.hold_reason == "sender_paused",
        )
        .correlate(_chats)
        .label("holds_paused"),
    )
    .join(_contacts, _contacts.c.id == _chats.c.contact_id)
    .where(
        _contacts.c.address == bindparam("address"),
        _chats.c.number == bindparam("number"),
        _chats.c.status != ChatStatus.CLOSED,
    )
    .with_for_update(of=_chats)
)
_NEW_CHAT = insert(_chats).returning(*(_chats.c[name] for name in CHAT_COLUMNS))
# PostgreSQL: the open chat, locked, and the inbound message stored in it, in one statement
# (data-modifying CTEs): one round trip fewer on every message to an open chat. The lock is
# taken first, as with the two statements; `message_id` is NULL for a repeated MessageSid.
# SQLite has no INSERT in a WITH clause: it runs the two.
_OPEN_CHAT_AND_STORE = (
    text(
        "WITH chat AS ("
        f"SELECT {', '.join('chats.' + name for name in CHAT_COLUMNS)}, contacts.profile_name, "
        "EXISTS (SELECT 1 FROM messages WHERE messages.chat_id = chats.id "
        "AND messages.status = :held_status AND messages.hold_reason = 'sender_paused') "
        "AS holds_paused "
        "FROM chats JOIN contacts ON contacts.id = chats.contact_id "
        "WHERE contacts.address = :address AND chats.number = :number "
        "AND chats.status != :closed FOR UPDATE OF chats), "
        f"stored AS (INSERT INTO messages ({', '.join(_INBOUND_COLUMNS)}, attempts) "
        f"SELECT chat.id, {', '.join(':' + c for c in _INBOUND_COLUMNS[1:])}, 0 FROM chat "
        "ON CONFLICT (provider_sid) DO NOTHING RETURNING id) "
        "SELECT chat.*, (SELECT id FROM stored) AS message_id FROM chat"
    )
    .bindparams(
        *(bindparam(c, type_=_messages.c[c].type) for c in _INBOUND_COLUMNS[1:]),
        bindparam("held_status", MessageStatus.PENDING, type_=_messages.c.status.type),
        bindparam("closed", ChatStatus.CLOSED, type_=_chats.c.status.type),
        bindparam("address", type_=_contacts.c.address.type),
        bindparam("number", type_=_chats.c.number.type),
    )
    .columns(
        *(_chats.c[name] for name in CHAT_COLUMNS),
        _contacts.c.profile_name,
        column("holds_paused", Boolean),
        column("message_id", _messages.c.id.type),
    )
)

_UPDATE_CHAT = update(_chats).where(_chats.c.id == bindparam("chat_id_"))


class ChatRow:
    """The chat as the inbound path sees it: its columns as plain attributes, written back in
    one UPDATE of those that changed (`save`), without the ORM's identity map and unit of
    work. `close_chat` and the deadlines take it as they take the entity; the router reads
    the row once it is saved, and what it wrote is told back (`written`)."""

    id: int
    contact_id: int
    number: str
    status: ChatStatus
    customer_id: int | None
    flow_id: str | None
    flow_hash: str | None
    bot_state: dict[str, Any] | None
    wait_deadline: datetime | None
    opened_at: datetime
    queued_at: datetime | None
    last_customer_message_at: datetime | None
    agent_id: int | None
    priority: int
    tags: list[str] | None
    unanswered_since: datetime | None
    alert_due_at: datetime | None
    reassign_due_at: datetime | None
    close_due_at: datetime | None
    # WRITE_ONLY_COLUMNS: unset until a close sets them.
    closed_at: datetime
    close_reason: str
    closed_by: str
    closed_by_user_id: int | None
    transcript_due_at: datetime

    def __init__(self, row: Row[Any]) -> None:
        values = {name: row._mapping[name] for name in CHAT_COLUMNS}
        self._stored = values  # as the database holds them (for this transaction)
        self._campaign_id: int | None = values["campaign_id"]
        self.__dict__.update((k, v) for k, v in values.items() if k != "campaign_id")

    @property
    def campaign_id(self) -> int | None:
        return self._campaign_id

    @campaign_id.setter
    def campaign_id(self, value: int | None) -> None:
        if value != self._campaign_id:
            lifecycle.note_campaign_change(self)  # the close deadline follows the campaign
        self._campaign_id = value

    def changes(self) -> dict[str, Any]:
        changed = {
            name: getattr(self, name)
            for name, stored in self._stored.items()
            if getattr(self, name) != stored
        }
        changed.update(
            (name, self.__dict__[name])
            for name in WRITE_ONLY_COLUMNS
            if name in self.__dict__ and name not in self._stored
        )
        return changed

    def save(self, session: Session) -> None:
        """Write what changed since it was read or last saved."""
        changed = self.changes()
        if changed:
            session.flush()  # a flow version it now refers to, say, goes first
            session.connection().execute(_UPDATE_CHAT, {"chat_id_": self.id, **changed})
            self._stored.update(changed)

    def written(self, **values: Any) -> None:
        """What another statement of this transaction wrote on the row (the router's)."""
        self.__dict__.update(values)
        self._stored.update(values)


def open_chat(
    conn: Connection, address: str, number: str
) -> tuple[ChatRow, str | None, bool] | None:
    """The contact's open chat with our number, locked; with the contact's stored WhatsApp
    name and whether the chat holds messages for a paused number."""
    found = conn.execute(_OPEN_CHAT, {"address": address, "number": number}).first()
    if found is None:
        return None
    return ChatRow(found), found.profile_name, bool(found.holds_paused)


def open_chat_and_store(
    conn: Connection, inbound: InboundMessage, now: datetime
) -> tuple[ChatRow, str | None, bool, int | None] | None:
    """`open_chat` for the sender and our number and, when there is one, the message stored
    in it (`insert_inbound`): the chat, the contact's stored name, whether it holds messages
    for a paused number, and the new message's id (None: its MessageSid is already stored).
    None when the contact has no open chat with the number: nothing is stored then."""
    if conn.dialect.name != "postgresql":
        found = open_chat(conn, inbound.from_, inbound.to)
        if found is None:
            return None
        return (*found, insert_inbound(conn, found[0].id, inbound, now))
    row = conn.execute(
        _OPEN_CHAT_AND_STORE,
        {"address": inbound.from_, "number": inbound.to, **_inbound_values(inbound, now)},
    ).first()
    if row is None:
        return None
    message_id = row.message_id
    return (
        ChatRow(row),
        row.profile_name,
        bool(row.holds_paused),
        None if message_id is None else int(message_id),
    )


def new_chat(conn: Connection, contact_id: int, number: str, now: datetime) -> ChatRow:
    """A new chat in the bot. A concurrent first message of the same contact makes this
    raise IntegrityError (one open chat per contact and number): the caller runs again."""
    row = conn.execute(
        _NEW_CHAT,
        {"contact_id": contact_id, "number": number, "status": ChatStatus.BOT, "opened_at": now},
    ).one()
    return ChatRow(row)


def contact_id(conn: Connection, inbound: InboundMessage) -> int:
    """The sender's contact, created on their first message; their WhatsApp name kept fresh.
    A concurrent first message of the same contact makes this raise IntegrityError (unique
    address): the caller runs the transaction again and finds it."""
    found = conn.execute(_CONTACT, {"address": inbound.from_}).first()
    if found is None:
        new_id: int = conn.execute(
            _NEW_CONTACT,
            {
                "address": inbound.from_,
                "phone": inbound.from_.split(":", 1)[-1],
                "profile_name": inbound.profile_name or None,
                "channel": Channel(inbound.channel),
            },
        ).scalar_one()
        return new_id
    existing_id, profile_name = found
    keep_name_fresh(conn, existing_id, profile_name, inbound)
    return int(existing_id)


def keep_name_fresh(
    conn: Connection, contact_id: int, stored: str | None, inbound: InboundMessage
) -> None:
    """People rename themselves on WhatsApp: the contact takes the name the message carries."""
    if inbound.profile_name and stored != inbound.profile_name:
        conn.execute(_RENAME, {"contact_id": contact_id, "profile_name": inbound.profile_name})


def insert_inbound(
    conn: Connection, chat_id: int, inbound: InboundMessage, now: datetime
) -> int | None:
    """Store the customer's message; None when its MessageSid is already stored."""
    new_id = conn.execute(_INBOUND, {"chat_id": chat_id, **_inbound_values(inbound, now)}).scalar()
    return None if new_id is None else int(new_id)


def _inbound_values(inbound: InboundMessage, now: datetime) -> dict[str, Any]:
    """The inbound message's columns but its chat."""
    media = [{"url": m.url, "content_type": m.content_type} for m in inbound.media]
    return {
        "direction": Direction.IN,
        "author": Author.CUSTOMER,
        "text": inbound.body,
        "media": media or None,
        "provider_sid": inbound.sid,
        "status": MessageStatus.RECEIVED,
        "raw": inbound.raw,
        "created_at": now,
    }


def reply_row(chat_id: int, text: str, now: datetime, media: str | None = None) -> dict[str, Any]:
    """One bot reply for `insert_replies`: pending in the outbox, due now."""
    return {
        "chat_id": chat_id,
        "direction": Direction.OUT,
        "author": Author.BOT,
        "text": text,
        "media": [{"url": media}] if media else None,
        "status": MessageStatus.PENDING,
        "next_attempt_at": now,
        "created_at": now,
    }


def insert_replies(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert the rows in one statement; their ids, in the rows' order."""
    if not rows:
        return []
    return [int(i) for i in conn.execute(_REPLIES, list(rows)).scalars()]


# Flow versions this process saw committed in `flow_versions`, per database. Those rows are
# never deleted, so a chat starting on a version seen before needs no look-up for it.
_stored_versions: weakref.WeakKeyDictionary[Engine, set[tuple[str, str]]] = (
    weakref.WeakKeyDictionary()
)
_SEEN = "centralita_flow_versions"  # Session.info key: versions to remember after the commit


def _engine(session: Session) -> Engine:
    bind = session.get_bind()
    return bind.engine if isinstance(bind, Connection) else bind


def record_version_once(session: Session, flow: Flow) -> None:
    """`record_version`, skipped for a version this process saw committed before."""
    key = (flow.id, flow.version)
    if key in _stored_versions.get(_engine(session), ()):
        return
    record_version(session, flow)
    session.info.setdefault(_SEEN, []).append(key)


def remember_versions(session: Session) -> None:
    """After the session's commit: the versions it stored or found are there for good."""
    seen = session.info.pop(_SEEN, None)
    if seen:
        _stored_versions.setdefault(_engine(session), set()).update(seen)
