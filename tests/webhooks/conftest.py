"""A Centralita app wired for webhook tests: a small flow, a registered number, Twilio
signatures on, jobs inline, messages recorded by the console transport."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from centralita.channels.transport import ConsoleTransport
from centralita.channels.twilio_client import compute_signature
from centralita.core import runtime as runtimes
from centralita.core.models import Campaign, Customer, SenderNumber
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.web import create_app

ACCOUNT_SID = "AC" + "1" * 32
AUTH_TOKEN = "test-auth-token"
PUBLIC = "https://centralita.example.com"
NUMBER = "whatsapp:+5716001234"
CUSTOMER = "whatsapp:+573001234567"

FLOW = """
flow: saludo
start: hola
steps:
  hola: {type: say, text: "¡Hola {{ contact.profile_name }}! 👋"}
  doc:
    type: ask
    text: Escribe tu documento
    slot: documento
    validate: {type: document}
    timeout: {after: 15m, remind: "¿Sigues ahí?", max_reminders: 1, then: adios}
  buscar: {type: lookup, document: "{{ slots.documento }}", on: {found: ok, not_found: nada}}
  ok: {type: handoff, text: "Te paso con {{ campaign.name }}"}
  nada: {type: end, text: "No te encontré. Chao."}
  adios: {type: end, text: "Cerramos el chat. ¡Hasta pronto!"}
"""


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "saludo.yaml").write_text(textwrap.dedent(FLOW).lstrip(), encoding="utf-8")
    return folder


@pytest.fixture
def channel_settings(db_url: str, flows_dir: Path, engine: object) -> Settings:
    return Settings(
        secret_key="test",
        database_url=db_url,
        public_base_url=PUBLIC,
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        flows_dir=flows_dir,
    )


@pytest.fixture
def console() -> ConsoleTransport:
    return ConsoleTransport()


@pytest.fixture
def rt(channel_settings: Settings, console: ConsoleTransport) -> Iterator[Runtime]:
    runtime = Runtime.for_tests(channel_settings, transport=console)
    yield runtime
    runtimes.install(None)
    runtime.engine.dispose()


@pytest.fixture
def seeded(rt: Runtime) -> sessionmaker[Session]:
    with rt.sessions.begin() as session:
        campaign = Campaign(slug="castigada", name="Cartera castigada")
        session.add(campaign)
        session.flush()
        session.add(Customer(campaign_id=campaign.id, document="1012345678", name="Ana", extra={}))
        session.add(SenderNumber(address=NUMBER, flow_id="saludo", campaigns=[campaign]))
    return rt.sessions


@pytest.fixture
def channel_app(rt: Runtime, seeded: sessionmaker[Session]) -> Flask:
    return create_app(runtime=rt, test_config={"TESTING": True})


@pytest.fixture
def channel_client(channel_app: Flask) -> FlaskClient:
    return channel_app.test_client()


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex


def inbound_params(body: str = "hola", **overrides: str) -> dict[str, str]:
    sid = new_sid()
    params = {
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": CUSTOMER,
        "To": NUMBER,
        "Body": body,
        "NumMedia": "0",
        "ProfileName": "Ana",
        "WaId": "573001234567",
        "ApiVersion": "2010-04-01",
    }
    params.update(overrides)
    return params


Poster = Callable[..., TestResponse]


@pytest.fixture
def post(channel_client: FlaskClient) -> Poster:
    """POST form params to a webhook path, signed as Twilio signs (unless told otherwise)."""

    def send(path: str, params: dict[str, str], *, signature: str | None = "valid") -> TestResponse:
        headers = {}
        if signature == "valid":
            headers["X-Twilio-Signature"] = compute_signature(AUTH_TOKEN, PUBLIC + path, params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return channel_client.post(path, data=params, headers=headers)

    return send
