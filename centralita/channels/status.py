"""Delivery status callbacks: every one stored as an event, the message's status only forward.

Twilio may deliver callbacks out of order (`delivered` before `sent`): a status never goes back
to an earlier stage, and `failed` / `undelivered` keep their error code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from centralita.channels import optout
from centralita.core.alerts import raise_alert
from centralita.core.db import READ_ONLY
from centralita.core.events import chat_event, publish_after_commit
from centralita.core.models import (
    Chat,
    EarlyStatus,
    Message,
    MessageEvent,
    MessageStatus,
    utcnow,
)
from centralita.core.runtime import Runtime

log = logging.getLogger(__name__)

# How far along each status is. Equal ranks do not replace each other: the first one wins.
_RANK = {
    MessageStatus.PENDING: 0,
    MessageStatus.ACCEPTED: 1,
    MessageStatus.SCHEDULED: 1,
    MessageStatus.QUEUED: 1,
    MessageStatus.SENDING: 2,
    MessageStatus.SENT: 3,
    MessageStatus.FAILED: 4,
    MessageStatus.UNDELIVERED: 4,
    MessageStatus.CANCELED: 4,
    MessageStatus.PARTIALLY_DELIVERED: 4,
    MessageStatus.DELIVERED: 4,
    MessageStatus.READ: 5,
}
FAILURES = {MessageStatus.FAILED, MessageStatus.UNDELIVERED}
# Error codes that mean the customer does not want messages from us.
OPT_OUT_CODES = {"21610"}
# An early callback no message claims after this long was not for us (or its send failed).
EARLY_KEEP = timedelta(days=2)


def advance_status(current: MessageStatus, reported: str) -> MessageStatus:
    """The status after a report: the report if it is further along, else the current one."""
    try:
        new = MessageStatus(reported)
    except ValueError:
        return current
    if _RANK.get(new, -1) > _RANK.get(current, -1):
        return new
    return current


class StatusError(ValueError):
    def __init__(self, parameter: str, problem: str) -> None:
        super().__init__(f"{parameter}: {problem}")
        self.parameter = parameter


def record_status(rt: Runtime, params: Mapping[str, str], now: datetime | None = None) -> str:
    """Store one callback; returns `updated`, `kept` (an older report) or `early` (the sid is
    not recorded yet: kept aside and applied once it is, see `apply_early_statuses`)."""
    now = now or utcnow()
    sid = params.get("MessageSid", "").strip()
    reported = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip()
    if not sid:
        raise StatusError("MessageSid", "missing")
    if not reported:
        raise StatusError("MessageStatus", "missing")
    with rt.sessions.begin() as session:
        message = session.scalar(
            select(Message).where(Message.provider_sid == sid).with_for_update()
        )
        if message is None:
            # Twilio may call back before the send job has stored the sid it was given;
            # dropping this would leave the message at `queued` for ever.
            log.info("status %s for message %s before its sid is stored: kept", reported, sid)
            session.add(EarlyStatus(provider_sid=sid, raw=dict(params), created_at=now))
        else:
            return _apply(session, message, params, now)
    # Look again once the early row is committed: the send job applies early rows only after
    # committing the sid, so one of the two always sees both (see `apply_early_for`).
    apply_early_for(rt, sid, now)
    return "early"


def apply_early_for(rt: Runtime, sid: str, now: datetime) -> int:
    """Apply the early callbacks of `sid` if its message has it by now. Both the send job
    (after committing the sid) and the status webhook (after committing an early row) call
    this in a new transaction, so whichever commits last finds the other's work; the message
    row lock makes sure each early row is applied once. Almost always there is none: a plain
    read says so first, so a send costs no write transaction (on SQLite, no write lock)."""
    with rt.sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        if session.scalar(select(EarlyStatus.id).where(EarlyStatus.provider_sid == sid)) is None:
            return 0
    with rt.sessions.begin() as session:
        message = session.scalar(
            select(Message).where(Message.provider_sid == sid).with_for_update()
        )
        return 0 if message is None else apply_early_statuses(session, message, now)


def apply_early_statuses(session: Session, message: Message, now: datetime) -> int:
    """Apply (and forget) the callbacks that came before `message`'s sid was stored; the
    caller has just stored it, holding the message row locked. Returns how many."""
    early = session.scalars(
        select(EarlyStatus)
        .where(EarlyStatus.provider_sid == message.provider_sid)
        .order_by(EarlyStatus.id)
    ).all()
    for row in early:
        _apply(session, message, row.raw, now)
        session.delete(row)
    return len(early)


def reconcile_early_statuses(rt: Runtime, now: datetime, keep: timedelta = EARLY_KEEP) -> int:
    """The sweep's safety net: apply early callbacks whose message now has its sid (a callback
    stored just as the send job committed), and forget those no message ever claimed."""
    applied = 0
    with rt.sessions.begin() as session:
        sids = session.scalars(
            select(EarlyStatus.provider_sid)
            .join(Message, Message.provider_sid == EarlyStatus.provider_sid)
            .distinct()
            .limit(500)
        ).all()
        for sid in sids:
            message = session.scalar(
                select(Message).where(Message.provider_sid == sid).with_for_update()
            )
            if message is not None:
                applied += apply_early_statuses(session, message, now)
        session.execute(delete(EarlyStatus).where(EarlyStatus.created_at < now - keep))
    return applied


def _apply(session: Session, message: Message, params: Mapping[str, str], now: datetime) -> str:
    reported = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip()
    error_code = (params.get("ErrorCode") or "").strip() or None
    session.add(
        MessageEvent(
            message_id=message.id,
            status=reported,
            error_code=error_code,
            raw=dict(params),
            created_at=now,
        )
    )
    before = message.status
    message.status = advance_status(before, reported)
    if message.status == before:
        return "kept"
    chat = session.get(Chat, message.chat_id)
    assert chat is not None
    publish_after_commit(session, chat_event("status", chat, message_id=message.id))
    if message.status in FAILURES:
        message.error_code = error_code
        raise_alert(
            session,
            "delivery_failed",
            f"delivery_failed:message:{message.id}",
            chat_id=chat.id,
            campaign_id=chat.campaign_id,
            number=chat.number,
            details={"message_id": message.id, "status": reported, "error_code": error_code},
        )
        if error_code in OPT_OUT_CODES:
            optout.opt_out(session, chat.contact_id, chat.number, source=f"twilio:{error_code}")
    return "updated"
