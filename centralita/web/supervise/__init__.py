"""Supervisor pages: the queue, the agents board, alerts, a chat's assignment log, reassigning.

Supervisors see their campaigns only (and chats without a campaign, which nobody else would
place); admins see everything. A chat a viewer may not see answers 404, as if it did not
exist. The actions are routing's (`reassign_chat`, `manual_assign`): they check the rules
again inside their transaction, so a stale page cannot break them.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import Select, select

from centralita.core.db import READ_ONLY
from centralita.core.models import Campaign, Chat, ChatStatus, Role, User, utcnow
from centralita.routing.errors import (
    ChatNotFound,
    ManualAssignmentDisabled,
    NotAllowed,
    RoutingError,
)
from centralita.routing.queue import drain_queue, waiting_chats
from centralita.routing.reassign import manual_assign, reassign_chat
from centralita.web.login import login_required, user
from centralita.web.services import services
from centralita.web.supervise import board, texts
from centralita.web.supervise.texts import _

bp = Blueprint(
    "supervise",
    __name__,
    url_prefix="/supervise",
    static_folder="static",
    static_url_path="/static",
)

STAFF = (Role.SUPERVISOR, Role.ADMIN)
MAX_REASON = 500
INBOX_CHAT = "inbox.chat_page"


def viewer() -> board.Viewer:
    me = user()
    return board.Viewer(me.id, me.role, me.campaign_ids)


@bp.get("/")
@login_required(*STAFF)
def index() -> str:
    return render_template("supervise/index.html", **_live_context())


@bp.get("/live")
@login_required(*STAFF, passive=True)
def live() -> str:
    """The page's live part alone, for its script to refresh (not counted as activity)."""
    return render_template("supervise/_live.html", **_live_context())


def _live_context() -> dict[str, Any]:
    now, me = utcnow(), viewer()
    with services().sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        person = session.get(User, me.user_id)
        assert person is not None
        queue = waiting_chats(session, person)
        _contacts = board.load_contacts(session, queue)  # held while the rows are built
        campaigns = {c.id: c for c in session.scalars(_campaigns_query(me))}
        agents = board.agents_board(session, me, now)
        alerts = board.open_alerts(session, me)
        agent_names = board.agent_names(session, [a.user_id for a, _ in alerts if a.user_id])
        return {
            "now": now,
            "queue": [texts.queued_chat(chat, campaigns, now) for chat in queue],
            "agents": agents,
            "alerts": [texts.alert_row(a, c, campaigns, agent_names) for a, c in alerts],
            "campaign_names": ", ".join(c.name for c in campaigns.values()) or "—",
            "presence_label": texts.presence,
            "duration": texts.duration,
        }


def _campaigns_query(me: board.Viewer) -> Select[tuple[Campaign]]:
    query = select(Campaign).order_by(Campaign.name)
    if not me.is_admin:
        query = query.where(Campaign.id.in_(me.campaign_ids))
    return query


@bp.get("/chats/go")
@login_required(*STAFF)
def go() -> Any:
    """The "open chat number" box: any chat the viewer may see, by its number."""
    raw = request.args.get("id", "").strip().lstrip("#")
    if not raw.isdigit():
        flash(_("Escribe el número del chat, por ejemplo 42."), "error")
        return redirect(url_for("supervise.index"))
    return redirect(url_for("supervise.chat", chat_id=int(raw)))


@bp.get("/chats/<int:chat_id>")
@login_required(*STAFF)
def chat(chat_id: int) -> Any:
    return _chat_page(chat_id)


def _chat_page(
    chat_id: int, *, error: str | None = None, form: dict[str, str] | None = None
) -> Any:
    now, me = utcnow(), viewer()
    with services().sessions() as session:
        session.connection(execution_options={READ_ONLY: True})
        found = session.get(Chat, chat_id)
        if found is None or not me.sees(found.campaign_id):
            abort(404)
        campaign = found.campaign
        can_reassign = found.status == ChatStatus.ASSIGNED
        can_assign = found.status == ChatStatus.WAITING_QUEUE and (
            campaign is None or campaign.manual_assignment
        )
        eligible = (
            board.eligible_agents(session, found, now) if (can_reassign or can_assign) else []
        )
        log = board.assignment_log(session, chat_id)
        page = render_template(
            "supervise/chat.html",
            chat=found,
            campaign=campaign,
            log=[texts.log_row(row) for row in log],
            eligible=[texts.eligible_row(c) for c in eligible],
            can_reassign=can_reassign,
            can_assign=can_assign,
            manual_disabled=found.status == ChatStatus.WAITING_QUEUE and not can_assign,
            status_label=texts.chat_status(found.status),
            error=error,
            form=form or {},
            messages=found.messages[-30:],
            author_label=texts.author,
            inbox_url=_inbox_url(chat_id),
        )
    return (page, 422) if error else page


def _inbox_url(chat_id: int) -> str | None:
    """The inbox's page of the chat (whole conversation, customer card), when it exists."""
    if INBOX_CHAT in current_app.view_functions:
        return url_for(INBOX_CHAT, chat_id=chat_id)
    return None


@bp.post("/chats/<int:chat_id>/reassign")
@login_required(*STAFF)
def reassign(chat_id: int) -> Any:
    return _route(chat_id, manual=False)


@bp.post("/chats/<int:chat_id>/assign")
@login_required(*STAFF)
def assign(chat_id: int) -> Any:
    return _route(chat_id, manual=True)


def _route(chat_id: int, *, manual: bool) -> Any:
    agent = request.form.get("agent", "").strip()
    reason = request.form.get("reason", "").strip()
    form = {"agent": agent, "reason": reason}
    if not agent:
        return _chat_page(chat_id, error=_("Elige un asesor."), form=form)
    if not manual and not reason:
        return _chat_page(chat_id, error=_("Escribe el motivo de la reasignación."), form=form)
    if len(reason) > MAX_REASON:
        message = _("El motivo es demasiado largo (máximo %(max)s caracteres).", max=MAX_REASON)
        return _chat_page(chat_id, error=message, form=form)
    rt, now, me = services(), utcnow(), viewer()
    try:
        with rt.sessions.begin() as session:
            found = session.get(Chat, chat_id)
            if found is None or not me.sees(found.campaign_id):
                raise ChatNotFound(f"no chat {chat_id}")
            previous = found.agent_id
            by = session.get(User, me.user_id)
            assert by is not None
            action = manual_assign if manual else reassign_chat
            done = action(session, chat_id, agent, by, reason, now)
            target = done.agent.name if done.agent is not None else agent
    except ChatNotFound:
        abort(404)
    except NotAllowed as exc:
        if isinstance(exc, ManualAssignmentDisabled):
            return _chat_page(chat_id, error=texts.routing_error(exc), form=form)
        abort(403)
    except RoutingError as exc:  # not eligible, wrong status, bad request: say why
        return _chat_page(chat_id, error=texts.routing_error(exc), form=form)
    if previous is not None:
        # The previous agent has room now: the queue may have a chat for them.
        drain_queue(rt.sessions, utcnow(), agent_id=previous)
    if manual:
        flash(_("Chat %(id)s asignado a %(agent)s.", id=chat_id, agent=target), "info")
    else:
        flash(_("Chat %(id)s reasignado a %(agent)s.", id=chat_id, agent=target), "info")
    return redirect(url_for("supervise.chat", chat_id=chat_id))
