"""The database model: typed SQLAlchemy 2.0 tables for what the engine needs so far.

Any change here needs a migration in centralita/migrations/versions/ (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Dialect,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy import text as sql_text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates
from sqlalchemy.types import DateTime, TypeDecorator

from centralita.bot.inputs import normalize_document  # one normalisation for store and lookup
from centralita.core import open_chats
from centralita.routing import postgres as routing_postgres

# Stable constraint names, so later migrations can alter or drop them by name on both
# databases (SQLite batch mode needs names to find constraints at all).
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL.

    SQLite has no time zone type: values are stored as naive UTC text, which also keeps them
    sortable, so deadline queries (`wait_deadline <= now`) compare correctly. Naive values are
    refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware one, e.g. datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (compact, comparable, indexable). none_as_null: Python None is SQL NULL,
# not the JSON text 'null'.
JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
# 64-bit ids on PostgreSQL; SQLite only autoincrements a column declared exactly INTEGER.
IdType = BigInteger().with_variant(Integer(), "sqlite")

intpk = Annotated[int, mapped_column(IdType, primary_key=True)]
datetime_now = Annotated[datetime, mapped_column(default=utcnow)]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy reads this class attribute)
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[dict[str, Any]]: JSONType,
    }


def _str_enum(enum: type[StrEnum], name: str) -> Enum:
    """A VARCHAR with a CHECK constraint (no native PostgreSQL enum: values change cheaply)."""
    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class AssignmentPolicy(StrEnum):
    LEAST_LOAD = "least_load"  # lowest open/capacity (by weight); ties: longest since last chat
    ROUND_ROBIN = "round_robin"  # longest since last chat, among those under capacity


class ChatStatus(StrEnum):
    BOT = "bot"
    WAITING_QUEUE = "waiting_queue"
    ASSIGNED = "assigned"
    CLOSED = "closed"


class Channel(StrEnum):
    WHATSAPP = "whatsapp"
    SMS = "sms"


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class Author(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class MessageStatus(StrEnum):
    """Twilio's message statuses, plus `pending`: in our outbox, not yet handed to Twilio."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    PARTIALLY_DELIVERED = "partially_delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELED = "canceled"
    RECEIVING = "receiving"
    RECEIVED = "received"


class FlowVersion(Base):
    """One content version of a flow; kept forever, since chats stay on the version they began."""

    __tablename__ = "flow_versions"
    __table_args__ = (
        UniqueConstraint("flow_id", "content_hash"),
        CheckConstraint("length(content_hash) = 64", name="content_hash_sha256"),
    )

    id: Mapped[intpk]
    flow_id: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of `source`
    source: Mapped[str] = mapped_column(Text)  # the YAML as loaded
    path: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime_now]


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        CheckConstraint("alert_after_seconds > 0", name="alert_after_positive"),
        CheckConstraint("close_after_seconds > 0", name="close_after_positive"),
        CheckConstraint("max_assignments_per_minute >= 1", name="assignment_cap_positive"),
        CheckConstraint("reassign_after_seconds > 0", name="reassign_after_positive"),
    )

    id: Mapped[intpk]
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    timezone: Mapped[str] = mapped_column(String(64), default="America/Bogota")
    alert_after_seconds: Mapped[int] = mapped_column(default=1800)
    close_after_seconds: Mapped[int] = mapped_column(default=86400)
    closing_message: Mapped[str | None] = mapped_column(Text)
    closing_template_sid: Mapped[str | None] = mapped_column(String(64))
    # Routing (centralita/routing/): how the router picks among eligible agents, whether
    # supervisors may also pick from the queue by hand, and how many chats one agent may
    # receive automatically per minute (so the first agent to log in does not get the
    # whole backlog at once).
    assignment_policy: Mapped[AssignmentPolicy] = mapped_column(
        _str_enum(AssignmentPolicy, "assignment_policy"), default=AssignmentPolicy.LEAST_LOAD
    )
    manual_assignment: Mapped[bool] = mapped_column(default=False)
    max_assignments_per_minute: Mapped[int] = mapped_column(default=6)
    # Optional: a chat left unanswered this long goes to another eligible agent.
    reassign_after_seconds: Mapped[int | None]
    created_at: Mapped[datetime_now]


