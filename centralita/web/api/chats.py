"""Chats: list and read (by role), agents' replies, close, reassign, assignment log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, send_file
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from centralita.channels.outbox import send_message_job
from centralita.core.models import (
    Assignment,
    Campaign,
    Chat,
    ChatStatus,
    Role,
    User,
    utcnow,
)
from centralita.lifecycle.close import ClosedBy, after_close, close_chat
from centralita.lifecycle.transcript import transcript_file
from centralita.routing.queue import drain_queue
from centralita.routing.reassign import reassign_chat
from centralita.routing.reply import agent_reply
from centralita.web.api import auth
from centralita.web.api.errors import ApiError, json_body
from centralita.web.api.serialize import assignment_json, chat_json, message_json
from centralita.web.services import services

MAX_TEXT = 4096  # WhatsApp's limit for a text message


def register(bp: Blueprint) -> None:
    bp.add_url_rule("/chats", view_func=list_chats, methods=["GET"])
    bp.add_url_rule("/chats/<int:chat_id>", view_func=get_chat, methods=["GET"])
    bp.add_url_rule("/chats/<int:chat_id>/messages", view_func=reply, methods=["POST"])
    bp.add_url_rule("/chats/<int:chat_id>/close", view_func=close, methods=["POST"])
    bp.add_url_rule("/chats/<int:chat_id>/reassign", view_func=reassign, methods=["POST"])
    bp.add_url_rule("/chats/<int:chat_id>/assignments", view_func=assignments, methods=["GET"])
    bp.add_url_rule("/chats/<int:chat_id>/transcript.pdf", view_func=transcript, methods=["GET"])


def campaign_ids(user: User) -> list[int]:
    return [c.id for c in user.campaigns]


def visible(query: Select[Any], user: User) -> Select[Any]:
    """Agents see their own chats, supervisors their campaigns' chats, admins every chat."""
    if user.role == Role.AGENT:
        return query.where(Chat.agent_id == user.id)
    if user.role == Role.SUPERVISOR:
        return query.where(Chat.campaign_id.in_(campaign_ids(user)))
    return query


def _chat(chat_id: int, *, lock: bool = False) -> Chat:
    """The chat if the caller may see it; 404 otherwise (not 403: its existence is private)."""
    query = visible(select(Chat).where(Chat.id == chat_id), auth.user())
    if lock:
        query = query.with_for_update(of=Chat)
    chat: Chat | None = auth.session().scalar(query)
    if chat is None:
        raise ApiError(404, f"no chat {chat_id} visible to you")
    return chat


@auth.authenticated()
def list_chats() -> dict[str, Any]:
    query = visible(select(Chat), auth.user()).options(
        selectinload(Chat.contact),
        selectinload(Chat.customer),
        selectinload(Chat.agent),
        selectinload(Chat.campaign),
    )
    status = request.args.get("status")
    if status is not None:
        try:
            query = query.where(Chat.status == ChatStatus(status))
        except ValueError:
            allowed = ", ".join(s.value for s in ChatStatus)
            raise ApiError(400, f"status {status!r} is not one of {allowed}") from None
    slug = request.args.get("campaign")
    if slug is not None:
        query = query.join(Campaign, Chat.campaign_id == Campaign.id).where(Campaign.slug == slug)
    chats = auth.session().scalars(query.order_by(Chat.id.desc()).limit(500)).all()
    return {"chats": [chat_json(c) for c in chats]}


@auth.authenticated()
def get_chat(chat_id: int) -> dict[str, Any]:
    chat = _chat(chat_id)
    return {**chat_json(chat), "messages": [message_json(m) for m in chat.messages]}


@auth.authenticated()
def reply(chat_id: int) -> tuple[dict[str, Any], int]:
    body = json_body(request.get_json(silent=True), "text")
    text = body["text"]
    if len(text) > MAX_TEXT:
        raise ApiError(400, f"'text' is longer than {MAX_TEXT} characters")
    chat = _chat(chat_id, lock=True)
    message = agent_reply(auth.session(), chat, auth.user().id, text, utcnow())
    message_id = message.id
    auth.after_commit(lambda: services().jobs.enqueue(send_message_job, message_id))
    return message_json(message), 201


@auth.authenticated()
def close(chat_id: int) -> dict[str, Any]:
    body = json_body(request.get_json(silent=True), "reason")
    user = auth.user()
    chat = _chat(chat_id, lock=True)
    if user.role == Role.AGENT and chat.agent_id != user.id:
        raise ApiError(403, "only the agent the chat is assigned to may close it")
    closed = close_chat(
        auth.session(),
        chat,
        body["reason"].strip(),
        utcnow(),
        closed_by=ClosedBy(user.role.value),
        by_user_id=user.id,
    )
    # Then the closing message and the transcript go, and the agent gets a waiting chat.
    auth.after_commit(lambda: after_close(services(), [closed], utcnow()))
    return chat_json(chat)


@auth.authenticated(Role.SUPERVISOR, Role.ADMIN)
def reassign(chat_id: int) -> dict[str, Any]:
    body = json_body(request.get_json(silent=True), "agent", "reason")
    chat = _chat(chat_id)
    previous = chat.agent_id
    reassign_chat(auth.session(), chat.id, body["agent"], auth.user(), body["reason"], utcnow())
    auth.session().refresh(chat)
    if previous is not None:
        auth.after_commit(lambda: drain_queue(services().sessions, utcnow(), agent_id=previous))
    return chat_json(chat)


@auth.authenticated(Role.SUPERVISOR, Role.ADMIN)
def assignments(chat_id: int) -> dict[str, Any]:
    chat = _chat(chat_id)
    rows = (
        auth.session()
        .scalars(select(Assignment).where(Assignment.chat_id == chat.id).order_by(Assignment.id))
        .all()
    )
    return {"assignments": [assignment_json(a) for a in rows]}


@auth.authenticated()
def transcript(chat_id: int) -> Any:
    chat = _chat(chat_id)
    path = transcript_file(services().settings.storage_dir, chat.transcript_path)
    if path is None:
        if chat.status != ChatStatus.CLOSED:
            raise ApiError(404, f"chat {chat_id} is open: its transcript is made when it closes")
        raise ApiError(
            404, f"the transcript of chat {chat_id} has not been made yet; try again in a minute"
        )
    return send_file(path, mimetype="application/pdf", download_name=f"chat-{chat_id}.pdf")
