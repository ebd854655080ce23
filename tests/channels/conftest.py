"""Fixtures for the Twilio channel: the fake Twilio and a local webhook receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask, request
from werkzeug.datastructures import MultiDict

from centralita.channels.twilio_client import Client, make_client
from centralita.devtools.fake_twilio import FakeTwilio
from centralita.devtools.server import BackgroundServer

WHATSAPP_SENDER = "whatsapp:+14155238886"
WHATSAPP_CUSTOMER = "whatsapp:+573001112233"
SMS_SENDER = "+15005550006"
SMS_CUSTOMER = "+573001112244"


@dataclass(frozen=True)
class Received:
    """One request the receiver got, as the webhook code would see it."""

    url: str
    path: str
    form: MultiDict[str, str]  # as `request.form`: what the signature check gets
    signature: str | None
    idempotency_token: str | None

    def param(self, name: str) -> str | None:
        return self.form.get(name)


class Receiver:
    """A stand-in for our webhook endpoints: records every POST, answers 200 or a planned 500."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.fail_next = 0  # answer this many next requests with 500
        self._lock = threading.Lock()
        app = Flask(__name__)
        app.add_url_rule("/<path:path>", view_func=self._view, methods=["POST"])
        self._server = BackgroundServer(app)
        self.base_url = self._server.base_url

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _view(self, path: str) -> tuple[str, int]:
        with self._lock:
            self.received.append(
                Received(
                    url=request.url,
                    path=request.path,
                    form=request.form.copy(),
                    signature=request.headers.get("X-Twilio-Signature"),
                    idempotency_token=request.headers.get("I-Twilio-Idempotency-Token"),
                )
            )
            if self.fail_next > 0:
                self.fail_next -= 1
                return "boom", 500
        return "", 200

    def stop(self) -> None:
        self._server.stop()


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio(retry_backoff=0.01) as server:
        yield server


@pytest.fixture
def twilio(fake: FakeTwilio) -> Client:
    """The real twilio client, through `make_client`, pointed at the fake."""
    return make_client(fake.account_sid, fake.auth_token, fake.base_url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.stop()
