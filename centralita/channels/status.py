"""Delivery status callbacks: every one stored as an event, the message's status only forward.

Twilio may deliver callbacks out of order (`delivered` before `sent`): a status never goes back
to an earlier stage, and `failed` / `undelivered` keep their error code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select

from centralita.channels import optout
from centralita.core.alerts import raise_alert
from centralita.core.events import chat_event, publish_after_commit
from centralita.core.models import Chat, Message, MessageEvent, MessageStatus, utcnow
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
    """Store one callback; returns `updated`, `kept` (an older report) or `unknown`."""
    now = now or utcnow()
    sid = params.get("MessageSid", "").strip()
    reported = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip()
    if not sid:
        raise StatusError("MessageSid", "missing")
    if not reported:
        raise StatusError("MessageStatus", "missing")
    error_code = (params.get("ErrorCode") or "").strip() or None
    with rt.sessions.begin() as session:
        message = session.scalar(
            select(Message).where(Message.provider_sid == sid).with_for_update()
        )
        if message is None:
            log.info("status %s for unknown message %s ignored", reported, sid)
            return "unknown"
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
