"""Signing in and out of the pages: passwords, CSRF, cookies, throttling, inactivity expiry."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from centralita.core.models import (
    LoginAttempt,
    Presence,
    SessionEnd,
    User,
    WebSession,
    utcnow,
)
from centralita.core.runtime import Runtime
from centralita.core.settings import Settings
from centralita.routing import signin
from centralita.web import create_app
from tests.inbox.conftest import PASSWORD, World, csrf_token, sign_in


def _sessions(rt: Runtime, user_id: int) -> list[WebSession]:
    with rt.sessions() as session:
        return list(
            session.scalars(
                select(WebSession).where(WebSession.user_id == user_id).order_by(WebSession.id)
            )
        )


def _last_seen(rt: Runtime, web_session_id: int, when: datetime) -> None:
    """Move the session's last activity (as if time had passed since)."""
    with rt.sessions.begin() as session:
        session.execute(
            update(WebSession).where(WebSession.id == web_session_id).values(last_seen_at=when)
        )


def test_the_sign_in_page_is_spanish_with_an_english_switch(web_client: FlaskClient) -> None:
    page = web_client.get("/login").get_data(as_text=True)
    assert 'name="email"' in page and 'name="password"' in page
    assert "Iniciar sesión" in page and "Contraseña" in page
    web_client.get("/lang/en?next=/login")
    page = web_client.get("/login").get_data(as_text=True)
    assert "Sign in" in page and "Password" in page and "Contraseña" not in page


