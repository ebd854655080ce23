"""The inbound message's rows, written with SQLAlchemy Core statements built once.

`receive.py` runs for every message a customer sends. The ORM costs a webhook several times
what the database does (building each `select()`, its cache key, loading entities, the unit
of work of each flush), so the rows nobody edits afterwards in the transaction go through
these statements instead: the contact, the inbound message, the bot's replies. The chat
stays an ORM entity, since the router and the lifecycle act on it.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Engine, Insert, Table, bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from centralita.bot.model import Flow
from centralita.channels.inbound import InboundMessage
from centralita.core.flowstore import record_version
from centralita.core.models import (
    Author,
    Channel,
    Contact,
    Direction,
    Message,
    MessageStatus,
)

_contacts = cast(Table, Contact.__table__)
_messages = cast(Table, Message.__table__)

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
    media = [{"url": m.url, "content_type": m.content_type} for m in inbound.media]
    new_id = conn.execute(
        _INBOUND,
        {
            "chat_id": chat_id,
            "direction": Direction.IN,
            "author": Author.CUSTOMER,
            "text": inbound.body,
            "media": media or None,
            "provider_sid": inbound.sid,
            "status": MessageStatus.RECEIVED,
            "raw": inbound.raw,
            "created_at": now,
        },
    ).scalar()
    return None if new_id is None else int(new_id)


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
