"""Browser tests: Playwright for Python driving Debian's chromium (never a downloaded browser)
against the app served by a real server thread on SQLite, with Twilio signatures on.

Each test's pages are screenshotted as it goes (`shots.take(name)`); when the test fails they
are kept, with a last one of the page as it was, under test-artifacts/<test>/.
"""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from centralita.channels.transport import ConsoleTransport
from centralita.channels.twilio_client import compute_signature
from centralita.core import runtime as runtimes
from centralita.core.db import make_engine
from centralita.core.jobs import InlineJobs
from centralita.core.models import Base, Campaign, Customer, SenderNumber, utcnow
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.devtools.server import BackgroundServer
from centralita.devtools.twilio_inbound import inbound_params
from centralita.routing.users import create_token, create_user
from centralita.web import create_app
from tests.inbox.conftest import quick_password_hashes

ACCOUNT_SID = "AC" + "2" * 32
AUTH_TOKEN = "browser-test-token"
NUMBER = "whatsapp:+5716009999"
PASSWORD = "clave-del-navegador"

FLOW = """
flow: directo
start: doc
steps:
  doc:
    type: ask
    text: Escribe tu documento
    slot: documento
    validate: {type: document}
  buscar: {type: lookup, document: "{{ slots.documento }}", on: {found: ok, not_found: nada}}
  ok: {type: handoff, text: "Te paso con un asesor"}
  nada: {type: end, text: "No te encontré."}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Site:
    base_url: str
    rt: Runtime
    supervisor_token: str  # sara@x.co, supervisor of castigada

    def customer_writes(self, from_: str, body: str, profile_name: str = "Carla") -> None:
        """A Twilio-signed inbound webhook, as Twilio would post it."""
        url = f"{self.base_url}/webhooks/twilio/messages"
        params = inbound_params(
            account_sid=ACCOUNT_SID, from_=from_, to=NUMBER, body=body, profile_name=profile_name
        )
        signature = compute_signature(AUTH_TOKEN, url, params)
        response = requests.post(
            url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    quick_password_hashes(monkeypatch)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "directo.yaml").write_text(textwrap.dedent(FLOW).lstrip(), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'centralita.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        secret_key="browser",
        database_url=url,
        public_base_url=base_url,  # what Twilio signs
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        flows_dir=flows,
    )
    runtime = Runtime.build(settings, jobs=InlineJobs(), transport=ConsoleTransport())
    with runtime.sessions.begin() as session:
        campaign = Campaign(slug="castigada", name="Cartera castigada", closing_message="¡Gracias!")
        other = Campaign(slug="ventas", name="Ventas")
        session.add_all([campaign, other])
        session.flush()
        session.add(
            Customer(
                campaign_id=campaign.id,
                document="1012345678",
                name="Carla Cliente",
                phone="+573001112233",
                extra={"saldo": 1520000, "ciudad": "Medellín"},
            )
        )
        session.add(SenderNumber(address=NUMBER, flow_id="directo", campaigns=[campaign]))
        create_user(
            session, "ana@x.co", name="Ana", role="agent", password=PASSWORD, campaigns=[campaign]
        )
        create_user(
            session, "beto@x.co", name="Beto", role="agent", password=PASSWORD, campaigns=[other]
        )
        create_user(
            session, "alba@x.co", name="Alba", role="agent", password=PASSWORD, campaigns=[campaign]
        )
        sara = create_user(
            session,
            "sara@x.co",
            name="Sara",
            role="supervisor",
            password=PASSWORD,
            campaigns=[campaign],
        )
        supervisor_token = create_token(session, sara, utcnow())
    app = create_app(runtime=runtime)
    server = BackgroundServer(app, port=port)
    try:
        yield Site(server.base_url, runtime, supervisor_token)
    finally:
        server.stop()
        runtimes.install(None)
        runtime.engine.dispose()
