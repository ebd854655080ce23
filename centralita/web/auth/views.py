"""Pages for signing in and out, the language switch, and the sessions report."""

from __future__ import annotations

import math
from typing import Any

from flask import (
    Blueprint,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from centralita.core.models import Role, SessionEnd, User, WebSession, utcnow
from centralita.routing import signin
from centralita.routing.presence import heartbeat as presence_heartbeat
from centralita.routing.queue import drain_queue
from centralita.web.i18n import LANGUAGES, SESSION_KEY, _
from centralita.web.login import _load, home_url, login_required, safe_next, user
from centralita.web.services import services

bp = Blueprint("auth", __name__)


@bp.get("/")
def root() -> Response:
    if current_user.is_authenticated:
        return redirect(home_url(user().role))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/login.html", next=target or "", email="")
    email = request.form.get("email", "")
    result = signin.sign_in(
        services().sessions,
        email,
        request.form.get("password", ""),
        ip=request.remote_addr or "unknown",
        user_agent=request.headers.get("User-Agent", ""),
        now=utcnow(),
    )
    if not result.ok:
        if result.wait is not None:
            minutes = max(1, math.ceil(result.wait.total_seconds() / 60))
            error = _(
                "Demasiados intentos fallidos. Espera %(minutes)s minutos e inténtalo de nuevo.",
                minutes=minutes,
            )
            status = 429
        else:
            error = _("Correo o contraseña incorrectos.")
            status = 401
        page = render_template("auth/login.html", next=target or "", email=email, error=error)
        return page, status
    assert result.web_session_id is not None
    if current_user.is_authenticated:  # signing in again over a sign-in: that one ends
        _end(user().web_session_id, SessionEnd.SIGN_OUT)
    language = session.get(SESSION_KEY)
    session.clear()  # nothing from before the sign-in carries over (session fixation)
    if language:
        session[SESSION_KEY] = language
    signed_in = _load(str(result.web_session_id))
    assert signed_in is not None
    login_user(signed_in)
    return redirect(target or home_url(signed_in.role))


@bp.post("/logout")
@login_required(passive=True)
def logout() -> Response:
    _end(user().web_session_id, SessionEnd.SIGN_OUT)
    logout_user()
    language = session.get(SESSION_KEY)
    session.clear()
    if language:
        session[SESSION_KEY] = language
    flash(_("Cerraste la sesión."), "info")
    return redirect(url_for("auth.login"))


def _end(web_session_id: int, reason: SessionEnd) -> None:
    with services().sessions.begin() as db:
        found = db.get(WebSession, web_session_id, with_for_update=True)
        if found is not None:
            signin.end_session(db, found, reason, utcnow())


@bp.post("/heartbeat")
@login_required(passive=True)
def heartbeat() -> Response:
    """Every signed-in page says, every 30 s, that it is open (an agent's presence stays
    fresh) and whether the person used it since the last time: only that keeps the sign-in
    from expiring."""
    me, now = user(), utcnow()
    became_available = False
    with services().sessions.begin() as db:
        if request.form.get("active") == "1":
            seen = db.scalar(
                select(WebSession.last_seen_at).where(WebSession.id == me.web_session_id)
            )
            if seen is not None and signin.needs_touch(seen, now):
                signin.touch(db, me.web_session_id, now)
        if me.role == Role.AGENT:
            agent = db.get(User, me.id, with_for_update=True)
            assert agent is not None
            became_available = presence_heartbeat(db, agent, now)
    if became_available:  # a stale agent is back: waiting chats may come to them
        drain_queue(services().sessions, utcnow(), agent_id=me.id)
    return jsonify({"ok": True})


@bp.get("/lang/<code>")
def language(code: str) -> Response:
    if code in LANGUAGES:
        session[SESSION_KEY] = code
    return redirect(safe_next(request.args.get("next")) or url_for("auth.root"))


# The sessions report lives in centralita/web/auth/report.py; registered on this blueprint.
from centralita.web.auth import report  # noqa: E402

report.register(bp)
