"""The SQL behind sender health: two aggregate statements for all numbers at once.

Rows are never loaded one by one. The database returns, per number, a histogram of messages
per recipient (a handful of rows) and per-code counts; percentiles are taken from the
histogram in Python, which works the same on SQLite and PostgreSQL.

What counts, and when:
- An outbound message counts when it reached Twilio: at `sent_at` (Twilio accepted it), or,
  if Twilio's API refused it outright (no `sent_at`, at least one attempt, failed), at
  `created_at`. Messages still in the outbox, held for a paused sender, or failed by
  Centralita itself before sending (opted out, no template) never reached Meta and do not
  count. Using `sent_at` rather than `created_at` matters when a paused sender is resumed:
  its backlog leaves in a burst, and that burst must show.
- An inbound message counts at `created_at` (when it arrived).
- A message is business-initiated when it was sent with no message from the customer in
  that chat during the 24 hours before: WhatsApp's customer-service window was closed, as
  the outbox decides it. Only those count against Meta's messaging limit.

The time filters lead with indexed columns (messages.sent_at, messages.created_at,
message_events.created_at for events with a code), so the work grows with the last day's
traffic rather than with the whole history (only the join to chats still sees every chat,
when PostgreSQL finds hashing the table cheaper than looking each one up);
`messages (chat_id, direction, created_at)` answers the "did the customer write in the 24
hours before?" probe per sent message. Query plans: benchmarks/health.py --explain.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    text,
    union,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from centralita.channels.health_thresholds import WATCHED_CODES
from centralita.core.models import Chat, Direction, Message, MessageEvent, MessageStatus

DAY = timedelta(hours=24)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
# WhatsApp's customer-service window: the same 24 hours as the outbox's WINDOW.
WINDOW_SECONDS = 24 * 3600
FAILED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)


@dataclass
class Traffic:
    """One number's raw figures over the windows ending at `now`."""

    outbound: int = 0  # reached Twilio in 24 h
    failed: int = 0  # of those, failed or undelivered
    inbound_from_recipients: int = 0  # messages in 24 h from customers we also wrote to
    sent_last_minute: int = 0
    sent_last_hour: int = 0
    business_initiated_last_hour: int = 0
    # histograms: messages in 24 h -> how many recipients got that many
    per_recipient: Counter[int] = field(default_factory=Counter)
    business_initiated_per_recipient: Counter[int] = field(default_factory=Counter)
    codes: dict[str, int] = field(default_factory=dict)  # code -> distinct messages

    @property
    def recipients(self) -> int:
        return sum(self.per_recipient.values())

    @property
    def business_initiated_recipients(self) -> int:
        return sum(self.business_initiated_per_recipient.values())


def measure(session: Session, now: datetime) -> tuple[dict[str, Traffic], int]:
    """Traffic per sender address (every address that has chats), and the number of distinct
    WhatsApp users reached with business-initiated messages by all our numbers together (what
    Meta counts against the portfolio's tier)."""
    traffic: dict[str, Traffic] = {}
    portfolio = 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # The probes per sent message inflate the planner's estimate past jit_above_cost; JIT
        # compiling then costs more than the whole query (130 ms of 380 ms at 20k messages).
        session.execute(text("SET LOCAL jit = off"))
    for row in session.execute(_traffic_query(now, dialect)):
        if row.number is None:  # the portfolio row
            portfolio = int(row.recipients)
            continue
        # int(): PostgreSQL sums bigints into numerics (Decimal).
        n_out, n_bi, recipients = int(row.n_out), int(row.n_bi), int(row.recipients)
        figures = traffic.setdefault(row.number, Traffic())
        figures.outbound += n_out * recipients
        figures.failed += int(row.failed)
        figures.inbound_from_recipients += int(row.n_in)
        figures.sent_last_minute += int(row.last_minute)
        figures.sent_last_hour += int(row.last_hour)
        figures.business_initiated_last_hour += int(row.bi_last_hour)
        figures.per_recipient[n_out] += recipients
        if n_bi:
            figures.business_initiated_per_recipient[n_bi] += recipients
    for number, code, count in session.execute(_codes_query(now)):
        traffic.setdefault(number, Traffic()).codes[code] = int(count)
    return traffic, portfolio


def percentile(histogram: Counter[int], share: float) -> int:
    """Nearest-rank percentile of a histogram (value -> how many): the smallest value that at
    least `share` of the population is at or below. 0 for an empty histogram."""
    total = sum(histogram.values())
    if total == 0:
        return 0
    rank = max(1, math.ceil(round(share * total, 9)))  # round: 0.95 * 60 is not 57.000001
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)


# -- the queries -----------------------------------------------------------------------------


def _minus_window(column: Any, dialect: str) -> ColumnElement[Any]:
    """`column` minus 24 hours, in SQL. SQLite keeps times as sortable UTC text, so the
    result is text in the same layout (to the millisecond, which is plenty here)."""
    if dialect == "sqlite":
        return func.strftime("%Y-%m-%d %H:%M:%f", column, f"-{WINDOW_SECONDS} seconds")
    shifted: ColumnElement[Any] = column - literal_column(f"INTERVAL '{WINDOW_SECONDS} seconds'")
    return shifted


