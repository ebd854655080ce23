"""Supervisor pages: who may see what, the queue, the agents board, alerts, reassigning."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from centralita.core.models import (
    Alert,
    Assignment,
    AssignmentKind,
    Campaign,
    Chat,
    ChatStatus,
    Presence,
    SessionEnd,
    User,
    WebSession,
    utcnow,
)
from centralita.core.runtime import Runtime
from tests.supervise.conftest import World, page_token, sign_in


@pytest.fixture
def sup_client(web_client: FlaskClient, world: World) -> FlaskClient:
    sign_in(web_client, world.emails["sup_a"])
    return web_client


@pytest.fixture
def admin_client(web_client: FlaskClient, world: World) -> FlaskClient:
    sign_in(web_client, world.emails["admin"])
    return web_client


def _chat(rt: Runtime, chat_id: int) -> Chat:
    with rt.sessions() as session:
        found = session.get(Chat, chat_id)
        assert found is not None
        session.expunge(found)
        return found


def _reassign(client: FlaskClient, chat_id: int, **form: str) -> tuple[int, str]:
    token = page_token(client, f"/supervise/chats/{chat_id}")
    response = client.post(
        f"/supervise/chats/{chat_id}/reassign", data={"csrf_token": token, **form}
    )
    return response.status_code, response.get_data(as_text=True)


def test_signed_out_visitors_go_to_the_sign_in_page(web_client: FlaskClient) -> None:
    response = web_client.get("/supervise/")
    assert response.status_code == 302 and "/login?next=/supervise/" in response.headers["Location"]


def test_agents_cannot_open_the_supervisor_pages(web_client: FlaskClient, world: World) -> None:
    sign_in(web_client, world.emails["agent_a"])
    assert web_client.get("/supervise/").status_code == 403
    assert web_client.get("/supervise/live").status_code == 403
    assert web_client.get(f"/supervise/chats/{world.chats['a_assigned']}").status_code == 403


def test_queue_shows_waiting_chats_of_the_supervisors_campaigns_only(
    sup_client: FlaskClient, world: World
) -> None:
    page = sup_client.get("/supervise/").get_data(as_text=True)
    assert f"/supervise/chats/{world.chats['a_waiting']}" in page
    # Only waiting chats in the queue; the other campaign's never.
    queue = page.split('id="queue-table"')[1].split("</table>")[0]
    assert f"#{world.chats['a_assigned']}<" not in queue
    assert f"#{world.chats['b_assigned']}<" not in page
    assert "Cola de espera" in page


def test_another_campaigns_chat_is_not_found_for_a_supervisor(
    sup_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    chat_id = world.chats["b_assigned"]
    assert sup_client.get(f"/supervise/chats/{chat_id}").status_code == 404
    token = page_token(sup_client, "/supervise/")
    response = sup_client.post(
        f"/supervise/chats/{chat_id}/reassign",
        data={"csrf_token": token, "agent": world.emails["agent_b"], "reason": "prueba"},
    )
    assert response.status_code == 404
    assert _chat(web_rt, chat_id).agent_id == world.users["agent_b"]


def test_admin_sees_every_campaign(admin_client: FlaskClient, world: World) -> None:
    page = admin_client.get("/supervise/").get_data(as_text=True)
    assert "beto@x.co" in page and "ana@x.co" in page
    assert admin_client.get(f"/supervise/chats/{world.chats['b_assigned']}").status_code == 200


def test_agents_board_shows_presence_load_and_time_connected_today(
    sup_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    now = utcnow()
    with web_rt.sessions.begin() as session:
        # "Today" is the viewer's campaign's day: give the campaign a zone where the last
        # hour is all today, whatever time the suite runs at (in Bogotá the hour after
        # midnight would clip the session below).
        session.execute(
            update(Campaign)
            .where(Campaign.id == world.campaigns["a"])
            .values(timezone=_zone_past_one_in_the_morning(now))
        )
        # Ana: signed in 50 minutes ago, last active 20 minutes ago and expired: 30 minutes.
        session.add(
            WebSession(
                user_id=world.users["agent_a"],
                started_at=now - timedelta(minutes=50),
                last_seen_at=now - timedelta(minutes=20),
                ended_at=now - timedelta(minutes=5),
                end_reason=SessionEnd.EXPIRED,
            )
        )
        session.execute(
            update(User).where(User.id == world.users["agent_a2"]).values(presence=Presence.AWAY)
        )
    page = sup_client.get("/supervise/").get_data(as_text=True)
    board = page.split('id="agents-table"')[1].split("</table>")[0]
    ana = board.split('data-agent="ana@x.co"')[1].split("</tr>")[0]
    assert "Disponible" in ana and "1/5" in ana
    assert "30 min" in ana
    alba = board.split('data-agent="alba@x.co"')[1].split("</tr>")[0]
    assert "Ausente" in alba and "0/5" in alba
    assert "beto@x.co" not in board  # another campaign's agent


def _zone_past_one_in_the_morning(now: datetime) -> str:
    """Bogotá, unless it is before 1 a.m. there; then Madrid (6-7 hours ahead)."""
    for name in ("America/Bogota", "Europe/Madrid"):
        if now.astimezone(ZoneInfo(name)).time() >= time(1):
            return name
    raise AssertionError("unreachable: the two zones are hours apart")


def test_stale_agents_show_as_without_heartbeat(
    sup_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    with web_rt.sessions.begin() as session:
        session.execute(
            update(User)
            .where(User.id == world.users["agent_a"])
            .values(last_seen_at=utcnow() - timedelta(minutes=5))
        )
    page = sup_client.get("/supervise/live").get_data(as_text=True)
    ana = page.split('data-agent="ana@x.co"')[1].split("</tr>")[0]
    assert "Sin señal" in ana


def test_alerts_of_the_supervisors_campaigns_only(
    sup_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    with web_rt.sessions.begin() as session:
        for label, campaign in (("a_assigned", "a"), ("b_assigned", "b")):
            session.add(
                Alert(
                    kind="unanswered",
                    key=f"unanswered:{label}",
                    chat_id=world.chats[label],
                    campaign_id=world.campaigns[campaign],
                )
            )
    page = sup_client.get("/supervise/").get_data(as_text=True)
    alerts = page.split('id="alerts-table"')[1].split("</table>")[0]
    assert f"#{world.chats['a_assigned']}<" in alerts and "Sin respuesta" in alerts
    assert f"#{world.chats['b_assigned']}<" not in alerts


def test_reassign_lists_eligible_agents_only_and_moves_the_chat(
    sup_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    chat_id = world.chats["a_assigned"]
    page = sup_client.get(f"/supervise/chats/{chat_id}").get_data(as_text=True)
    form = page.split('<select id="agent"')[1].split("</select>")[0]
    assert 'value="alba@x.co"' in form
    assert 'value="ana@x.co"' not in form  # holds it already
    assert 'value="beto@x.co"' not in form  # another campaign
    status, _ = _reassign(sup_client, chat_id, agent="alba@x.co", reason="Ana sale a almorzar")
    assert status == 302
    assert _chat(web_rt, chat_id).agent_id == world.users["agent_a2"]
    page = sup_client.get(f"/supervise/chats/{chat_id}").get_data(as_text=True)
    assert "reasignado a Alba" in page
    log = page.split('id="assignment-log"')[1]
    assert "Reasignación" in log and "Sara" in log and "Ana sale a almorzar" in log
    with web_rt.sessions() as session:
        row = session.scalars(select(Assignment).where(Assignment.chat_id == chat_id)).one()
        assert row.kind == AssignmentKind.REASSIGN and row.by_user_id == world.users["sup_a"]


def test_reassign_needs_a_reason(sup_client: FlaskClient, world: World, web_rt: Runtime) -> None:
    chat_id = world.chats["a_assigned"]
    status, page = _reassign(sup_client, chat_id, agent="alba@x.co", reason="  ")
    assert status == 422
    assert "Escribe el motivo de la reasignación." in page
    assert _chat(web_rt, chat_id).agent_id == world.users["agent_a"]


def test_reassign_to_an_agent_who_cannot_take_it_is_refused_with_why(
    sup_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    chat_id = world.chats["a_assigned"]
    # Another campaign's agent, forced past the form.
    status, page = _reassign(sup_client, chat_id, agent="beto@x.co", reason="prueba")
    assert status == 422 and "Ese asesor no puede recibir el chat ahora" in page
    # An agent of the campaign who went offline since the page was shown.
    with web_rt.sessions.begin() as session:
        session.execute(
            update(User).where(User.id == world.users["agent_a2"]).values(presence=Presence.OFFLINE)
        )
    status, page = _reassign(sup_client, chat_id, agent="alba@x.co", reason="prueba")
    assert status == 422 and "offline" in page
    assert _chat(web_rt, chat_id).agent_id == world.users["agent_a"]


def test_posts_need_the_csrf_token(sup_client: FlaskClient, world: World, web_rt: Runtime) -> None:
    chat_id = world.chats["a_assigned"]
    response = sup_client.post(
        f"/supervise/chats/{chat_id}/reassign", data={"agent": "alba@x.co", "reason": "x"}
    )
    assert response.status_code == 400
    assert _chat(web_rt, chat_id).agent_id == world.users["agent_a"]


def test_manual_assignment_only_where_the_campaign_allows_it(
    sup_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    chat_id = world.chats["a_waiting"]
    page = sup_client.get(f"/supervise/chats/{chat_id}").get_data(as_text=True)
    assert "no permite asignar chats a mano" in page and '<select id="agent"' not in page
    token = page_token(sup_client, f"/supervise/chats/{chat_id}")
    refused = sup_client.post(
        f"/supervise/chats/{chat_id}/assign", data={"csrf_token": token, "agent": "alba@x.co"}
    )
    assert refused.status_code == 422
    assert "no permite asignar a mano" in refused.get_data(as_text=True)
    assert _chat(web_rt, chat_id).status == ChatStatus.WAITING_QUEUE

    with web_rt.sessions.begin() as session:
        session.execute(
            update(Campaign)
            .where(Campaign.id == world.campaigns["a"])
            .values(manual_assignment=True)
        )
    page = sup_client.get(f"/supervise/chats/{chat_id}").get_data(as_text=True)
    assert "Asignar a mano" in page
    done = sup_client.post(
        f"/supervise/chats/{chat_id}/assign",
        data={"csrf_token": token, "agent": "alba@x.co", "reason": ""},
    )
    assert done.status_code == 302
    chat = _chat(web_rt, chat_id)
    assert chat.status == ChatStatus.ASSIGNED and chat.agent_id == world.users["agent_a2"]


def test_the_page_in_english(sup_client: FlaskClient) -> None:
    sup_client.get("/lang/en?next=/supervise/")
    page = sup_client.get("/supervise/").get_data(as_text=True)
    assert "Waiting queue" in page and "Agents" in page and "Open alerts" in page
    assert "Cola de espera" not in page


def test_board_links_each_agents_chats_and_chats_open_by_number(
    sup_client: FlaskClient, world: World
) -> None:
    chat_id = world.chats["a_assigned"]
    page = sup_client.get("/supervise/").get_data(as_text=True)
    ana = page.split('data-agent="ana@x.co"')[1].split("</tr>")[0]
    assert f'href="/supervise/chats/{chat_id}">#{chat_id}<' in ana
    response = sup_client.get(f"/supervise/chats/go?id=%23{chat_id}")
    assert response.headers["Location"] == f"/supervise/chats/{chat_id}"
    other = world.chats["b_assigned"]
    assert (
        sup_client.get(f"/supervise/chats/go?id={other}", follow_redirects=True).status_code == 404
    )
    bad = sup_client.get("/supervise/chats/go?id=abc", follow_redirects=True)
    assert "Escribe el número del chat" in bad.get_data(as_text=True)


def test_the_chat_page_links_the_whole_conversation(sup_client: FlaskClient, world: World) -> None:
    chat_id = world.chats["a_assigned"]
    page = sup_client.get(f"/supervise/chats/{chat_id}").get_data(as_text=True)
    link = f'href="/inbox/chats/{chat_id}"'
    assert link in page
    assert sup_client.get(f"/inbox/chats/{chat_id}").status_code == 200


def test_a_long_queue_costs_a_fixed_number_of_queries(
    sup_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    from sqlalchemy import event

    from centralita.core.models import Contact

    def add_waiting(count: int) -> None:
        with web_rt.sessions.begin() as session:
            for n in range(count):
                contact = Contact(
                    address=f"whatsapp:+57311{n:07d}{count}",
                    phone=f"+57311{n:07d}",
                    channel="whatsapp",
                )
                session.add(contact)
                session.flush()
                session.add(
                    Chat(
                        contact_id=contact.id,
                        number="whatsapp:+5716001234",
                        status=ChatStatus.WAITING_QUEUE,
                        campaign_id=world.campaigns["a"],
                        queued_at=utcnow(),
                    )
                )

    def statements() -> int:
        seen: list[str] = []

        def count(*args: object) -> None:
            seen.append("x")

        event.listen(web_rt.engine, "before_cursor_execute", count)
        try:
            assert sup_client.get("/supervise/live").status_code == 200
        finally:
            event.remove(web_rt.engine, "before_cursor_execute", count)
        return len(seen)

    add_waiting(2)
    few = statements()
    add_waiting(40)
    assert statements() == few
