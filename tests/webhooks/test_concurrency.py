"""Twilio retries and parallel first messages, really concurrent, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from centralita.channels.twilio_client import compute_signature
from centralita.core.models import Chat, Contact, Direction, Message

from .conftest import AUTH_TOKEN, PUBLIC, inbound_params

MESSAGES = "/webhooks/twilio/messages"
PARALLEL = 8


def _all_at_once(app: Flask, params_of: Callable[[int], dict[str, str]]) -> list[int]:
    barrier = threading.Barrier(PARALLEL)
    codes: list[int] = []

    def one(i: int) -> None:
        params = params_of(i)
        signature = compute_signature(AUTH_TOKEN, PUBLIC + MESSAGES, params)
        client = app.test_client()
        barrier.wait()
        response = client.post(MESSAGES, data=params, headers={"X-Twilio-Signature": signature})
        codes.append(response.status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return codes


def _count(sessions: sessionmaker[Session], query: object) -> int:
    with sessions() as session:
        return int(session.scalar(query) or 0)  # type: ignore[call-overload]


def test_the_same_message_sid_at_the_same_moment_is_processed_once(
    channel_app: Flask, seeded: sessionmaker[Session]
) -> None:
    params = inbound_params("hola")
    codes = _all_at_once(channel_app, lambda _: params)
    assert codes == [200] * PARALLEL
    inbound = select(func.count()).select_from(Message).where(Message.direction == Direction.IN)
    outbound = select(func.count()).select_from(Message).where(Message.direction == Direction.OUT)
    assert _count(seeded, inbound) == 1
    assert _count(seeded, outbound) == 2  # one greeting and one question, not eight


def test_first_messages_of_a_new_contact_at_once_make_one_chat(
    channel_app: Flask, seeded: sessionmaker[Session]
) -> None:
    # Words without digits: not a document, so no reply can end the chat and open another.
    codes = _all_at_once(channel_app, lambda i: inbound_params("hola " + "abcdefgh"[i]))
    assert codes == [200] * PARALLEL
    assert _count(seeded, select(func.count()).select_from(Contact)) == 1
    assert _count(seeded, select(func.count()).select_from(Chat)) == 1
    inbound = select(func.count()).select_from(Message).where(Message.direction == Direction.IN)
    assert _count(seeded, inbound) == PARALLEL