class Customer(Base):
    """A row of a campaign's customer database (imported from CSV/XLSX)."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("campaign_id", "document"),
        # The bot looks a document up across every campaign a number serves.
        Index(None, "document"),
    )

    id: Mapped[intpk]
    campaign_id: Mapped[int] = mapped_column(IdType, ForeignKey("campaigns.id"))
    document: Mapped[str] = mapped_column(String(64))
    document_type: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)  # every other column
    created_at: Mapped[datetime_now]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Set when an import in `replace` mode left this customer out: lookups stop finding it,
    # but the row stays, since chats already under way point at it. Re-imported: cleared.
    retired_at: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship()

    @validates("document")
    def _normalize_document(self, _key: str, value: str) -> str:
        return normalize_document(value)


class Contact(Base):
    """Someone who writes to us, by channel address (`whatsapp:+573001234567`)."""

    __tablename__ = "contacts"

    id: Mapped[intpk]
    address: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str] = mapped_column(String(32))
    profile_name: Mapped[str | None] = mapped_column(String(200))
    channel: Mapped[Channel] = mapped_column(_str_enum(Channel, "channel"))
    created_at: Mapped[datetime_now]


# The chats' timer columns (partially indexed, see Chat).
DEADLINES = (
    "wait_deadline",
    "alert_due_at",
    "reassign_due_at",
    "close_due_at",
    "transcript_due_at",
)


class Chat(Base):
    __tablename__ = "chats"
    __table_args__ = (
        # At most one open chat per (contact, our number): a new message joins it.
        Index(
            "uq_chats_open_contact_number",
            "contact_id",
            "number",
            unique=True,
            sqlite_where=sql_text("status != 'closed'"),
            postgresql_where=sql_text("status != 'closed'"),
        ),
        # The chat's flow version must exist: chats stay on the version they started with.
        ForeignKeyConstraint(
            ["flow_id", "flow_hash"], ["flow_versions.flow_id", "flow_versions.content_hash"]
        ),
        # An agent's load (open chats across all campaigns) and their chats list.
        Index(None, "agent_id", "status"),
        # The queue: waiting chats by campaign, drained by priority then age.
        Index(
            "ix_chats_queue",
            "campaign_id",
            "priority",
            "queued_at",
            sqlite_where=sql_text("status = 'waiting_queue'"),
            postgresql_where=sql_text("status = 'waiting_queue'"),
        ),
        # The timers: every deadline is asked only as `deadline <= now` and cleared once its
        # work is done, so each index holds only the chats that have it (a closed chat is in
        # none but the transcript's), and a close or an alert, which clears deadlines, adds no
        # entry to the indexes of the deadlines it cleared.
        *(
            Index(
                f"ix_chats_{deadline}",
                deadline,
                sqlite_where=sql_text(f"{deadline} IS NOT NULL"),
                postgresql_where=sql_text(f"{deadline} IS NOT NULL"),
            )
            for deadline in DEADLINES
        ),
    )

    id: Mapped[intpk]
    contact_id: Mapped[int] = mapped_column(IdType, ForeignKey("contacts.id"))
    number: Mapped[str] = mapped_column(String(64))  # our sender address they wrote to
    status: Mapped[ChatStatus] = mapped_column(
        _str_enum(ChatStatus, "status"), default=ChatStatus.BOT
    )
    campaign_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("campaigns.id"))
    customer_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("customers.id"))
    flow_id: Mapped[str | None] = mapped_column(String(200))
    flow_hash: Mapped[str | None] = mapped_column(String(64))
    # The engine's serialised ChatState. Assign a new dict to change it: in-place mutation
    # of a JSON column is not tracked.
    bot_state: Mapped[dict[str, Any] | None]
    wait_deadline: Mapped[datetime | None]  # bot's silence deadline
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    queued_at: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(Text)
    last_customer_message_at: Mapped[datetime | None]
    # Routing: the agent holding the chat (set while `assigned`), and what the bot's handoff
    # said about it: a higher priority leaves the queue first; tags are for people.
    agent_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id"))
    priority: Mapped[int] = mapped_column(default=0)
    tags: Mapped[list[str] | None] = mapped_column(JSONType)
    # Lifecycle (centralita/lifecycle/). Every timer is an indexed deadline column, so one
    # sweep finds what is due without reading open chats. `unanswered_since` is the oldest
    # customer message no agent has answered yet (while waiting_queue or assigned);
    # `alert_due_at` is when that becomes an `unanswered` alert, cleared once raised or
    # answered; `reassign_due_at` likewise for campaigns that reassign unanswered chats.
    unanswered_since: Mapped[datetime | None]
    alert_due_at: Mapped[datetime | None]
    reassign_due_at: Mapped[datetime | None]
    # Opening + the campaign's close time: the automatic close, never earlier.
    close_due_at: Mapped[datetime | None]
    # Who closed it: agent, supervisor, admin, timer or bot (the reason says why, for people).
    closed_by: Mapped[str | None] = mapped_column(String(16))
    closed_by_user_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id"))
    # The PDF transcript: due from the close until made (a sweep re-enqueues what is due), then
    # its path relative to STORAGE_DIR. Failed renders push the due time back with backoff.
    transcript_due_at: Mapped[datetime | None]
    transcript_path: Mapped[str | None] = mapped_column(String(500))
    transcript_attempts: Mapped[int] = mapped_column(default=0)
    transcript_error: Mapped[str | None] = mapped_column(Text)

    contact: Mapped[Contact] = relationship()
    campaign: Mapped[Campaign | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    agent: Mapped[User | None] = relationship(foreign_keys=[agent_id])
    closed_by_user: Mapped[User | None] = relationship(foreign_keys=[closed_by_user_id])
    messages: Mapped[list[Message]] = relationship(back_populates="chat", order_by="Message.id")


# The agents' open-chat counters are kept by triggers on `chats` (core/open_chats.py); the
# migrations make them too (0009).
event.listen(Chat.__table__, "after_create", open_chats.after_create_chats)


class Message(Base):
    """A message in a chat. Outgoing ones are the outbox: a row first (status `pending`), then
    a send job; `claimed_at` marks one a job is sending right now, so a sweep can tell a lost
    job (claimed long ago, no provider sid) from one still on its way."""

    __tablename__ = "messages"
    __table_args__ = (
        # The outbox sweep: pending outgoing messages whose next attempt is due.
        Index(
            "ix_messages_outbox",
            "next_attempt_at",
            sqlite_where=sql_text("status = 'pending'"),
            postgresql_where=sql_text("status = 'pending'"),
        ),
        # Sender health (channels/health_queries.py): the last day's traffic by time, and
        # "did the customer write to this chat in the 24 hours before this send?".
        Index(None, "sent_at"),
        Index(None, "created_at"),
        Index(None, "chat_id", "direction", "created_at"),
        # The session report: messages a person sent between two times.
        Index(None, "user_id", "created_at"),
    )

    id: Mapped[intpk]
    # No index of its own: (chat_id, direction, created_at) above starts with it (0011).
    chat_id: Mapped[int] = mapped_column(IdType, ForeignKey("chats.id"))
    direction: Mapped[Direction] = mapped_column(_str_enum(Direction, "direction"))
    author: Mapped[Author] = mapped_column(_str_enum(Author, "author"))
    text: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[dict[str, Any]] | None]
    # Twilio's MessageSid: unique, so a retried webhook inserts nothing the second time.
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[MessageStatus] = mapped_column(_str_enum(MessageStatus, "status"))
    error_code: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime_now]
    # Inbound: every parameter Twilio sent, for audit. Outbound: nothing.
    raw: Mapped[dict[str, Any] | None]
    # Outbound only. An approved template (Content API) to send instead of free text, for
    # when WhatsApp's 24-hour customer-service window is closed.
    template_sid: Mapped[str | None] = mapped_column(String(64))
    template_variables: Mapped[dict[str, Any] | None]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]  # when Twilio accepted it
    failure_reason: Mapped[str | None] = mapped_column(Text)  # why it failed, for people
    hold_reason: Mapped[str | None] = mapped_column(String(64))  # why it waits (sender paused)
    # The person who wrote it (agents' replies): the session report counts messages sent.
    user_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id"))

    chat: Mapped[Chat] = relationship(back_populates="messages")
    events: Mapped[list[MessageEvent]] = relationship(
        back_populates="message", order_by="MessageEvent.id"
    )


class MessageEvent(Base):
    """One delivery status callback, as received (Twilio may send them out of order)."""

    __tablename__ = "message_events"
    __table_args__ = (
        # Sender health counts the error codes of the last day: few events carry one.
        Index(
            "ix_message_events_coded",
            "created_at",
            sqlite_where=sql_text("error_code IS NOT NULL"),
            postgresql_where=sql_text("error_code IS NOT NULL"),
        ),
    )

    id: Mapped[intpk]
    message_id: Mapped[int] = mapped_column(IdType, ForeignKey("messages.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(16))
    raw: Mapped[dict[str, Any]]
    created_at: Mapped[datetime_now]

    message: Mapped[Message] = relationship(back_populates="events")


class EarlyStatus(Base):
    """A status callback that arrived before we stored the message's sid: Twilio can call back
    (even `delivered`) before the send job has recorded what Twilio answered. Kept until the
    sid is recorded, then applied as if it had come then (by the send job, else the sweep)."""

    __tablename__ = "early_statuses"

    id: Mapped[intpk]
    provider_sid: Mapped[str] = mapped_column(String(64), index=True)
    raw: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


sender_number_campaigns = Table(
    "sender_number_campaigns",
    Base.metadata,
    Column("number_id", IdType, ForeignKey("sender_numbers.id"), primary_key=True),
    Column("campaign_id", IdType, ForeignKey("campaigns.id"), primary_key=True),
)


class RiskLevel(StrEnum):
    OK = "ok"
    WATCH = "watch"
    CRITICAL = "critical"


class SenderNumber(Base):
    """One of our numbers (`whatsapp:+E164` or `+E164` for SMS): the flow that greets whoever
    writes to it, the campaigns it serves (none: all), and its sending health."""

    __tablename__ = "sender_numbers"

    id: Mapped[intpk]
    address: Mapped[str] = mapped_column(String(64), unique=True)
    flow_id: Mapped[str] = mapped_column(String(200))
    # A template for free-form messages when the 24-hour window is closed ({{1}} = the text).
    fallback_template_sid: Mapped[str | None] = mapped_column(String(64))
    rate_limit: Mapped[int] = mapped_column(default=80)  # messages per second
    risk_level: Mapped[RiskLevel] = mapped_column(
        _str_enum(RiskLevel, "risk_level"), default=RiskLevel.OK
    )
    risk_reasons: Mapped[list[dict[str, Any]] | None]
    # Set when the risk turns critical: business-initiated sending waits until an admin resumes.
    paused_at: Mapped[datetime | None]
    created_at: Mapped[datetime_now]

    campaigns: Mapped[list[Campaign]] = relationship(
        secondary=sender_number_campaigns, order_by="Campaign.slug"
    )


class OptOut(Base):
    """A contact who asked not to be written to from one of our numbers (STOP, BAJA, 21610)."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("contact_id", "number"),)

    id: Mapped[intpk]
    contact_id: Mapped[int] = mapped_column(IdType, ForeignKey("contacts.id"))
    number: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))  # the keyword, or `twilio:21610`
    created_at: Mapped[datetime_now]