def test_signing_in_records_a_session_and_lands_on_the_roles_page(
    web_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    location = sign_in(web_client, world.emails["sup_a"])
    assert location.endswith("/sessions") or "/supervise" in location
    [row] = _sessions(web_rt, world.users["sup_a"])
    assert row.ended_at is None and row.ip == "127.0.0.1"
    assert web_client.get("/sessions").status_code == 200


def test_a_wrong_password_is_refused_and_recorded(
    web_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    token = csrf_token(web_client)
    response = web_client.post(
        "/login", data={"email": "ana@x.co", "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Correo o contraseña incorrectos." in response.get_data(as_text=True)
    assert _sessions(web_rt, world.users["agent_a"]) == []
    with web_rt.sessions() as session:
        attempt = session.scalars(select(LoginAttempt)).one()
    assert (attempt.email, attempt.succeeded) == ("ana@x.co", False)
    # An unknown email gets the same answer (nothing tells which emails exist).
    response = web_client.post(
        "/login", data={"email": "nadie@x.co", "password": "nope", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Correo o contraseña incorrectos." in response.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_rejected(
    web_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    response = web_client.post("/login", data={"email": "ana@x.co", "password": PASSWORD})
    assert response.status_code == 400
    assert "El formulario caducó o no es válido" in response.get_data(as_text=True)
    assert _sessions(web_rt, world.users["agent_a"]) == []
    # Signed in, a sign-out with a forged token does not sign out.
    sign_in(web_client, world.emails["sup_a"])
    assert web_client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert web_client.get("/sessions").status_code == 200


def test_webhooks_and_the_api_need_no_csrf_token(web_client: FlaskClient) -> None:
    # Their own protections answer (a bearer token here), not the CSRF check.
    response = web_client.post("/api/v1/chats/1/messages", json={"text": "x"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_cookies_are_http_only_and_lax_and_secure_behind_https(
    web_client: FlaskClient, world: World, web_settings: Settings, web_rt: Runtime
) -> None:
    token = csrf_token(web_client)
    response = web_client.post(
        "/login", data={"email": "ana@x.co", "password": PASSWORD, "csrf_token": token}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    https = create_app(
        Settings(
            secret_key="t",
            database_url=web_settings.database_url,
            public_base_url="https://centralita.example.com",
        )
    )
    assert https.config["SESSION_COOKIE_SECURE"] is True


def test_failed_sign_ins_are_throttled_per_account(
    web_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    token = csrf_token(web_client)
    for _ in range(signin.ACCOUNT_FAILURES):
        response = web_client.post(
            "/login", data={"email": "ana@x.co", "password": "wrong", "csrf_token": token}
        )
        assert response.status_code == 401
    # Now even the right password waits, and says how long.
    response = web_client.post(
        "/login", data={"email": "ana@x.co", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 429
    assert "Espera 15 minutos" in response.get_data(as_text=True)
    assert _sessions(web_rt, world.users["agent_a"]) == []
    # Another account from the same address is not locked out by it.
    assert sign_in(web_client, world.emails["sup_a"])


def test_the_account_lock_ends_when_the_window_passes(world: World, web_rt: Runtime) -> None:
    start = utcnow()
    for i in range(signin.ACCOUNT_FAILURES):
        result = signin.sign_in(
            web_rt.sessions,
            "ana@x.co",
            "wrong",
            ip="10.0.0.1",
            user_agent="t",
            now=start + timedelta(seconds=i),
        )
        assert not result.ok and result.wait is None
    locked = signin.sign_in(
        web_rt.sessions, "ana@x.co", PASSWORD, ip="10.0.0.1", user_agent="t", now=start
    )
    assert locked.wait is not None and not locked.ok
    later = start + signin.WINDOW + timedelta(seconds=1)
    free = signin.sign_in(
        web_rt.sessions, "ana@x.co", PASSWORD, ip="10.0.0.1", user_agent="t", now=later
    )
    assert free.ok


def test_failed_sign_ins_are_throttled_per_address(world: World, web_rt: Runtime) -> None:
    now = utcnow()
    for i in range(signin.ADDRESS_FAILURES):  # a different made-up email each time
        signin.sign_in(
            web_rt.sessions, f"u{i}@x.co", "wrong", ip="10.9.9.9", user_agent="t", now=now
        )
    blocked = signin.sign_in(
        web_rt.sessions, "ana@x.co", PASSWORD, ip="10.9.9.9", user_agent="t", now=now
    )
    assert blocked.wait is not None
    elsewhere = signin.sign_in(
        web_rt.sessions, "ana@x.co", PASSWORD, ip="10.1.1.1", user_agent="t", now=now
    )
    assert elsewhere.ok


def test_an_idle_session_expires_and_is_recorded(
    web_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    sign_in(web_client, world.emails["sup_a"])
    [row] = _sessions(web_rt, world.users["sup_a"])
    last = utcnow() - timedelta(minutes=31)
    _last_seen(web_rt, row.id, last)
    response = web_client.get("/sessions")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    page = web_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Tu sesión expiró por inactividad" in page
    [row] = _sessions(web_rt, world.users["sup_a"])
    assert row.end_reason == SessionEnd.EXPIRED
    assert row.ended_at == last + timedelta(minutes=30)


def test_the_idle_time_is_a_setting(world: World, web_settings: Settings) -> None:
    settings = Settings.from_env(
        {
            "SECRET_KEY": "t",
            "DATABASE_URL": web_settings.database_url,
            "SESSION_IDLE_MINUTES": "5",
        }
    )
    assert settings.session_idle_minutes == 5
    with pytest.raises(ValueError, match="SESSION_IDLE_MINUTES: '0' is not a number of minutes"):
        Settings.from_env({"SECRET_KEY": "t", "SESSION_IDLE_MINUTES": "0"})


def test_activity_moves_the_session_on_but_page_timers_do_not(
    web_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    sign_in(web_client, world.emails["sup_a"])
    [row] = _sessions(web_rt, world.users["sup_a"])
    earlier = utcnow() - timedelta(minutes=5)
    _last_seen(web_rt, row.id, earlier)
    web_client.get("/sessions")
    [row] = _sessions(web_rt, world.users["sup_a"])
    assert row.last_seen_at > earlier + timedelta(minutes=4)


def test_signing_out_ends_the_session_and_its_cookie(
    web_app: Flask, world: World, web_rt: Runtime
) -> None:
    client = web_app.test_client()
    sign_in(client, world.emails["agent_a"])
    stolen = client.get_cookie("centralita_session")
    assert stolen is not None
    token = csrf_token(client)
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302
    [row] = _sessions(web_rt, world.users["agent_a"])
    assert row.end_reason == SessionEnd.SIGN_OUT and row.ended_at is not None
    with web_rt.sessions() as session:
        agent = session.get(User, world.users["agent_a"])
        assert agent is not None and agent.presence == Presence.OFFLINE
    # The cookie copied before signing out lets nobody in afterwards.
    other = web_app.test_client()
    other.set_cookie("centralita_session", stolen.value)
    assert other.get("/sessions").status_code == 302


def test_next_never_leaves_the_site(web_client: FlaskClient, world: World) -> None:
    location = sign_in(web_client, world.emails["sup_a"], next="//evil.example.com/x")
    assert "evil" not in location
    web_client.post("/logout", data={"csrf_token": csrf_token(web_client)})
    location = sign_in(web_client, world.emails["sup_a"], next="/sessions?user=ana@x.co")
    assert location.endswith("/sessions?user=ana@x.co")


def test_pages_check_the_role(web_client: FlaskClient, world: World) -> None:
    assert web_client.get("/sessions").status_code == 302  # signed out: to the form
    sign_in(web_client, world.emails["agent_a"])
    response = web_client.get("/sessions")
    assert response.status_code == 403
    assert "No tienes permiso" in response.get_data(as_text=True)


def test_a_deactivated_user_is_signed_out_at_once(
    web_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    sign_in(web_client, world.emails["sup_a"])
    with web_rt.sessions.begin() as session:
        session.execute(update(User).where(User.id == world.users["sup_a"]).values(active=False))
    assert web_client.get("/sessions").status_code == 302
    token = csrf_token(web_client)
    response = web_client.post(
        "/login", data={"email": "sara@x.co", "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 401


def test_the_sweep_expires_sessions_nobody_came_back_to(world: World, web_rt: Runtime) -> None:
    now = utcnow()
    result = signin.sign_in(
        web_rt.sessions, "ana@x.co", PASSWORD, ip="10.0.0.1", user_agent="t", now=now
    )
    assert result.ok
    idle = timedelta(minutes=30)
    assert signin.expire_idle_sessions(web_rt.sessions, now + timedelta(minutes=10), idle) == 0
    assert signin.expire_idle_sessions(web_rt.sessions, now + timedelta(minutes=31), idle) == 1
    [row] = _sessions(web_rt, world.users["agent_a"])
    assert row.end_reason == SessionEnd.EXPIRED and row.ended_at == now + idle


def test_the_periodic_sweep_expires_idle_sessions(world: World, web_rt: Runtime) -> None:
    from centralita.core.sweep import sweep

    now = utcnow()
    signin.sign_in(web_rt.sessions, "ana@x.co", PASSWORD, ip="10.0.0.1", user_agent="t", now=now)
    report = sweep(web_rt, now + timedelta(minutes=31))
    assert report.sessions_expired == 1
    assert "idle web sessions expired: 1" in report.lines()
    [row] = _sessions(web_rt, world.users["agent_a"])
    assert row.end_reason == SessionEnd.EXPIRED


def test_the_heartbeat_keeps_a_session_only_while_the_person_is_active(
    web_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    sign_in(web_client, world.emails["sup_a"])
    token = csrf_token(web_client)  # (opening a page is activity: before going back in time)
    [row] = _sessions(web_rt, world.users["sup_a"])
    earlier = utcnow() - timedelta(minutes=5)
    _last_seen(web_rt, row.id, earlier)
    idle = web_client.post("/heartbeat", data={"csrf_token": token, "active": "0"})
    assert idle.status_code == 200
    [row] = _sessions(web_rt, world.users["sup_a"])
    assert row.last_seen_at == earlier  # the page is open, but nobody used it
    web_client.post("/heartbeat", data={"csrf_token": token, "active": "1"})
    [row] = _sessions(web_rt, world.users["sup_a"])
    assert row.last_seen_at > earlier + timedelta(minutes=4)


def test_signing_in_again_ends_the_previous_sign_in(
    web_client: FlaskClient, world: World, web_rt: Runtime
) -> None:
    sign_in(web_client, world.emails["sup_a"])
    sign_in(web_client, world.emails["sup_a"])
    first, second = _sessions(web_rt, world.users["sup_a"])
    assert first.end_reason == SessionEnd.SIGN_OUT and second.ended_at is None
