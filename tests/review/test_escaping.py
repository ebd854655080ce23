"""Whatever customers and files put in names and texts is shown as text, never as markup."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from sqlalchemy import select

from centralita.core.models import Chat, Contact, Customer, Message
from centralita.core.runtime import Runtime
from tests.inbox.conftest import World, csrf_token, sign_in

PAYLOAD = '<img src=x onerror="alert(1)">'


def _poison(web_rt: Runtime, world: World) -> None:
    with web_rt.sessions.begin() as db:
        chat = db.get(Chat, world.chats["a_assigned"])
        assert chat is not None
        contact = db.get(Contact, chat.contact_id)
        customer = db.get(Customer, chat.customer_id)
        assert contact is not None and customer is not None
        contact.profile_name = PAYLOAD
        customer.name = PAYLOAD
        customer.extra = {PAYLOAD: PAYLOAD}
        for message in db.scalars(select(Message).where(Message.chat_id == chat.id)):
            message.text = PAYLOAD


def test_customer_text_names_and_columns_are_escaped_on_every_page(
    web_client: FlaskClient, web_rt: Runtime, world: World
) -> None:
    _poison(web_rt, world)
    chat_id = world.chats["a_assigned"]
    pages = {
        "agent_a": [
            "/inbox/",
            "/inbox/list",
            f"/inbox/chats/{chat_id}",
            f"/inbox/chats/{chat_id}/messages",
        ],
        "sup_a": [
            "/supervise/",
            "/supervise/live",
            f"/supervise/chats/{chat_id}",
            f"/inbox/chats/{chat_id}",
        ],
    }
    for label, paths in pages.items():
        sign_in(web_client, world.emails[label])
        for path in paths:
            page = web_client.get(path)
            assert page.status_code == 200, path
            assert PAYLOAD not in page.get_data(as_text=True), path


def test_an_uploaded_file_name_is_escaped(web_client: FlaskClient, world: World) -> None:
    sign_in(web_client, world.emails["admin"])
    token = csrf_token(web_client, "/admin/campaigns/castigada/upload")
    name = "<img src=x onerror=alert(1)>.csv"  # no quotes: they end a multipart name
    sent = web_client.post(
        "/admin/campaigns/castigada/upload",
        data={
            "csrf_token": token,
            "file": (io.BytesIO(b"documento,nombre,telefono\n1,A,+573001112233\n"), name),
        },
        content_type="multipart/form-data",
    )
    assert sent.status_code == 302
    for path in (sent.headers["Location"], "/admin/campaigns/castigada/upload"):
        assert name.removesuffix(".csv") not in web_client.get(path).get_data(as_text=True)
    refused = web_client.post(
        "/admin/campaigns/castigada/upload",
        data={"csrf_token": token, "file": (io.BytesIO(b"x"), name + ".exe")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert name.removesuffix(".csv") not in refused.get_data(as_text=True)
