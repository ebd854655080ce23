"""Who is signed in to the pages: Flask-Login on top of `WebSession` rows, CSRF, cookies.

Blueprints for pages use:
- `@login_required(Role.SUPERVISOR, Role.ADMIN)` (no roles: anyone signed in) on each view;
  `passive=True` for requests the page makes by itself (heartbeats, live events, refreshes),
  which must not count as the person's activity.
- `user()` for the signed-in `CurrentUser` (a plain snapshot: no database session is kept).
- `{{ csrf_token() }}` in every form (`<input type="hidden" name="csrf_token" ...>`), or the
  `X-CSRFToken` header from `<meta name="csrf-token">` for fetch(); /webhooks/ and /api/ are
  exempt (signatures and bearer tokens protect them).

The cookie holds only the id of the sign-in's `WebSession` row, signed with SECRET_KEY; each
request checks the row is still open and not idle for SESSION_IDLE_MINUTES, so signing out
or expiring ends the cookie too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    Response,
    current_app,
    flash,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.wrappers import Request
from flask_login import LoginManager
from flask_login import current_user as _current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import select
from werkzeug.exceptions import Forbidden

from centralita.core.db import READ_ONLY
from centralita.core.models import (
    Campaign,
    Role,
    SessionEnd,
    User,
    WebSession,
    user_campaigns,
    utcnow,
)
from centralita.customers.campaigns import DEFAULT_TIMEZONE
from centralita.routing.signin import end_session, is_idle, needs_touch, touch
from centralita.web.api.errors import error_response
from centralita.web.i18n import LANGUAGES, _, current_language
from centralita.web.services import services

F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
csrf = CSRFProtect()

ROLE_LABELS = {Role.AGENT: "agente", Role.SUPERVISOR: "supervisor", Role.ADMIN: "administrador"}

# The navigation: (endpoint, label, roles). An entry shows only once its blueprint is
# registered, so each area appears in the menu by registering itself.
NAVIGATION: list[tuple[str, str, tuple[Role, ...]]] = [
    ("inbox.index", "Bandeja", (Role.AGENT,)),
    ("supervise.index", "Supervisión", (Role.SUPERVISOR, Role.ADMIN)),
    ("admin.index", "Administración", (Role.ADMIN,)),
    ("auth.sessions_report", "Sesiones", (Role.SUPERVISOR, Role.ADMIN)),
    ("simulator.index", "Simulador", (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)),
]
# Request bodies are small (forms, JSON, webhooks): a larger one is refused with 413 before it
# is read, so nobody can make the server spool gigabytes to disk (the CSRF check parses every
# form before any view runs). Views that take files name their endpoint here, with their limit;
# only admins get it (a person who may not post there is held to the small one).
MAX_BODY_BYTES = 1024 * 1024
LARGE_BODIES: dict[str, int] = {}
# Where each role lands after signing in (the first of these that exists).
HOME = {
    Role.AGENT: ("inbox.index",),
    Role.SUPERVISOR: ("supervise.index", "auth.sessions_report"),
    Role.ADMIN: ("admin.index", "supervise.index", "auth.sessions_report"),
}


@dataclass(frozen=True)
class CurrentUser:
    """The signed-in person, as read at the start of the request."""

    id: int
    email: str
    name: str
    role: Role
    campaign_ids: tuple[int, ...]
    web_session_id: int
    presence: str = "offline"  # as at the start of the request
    # Times on pages are shown in this zone: their campaigns' when they share one.
    timezone: str = DEFAULT_TIMEZONE

    # Flask-Login's user protocol.
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.web_session_id)

    def sees_campaign(self, campaign_id: int | None) -> bool:
        """Supervisors see their campaigns, admins all; agents see chats, not campaigns."""
        if self.role == Role.ADMIN:
            return True
        return self.role == Role.SUPERVISOR and campaign_id in self.campaign_ids


def user() -> CurrentUser:
    """The signed-in user (only inside a `login_required` view)."""
    found = _current_user._get_current_object()
    assert isinstance(found, CurrentUser), "user() outside a login_required view"
    return found


def idle_limit() -> timedelta:
    return timedelta(minutes=services().settings.session_idle_minutes)


def _load(web_session_id: str) -> CurrentUser | None:
    if not web_session_id.isdigit():
        return None
    rt, now = services(), utcnow()
    with rt.sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        row = session.execute(
            select(WebSession, User)
            .join(User, User.id == WebSession.user_id)
            .where(WebSession.id == int(web_session_id))
        ).first()
        if row is None:
            return None
        web_session, person = row._tuple()
        served = session.execute(
            select(user_campaigns.c.campaign_id, Campaign.timezone)
            .join(Campaign, Campaign.id == user_campaigns.c.campaign_id)
            .where(user_campaigns.c.user_id == person.id)
        ).all()
        campaign_ids = tuple(campaign_id for campaign_id, _ in served)
        zones = {zone for _, zone in served}
    if web_session.ended_at is not None or not person.active:
        return None
    if is_idle(web_session.last_seen_at, now, idle_limit()):
        with rt.sessions.begin() as session:
            locked = session.get(WebSession, web_session.id, with_for_update=True)
            if locked is not None:
                end_session(session, locked, SessionEnd.EXPIRED, locked.last_seen_at + idle_limit())
        g.session_expired = True
        return None
    if not g.get("passive_request") and needs_touch(web_session.last_seen_at, now):
        with rt.sessions.begin() as session:
            touch(session, web_session.id, now)
    return CurrentUser(
        id=person.id,
        email=person.email,
        name=person.name,
        role=person.role,
        campaign_ids=campaign_ids,
        web_session_id=web_session.id,
        presence=str(person.presence),
        timezone=zones.pop() if len(zones) == 1 else DEFAULT_TIMEZONE,
    )


def local_time(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """`moment` as the signed-in person reads time (their campaigns' zone; Bogotá otherwise):
    stored times are UTC, agents are not."""
    if moment is None:
        return ""
    found = _current_user._get_current_object() if has_request_context() else None
    zone = found.timezone if isinstance(found, CurrentUser) else DEFAULT_TIMEZONE
    return moment.astimezone(_zone(zone)).strftime(fmt)


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _wants_json() -> bool:
    """fetch() and EventSource requests get a 401 to act on, not a redirect to a form."""
    accept = request.accept_mimetypes
    return (
        request.headers.get("X-Requested-With") == "fetch"
        or "text/event-stream" in request.headers.get("Accept", "")
        or (accept.best == "application/json")
    )


def _unauthorized() -> Any:
    expired = bool(g.get("session_expired"))
    message = (
        _("Tu sesión expiró por inactividad. Vuelve a entrar.")
        if expired
        else _("Inicia sesión para continuar.")
    )
    if _wants_json():
        reason = "expired" if expired else "signed_out"
        response = jsonify({"error": {"code": reason, "message": message}})
        response.status_code = 401
        return response
    flash(message, "warning" if expired else "info")
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def login_required(*roles: Role, passive: bool = False) -> Callable[[F], F]:
    """Only for signed-in users (of one of `roles`, when given); others go to the sign-in
    page (fetch/EventSource requests get 401) or get 403."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.passive_request = passive
            if not _current_user.is_authenticated:
                return _unauthorized()
            if roles and user().role not in roles:
                raise Forbidden(_("No tienes permiso para ver esta página."))
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site (never another host: no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def home_url(role: Role) -> str:
    views = app_views()
    for endpoint in HOME[role]:
        if endpoint in views:
            return url_for(endpoint)
    return url_for("auth.login")


def app_views() -> set[str]:
    return set(current_app.view_functions)


def _navigation() -> list[tuple[str, str]]:
    if not _current_user.is_authenticated:
        return []
    role = user().role
    views = app_views()
    return [
        (url_for(endpoint), _(label))
        for endpoint, label, roles in NAVIGATION
        if role in roles and endpoint in views
    ]


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, except for Twilio's webhooks: they carry no cookie of
    ours and sign nobody in, so they get Flask's null session (read as empty, never saved)
    instead of a cookie serializer built to read and write nothing on every message."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(NO_SESSION_PATHS):
            return None
        return super().open_session(app, request)


# The webhooks' blueprint (web/webhooks.py) is exempt from CSRF for the same reason.
NO_SESSION_PATHS = ("/webhooks/",)


def install(app: Flask) -> None:
    """Sign-in, CSRF, cookies and the templates' helpers, on `app`."""
    settings = services(app).settings
    app.session_interface = _CookieSessions()
    app.config.update(
        SESSION_COOKIE_NAME="centralita_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https:"),
        # The token lives as long as the sign-in (which expires by inactivity): a page left
        # open for hours must still be able to send.
        WTF_CSRF_TIME_LIMIT=None,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    login_manager.init_app(app)

    @app.before_request
    def _allow_large_body() -> None:  # before the CSRF check, which reads the form
        limit = LARGE_BODIES.get(request.endpoint or "")
        if limit is not None and _current_user.is_authenticated and user().role == Role.ADMIN:
            request.max_content_length = limit

    login_manager.user_loader(_load)
    login_manager.unauthorized_handler(_unauthorized)
    # Flask-Login's "remember me" cookie and session protection stay off: the WebSession row
    # is what keeps a sign-in alive, and ends it.
    login_manager.session_protection = None
    csrf.init_app(app)

    @app.errorhandler(CSRFError)
    def _csrf_failed(exc: CSRFError) -> tuple[Response | str, int]:
        message = _("El formulario caducó o no es válido. Recarga la página e inténtalo de nuevo.")
        if _wants_json():
            return jsonify({"error": {"code": "csrf", "message": message}}), 400
        return render_template("error.html", title=_("Solicitud no válida"), message=message), 400

    @app.errorhandler(Forbidden)
    def _forbidden(exc: Forbidden) -> Any:
        if request.path.startswith(("/api/", "/webhooks/")):
            return error_response(403, "forbidden", exc.description or "")
        if _wants_json():
            return jsonify({"error": {"code": "forbidden", "message": exc.description}}), 403
        page = render_template("error.html", title=_("Prohibido"), message=exc.description)
        return page, 403

    @app.after_request
    def _no_framing(response: Response) -> Response:
        # Another site must not frame a page to trick a click (close, reassign, send); a
        # served file is what its type says.
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    app.jinja_env.filters["local"] = local_time
    app.jinja_env.globals.update(
        _=_,
        current_language=current_language,
        LANGUAGES=LANGUAGES,
        navigation=_navigation,
        has_view=lambda endpoint: endpoint in app_views(),
        ROLE_LABELS=ROLE_LABELS,
    )
