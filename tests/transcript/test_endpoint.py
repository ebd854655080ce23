"""GET /api/v1/chats/ID/transcript.pdf: the PDF for those who may see the chat, 404 while it
is not made, and nothing for anyone else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.test import TestResponse

from centralita.core.models import Chat
from centralita.core.runtime import Runtime
from centralita.lifecycle.transcript import write_transcript
from centralita.web import create_app

from .conftest import ClosedChat, pdf_text

NOW = datetime(2026, 11, 22, 5, 0, 0, tzinfo=UTC)


@pytest.fixture
def client(rt: Runtime, closed_chat: ClosedChat) -> Iterator[FlaskClient]:
    app = create_app(runtime=rt, test_config={"TESTING": True})
    yield app.test_client()


def get(
    client: FlaskClient, chat: ClosedChat, who: str, chat_id: int | None = None
) -> TestResponse:
    return client.get(
        f"/api/v1/chats/{chat_id or chat.chat_id}/transcript.pdf",
        headers={"Authorization": f"Bearer {chat.tokens[who]}"},
    )


@pytest.mark.parametrize("who", ["beto", "sara", "root"])
def test_the_pdf_for_the_agent_the_campaigns_supervisor_and_an_admin(
    rt: Runtime, closed_chat: ClosedChat, client: FlaskClient, who: str
) -> None:
    relative = write_transcript(rt, closed_chat.chat_id, NOW)
    assert relative is not None

    response = get(client, closed_chat, who)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert response.data == (rt.settings.storage_dir / relative).read_bytes()
    assert "Acuerdo de pago registrado" in pdf_text(response.data)
    assert f"chat-{closed_chat.chat_id}.pdf" in response.headers["Content-Disposition"]


@pytest.mark.parametrize("who", ["otto", "sol", "ana"])
def test_nothing_for_other_campaigns_or_an_agent_not_holding_it(
    rt: Runtime, closed_chat: ClosedChat, client: FlaskClient, who: str
) -> None:
    # otto and sol work for another campaign; ana (an agent) no longer holds the chat.
    write_transcript(rt, closed_chat.chat_id, NOW)
    response = get(client, closed_chat, who)
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert b"%PDF" not in response.data
    assert (
        f"no chat {closed_chat.chat_id} visible to you" in response.get_json()["error"]["message"]
    )


def test_not_found_while_not_made_with_a_clear_error(
    closed_chat: ClosedChat, client: FlaskClient
) -> None:
    response = get(client, closed_chat, "sara")
    assert response.status_code == 404
    error = response.get_json()["error"]
    assert error["code"] == "not_found"
    assert "has not been made yet" in error["message"]

    response = get(client, closed_chat, "sara", closed_chat.open_chat_id)
    assert response.status_code == 404
    assert "is open" in response.get_json()["error"]["message"]


def test_a_lost_file_or_a_path_outside_storage_is_not_served(
    rt: Runtime, closed_chat: ClosedChat, client: FlaskClient
) -> None:
    relative = write_transcript(rt, closed_chat.chat_id, NOW)
    assert relative is not None
    (rt.settings.storage_dir / relative).unlink()
    assert get(client, closed_chat, "root").status_code == 404

    secret = rt.settings.storage_dir.parent / "secret.pdf"
    secret.write_bytes(b"%PDF- not a transcript")
    with rt.sessions.begin() as session:
        session.execute(
            update(Chat)
            .where(Chat.id == closed_chat.chat_id)
            .values(transcript_path="../secret.pdf")
        )
    response = get(client, closed_chat, "root")
    assert response.status_code == 404 and b"not a transcript" not in response.data


def test_a_token_is_required(closed_chat: ClosedChat, client: FlaskClient) -> None:
    response = client.get(f"/api/v1/chats/{closed_chat.chat_id}/transcript.pdf")
    assert response.status_code == 401


def test_closing_through_the_api_makes_the_pdf_it_then_serves(
    rt: Runtime, closed_chat: ClosedChat, client: FlaskClient
) -> None:
    # Jobs run inline in tests: the close's transcript job renders before the response.
    headers = {"Authorization": f"Bearer {closed_chat.tokens['ana']}"}
    url = f"/api/v1/chats/{closed_chat.open_chat_id}"
    closed = client.post(f"{url}/close", json={"reason": "Cliente satisfecho"}, headers=headers)
    assert closed.status_code == 200, closed.get_json()

    response = client.get(f"{url}/transcript.pdf", headers=headers)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert f"Chat #{closed_chat.open_chat_id}" in text
    assert "Motivo del cierre Cliente satisfecho" in text
    assert "Cerrado por agente: Ana (ana@x.co)" in text
