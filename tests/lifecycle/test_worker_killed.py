"""Killing a worker in the middle of a close: a real `centralita worker` process closes a
chat by its timer and starts sending the closing message (to a Twilio that never answers),
and is killed with SIGKILL there. The rows survive it: the next sweep and a burst worker
still send the message and make the PDF."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from centralita.channels.outbox import CLAIM_TIMEOUT
from centralita.channels.transport import ConsoleTransport
from centralita.core import runtime as runtimes
from centralita.core.models import ChatStatus, Direction, Message, MessageStatus, utcnow
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.core.sweep import sweep
from centralita.core.worker import run_worker
from centralita.lifecycle.jobs import LEASE

from .conftest import CLOSING, CLOSING_TEMPLATE, Center


@pytest.fixture
def silent_twilio() -> Iterator[str]:
    """An HTTP endpoint that accepts connections and never answers: a send hangs there."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


def test_a_worker_killed_mid_close_leaves_nothing_lost(
    center: Center, lifecycle_settings: Settings, redis_url: str, silent_twilio: str
) -> None:
    # Opened 24 h 10 min ago, with an agent: due to close since ten minutes ago.
    t0 = utcnow() - timedelta(hours=24, minutes=10)
    chat_id = center.handed_off(t0)
    assert center.chat(chat_id).status == ChatStatus.ASSIGNED

    env = {
        **os.environ,
        "SECRET_KEY": "test",
        "DATABASE_URL": lifecycle_settings.database_url,
        "REDIS_URL": redis_url,
        "FLOWS_DIR": str(lifecycle_settings.flows_dir),
        "STORAGE_DIR": str(lifecycle_settings.storage_dir),
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_API_BASE_URL": silent_twilio,
    }
    command = [str(Path(sys.executable).parent / "centralita"), "worker", "--sweep-every", "1"]
    # Its own process group: RQ runs each job in a forked work horse, and killing the group
    # kills both (as a container's or a machine's death would) instead of leaving the horse
    # behind, orphaned, holding its Redis locks after the test.
    worker = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        closing = _wait_for_claimed_closing_message(center, chat_id, worker)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # in the middle of sending the closing message
        worker.wait(timeout=10)

    # The close is committed; the closing message is claimed by a dead job; no PDF yet.
    chat = center.chat(chat_id)
    assert chat.status == ChatStatus.CLOSED and chat.closed_by == "timer"
    assert chat.transcript_path is None
    assert closing.status == MessageStatus.PENDING and closing.provider_sid is None

    # A claim is trusted for CLAIM_TIMEOUT: let that pass (the clock is not ours to move).
    with center.sessions.begin() as session:
        session.execute(
            update(Message)
            .where(Message.id == closing.id)
            .values(claimed_at=utcnow() - CLAIM_TIMEOUT - timedelta(seconds=1))
        )
    transport = ConsoleTransport()
    rt = Runtime.build(
        dataclasses.replace(lifecycle_settings, redis_url=redis_url), transport=transport
    )
    try:
        report = sweep(rt, utcnow() + LEASE)
        assert report.outbox_requeued >= 1
        run_worker(rt, burst=True)
    finally:
        runtimes.install(None)
        rt.engine.dispose()
    sent = center.messages(chat_id)[-1]
    assert sent.id == closing.id and sent.status == MessageStatus.SENT
    # The customer last wrote over 24 h ago: the campaign's approved template went.
    assert [m.content_sid for m in transport.sent] == [CLOSING_TEMPLATE]
    chat = center.chat(chat_id)
    assert chat.transcript_path is not None
    assert (Path(lifecycle_settings.storage_dir) / chat.transcript_path).is_file()


def _wait_for_claimed_closing_message(
    center: Center, chat_id: int, worker: subprocess.Popen[bytes]
) -> Message:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            output = worker.stdout.read().decode() if worker.stdout else ""
            pytest.fail(f"the worker exited ({worker.returncode}): {output}")
        outgoing = [m for m in center.messages(chat_id) if m.direction == Direction.OUT]
        if outgoing and outgoing[-1].text == CLOSING and outgoing[-1].claimed_at is not None:
            return outgoing[-1]
        time.sleep(0.1)
    pytest.fail("the worker never started sending the closing message")
