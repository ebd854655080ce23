"""Sending the outbox: one pending message row at a time, in order per chat.

A send is three steps so no transaction is open during the HTTP call: claim the row (checks:
order, opt-out, the 24-hour window, a paused sender, the rate limit), call the transport, then
record what happened. A job lost between the steps leaves a row the sweep finds again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from centralita.channels import optout
from centralita.channels.status import advance_status, apply_early_for
from centralita.channels.transport import Outgoing, SendError
from centralita.core.alerts import raise_alert
from centralita.core.jobs import enqueue_batches
from centralita.core.models import (
    Chat,
    Direction,
    Message,
    MessageStatus,
    SenderNumber,
    utcnow,
)
from centralita.core.runtime import Runtime, current

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)  # WhatsApp's customer-service window
MAX_ATTEMPTS = 6
CLAIM_TIMEOUT = timedelta(minutes=2)  # a claim older than this belongs to a lost job
DEFAULT_RATE_LIMIT = 80
# Messages per batch job (`send_messages_job`): the sweep's hundreds of closing messages or
# recovered sends go as a few jobs, still enough of them for several workers to share.
JOB_BATCH = 50


def backoff(attempts: int) -> float:
    """Seconds before retry `attempts` + 1: 2, 4, 8, 16, 32 s."""
    return float(min(2**attempts, 300))


@dataclass
class _Claim:
    message_id: int
    chat_id: int
    outgoing: Outgoing


class DeliveryFailed(RuntimeError):
    """The message was given up on (its row is `failed`, an alert `delivery_failed` raised)."""


def send_message_job(message_id: int) -> None:
    """The RQ job: send one outbox row (ids only; everything is reloaded). Raises when the
    message was given up on, so the job also lands in RQ's failed registry."""
    if send_message(current(), message_id) == "failed":
        raise DeliveryFailed(f"message {message_id} failed: see its failure_reason and alert")


def send_messages_job(message_ids: list[int]) -> None:
    """The RQ job for many outbox rows (the sweep's): each sent as `send_message_job` sends
    it, one after the other; its retries are single `send_message_job`s, as ever. Raises
    after trying them all when any was given up on, so the job lands in RQ's failed
    registry; rows it never reached (a killed worker) are found again by the sweep."""
    rt = current()
    failed = [i for i in message_ids if send_message(rt, i) == "failed"]
    if failed:
        raise DeliveryFailed(f"messages {failed} failed: see their failure_reason and alerts")


def enqueue_sends(rt: Runtime, message_ids: Sequence[int]) -> None:
    """Enqueue the sends of many messages, in batch jobs (after the commit that wrote them)."""
    enqueue_batches(rt.jobs, send_messages_job, message_ids, JOB_BATCH)


def send_message(rt: Runtime, message_id: int, now: datetime | None = None) -> str:
    """Send one pending message if it is its turn; returns what happened, for logs and tests."""
    now = now or utcnow()
    with rt.sessions.begin() as session:
        claim = _claim(session, rt, message_id, now)
    if isinstance(claim, str):
        if claim == "rate_limited":
            rt.jobs.enqueue(send_message_job, message_id, delay=1.0)
        elif claim == "failed":  # opted out, or outside the window without a template
            _send_next(rt, _chat_of(rt, message_id))  # it must not hold up the ones after it
        return claim
    try:
        accepted = rt.transport.send(claim.outgoing)
    except SendError as exc:
        return _failed_send(rt, claim, exc, now)
    with rt.sessions.begin() as session:
        message = session.get(Message, claim.message_id, with_for_update=True)
        assert message is not None
        message.provider_sid = accepted.sid
        message.sent_at = now
        message.claimed_at = None
        message.status = advance_status(message.status, accepted.status)
    # Callbacks that came before the sid was stored: looked for only now that it is
    # committed, so one that is being stored right now is found by its own webhook instead.
    apply_early_for(rt, accepted.sid, now)
    _send_next(rt, claim.chat_id)
    return "sent"


