"""Browser tests: Playwright for Python driving Debian's chromium (never a downloaded browser)
against the app served by a real server thread on SQLite, with Twilio signatures on.

Each test's pages are screenshotted as it goes (`shots.take(name)`); when the test fails they
are kept, with a last one of the page as it was, under test-artifacts/<test>/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Error as PlaywrightError

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
from tests.conftest import unavailable
from tests.inbox.conftest import quick_password_hashes

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_FAILED] = report.failed


_FAILED = pytest.StashKey[bool]()


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


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        unavailable("chromium", CHROMIUM, "CHROMIUM", "not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield found
        found.close()


class Shots:
    """Screenshots of each page the test visits, kept only if the test fails."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pages: list[Any] = []
        self.count = 0

    def take(self, page: Any, name: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:02d}-{name}.png"), full_page=True)


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shots]:
    folder = tmp_path / "shots"
    folder.mkdir()
    found = Shots(folder)
    yield found
    if request.node.stash.get(_FAILED, False):
        target = ARTIFACTS / request.node.name.replace("/", "_")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(folder, target)


@pytest.fixture
def new_page(request: pytest.FixtureRequest, browser: Any, shots: Shots) -> Iterator[Any]:
    contexts: list[Any] = []

    def make() -> Any:
        context = browser.new_context(locale="es-CO", viewport={"width": 1366, "height": 800})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(5000)
        shots.pages.append(page)
        return page

    yield make
    if request.node.stash.get(_FAILED, False):  # each page as the failure left it
        for i, page in enumerate(shots.pages):
            with contextlib.suppress(PlaywrightError):  # a crashed page: keep the others
                page.screenshot(path=str(shots.folder / f"99-last-{i}.png"), full_page=True)
    for context in contexts:
        context.close()
