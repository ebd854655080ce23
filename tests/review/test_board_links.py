"""The agents board counts every chat an agent holds (their load) but links, for a
supervisor, only the chats of the supervisor's campaigns (the others would answer 404)."""

from __future__ import annotations

from flask.testing import FlaskClient

from centralita.core.models import Campaign, Chat, User
from centralita.core.runtime import Runtime
from tests.inbox.conftest import World, sign_in


def test_a_supervisor_sees_no_link_to_another_campaigns_chat(
    web_client: FlaskClient, web_rt: Runtime, world: World
) -> None:
    with web_rt.sessions.begin() as db:
        ana = db.get(User, world.users["agent_a"])
        ventas = db.get(Campaign, world.campaigns["b"])
        chat = db.get(Chat, world.chats["b_assigned"])
        assert ana is not None and ventas is not None and chat is not None
        ana.campaigns.append(ventas)  # Ana serves both campaigns and holds a chat of each
        chat.agent_id = ana.id
    sign_in(web_client, world.emails["sup_a"])
    page = web_client.get("/supervise/live").get_data(as_text=True)
    assert f"/supervise/chats/{world.chats['a_assigned']}" in page
    assert f"/supervise/chats/{world.chats['b_assigned']}" not in page
