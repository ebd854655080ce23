"""Who may see and do what, tried through the pages with ids of chats that are not theirs."""

from __future__ import annotations

from flask.testing import FlaskClient

from centralita.core.events import Event
from centralita.core.models import Role
from centralita.web.events import may_see
from centralita.web.login import CurrentUser
from tests.inbox.conftest import World, csrf_token, sign_in


def _token(client: FlaskClient, path: str) -> str:
    return csrf_token(client, path)


def test_an_agent_reaches_no_other_chat_nor_staff_pages(
    agent_client: FlaskClient, world: World
) -> None:
    token = _token(agent_client, f"/inbox/chats/{world.chats['a_assigned']}")
    for label in ("b_assigned", "a_waiting"):
        chat_id = world.chats[label]
        assert agent_client.get(f"/inbox/chats/{chat_id}").status_code == 404
        assert agent_client.get(f"/inbox/chats/{chat_id}/messages").status_code == 404
        reply = agent_client.post(
            f"/inbox/chats/{chat_id}/reply", data={"text": "hola", "csrf_token": token}
        )
        assert reply.status_code == 404
        close = agent_client.post(
            f"/inbox/chats/{chat_id}/close", data={"reason": "x", "csrf_token": token}
        )
        assert close.status_code == 404
    for path in ("/supervise/", "/supervise/live", "/admin/", "/admin/people", "/sessions"):
        assert agent_client.get(path).status_code == 403, path
    moved = agent_client.post(
        f"/supervise/chats/{world.chats['b_assigned']}/reassign",
        data={"agent": "ana@x.co", "reason": "x", "csrf_token": token},
    )
    assert moved.status_code == 403


def test_a_supervisor_reaches_only_their_campaigns_chats(
    web_client: FlaskClient, world: World
) -> None:
    sign_in(web_client, world.emails["sup_a"])
    token = _token(web_client, "/supervise/")
    other = world.chats["b_assigned"]
    assert web_client.get(f"/inbox/chats/{other}").status_code == 404
    assert web_client.get(f"/supervise/chats/{other}").status_code == 404
    moved = web_client.post(
        f"/supervise/chats/{other}/reassign",
        data={"agent": "beto@x.co", "reason": "x", "csrf_token": token},
    )
    assert moved.status_code == 404
    close = web_client.post(
        f"/inbox/chats/{other}/close", data={"reason": "x", "csrf_token": token}
    )
    assert close.status_code == 404
    assert web_client.get("/admin/").status_code == 403
    refused = web_client.get("/sessions?campaign=ventas")
    assert refused.status_code == 400 and "beto@x.co" not in refused.get_data(as_text=True)
    own = web_client.get(f"/supervise/chats/{world.chats['a_assigned']}")
    assert own.status_code == 200


def test_live_events_reach_only_the_people_concerned(world: World) -> None:
    def person(role: Role, user_id: int, campaigns: tuple[int, ...] = ()) -> CurrentUser:
        return CurrentUser(user_id, "p@x.co", "P", role, campaigns, 1)

    a, b = world.campaigns["a"], world.campaigns["b"]
    agent = person(Role.AGENT, world.users["agent_a"], (a,))
    supervisor = person(Role.SUPERVISOR, world.users["sup_a"], (a,))
    other_chat = Event("message", chat_id=9, campaign_id=b, agent_ids=(world.users["agent_b"],))
    campaign_alert = Event("alert", campaign_id=a)
    no_campaign = Event("chat", chat_id=10)
    assert not may_see(agent, other_chat)
    assert not may_see(agent, campaign_alert)  # their campaign's, but not raised for them
    assert not may_see(supervisor, other_chat)
    assert may_see(supervisor, campaign_alert)
    assert not may_see(supervisor, no_campaign)


def test_the_simulator_does_not_exist_unless_enabled(web_client: FlaskClient, world: World) -> None:
    assert web_client.get("/simulator/").status_code == 404
    sign_in(web_client, world.emails["admin"])
    assert web_client.get("/simulator/").status_code == 404
    assert web_client.post("/simulator/messages", data={"text": "hola"}).status_code in (
        400,  # refused by the CSRF check before routing says there is nothing
        404,
    )


def test_sign_in_sends_nowhere_but_this_site(web_client: FlaskClient, world: World) -> None:
    for target in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example/",
        "\t//evil.example/",
        "/%09/evil.example/",
        "javascript:alert(1)",
    ):
        web_client.post("/logout", data={"csrf_token": csrf_token(web_client, "/login")})
        where = sign_in(web_client, world.emails["agent_a"], next=target)
        # A path of this site, even as a browser reads it (which drops tabs and newlines and
        # takes a backslash for a slash).
        as_read = where.replace("\t", "").replace("\n", "").replace("\r", "").replace("\\", "/")
        assert as_read.startswith("/") and not as_read.startswith("//"), (target, where)
