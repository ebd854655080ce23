"""`centralita serve` as in production (gunicorn): an open inbox page holds its live-event
stream while the same process keeps answering other requests."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

PASSWORD = "clave-del-servidor"
# The console script installed beside this Python (the venv's), as an operator runs it.
CENTRALITA = str(Path(sys.executable).with_name("centralita"))
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _centralita(*args: str, env: dict[str, str]) -> None:
    command = [CENTRALITA, *args]
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=60)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "REDIS_URL"))},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'centralita.db'}",
        "SECRET_KEY": "serve-test-secret",
        "STORAGE_DIR": str(tmp_path / "storage"),
    }
    _centralita("db", "upgrade", env=env)
    _centralita(
        "users", "create", "ana@x.co", "--name", "Ana", "--role", "agent",
        "--password", PASSWORD, env=env,
    )  # fmt: skip
    port = _free_port()
    server = subprocess.Popen(
        [CENTRALITA, "serve", "--port", str(port), "--workers", "1",
         "--threads", "4"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("centralita serve did not start")
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_an_open_page_holds_its_stream_and_the_server_keeps_answering(served: str) -> None:
    http = requests.Session()
    token = _TOKEN.search(http.get(f"{served}/login", timeout=5).text)
    assert token
    signed = http.post(
        f"{served}/login",
        data={"email": "ana@x.co", "password": PASSWORD, "csrf_token": token.group(1)},
        timeout=5,
        allow_redirects=False,
    )
    assert signed.status_code == 302
    with http.get(f"{served}/events", stream=True, timeout=10) as stream:
        first = next(stream.iter_lines(decode_unicode=True))
        # A held stream (not "come back in 3 s", what a server without threads answers).
        assert first == "retry: 1000"
        started = time.monotonic()
        for _ in range(5):  # the one process still answers while the stream stays open
            assert requests.get(f"{served}/healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 5
