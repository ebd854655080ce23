"""The demo server, over real HTTP: a simulated customer is answered by the bot end to end,
and the printed people can sign in."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from centralita.core.db import make_engine, session_factory
from centralita.core.migrate import upgrade
from centralita.core.models import Presence, User, utcnow
from centralita.core.settings import Settings
from centralita.devtools.demo import DEMO_PASSWORD, seed_demo
from centralita.devtools.demo_server import DemoServer

FLOWS = Path(__file__).resolve().parents[2] / "flows"
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


@pytest.fixture
def demo_url(sqlite_url: str, tmp_path: Path) -> Iterator[str]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    seed_demo(engine, flows_dir=FLOWS, work_dir=tmp_path / "demo")
    engine.dispose()
    settings = Settings.from_env(
        {"DATABASE_URL": sqlite_url, "FLOWS_DIR": str(FLOWS), "STORAGE_DIR": str(tmp_path)},
        demo=True,
    )
    server = DemoServer(settings, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    thread.join(timeout=10)


def test_a_simulated_customer_gets_the_bots_answers(demo_url: str, sqlite_url: str) -> None:
    browser = requests.Session()
    page = browser.get(f"{demo_url}/simulator/", timeout=10)
    assert page.status_code == 200
    token = _CSRF.search(page.text)
    assert token is not None
    number = "whatsapp:+576015550100"
    assert number in page.text

    def say(text: str) -> list[dict[str, str]]:
        response = browser.post(
            f"{demo_url}/simulator/messages",
            data={"phone": "300 123 4567", "number": number, "body": text},
            headers={"Accept": "application/json", "X-CSRFToken": token.group(1)},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        messages: list[dict[str, str]] = response.json()["messages"]
        return messages

    say("Hola")
    answered = say("1012345678")
    bot_texts = [m["text"] for m in answered if m["author"] == "bot"]
    assert any("Ana" in text and "1.250.000" in text for text in bot_texts), bot_texts
    # The console transport "sent" them (a job thread): the page sees the status move.
    for _ in range(50):
        polled = browser.get(
            f"{demo_url}/simulator/messages",
            params={"phone": "+573001234567", "number": number},
            timeout=10,
        ).json()["messages"]
        if all(m["status"] == "sent" for m in polled if m["direction"] == "out"):
            break
        threading.Event().wait(0.1)
    else:
        pytest.fail(f"outgoing messages never sent: {polled}")

    # An agent of the campaign is online: "talk to an agent" reaches her.
    engine = make_engine(sqlite_url)  # the demo's database
    try:
        with session_factory(engine).begin() as session:
            ana = session.scalars(select(User).where(User.email == "ana@demo.centralita.co")).one()
            ana.presence, ana.last_seen_at = Presence.ONLINE, utcnow()
    finally:
        engine.dispose()
    handed = browser.post(
        f"{demo_url}/simulator/messages",
        data={"phone": "300 123 4567", "number": number, "body": "4"},
        headers={"Accept": "application/json", "X-CSRFToken": token.group(1)},
        timeout=10,
    ).json()
    assert handed["chat"]["status"] == "assigned"
    assert handed["chat"]["agent"] == "Ana Restrepo"


def test_the_printed_people_sign_in(demo_url: str) -> None:
    browser = requests.Session()
    login = browser.get(f"{demo_url}/login", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert token is not None
    response = browser.post(
        f"{demo_url}/login",
        data={
            "email": "supervisora@demo.centralita.co",
            "password": DEMO_PASSWORD,
            "csrf_token": token.group(1),
        },
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 302, response.text


def test_the_demo_runs_everything_itself_never_sending(
    sqlite_url: str, tmp_path: Path, redis_url: str
) -> None:
    from centralita.channels.transport import ConsoleTransport
    from centralita.core.jobs import ThreadJobs

    upgrade(sqlite_url)
    settings = Settings.from_env(
        {
            "DATABASE_URL": sqlite_url,
            "FLOWS_DIR": str(FLOWS),
            "TWILIO_ACCOUNT_SID": "AC" + "3" * 32,
            "TWILIO_AUTH_TOKEN": "real-looking-token",
            "REDIS_URL": redis_url,
        },
        demo=True,
    )
    server = DemoServer(settings, "127.0.0.1", 0)
    try:
        assert isinstance(server.runtime.transport, ConsoleTransport)
        assert isinstance(server.runtime.jobs, ThreadJobs)  # no worker in the demo
    finally:
        server.server.server_close()
        server.runtime.engine.dispose()