class Alert(Base):
    """Something a person must look at. `key` makes each alert happen once (a unique key such
    as `delivery_failed:message:42`), however many workers notice the same thing."""

    __tablename__ = "alerts"

    id: Mapped[intpk]
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    chat_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("chats.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("campaigns.id"))
    number: Mapped[str | None] = mapped_column(String(64))
    # The person it is for (the chat's agent when it was raised); the campaign's supervisors
    # see it through campaign_id.
    user_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id"), index=True)
    details: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime_now]
    resolved_at: Mapped[datetime | None]


# -- Routing: people, the campaigns they serve, their API tokens, the assignment log ---------


class Role(StrEnum):
    AGENT = "agent"  # answers chats; the only role the router gives chats to
    SUPERVISOR = "supervisor"  # watches and reassigns in their campaigns
    ADMIN = "admin"  # everything, every campaign


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class AssignmentKind(StrEnum):
    ASSIGN = "assign"  # the router, on handoff or draining the queue
    REASSIGN = "reassign"  # a supervisor moved the chat to another agent
    MANUAL = "manual"  # a supervisor gave a waiting chat to an agent by hand
    UNASSIGN = "unassign"  # the chat went back to the queue


user_campaigns = Table(
    "user_campaigns",
    Base.metadata,
    Column("user_id", IdType, ForeignKey("users.id"), primary_key=True),
    Column("campaign_id", IdType, ForeignKey("campaigns.id"), primary_key=True),
    Index(None, "campaign_id"),  # the router's "who serves this campaign"
)


