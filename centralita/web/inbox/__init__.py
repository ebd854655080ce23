"""The agent's inbox: open chats, a chat's conversation and customer card, replies, closing,
presence. Views only check access, call the domain action and render; live parts are
fragments the page fetches when an event says something changed (static/inbox.js)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from centralita.channels.outbox import send_message_job
from centralita.core.models import Message, Role, User, utcnow
from centralita.lifecycle.close import ClosedBy, after_close, close_chat
from centralita.routing.errors import RoutingError
from centralita.routing.presence import set_presence
from centralita.routing.queue import drain_queue
from centralita.routing.reply import agent_reply
from centralita.web.i18n import _
from centralita.web.inbox import texts  # noqa: F401  (English translations)
from centralita.web.inbox.queries import (
    conversation,
    customer_card,
    mark_read,
    my_open_chats,
    visible_chat,
)
from centralita.web.login import CurrentUser, login_required, user
from centralita.web.services import services

bp = Blueprint("inbox", __name__, url_prefix="/inbox")

MAX_REASON = 500


def _fetch() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


@bp.get("/")
@login_required(Role.AGENT)
def index() -> str:
    with services().sessions() as db:
        chats = my_open_chats(db, user())
    return render_template("inbox/index.html", chats=chats, chat=None)


@bp.get("/list")
@login_required(Role.AGENT, passive=True)
def chat_list() -> str:
    current = request.args.get("current", type=int)
    with services().sessions() as db:
        chats = my_open_chats(db, user())
    return render_template("inbox/_list.html", chats=chats, current=current)


def _load_chat(db: Session, me: CurrentUser, chat_id: int, *, lock: bool = False) -> Any:
    chat = visible_chat(db, me, chat_id, lock=lock)
    if chat is None:
        abort(404)
    return chat


def _read(db: Session, me: CurrentUser, chat_id: int, messages: list[Message]) -> None:
    if messages and me.role == Role.AGENT:
        mark_read(db, me.id, chat_id, messages[-1].id, utcnow())


@bp.get("/chats/<int:chat_id>")
@login_required()
def chat_page(chat_id: int) -> str:
    me = user()
    with services().sessions.begin() as db:
        chat = _load_chat(db, me, chat_id)
        messages = conversation(db, chat)
        _read(db, me, chat.id, messages)
        return render_template(
            "inbox/index.html",
            chats=my_open_chats(db, me) if me.role == Role.AGENT else [],
            chat=chat,
            messages=messages,
            card=customer_card(chat),
            mine=chat.agent_id == me.id and str(chat.status) == "assigned",
        )


@bp.get("/chats/<int:chat_id>/messages")
@login_required(passive=True)
def messages_fragment(chat_id: int) -> str:
    """The conversation, for the page to swap in when an event names this chat."""
    me = user()
    with services().sessions.begin() as db:
        chat = _load_chat(db, me, chat_id)
        messages = conversation(db, chat)
        if request.args.get("read") == "1":
            _read(db, me, chat.id, messages)
        return render_template(
            "inbox/_messages.html",
            chat=chat,
            messages=messages,
            mine=chat.agent_id == me.id and str(chat.status) == "assigned",
        )


@bp.post("/chats/<int:chat_id>/reply")
@login_required(Role.AGENT)
def reply(chat_id: int) -> Any:
    me = user()
    text = request.form.get("text", "")
    try:
        with services().sessions.begin() as db:
            chat = _load_chat(db, me, chat_id, lock=True)
            message = agent_reply(db, chat, me.id, text, utcnow())
            message_id = message.id
    except RoutingError as exc:
        message_text = _reply_error(exc)
        if _fetch():
            return jsonify({"error": {"code": exc.code, "message": message_text}}), exc.http_status
        flash(message_text, "error")
        return redirect(url_for("inbox.chat_page", chat_id=chat_id))
    services().jobs.enqueue(send_message_job, message_id)
    if _fetch():
        return jsonify({"id": message_id}), 201
    return redirect(url_for("inbox.chat_page", chat_id=chat_id))


def _reply_error(exc: RoutingError) -> str:
    if exc.http_status == 409:
        return _("Este chat ya está cerrado.")
    if exc.http_status == 403:
        return _("Este chat ya no está asignado a ti.")
    if "empty" in exc.message:
        return _("Escribe un mensaje antes de enviar.")
    return _("El mensaje es demasiado largo (máximo 4096 caracteres).")


@bp.post("/chats/<int:chat_id>/close")
@login_required()
def close(chat_id: int) -> Response:
    me = user()
    reason = request.form.get("reason", "").strip()
    if not reason or len(reason) > MAX_REASON:
        flash(_("Indica el motivo del cierre (máximo 500 caracteres)."), "error")
        return redirect(url_for("inbox.chat_page", chat_id=chat_id))
    try:
        with services().sessions.begin() as db:
            chat = _load_chat(db, me, chat_id, lock=True)
            if me.role == Role.AGENT and chat.agent_id != me.id:
                abort(404)
            closed = close_chat(
                db, chat, reason, utcnow(), closed_by=ClosedBy(me.role.value), by_user_id=me.id
            )
    except RoutingError:
        flash(_("Este chat ya está cerrado."), "error")
        return redirect(url_for("inbox.chat_page", chat_id=chat_id))
    after_close(services(), [closed], utcnow())  # closing message, transcript, queue drain
    flash(_("Chat cerrado."), "info")
    return redirect(url_for("inbox.index") if me.role == Role.AGENT else url_for("auth.root"))


@bp.post("/presence")
@login_required(Role.AGENT)
def presence() -> Any:
    me = user()
    status = request.form.get("status", "")
    try:
        with services().sessions.begin() as db:
            agent = db.get(User, me.id, with_for_update=True)
            assert agent is not None
            became_available = set_presence(db, agent, status, utcnow())
            now_presence = str(agent.presence)
    except RoutingError:
        return jsonify({"error": {"code": "invalid_request", "message": status}}), 400
    if became_available:  # waiting chats may come to them now
        drain_queue(services().sessions, utcnow(), agent_id=me.id)
    if _fetch():
        return jsonify({"presence": now_presence})
    return redirect(request.referrer or url_for("inbox.index"))
