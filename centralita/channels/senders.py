"""Acting on sender health: store each number's level, alert on changes, pause and resume.

`evaluate_senders` runs in the periodic sweep. When a number's level changes it raises one
alert (the key names the number, the new level and a 10-minute bucket, so however many
workers sweep at once the change is reported once). When the level *becomes* critical the
number is paused: the outbox holds its business-initiated messages (`hold_reason =
"sender_paused"`), while replies inside a customer's 24-hour window still go out. Only an
admin resumes it (`resume_sender`, `centralita senders resume`).

A number an admin resumed while it is still critical stays resumed: the 24-hour signals
stay high for up to a day after the cause is fixed, and re-pausing on every sweep would
make resuming impossible. It pauses again the next time it enters critical.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import CursorResult, Engine, select, update
from sqlalchemy.orm import Session

from centralita.channels.health import SenderHealth, compute_health
from centralita.channels.health_thresholds import HealthThresholds
from centralita.core.alerts import raise_alert
from centralita.core.db import READ_ONLY
from centralita.core.models import Chat, Message, MessageStatus, RiskLevel, SenderNumber
from centralita.core.runtime import Runtime

# The outbox's hold reason for business-initiated messages of a paused number.
HOLD_SENDER_PAUSED = "sender_paused"
ALERT_KIND = "sender_risk"
ALERT_BUCKET_MINUTES = 10  # a level flapping back within this is reported once
# The sweep measures the senders at most this often per process and database: the signals
# are rolling windows of minutes to 24 hours, so measuring on every 30-second sweep (the
# measuring reads the day's messages) only repeats the last figures.
EVALUATE_EVERY = timedelta(minutes=1)
_last_evaluated: WeakKeyDictionary[Engine, datetime] = WeakKeyDictionary()


@dataclass(frozen=True)
class LevelChange:
    address: str
    before: RiskLevel
    after: RiskLevel
    paused: bool  # this change paused the number


@dataclass(frozen=True)
class Resumed:
    address: str
    paused_at: datetime | None  # when it had been paused; None: it was not paused
    released: int  # held messages put back in the outbox


class UnknownSender(LookupError):
    def __init__(self, address: str) -> None:
        super().__init__(f"no sender number {address!r}; `centralita numbers list` shows them")
        self.address = address


def evaluate_senders(
    rt: Runtime, now: datetime, limits: HealthThresholds | None = None
) -> list[LevelChange]:
    """Measure every number, store its level and reasons; alert and pause on changes."""
    limits = limits or HealthThresholds.from_env()
    with rt.sessions() as session:
        # Read-only: on SQLite the measuring must not hold the write lock webhooks need.
        session.connection(execution_options={READ_ONLY: True})
        senders, _ = compute_health(session, now, limits)
    changes = []
    for health in senders:
        with rt.sessions.begin() as session:
            change = _store(session, health, now)
        if change is not None:
            changes.append(change)
    return changes


def evaluate_senders_if_due(
    rt: Runtime, now: datetime, limits: HealthThresholds | None = None
) -> list[LevelChange]:
    """`evaluate_senders`, unless this process measured this database less than
    `EVALUATE_EVERY` before `now` (the sweep's time, so `--now` and tests stay exact; a
    `now` earlier than the last measuring measures again). Several workers each measure
    once a minute; the alert keys keep a change reported once."""
    last = _last_evaluated.get(rt.engine)
    if last is not None and last <= now < last + EVALUATE_EVERY:
        return []
    changes = evaluate_senders(rt, now, limits)  # a failure measures again next sweep
    _last_evaluated[rt.engine] = now
    return changes


def _store(session: Session, health: SenderHealth, now: datetime) -> LevelChange | None:
    # Locked: of two sweeps racing, the second sees the level the first stored.
    number = session.scalar(
        select(SenderNumber).where(SenderNumber.address == health.address).with_for_update()
    )
    if number is None:  # removed since it was measured
        return None
    reasons = [r.to_json() for r in health.reasons]
    if number.risk_reasons != reasons:
        number.risk_reasons = reasons
    before, after = number.risk_level, health.level
    if before == after:
        return None
    number.risk_level = after
    paused = after is RiskLevel.CRITICAL and number.paused_at is None
    if paused:
        number.paused_at = now
    bucket = now.replace(
        minute=now.minute - now.minute % ALERT_BUCKET_MINUTES, second=0, microsecond=0
    )
    raise_alert(
        session,
        ALERT_KIND,
        f"{ALERT_KIND}:{number.address}:{after.value}:{bucket.isoformat(timespec='minutes')}",
        number=number.address,
        details={
            "from": before.value,
            "to": after.value,
            "paused": number.paused_at is not None,
            "reasons": reasons,
        },
    )
    return LevelChange(number.address, before, after, paused)


def resume_sender(session: Session, address: str, now: datetime) -> Resumed:
    """Unpause a number and put its held messages back in the outbox.

    Released messages are due at `now` with no claim, exactly what the sweep's
    `recover_unsent` looks for, so the next sweep sends them (in order per chat). Messages
    still outside the 24-hour window go out as templates, as they would have."""
    number = session.scalar(
        select(SenderNumber).where(SenderNumber.address == address).with_for_update()
    )
    if number is None:
        raise UnknownSender(address)
    paused_at, number.paused_at = number.paused_at, None
    released = session.execute(
        update(Message)
        .where(
            Message.hold_reason == HOLD_SENDER_PAUSED,
            Message.status == MessageStatus.PENDING,
            Message.chat_id.in_(select(Chat.id).where(Chat.number == address)),
        )
        .values(hold_reason=None, next_attempt_at=now, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    # An UPDATE's result is a cursor result, which carries the row count.
    return Resumed(address, paused_at, cast(CursorResult[Any], released).rowcount)
