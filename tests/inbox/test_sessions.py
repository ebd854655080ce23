"""Session logs: every sign-in, sign-out and expiry, with connected time, chats handled and
messages sent; the report page and GET /api/v1/sessions with its filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from centralita.core.models import (
    Assignment,
    AssignmentKind,
    Author,
    Chat,
    Direction,
    Message,
    MessageStatus,
    SessionEnd,
    User,
    WebSession,
)
from centralita.core.runtime import Runtime
from centralita.routing import signin
from centralita.routing.users import create_token
from tests.inbox.conftest import PASSWORD, World, csrf_token, sign_in

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=UTC)


def _token(rt: Runtime, world: World, who: str) -> dict[str, str]:
    with rt.sessions.begin() as session:
        person = session.get(User, world.users[who])
        assert person is not None
        return {"Authorization": f"Bearer {create_token(session, person, T0)}"}


def _session(rt: Runtime, email: str, start: datetime) -> int:
    result = signin.sign_in(
        rt.sessions, email, PASSWORD, ip="10.0.0.7", user_agent="Firefox", now=start
    )
    assert result.web_session_id is not None
    return result.web_session_id


def _end(rt: Runtime, session_id: int, reason: SessionEnd, at: datetime) -> None:
    with rt.sessions.begin() as session:
        row = session.get(WebSession, session_id)
        assert row is not None
        row.last_seen_at = at if reason == SessionEnd.SIGN_OUT else at - timedelta(minutes=30)
        signin.end_session(session, row, reason, at)


def _agent_message(rt: Runtime, chat_id: int, user_id: int, at: datetime) -> None:
    with rt.sessions.begin() as session:
        session.add(
            Message(
                chat_id=chat_id,
                direction=Direction.OUT,
                author=Author.AGENT,
                text="hola",
                status=MessageStatus.SENT,
                user_id=user_id,
                created_at=at,
            )
        )


@pytest.fixture
def api(web_app: Flask) -> FlaskClient:
    return web_app.test_client()


def test_a_session_counts_its_chats_and_messages(
    api: FlaskClient, web_rt: Runtime, world: World
) -> None:
    ana, chats = world.users["agent_a"], world.chats
    worked = _session(web_rt, "ana@x.co", T0)
    _agent_message(web_rt, chats["a_assigned"], ana, T0 + timedelta(minutes=5))
    _agent_message(web_rt, chats["a_assigned"], ana, T0 + timedelta(minutes=6))
    _agent_message(web_rt, chats["a_closed"], ana, T0 - timedelta(hours=2))  # before: no
    with web_rt.sessions.begin() as session:
        session.add(
            Assignment(
                chat_id=chats["a_waiting"],
                agent_id=ana,
                kind=AssignmentKind.ASSIGN,
                reason="least load",
                created_at=T0 + timedelta(minutes=10),
            )
        )
        closed = session.get(Chat, chats["a_closed"])
        assert closed is not None
        closed.closed_by_user_id, closed.closed_at = ana, T0 + timedelta(minutes=20)
    _end(web_rt, worked, SessionEnd.SIGN_OUT, T0 + timedelta(hours=2))
    expired = _session(web_rt, "ana@x.co", T0 + timedelta(hours=3))
    _end(web_rt, expired, SessionEnd.EXPIRED, T0 + timedelta(hours=4))

    response = api.get("/api/v1/sessions?user=ana@x.co", headers=_token(web_rt, world, "sup_a"))
    assert response.status_code == 200
    newest, first = response.get_json()["sessions"]
    assert first["id"] == worked
    assert (first["end_reason"], first["connected_seconds"]) == ("sign_out", 7200)
    assert (first["messages_sent"], first["chats_handled"]) == (2, 3)
    assert (first["user"], first["ip"], first["user_agent"]) == ("ana@x.co", "10.0.0.7", "Firefox")
    # Expired: connected until the last activity, not the idle half hour after it.
    assert (newest["end_reason"], newest["connected_seconds"]) == ("expired", 1800)
    assert newest["ended_at"] == (T0 + timedelta(hours=4)).isoformat()
    assert (newest["messages_sent"], newest["chats_handled"]) == (0, 0)


def test_signing_in_and_out_through_the_pages_is_logged(
    web_client: FlaskClient, web_rt: Runtime, world: World
) -> None:
    sign_in(web_client, world.emails["agent_a"])
    chat_id = world.chats["a_assigned"]
    token = csrf_token(web_client)
    web_client.post(
        f"/inbox/chats/{chat_id}/reply",
        data={"csrf_token": token, "text": "Buenos días"},
        headers={"X-Requested-With": "fetch"},
    )
    web_client.post(f"/inbox/chats/{chat_id}/close", data={"csrf_token": token, "reason": "ok"})
    web_client.post("/logout", data={"csrf_token": token})
    response = web_client.get(
        "/api/v1/sessions?user=ana@x.co", headers=_token(web_rt, world, "admin")
    )
    [row] = response.get_json()["sessions"]
    assert row["end_reason"] == "sign_out"
    assert (row["messages_sent"], row["chats_handled"]) == (1, 1)


def test_filters_by_time_and_campaign(api: FlaskClient, web_rt: Runtime, world: World) -> None:
    _session(web_rt, "ana@x.co", T0)
    _session(web_rt, "beto@x.co", T0 + timedelta(days=1))
    admin = _token(web_rt, world, "admin")

    def users(query: str) -> list[str]:
        response = api.get(f"/api/v1/sessions{query}", headers=admin)
        assert response.status_code == 200, response.get_json()
        return [s["user"] for s in response.get_json()["sessions"]]

    assert users("") == ["beto@x.co", "ana@x.co"]
    assert users("?campaign=ventas") == ["beto@x.co"]
    assert users("?from=2026-03-03") == ["beto@x.co"]
    assert users("?to=2026-03-02") == ["ana@x.co"]  # the whole day
    assert users("?from=2026-03-02T12:00:00%2B00:00&to=2026-03-02T13:30:00-00:00") == ["ana@x.co"]
    assert users("?from=2026-03-02T08:00:00-05:00&to=2026-03-02T08:00:01-05:00") == ["ana@x.co"]


def test_supervisors_see_their_campaigns_people_only(
    api: FlaskClient, web_rt: Runtime, world: World
) -> None:
    _session(web_rt, "ana@x.co", T0)
    _session(web_rt, "beto@x.co", T0)
    sup = _token(web_rt, world, "sup_a")
    response = api.get("/api/v1/sessions", headers=sup)
    assert [s["user"] for s in response.get_json()["sessions"]] == ["ana@x.co"]
    response = api.get("/api/v1/sessions?campaign=ventas", headers=sup)
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == "campaign: you do not supervise 'ventas'"
    response = api.get("/api/v1/sessions", headers=_token(web_rt, world, "agent_a"))
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("?from=2026-13-01", 400, "from: '2026-13-01' is not an ISO 8601 date or time"),
        ("?to=ayer", 400, "to: 'ayer' is not an ISO 8601 date or time"),
        ("?from=2026-03-02T08:00:00", 400, "from: '2026-03-02T08:00:00' has no UTC offset"),
        ("?from=2026-03-05&to=2026-03-01", 400, "from (2026-03-05) must be before to"),
        ("?usuario=ana@x.co", 400, "unknown filter 'usuario'"),
        ("?user=nadie@x.co", 404, "user: nobody signs in as 'nadie@x.co'"),
        ("?campaign=nada", 404, "campaign: there is no campaign 'nada'"),
    ],
)
def test_bad_filter_values_say_what_is_wrong(
    api: FlaskClient, web_rt: Runtime, world: World, query: str, status: int, message: str
) -> None:
    response = api.get(f"/api/v1/sessions{query}", headers=_token(web_rt, world, "admin"))
    assert response.status_code == status
    error = response.get_json()["error"]
    assert message in error["message"]
    assert error["code"] == {400: "bad_request", 404: "not_found"}[status]


def test_the_report_page(web_client: FlaskClient, web_rt: Runtime, world: World) -> None:
    _session(web_rt, "ana@x.co", T0)
    _session(web_rt, "beto@x.co", T0)
    sign_in(web_client, world.emails["sup_a"])
    page = web_client.get("/sessions").get_data(as_text=True)
    assert "ana@x.co" in page and "beto@x.co" not in page and "sara@x.co" in page
    assert "Chats atendidos" in page
    bad = web_client.get("/sessions?from=nunca")
    assert bad.status_code == 400
    assert "from: &#39;nunca&#39; is not an ISO 8601 date" in bad.get_data(as_text=True)
    with web_rt.sessions() as session:
        rows = session.scalars(select(WebSession)).all()
    assert len(rows) == 3