def _conditions(now: datetime, dialect: str) -> dict[str, ColumnElement[bool]]:
    m = Message
    since = now - DAY
    sent = and_(m.direction == Direction.OUT, m.sent_at >= since, m.sent_at <= now)
    refused = and_(
        m.direction == Direction.OUT,
        m.sent_at.is_(None),
        m.attempts > 0,
        m.status.in_(FAILED),
        m.created_at >= since,
        m.created_at <= now,
    )
    earlier = aliased(Message)
    customer_wrote = exists().where(
        earlier.chat_id == m.chat_id,
        earlier.direction == Direction.IN,
        earlier.created_at <= m.sent_at,
        earlier.created_at >= _minus_window(m.sent_at, dialect),
    )
    return {
        "sent": sent,
        "outbound": or_(sent, refused),
        "inbound": and_(m.direction == Direction.IN, m.created_at >= since, m.created_at <= now),
        "business_initiated": and_(sent, ~customer_wrote),
        # Either time in the window: the indexed filter every query starts from.
        "in_window": or_(m.sent_at.between(since, now), m.created_at.between(since, now)),
    }


def _count(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _traffic_query(now: datetime, dialect: str) -> Any:
    """Per number, a histogram of recipients by (messages, business-initiated messages) with
    the other counts summed in; plus one row with no number: the portfolio's distinct
    business-initiated recipients. One statement, so the per-recipient counts (the costly
    part: a probe per sent message) are computed once for both: PostgreSQL and SQLite both
    materialise a CTE that is used twice."""
    m = Message
    when = _conditions(now, dialect)
    last_hour = m.sent_at > now - HOUR
    counts = {
        "n_out": when["outbound"],
        "n_bi": when["business_initiated"],
        "n_in": when["inbound"],
        "n_failed": and_(when["outbound"], m.status.in_(FAILED)),
        "n_minute": and_(when["sent"], m.sent_at > now - MINUTE),
        "n_hour": and_(when["sent"], last_hour),
        # CASE evaluates lazily: this second probe only runs for the last hour's sends.
        "n_bi_hour": and_(when["sent"], last_hour, when["business_initiated"]),
    }
    per_contact = (
        select(
            Chat.number.label("number"),
            Chat.contact_id.label("contact_id"),
            *(_count(condition).label(name) for name, condition in counts.items()),
        )
        .join(Chat, Chat.id == m.chat_id)
        .where(when["in_window"])
        # The integer first: sorting on the text column first (with its collation) made the
        # query a fifth slower on PostgreSQL. (Aggregating per chat before joining chats was
        # tried too: no faster with 20 days of history, slower with one.)
        .group_by(Chat.contact_id, Chat.number)
        .cte("per_contact")
    )
    pc = per_contact.c
    histogram = (
        select(
            pc.number,
            pc.n_out,
            pc.n_bi,
            func.count().label("recipients"),
            func.sum(pc.n_in).label("n_in"),
            func.sum(pc.n_failed).label("failed"),
            func.sum(pc.n_minute).label("last_minute"),
            func.sum(pc.n_hour).label("last_hour"),
            func.sum(pc.n_bi_hour).label("bi_last_hour"),
        )
        .where(pc.n_out > 0)  # a recipient is someone we wrote to
        .group_by(pc.number, pc.n_out, pc.n_bi)
    )
    portfolio = select(
        null().label("number"),
        literal(0).label("n_out"),
        literal(0).label("n_bi"),
        func.count(func.distinct(pc.contact_id)).label("recipients"),
        *(literal(0).label(name) for name in ("n_in", "failed", "last_minute", "last_hour")),
        literal(0).label("bi_last_hour"),
    ).where(pc.n_bi > 0, pc.number.like("whatsapp:%"))
    return union_all(histogram, portfolio)


def _codes_query(now: datetime) -> Any:
    """Distinct messages per (number, code): a code on the message, or on any of its status
    callbacks (a later callback may carry one the message's status kept out). Codes
    Centralita set itself on messages that never reached Twilio (attempts = 0) don't count."""
    m, e = Message, MessageEvent
    since = now - DAY
    on_messages = select(m.id.label("message_id"), m.error_code.label("code"), m.chat_id).where(
        m.error_code.in_(WATCHED_CODES),
        m.attempts > 0,
        m.created_at >= since,
        m.created_at <= now,
    )
    on_events = (
        select(e.message_id, e.error_code, m.chat_id)
        .join(m, m.id == e.message_id)
        .where(
            e.error_code.in_(WATCHED_CODES),
            e.error_code.is_not(None),  # lets the partial index on coded events serve it
            e.created_at >= since,
            e.created_at <= now,
        )
    )
    both = union(on_messages, on_events).subquery()  # UNION: one per (message, code)
    return (
        select(Chat.number, both.c.code, func.count())
        .join(Chat, Chat.id == both.c.chat_id)
        .group_by(Chat.number, both.c.code)
    )


def codes_of(groups: Iterable[str], codes: dict[str, int]) -> int:
    """Messages with any of these codes (a message counts once per code it carried)."""
    return sum(codes.get(code, 0) for code in groups)