def _claim(session: Session, rt: Runtime, message_id: int, now: datetime) -> _Claim | str:
    message = session.get(Message, message_id, with_for_update=True)
    if message is None or message.direction != Direction.OUT:
        return "unknown"
    if message.status != MessageStatus.PENDING or message.hold_reason:
        return "not_pending"
    if message.claimed_at is not None and now - message.claimed_at < CLAIM_TIMEOUT:
        return "in_flight"
    earlier = session.scalar(
        select(Message.id)
        .where(
            Message.chat_id == message.chat_id,
            Message.direction == Direction.OUT,
            Message.status == MessageStatus.PENDING,
            Message.id < message.id,
        )
        .limit(1)
    )
    if earlier is not None:
        return "waiting_for_earlier"  # the earlier one's job sends this one after it
    chat = session.get(Chat, message.chat_id)
    assert chat is not None
    number = session.scalar(select(SenderNumber).where(SenderNumber.address == chat.number))
    contact_address = chat.contact.address
    whatsapp = contact_address.startswith("whatsapp:")
    last_in = chat.last_customer_message_at
    window_open = not whatsapp or (last_in is not None and now - last_in < WINDOW)

    business_initiated = not window_open
    if business_initiated and optout.is_opted_out(session, chat.contact_id, chat.number):
        _fail(session, message, chat, "opted_out", "the customer opted out of this number", None)
        return "failed"
    if business_initiated and number is not None and number.paused_at is not None:
        message.hold_reason = "sender_paused"
        return "held"

    outgoing = Outgoing(
        from_=chat.number,
        to=contact_address,
        body=message.text,
        media_urls=[m["url"] for m in message.media or [] if m.get("url")],
        status_callback=f"{rt.settings.public_base_url}/webhooks/twilio/status",
    )
    if not window_open:
        template = message.template_sid or (number.fallback_template_sid if number else None)
        if template is None:
            _fail(
                session,
                message,
                chat,
                "outside_24h_window",
                "WhatsApp's 24-hour window is closed and no approved template is set: add one "
                "to the number (fallback template) or the campaign (closing template)",
                "63016",
            )
            return "failed"
        variables = message.template_variables
        if variables is None and not message.template_sid:
            variables = {"1": message.text}
        outgoing = Outgoing(
            from_=chat.number,
            to=contact_address,
            content_sid=template,
            content_variables=variables,
            status_callback=outgoing.status_callback,
        )
    limit = number.rate_limit if number is not None else DEFAULT_RATE_LIMIT
    if not rt.limiter.acquire(chat.number, limit):
        message.next_attempt_at = now + timedelta(seconds=1)
        return "rate_limited"
    message.claimed_at = now
    message.attempts += 1
    return _Claim(message.id, chat.id, outgoing)


def _failed_send(rt: Runtime, claim: _Claim, exc: SendError, now: datetime) -> str:
    with rt.sessions.begin() as session:
        message = session.get(Message, claim.message_id, with_for_update=True)
        assert message is not None
        message.claimed_at = None
        if exc.transient and message.attempts < MAX_ATTEMPTS:
            delay = backoff(message.attempts)
            message.next_attempt_at = now + timedelta(seconds=delay)
            message.failure_reason = f"retrying: {exc}"
            outcome = "retry"
        else:
            chat = session.get(Chat, message.chat_id)
            assert chat is not None
            _fail(session, message, chat, "send_failed", str(exc), exc.code)
            if exc.code == "21610":  # Twilio: the recipient unsubscribed (replied STOP)
                optout.opt_out(session, chat.contact_id, chat.number, source="twilio:21610")
            outcome = "failed"
    if outcome == "retry":
        log.info("message %s: transient failure (%s), retry in %.0fs", claim.message_id, exc, delay)
        rt.jobs.enqueue(send_message_job, claim.message_id, delay=delay)
    else:
        _send_next(rt, claim.chat_id)  # a failed message must not block the ones after it
    return outcome


def _fail(
    session: Session, message: Message, chat: Chat, kind: str, reason: str, code: str | None
) -> None:
    message.status = MessageStatus.FAILED
    message.error_code = code
    message.failure_reason = reason
    message.claimed_at = None
    raise_alert(
        session,
        "delivery_failed",
        f"delivery_failed:message:{message.id}",
        chat_id=chat.id,
        campaign_id=chat.campaign_id,
        number=chat.number,
        details={"message_id": message.id, "reason": kind, "error_code": code, "text": reason},
    )


def _chat_of(rt: Runtime, message_id: int) -> int:
    with rt.sessions() as session:
        chat_id = session.scalar(select(Message.chat_id).where(Message.id == message_id))
    assert chat_id is not None  # a failed claim found the message
    return chat_id


def _send_next(rt: Runtime, chat_id: int) -> None:
    """The chat's next pending message, if any: each sent or failed message enqueues the
    next, so the messages of a chat leave one after the other and a batch of them (a bot's
    replies) needs a job for its first one only."""
    with rt.sessions() as session:
        next_id = session.scalar(
            select(Message.id)
            .where(
                Message.chat_id == chat_id,
                Message.direction == Direction.OUT,
                Message.status == MessageStatus.PENDING,
                Message.hold_reason.is_(None),
            )
            .order_by(Message.id)
            .limit(1)
        )
    if next_id is not None:
        rt.jobs.enqueue(send_message_job, next_id)


def recover_unsent(rt: Runtime, now: datetime | None = None, limit: int = 500) -> int:
    """Enqueue again the pending messages whose job was lost (the sweep's part of the outbox):
    due for a (re)try and not claimed, or claimed by a job that never came back."""
    now = now or utcnow()
    with rt.sessions() as session:
        ids = session.scalars(
            select(Message.id)
            .where(
                Message.status == MessageStatus.PENDING,
                Message.direction == Direction.OUT,
                Message.hold_reason.is_(None),
                Message.next_attempt_at <= now,
                (Message.claimed_at.is_(None)) | (Message.claimed_at < now - CLAIM_TIMEOUT),
            )
            .order_by(Message.id)
            .limit(limit)
        ).all()
    enqueue_sends(rt, ids)
    return len(ids)