class User(Base):
    """Someone who logs in. Agents (and only agents) receive chats: up to `capacity` open at
    once counting every campaign, with a share by `weight` when loads are compared. Presence
    is set by the person and kept alive by a heartbeat (`last_seen_at`)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lower_case"),
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("weight >= 1", name="weight_positive"),
    )

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(_str_enum(Role, "role"))
    password_hash: Mapped[str] = mapped_column(String(255))  # werkzeug.security's format
    active: Mapped[bool] = mapped_column(default=True)
    capacity: Mapped[int] = mapped_column(default=5)  # open chats at once
    weight: Mapped[int] = mapped_column(default=1)  # share under proportional distribution
    presence: Mapped[Presence] = mapped_column(
        _str_enum(Presence, "presence"), default=Presence.OFFLINE
    )
    presence_changed_at: Mapped[datetime | None]
    last_seen_at: Mapped[datetime | None]  # the last heartbeat
    last_assigned_at: Mapped[datetime | None]  # the last chat the router gave them
    # Their chats with status `assigned`, every campaign: kept by triggers on `chats`, in the
    # same transaction as every change (core/open_chats.py). Read it from the database: an
    # object already loaded does not see the triggers' changes.
    open_chats: Mapped[int] = mapped_column(default=0, server_default=sql_text("0"))
    # PostgreSQL only, kept and read by the router's function (routing/postgres.py) for the
    # per-minute cap: the times of every chat the router gave them after
    # `recent_assigned_since` (NULL: ever), so that counting last minute's needs no look at
    # the log. Never loaded by the ORM; unused (NULL) on SQLite, whose router counts the log.
    recent_assigned_at: Mapped[list[datetime] | None] = mapped_column(
        JSON().with_variant(ARRAY(DateTime(timezone=True)), "postgresql"), deferred=True
    )
    recent_assigned_since: Mapped[datetime | None] = mapped_column(deferred=True)
    created_at: Mapped[datetime_now]

    campaigns: Mapped[list[Campaign]] = relationship(
        secondary=user_campaigns, order_by="Campaign.slug"
    )

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return value.strip().lower()


class ApiToken(Base):
    """A bearer token for the JSON API. Only its SHA-256 is stored: the token itself is shown
    once, when made, and a stolen database does not let anyone in."""

    __tablename__ = "api_tokens"
    __table_args__ = (CheckConstraint("length(token_hash) = 64", name="token_hash_sha256"),)

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex
    created_at: Mapped[datetime_now]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class Assignment(Base):
    """The assignment log: one row per decision that gave a chat to an agent (or took it
    away), by the router (`by_user_id` null) or a person, with the reason and the candidates
    as they were: `[{agent, open, capacity, weight, load, eligible, why_not}]`."""

    __tablename__ = "assignments"
    __table_args__ = (
        # The per-minute cap: an agent's assignments of the last minute.
        Index(None, "agent_id", "created_at"),
    )

    id: Mapped[intpk]
    chat_id: Mapped[int] = mapped_column(IdType, ForeignKey("chats.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id"))
    by_user_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("users.id"))
    kind: Mapped[AssignmentKind] = mapped_column(_str_enum(AssignmentKind, "kind"))
    policy: Mapped[str | None] = mapped_column(String(32))  # the campaign's, for the router's
    reason: Mapped[str] = mapped_column(Text)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(default=list)
    created_at: Mapped[datetime_now]

    chat: Mapped[Chat] = relationship()
    agent: Mapped[User | None] = relationship(foreign_keys=[agent_id])
    by_user: Mapped[User | None] = relationship(foreign_keys=[by_user_id])


# PostgreSQL: the router's decision is one database function (routing/postgres.py); the
# migrations make it too (0013).
event.listen(Assignment.__table__, "after_create", routing_postgres.after_create_assignments)


# -- The web: who signed in when, and failed sign-ins (for throttling) -----------------------


class SessionEnd(StrEnum):
    SIGN_OUT = "sign_out"  # the person signed out
    EXPIRED = "expired"  # no activity for SESSION_IDLE_MINUTES


class WebSession(Base):
    """One sign-in to the web pages, for attendance control. The browser's cookie names this
    row: once ended (signed out or expired) the cookie lets nobody in. `last_seen_at` is the
    person's last activity (a page, an action, typing), kept to the minute."""

    __tablename__ = "web_sessions"
    __table_args__ = (
        Index(None, "user_id", "started_at"),
        Index(None, "started_at"),
        # The sweep's "open sessions idle too long".
        Index(
            "ix_web_sessions_open",
            "last_seen_at",
            sqlite_where=sql_text("ended_at IS NULL"),
            postgresql_where=sql_text("ended_at IS NULL"),
        ),
    )

    id: Mapped[intpk]
    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id"))
    started_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[SessionEnd | None] = mapped_column(_str_enum(SessionEnd, "end_reason"))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship()


class ChatRead(Base):
    """How far a person has read a chat (the inbox's unread counts): the last message id."""

    __tablename__ = "chat_reads"

    user_id: Mapped[int] = mapped_column(IdType, ForeignKey("users.id"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(IdType, ForeignKey("chats.id"), primary_key=True)
    last_read_message_id: Mapped[int] = mapped_column(IdType)
    read_at: Mapped[datetime]


class LoginAttempt(Base):
    """A sign-in attempt, kept for throttling by account and by address (and for audit)."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index(None, "email", "created_at"), Index(None, "ip", "created_at"))

    id: Mapped[intpk]
    email: Mapped[str] = mapped_column(String(254))  # as typed (lower-cased), known or not
    ip: Mapped[str] = mapped_column(String(45))
    succeeded: Mapped[bool]
    created_at: Mapped[datetime_now]
