"""The customer simulator: only in demo/development, writes through the real signed webhook,
shows what the bot answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from centralita.channels.transport import ConsoleTransport
from centralita.core import runtime as runtimes
from centralita.core.models import Message
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.web import create_app
from tests.simulator.world import NUMBER, add_cartera

FLOWS = Path(__file__).resolve().parents[2] / "flows"
AUTH_TOKEN = "simulator-test-auth-token"
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def _runtime(db_url: str, *, demo: bool, twilio: bool) -> Runtime:
    settings = Settings(
        secret_key="t",
        database_url=db_url,
        flows_dir=FLOWS,
        demo=demo,
        twilio_account_sid="AC" + "1" * 32 if twilio else None,
        twilio_auth_token=AUTH_TOKEN if twilio else None,
        public_base_url="https://centralita.example.com",
    )
    # Console transport even with credentials: nothing leaves the machine in tests.
    return Runtime.for_tests(settings, transport=ConsoleTransport())


@pytest.fixture
def seeded(db_url: str, engine: object) -> str:
    rt = _runtime(db_url, demo=False, twilio=False)
    with rt.sessions.begin() as session:
        add_cartera(session)
    rt.engine.dispose()
    return db_url


def _app(db_url: str, *, demo: bool = True, twilio: bool = True) -> Iterator[Flask]:
    rt = _runtime(db_url, demo=demo, twilio=twilio)
    app = create_app(runtime=rt, test_config={"TESTING": True})
    yield app
    runtimes.install(None)
    rt.engine.dispose()


@pytest.fixture
def demo_app(seeded: str) -> Iterator[Flask]:
    yield from _app(seeded)


@pytest.fixture
def demo_client(demo_app: Flask) -> FlaskClient:
    return demo_app.test_client()


def _token(client: FlaskClient) -> str:
    page = client.get(f"/simulator/?number={NUMBER}").get_data(as_text=True)
    found = _TOKEN.search(page)
    assert found, "no CSRF token on the simulator page"
    return found.group(1)


def _say(client: FlaskClient, text: str, phone: str = "300 123 4567") -> dict[str, object]:
    response = client.post(
        "/simulator/messages",
        data={"phone": phone, "number": NUMBER, "body": text, "csrf_token": _token(client)},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    data: dict[str, object] = response.get_json()
    return data


def test_off_outside_demo_mode(seeded: str) -> None:
    for app in _app(seeded, demo=False):
        client = app.test_client()
        assert client.get("/simulator/").status_code == 404
        assert client.get(f"/simulator/messages?number={NUMBER}").status_code == 404
        response = client.post("/simulator/messages", data={"number": NUMBER, "body": "Hola"})
        assert response.status_code == 404
        with app.app_context():
            assert "simulator.index" not in app.view_functions
        from centralita.web.services import services

        with services(app).sessions() as session:
            assert session.scalars(select(Message)).all() == []


def test_on_with_the_config_flag_for_development(seeded: str) -> None:
    rt = _runtime(seeded, demo=False, twilio=False)
    app = create_app(runtime=rt, test_config={"TESTING": True, "SIMULATOR_ENABLED": True})
    try:
        assert app.test_client().get("/simulator/").status_code == 200
    finally:
        runtimes.install(None)
        rt.engine.dispose()


def test_page_lists_our_numbers_and_sample_customers(demo_client: FlaskClient) -> None:
    page = demo_client.get("/simulator/").get_data(as_text=True)
    assert "Simulador de cliente" in page
    assert f'<option value="{NUMBER}" selected>' in page
    assert "Ana María Rodríguez" in page and "1012345678" in page


def test_customer_is_answered_by_the_bot_through_the_signed_webhook(
    demo_client: FlaskClient, demo_app: Flask
) -> None:
    # The app checks signatures (TWILIO_AUTH_TOKEN set): an unsigned post is refused...
    forged = demo_client.post(
        "/webhooks/twilio/messages", data={"From": "whatsapp:+573001234567", "To": NUMBER}
    )
    assert forged.status_code == 403
    # ...and the simulator's goes through, signed for PUBLIC_BASE_URL like Twilio would.
    first = _say(demo_client, "Hola")
    messages = first["messages"]
    assert isinstance(messages, list)
    assert messages[0]["author"] == "customer" and messages[0]["text"] == "Hola"
    bot = [m for m in messages if m["author"] == "bot"]
    assert bot and all(m["direction"] == "out" for m in bot)
    assert any("documento" in m["text"].lower() for m in bot)

    second = _say(demo_client, "1.012.345.678")
    texts = " ".join(str(m["text"]) for m in second["messages"])  # type: ignore[union-attr]
    assert "Ana" in texts and "1.250.000" in texts
    # The page's poll reads the same conversation, with the chat it is in.
    polled = demo_client.get(
        "/simulator/messages", query_string={"phone": "+573001234567", "number": NUMBER}
    ).get_json()
    assert polled == second
    assert polled["chat"]["status"] == "bot"
    from centralita.web.services import services

    with services(demo_app).sessions() as session:
        stored = session.scalars(select(Message).where(Message.author == "customer")).all()
        assert [m.raw["From"] for m in stored if m.raw] == ["whatsapp:+573001234567"] * 2


def test_without_twilio_credentials_it_posts_unsigned_and_still_works(seeded: str) -> None:
    for app in _app(seeded, twilio=False):
        data = _say(app.test_client(), "Hola", phone="+573009998877")
        assert any(m["author"] == "bot" for m in data["messages"])  # type: ignore[union-attr]


def test_plain_form_post_redirects_back_to_the_conversation(demo_client: FlaskClient) -> None:
    response = demo_client.post(
        "/simulator/messages",
        data={
            "phone": "3001234567",
            "number": NUMBER,
            "body": "Hola",
            "csrf_token": _token(demo_client),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/simulator/?phone=3001234567")
    page = demo_client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="bubble in customer"' in page and 'class="bubble out bot"' in page


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        ({"phone": "12", "body": "Hola"}, "phone", "no es un número de teléfono"),
        ({"phone": "3001234567", "body": "   "}, "body", "escribe un mensaje"),
        ({"phone": "3001234567", "body": "x" * 1601}, "body", "1600"),
        ({"phone": "3001234567", "body": "Hola", "number": "5716001"}, "number", "no es una"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    demo_client: FlaskClient, form: dict[str, str], field: str, words: str
) -> None:
    data = {"number": NUMBER, "csrf_token": _token(demo_client), **form}
    response = demo_client.post(
        "/simulator/messages", data=data, headers={"Accept": "application/json"}
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["field"] == field and words in error["message"]


def test_posting_needs_the_csrf_token(demo_client: FlaskClient) -> None:
    response = demo_client.post(
        "/simulator/messages",
        data={"phone": "3001234567", "number": NUMBER, "body": "Hola"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf"


def test_english_page(demo_client: FlaskClient) -> None:
    page = demo_client.get("/simulator/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Customer simulator" in page and "Write a message (Enter sends)" in page
